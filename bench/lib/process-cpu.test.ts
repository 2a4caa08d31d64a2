import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuOfProcessesNamedUs, machineCpuUs, parseProcStat } from './process-cpu.js';

// A real line of /proc/<pid>/stat, with fields 14–17 (utime stime cutime cstime) set to 7 3 20 5.
const line = (pid: number, name: string, utime: number, stime: number, cutime = 0, cstime = 0) =>
  `${pid} (${name}) S 1 ${pid} ${pid} 0 -1 4194560 2043 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 1 0 31337 220049408 5000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n`;

describe('process CPU from /proc', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'proc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads utime, stime and the waited-for children of a stat line, names with spaces and parentheses included', () => {
    expect(parseProcStat(line(42, 'postgres', 7, 3, 20, 5))).toEqual({ name: 'postgres', utime: 7, stime: 3, cutime: 20, cstime: 5 });
    expect(parseProcStat(line(43, 'a (b) c', 1, 2))).toMatchObject({ name: 'a (b) c', utime: 1, stime: 2 });
    expect(parseProcStat('garbage')).toBeNull();
  });

  it('sums only the named processes, in µs at 100 ticks a second', () => {
    const write = (pid: number, text: string) => {
      mkdirSync(path.join(dir, String(pid)));
      writeFileSync(path.join(dir, String(pid), 'stat'), text);
    };
    write(10, line(10, 'postgres', 7, 3, 20, 5));
    write(11, line(11, 'postgres', 1, 1));
    write(12, line(12, 'mariadbd', 100, 50));
    write(13, line(13, 'node', 999, 999));
    mkdirSync(path.join(dir, 'self'));
    expect(cpuOfProcessesNamedUs(new Set(['postgres']), dir)).toBe((7 + 3 + 20 + 5 + 1 + 1) * 10_000);
    expect(cpuOfProcessesNamedUs(new Set(['postgres', 'mariadbd']), dir)).toBe((37 + 150) * 10_000);
  });

  it('sees the machine busy while this process spins', () => {
    const before = machineCpuUs();
    const until = performance.now() + 300;
    while (performance.now() < until) Math.sqrt(Math.random());
    const after = machineCpuUs();
    // 300 ms of one core: at least 200 ms counted busy, even with the ticks' 10 ms granularity.
    expect(after.busyUs - before.busyUs).toBeGreaterThanOrEqual(200_000);
    expect(after.totalUs).toBeGreaterThan(before.totalUs);
  });
});
