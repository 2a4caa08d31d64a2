/**
 * The benchmark's further scenarios (issue 16, "Benchmark report"), run by bench/run.ts
 * after the payment runs, or alone with `--only=…`:
 *
 * - `overhead`: the dual-token request overhead — requests/s of one signed POST to the
 *   do-nothing route against the same POST to its anonymous twin, same bodies, same
 *   clients, in ABBA order so a drift of the machine falls on both;
 * - `issuance`, `chains`, `receipts`: certificates/s, chains/s and receipts/s in one
 *   process on the server's core (bench/pki-throughput.ts);
 * - `ledger-size`: p50/p99 of a complete payment as the ledger grows from 10^4 to 10^6
 *   journal entries; the load generator grows it between the runs with plain SQL
 *   (bench/lib/ledger-history.ts) while the server stays up. Wallet top-ups are timed
 *   after the payments at each size: the daily top-up limit reads the wallet's postings.
 *
 * Same layout as the payment runs: the server (bench/server-process.ts) on core 0, the
 * load generator (bench/load-process.ts) on core 1.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { RoundTripCost } from './round-trip-cost.js';
import type { IdleGapCost, IdleGapPlan } from './idle-gap-cost.js';
import type { DatabaseEngine } from '../apps/server/src/config.js';
import { enginesUnderTest } from '../apps/server/test/helpers.js';
import type { PkiPlan, PkiThroughput } from './pki-throughput.js';
import type { LedgerGrowth } from './lib/ledger-history.js';
import type { HistoryResult, LoadCommand, LoadMessage, RunResult, Scenario, SetupResult } from './lib/messages.js';
import { round } from './lib/stats.js';

/** The scenarios `--only` can name besides `payments` (the payment runs and ceilings). */
export const EXTRA_SCENARIOS = ['overhead', 'issuance', 'chains', 'receipts', 'ledger-size', 'round-trips', 'idle-gaps'] as const;
export type ExtraScenario = (typeof EXTRA_SCENARIOS)[number];

/** Target of the overhead: signed requests/s at least this share of anonymous ones. */
export const OVERHEAD_RATIO_TARGET = 0.85;
/** Target of the curve: p99 at the largest ledger at most this multiple of p99 at the smallest. */
export const LEDGER_P99_GROWTH_TARGET = 1.5;

/** What bench/run.ts lends: its way of starting pinned children and talking to them. */
export interface Harness {
  startChild(script: string, options: { cpu: number; env?: Record<string, string>; stdoutFile?: string }): ChildProcess;
  nextMessage<T>(child: ChildProcess, type: string, timeoutMs?: number): Promise<T>;
  exited(child: ChildProcess): Promise<void>;
  /** A data folder copied from the run's template (CA and server keys made once). */
  freshDataDir(): string;
  say(text: string): void;
}

/** Sizes and windows of one run; --quick keeps the whole benchmark under a minute. */
export interface ExtraPlan {
  mode: 'quick' | 'full';
  /** Engines the overhead and the ledger curve run on (the PKI scenarios run once, in-process on SQLite). */
  engines: DatabaseEngine[];
  overheadConcurrency: number;
  overheadRounds: number;
  overheadWarmupMs: number;
  overheadMeasureMs: number;
  ledgerSizes: number[];
  ledgerConcurrency: number;
  ledgerWarmupMs: number;
  /** Warm-up before the first (baseline) size. */
  ledgerFirstWarmupMs: number;
  ledgerMeasureMs: number;
  /** Window of the top-ups after the payments at each size. */
  topUpMeasureMs: number;
  pki: Omit<PkiPlan, 'dataDir'>;
  /** Window of each round-trip measurement (bench/round-trip-cost.ts). */
  roundTripMeasureMs: number;
  /** Rounds, units and gaps of the idle-gap measurement (bench/idle-gap-cost.ts). */
  idleGaps: IdleGapPlan;
}

/** The plan of a run; a quick run keeps to SQLite unless `--engines` named the engines. */
export function extraPlan(mode: 'quick' | 'full', engines: DatabaseEngine[], enginesNamed = false): ExtraPlan {
  return mode === 'quick'
    ? {
      mode, engines: enginesNamed ? engines : engines.filter((e) => e === 'sqlite'), overheadConcurrency: 16, overheadRounds: 1, overheadWarmupMs: 300, overheadMeasureMs: 1_000,
      ledgerSizes: [10_000, 100_000], ledgerConcurrency: 8, ledgerWarmupMs: 300, ledgerFirstWarmupMs: 300, ledgerMeasureMs: 1_500, topUpMeasureMs: 500, pki: { certificates: 20, checkMs: 300 }, roundTripMeasureMs: 1_000,
      idleGaps: { rounds: 1, units: 200, gapsMs: [0.25, 1, 2] },
    }
    : {
      // ledgerMeasureMs: a p99 is the 1 % tail, so a window needs well over a thousand payments
      // for one stall (a checkpoint, a vacuum) not to decide it: 8 s of PostgreSQL's ~90/s
      // gave about 700, and its p99 moved between 139 and 249 ms from one size to the next
      // while its p50 stayed at 84-87 ms.
      mode, engines, overheadConcurrency: 32, overheadRounds: 2, overheadWarmupMs: 2_000, overheadMeasureMs: 4_000,
      ledgerSizes: [10_000, 100_000, 1_000_000], ledgerConcurrency: 8, ledgerWarmupMs: 2_000, ledgerFirstWarmupMs: 6_000, ledgerMeasureMs: 20_000, topUpMeasureMs: 2_000, pki: { certificates: 1_000, checkMs: 4_000 }, roundTripMeasureMs: 5_000,
      idleGaps: { rounds: 5, units: 1_000, gapsMs: [0.25, 1, 2] },
    };
}

/** One side of the overhead: requests/s, latency and the server's CPU per request, over all its rounds. */
export interface EchoSide {
  per_s: number;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  server_cpu_us_per_request: number | null;
  /** The load generator's CPU as a share of its core, the worst round: near 1 it, not the server, set the pace. */
  load_cpu_share: number;
  errors: number;
}

export interface OverheadResult {
  engine: DatabaseEngine;
  concurrency: number;
  rounds: number;
  measure_s: number;
  signed: EchoSide;
  anonymous: EchoSide;
  /** signed requests/s ÷ anonymous requests/s. */
  ratio: number;
  target_met: boolean;
}

export interface LedgerSizePoint {
  target_entries: number;
  /** Journal entries when the measured run began (the history load leaves exactly the target). */
  entries_at_start: number;
  growth: LedgerGrowth;
  per_s: number;
  completed: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  server_cpu_us_per_payment: number | null;
  /** Wallet top-ups at the same size, after the payments: not part of the target, shown beside it. */
  top_up: { per_s: number; completed: number; errors: number; p50_ms: number; p99_ms: number };
}

export interface LedgerSizeResult {
  engine: DatabaseEngine;
  concurrency: number;
  measure_s: number;
  points: LedgerSizePoint[];
  /** p99 at the largest ledger ÷ p99 at the smallest. */
  p99_growth: number;
  target_met: boolean;
}

/** Everything the extra scenarios measured: bench/results/<date>-scenarios.json. */
export interface ScenarioResults {
  date: string;
  mode: 'quick' | 'full';
  machine: { cpus: number; cpu_model: string; node: string; pinned: boolean; load_average_at_start: number; load_average_at_end: number };
  /** Whether the servers of the run shared their replay cache and rate-limit counts through Redis (REDIS_URL passed on to them). */
  redis: boolean;
  seconds: number;
  overhead?: OverheadResult[];
  pki?: PkiThroughput;
  ledger_size?: LedgerSizeResult[];
  round_trips?: RoundTripCost[];
  idle_gaps?: IdleGapCost;
}

/** The server's environment for a run, as bench/run.ts gives it for the payment runs. */
function serverEnv(databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    DEMO: 'off',
    PASSWORD_HASH_LOG_N: '10',
    TOP_UP_DAILY_LIMIT_WON: '1000000000000',
    WEB_DIST_DIR: path.join(dataDir, 'no-web'),
    ...Object.fromEntries(['LOGIN', 'REGISTRATION', 'EVIDENCE_VERIFICATION', 'CODE_ISSUING', 'CSR_SUBMISSION', 'PUBLIC'].map((kind) => [`RATE_LIMIT_${kind}_PER_MINUTE`, '1000000'])),
  };
}

/** The PKI scenarios, in their own process on the server's core. */
export async function measurePki(h: Harness, plan: ExtraPlan): Promise<PkiThroughput> {
  const dataDir = h.freshDataDir();
  try {
    const child = h.startChild('pki-throughput.ts', { cpu: 0 });
    const answer = h.nextMessage<{ result: PkiThroughput }>(child, 'pki');
    child.send({ ...plan.pki, dataDir } satisfies PkiPlan);
    const { result } = await answer;
    await h.exited(child);
    return result;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The overhead and the ledger curve of one engine, on one server and one load generator. */
export async function measureEngineScenarios(h: Harness, plan: ExtraPlan, engine: DatabaseEngine, wanted: { overhead: boolean; ledgerSize: boolean }): Promise<{ overhead?: OverheadResult; ledgerSize?: LedgerSizeResult }> {
  const engineUnderTest = enginesUnderTest().find((e) => e.engine === engine);
  if (!engineUnderTest) throw new Error(`engine ${engine} is not configured`);
  const database = await engineUnderTest.create();
  const dataDir = h.freshDataDir();
  const server = h.startChild('server-process.ts', { cpu: 0, stdoutFile: path.join(dataDir, 'server.log'), env: serverEnv(database.url, dataDir) });
  const load = h.startChild('load-process.ts', { cpu: 1 });
  const sendLoad = (command: LoadCommand) => load.send(command);
  const cpuUs = async (): Promise<number> => {
    const answer = h.nextMessage<{ cpu: NodeJS.CpuUsage }>(server, 'mark', 10_000);
    server.send({ type: 'mark' });
    const { cpu } = await answer;
    return cpu.user + cpu.system;
  };
  /** One run, with the server's CPU time over its measured window. */
  const run = async (scenario: Scenario, concurrency: number, warmupMs: number, measureMs: number): Promise<RunResult & { server_cpu_us: number | null }> => {
    let start: Promise<number> | undefined;
    let end: Promise<number> | undefined;
    const onMessage = (message: LoadMessage) => {
      if (message.type === 'measure-start') start = cpuUs();
      if (message.type === 'measure-end') end = cpuUs();
    };
    load.on('message', onMessage);
    const answer = h.nextMessage<RunResult>(load, 'result');
    sendLoad({ type: 'run', scenario, concurrency, warmupMs, measureMs });
    const result = await answer;
    load.off('message', onMessage);
    // The load generator skips 'measure-end' when its clients stop before its timer fires (a busy
    // load core): the mark taken now is a few milliseconds late, which the window hardly notices.
    end ??= cpuUs();
    const [a, b] = await Promise.all([start?.catch((e: unknown) => void h.say(`    no CPU mark: ${String(e)}`)), end?.catch((e: unknown) => void h.say(`    no CPU mark: ${String(e)}`))]);
    for (const e of result.errorSamples) h.say(`    error: ${e}`);
    if (a === undefined || b === undefined) h.say(`    (no server CPU for ${scenario}: start ${a === undefined ? 'missing' : 'ok'}, end ${b === undefined ? 'missing' : 'ok'})`);
    return { ...result, server_cpu_us: a !== undefined && b !== undefined ? b - a : null };
  };
  try {
    const { port } = await h.nextMessage<{ port: number }>(server, 'ready');
    const setupAnswer = h.nextMessage<SetupResult>(load, 'setup-done');
    const buyers = Math.max(wanted.overhead ? plan.overheadConcurrency : 0, plan.ledgerConcurrency);
    sendLoad({ type: 'setup', port, databaseUrl: database.url, dataDir, sellers: 4, productsPerSeller: 4, buyers, topUpWon: 500_000_000 });
    const setup = await setupAnswer;
    h.say(`  ${engine}: setup ${setup.buyers} buyers in ${setup.setup_s} s`);
    const out: { overhead?: OverheadResult; ledgerSize?: LedgerSizeResult } = {};

    if (wanted.overhead) {
      const sides = { 'echo-signed': [] as (RunResult & { server_cpu_us: number | null })[], 'echo-anonymous': [] as (RunResult & { server_cpu_us: number | null })[] };
      for (let round_ = 0; round_ < plan.overheadRounds; round_++) {
        const order: ('echo-signed' | 'echo-anonymous')[] = round_ % 2 === 0 ? ['echo-signed', 'echo-anonymous'] : ['echo-anonymous', 'echo-signed'];
        for (const scenario of order) {
          const r = await run(scenario, plan.overheadConcurrency, plan.overheadWarmupMs, plan.overheadMeasureMs);
          h.say(`  ${engine} ${scenario} ×${r.concurrency}: ${r.per_s} requests/s, p50 ${r.total.p50_ms} ms, p99 ${r.total.p99_ms} ms, errors ${r.errors}`);
          sides[scenario].push(r);
        }
      }
      const side = (runs: (RunResult & { server_cpu_us: number | null })[]): EchoSide => {
        const requests = runs.reduce((s, r) => s + r.completed, 0);
        const seconds = runs.reduce((s, r) => s + r.measure_s, 0);
        const cpu = runs.every((r) => r.server_cpu_us !== null) ? runs.reduce((s, r) => s + r.server_cpu_us!, 0) : null;
        return {
          per_s: round(requests / seconds, 1), requests,
          // Rounds have equal windows: the median of their p50s and the worst of their p99s.
          p50_ms: runs.map((r) => r.total.p50_ms).sort((x, y) => x - y)[Math.floor((runs.length - 1) / 2)]!,
          p99_ms: Math.max(...runs.map((r) => r.total.p99_ms)),
          server_cpu_us_per_request: cpu !== null && requests > 0 ? round(cpu / requests, 0) : null,
          load_cpu_share: Math.max(...runs.map((r) => r.load_cpu_share)),
          errors: runs.reduce((s, r) => s + r.errors, 0),
        };
      };
      const signed = side(sides['echo-signed']);
      const anonymous = side(sides['echo-anonymous']);
      const ratio = round(signed.per_s / anonymous.per_s, 3);
      out.overhead = { engine, concurrency: plan.overheadConcurrency, rounds: plan.overheadRounds, measure_s: plan.overheadMeasureMs / 1000, signed, anonymous, ratio, target_met: ratio >= OVERHEAD_RATIO_TARGET };
      h.say(`  ${engine} overhead: signed ${signed.per_s}/s, anonymous ${anonymous.per_s}/s, ratio ${Math.round(ratio * 100)} %`);
    }

    if (wanted.ledgerSize) {
      const points: LedgerSizePoint[] = [];
      for (const target of plan.ledgerSizes) {
        const grown = h.nextMessage<HistoryResult>(load, 'history-done');
        sendLoad({ type: 'history', databaseUrl: database.url, targetEntries: target });
        const { type: _type, ...growth } = await grown;
        h.say(`  ${engine} ledger: ${growth.entries_before} → ${growth.entries_after} journal entries in ${growth.load_s} s (${growth.rows_per_s} rows/s)`);
        // The first size is the baseline of the target: a longer warm-up, so that what the server still had to
        // compile or cache after the setup does not inflate it.
        const r = await run('payments', plan.ledgerConcurrency, points.length === 0 ? plan.ledgerFirstWarmupMs : plan.ledgerWarmupMs, plan.ledgerMeasureMs);
        h.say(`  ${engine} payments ×${r.concurrency} at ${growth.entries_after} entries: ${r.per_s}/s, p50 ${r.total.p50_ms} ms, p99 ${r.total.p99_ms} ms, errors ${r.errors}`);
        // Top-ups after the payments, never during them: a top-up's write transaction would hold up the payments measured.
        const topUps = await run('top-ups', plan.ledgerConcurrency, 0, plan.topUpMeasureMs);
        h.say(`  ${engine} top-ups ×${topUps.concurrency}: ${topUps.per_s}/s, p50 ${topUps.total.p50_ms} ms, p99 ${topUps.total.p99_ms} ms, errors ${topUps.errors}`);
        points.push({
          target_entries: target, entries_at_start: growth.entries_after, growth, per_s: r.per_s, completed: r.completed, errors: r.errors,
          p50_ms: r.total.p50_ms, p99_ms: r.total.p99_ms, max_ms: r.total.max_ms,
          server_cpu_us_per_payment: r.server_cpu_us !== null && r.completed > 0 ? round(r.server_cpu_us / r.completed, 0) : null,
          top_up: { per_s: topUps.per_s, completed: topUps.completed, errors: topUps.errors, p50_ms: topUps.total.p50_ms, p99_ms: topUps.total.p99_ms },
        });
      }
      const growth = round(points.at(-1)!.p99_ms / points[0]!.p99_ms, 2);
      out.ledgerSize = { engine, concurrency: plan.ledgerConcurrency, measure_s: plan.ledgerMeasureMs / 1000, points, p99_growth: growth, target_met: growth <= LEDGER_P99_GROWTH_TARGET };
    }
    return out;
  } finally {
    load.send({ type: 'stop' });
    server.send({ type: 'stop' });
    await Promise.all([h.exited(load), h.exited(server)]);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The cost of one round trip to a networked engine, in its own process on the server's core. */
export async function measureRoundTripCost(h: Harness, plan: ExtraPlan, engine: DatabaseEngine): Promise<RoundTripCost> {
  const engineUnderTest = enginesUnderTest().find((e) => e.engine === engine);
  if (!engineUnderTest) throw new Error(`engine ${engine} is not configured`);
  const database = await engineUnderTest.create();
  try {
    const child = h.startChild('round-trip-cost.ts', { cpu: 0 });
    const answer = h.nextMessage<{ result: RoundTripCost }>(child, 'round-trips');
    child.send({ url: database.url, measureMs: plan.roundTripMeasureMs });
    const { result } = await answer;
    await h.exited(child);
    return result;
  } finally {
    await database.drop();
  }
}

/** What an idle core costs the work after it, in its own process on the server's core. */
export async function measureIdleGapCost(h: Harness, plan: ExtraPlan): Promise<IdleGapCost> {
  const child = h.startChild('idle-gap-cost.ts', { cpu: 0 });
  const answer = h.nextMessage<{ result: IdleGapCost }>(child, 'idle-gaps');
  child.send(plan.idleGaps);
  const { result } = await answer;
  await h.exited(child);
  return result;
}

/** Runs the wanted extra scenarios; what was not wanted is left out of the result. */
export async function runExtraScenarios(h: Harness, plan: ExtraPlan, wanted: ReadonlySet<ExtraScenario>): Promise<Omit<ScenarioResults, 'date' | 'mode' | 'machine' | 'seconds' | 'redis'>> {
  const out: Omit<ScenarioResults, 'date' | 'mode' | 'machine' | 'seconds' | 'redis'> = {};
  if (wanted.has('issuance') || wanted.has('chains') || wanted.has('receipts')) {
    h.say('PKI: certificate issuance, chain validation, receipt verification…');
    const pki = await measurePki(h, plan);
    h.say(`  ${pki.issuance.per_s} certificates/s, ${pki.chains.per_s} chains/s, ${pki.receipts.per_s} receipts/s`);
    out.pki = pki;
  }
  const engineWanted = { overhead: wanted.has('overhead'), ledgerSize: wanted.has('ledger-size') };
  if (engineWanted.overhead || engineWanted.ledgerSize) {
    for (const engine of plan.engines) {
      h.say(`${engine}: ${[engineWanted.overhead && 'dual-token overhead', engineWanted.ledgerSize && 'payment latency vs ledger size'].filter(Boolean).join(', ')}…`);
      const result = await measureEngineScenarios(h, plan, engine, engineWanted);
      if (result.overhead) (out.overhead ??= []).push(result.overhead);
      if (result.ledgerSize) (out.ledger_size ??= []).push(result.ledgerSize);
    }
  }
  if (wanted.has('round-trips')) {
    for (const engine of plan.engines.filter((e) => e !== 'sqlite')) {
      h.say(`${engine}: the cost of one round trip…`);
      const cost = await measureRoundTripCost(h, plan, engine);
      h.say(`  read ${cost.read.client_us} µs here + ${cost.read.database_us} µs in the database; write transaction ${cost.write_transaction.client_us} + ${cost.write_transaction.database_us} µs`);
      (out.round_trips ??= []).push(cost);
    }
  }
  if (wanted.has('idle-gaps')) {
    h.say('the cost of work after an idle core…');
    const gaps = await measureIdleGapCost(h, plan);
    h.say(`  back to back ${gaps.back_to_back_us} µs; ${gaps.points.map((p) => `after ${p.gap_ms} ms idle ${p.work_us} µs (${p.ratio} ×) + ${p.wait_us} µs the wake-up`).join('; ')}`);
    out.idle_gaps = gaps;
  }
  return out;
}
