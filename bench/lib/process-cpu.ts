/**
 * CPU time of processes the benchmark does not start (the database servers) and of the
 * whole machine, read from Linux's /proc. A payment on PostgreSQL or MariaDB costs CPU in
 * three places on these two cores — the server, the load generator and the database
 * server — and only the sum says whether a rate fits the machine at all.
 *
 * /proc counts in clock ticks (USER_HZ, 100 per second on Linux): a 10 ms resolution,
 * so a window should be several seconds long for its figure to mean anything.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: what /proc/<pid>/stat and /proc/stat count in. Fixed at 100 for user space on every architecture Node runs on. */
const TICKS_PER_S = 100;
const US_PER_TICK = 1_000_000 / TICKS_PER_S;

/** The database servers' process names, as /proc/<pid>/comm gives them (PostgreSQL's backends keep "postgres"). */
export const DATABASE_PROCESS_NAMES: ReadonlySet<string> = new Set(['postgres', 'mariadbd', 'mysqld']);

/**
 * User + system CPU, in µs, of every process whose name is in `names`, plus that of its
 * already-ended children it waited for (a PostgreSQL backend that served a pool
 * connection and exited is counted by the postmaster as cstime/cutime).
 * Processes that vanish while being read are skipped.
 */
export function cpuOfProcessesNamedUs(names: ReadonlySet<string>, procDir = '/proc'): number {
  let ticks = 0;
  for (const entry of readdirSync(procDir)) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${procDir}/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    const fields = parseProcStat(stat);
    if (fields && names.has(fields.name)) ticks += fields.utime + fields.stime + fields.cutime + fields.cstime;
  }
  return ticks * US_PER_TICK;
}

/** The fields of /proc/<pid>/stat this module reads; the name is between the first '(' and the last ')', and may hold spaces. */
export function parseProcStat(stat: string): { name: string; utime: number; stime: number; cutime: number; cstime: number } | null {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // After ") " come state (field 3) … utime is field 14, stime 15, cutime 16, cstime 17.
  const rest = stat.slice(close + 2).split(' ');
  const at = (field: number) => Number(rest[field - 3]);
  const values = { utime: at(14), stime: at(15), cutime: at(16), cstime: at(17) };
  if (Object.values(values).some((v) => !Number.isFinite(v))) return null;
  return { name: stat.slice(open + 1, close), ...values };
}

/** CPU time of the whole machine, all cores, in µs: busy (everything but idle and I/O wait) and in all. */
export function machineCpuUs(procStat = '/proc/stat'): { busyUs: number; totalUs: number } {
  const line = readFileSync(procStat, 'latin1').split('\n', 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, t) => sum + t, 0);
  // user nice system idle iowait irq softirq steal …; idle and iowait are the core doing nothing.
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busyUs: (total - idle) * US_PER_TICK, totalUs: total * US_PER_TICK };
}

/** One reading of the database servers' and the machine's CPU, to subtract from a later one. */
export interface CpuSample {
  databaseUs: number;
  machineBusyUs: number;
}

export function sampleCpu(): CpuSample {
  return { databaseUs: cpuOfProcessesNamedUs(DATABASE_PROCESS_NAMES), machineBusyUs: machineCpuUs().busyUs };
}
