/**
 * The payment benchmark (issue 5, "Performance"): the whole direct-payment protocol
 * over HTTP on loopback, against the real server on each configured engine, with the
 * ceilings of this machine measured in the same run.
 *
 *   npm run bench                 full run (a concurrency sweep, longer windows)
 *   npm run bench -- --quick      under a minute
 *   options: --engines=sqlite,postgres,mysql  --concurrency=16,32  --measure-s=N
 *            --profile (CPU profiles of the server's measured windows, in bench/profiles/)
 *            --no-ceilings (protocol runs only, for profiling; no results are written)
 *            --render=<date> (rewrite that date's report from its JSON files)
 *            --label=<name> (files named <date>-<name>: a second run of one day beside the first)
 *            --only=payments,overhead,issuance,chains,receipts,ledger-size,round-trips,idle-gaps (the payment runs and
 *              ceilings, and the further scenarios of bench/scenarios.ts; default all)
 *
 * Processes: the server (bench/server-process.ts) on core 0, the load generator
 * (bench/load-process.ts) on core 1, so neither shares the other's event loop. The
 * ceilings run as their own processes on core 0. Results: bench/results/<date>-<engine>.json,
 * <date>-scenarios.json, <date>-ledger-size.svg and bench/results/<date>-report.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DatabaseEngine } from '../apps/server/src/config.js';
import { enginesUnderTest } from '../apps/server/test/helpers.js';
import type { CryptoCeiling } from './crypto-ceiling.js';
import type { LedgerCeiling } from './ledger-ceiling.js';
import type { LoadCommand, LoadMessage, RunResult, SetupResult } from './lib/messages.js';
import { renderReport, type EngineResult } from './lib/report.js';
import { ledgerChartFile, renderLedgerChart, renderScenarioHeader, renderScenarioSections } from './lib/scenario-report.js';
import { round } from './lib/stats.js';
import { sampleCpu, type CpuSample } from './lib/process-cpu.js';
import { EXTRA_SCENARIOS, extraPlan, runExtraScenarios, type ExtraScenario, type Harness, type ScenarioResults } from './scenarios.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const PROFILES_DIR = path.join(BENCH_DIR, 'profiles');

/** What one run does; --quick shrinks every window so the whole run stays under a minute. */
interface Plan {
  mode: 'quick' | 'full';
  buyers: number;
  sellers: number;
  productsPerSeller: number;
  concurrency: number[];
  warmupMs: number;
  measureMs: number;
  httpMeasureMs: number;
  cryptoMsPerOperation: number;
  ledgerOrders: number;
  ledgerInFlight: number;
}

function planFrom(argv: string[]): { plan: Plan; engines: DatabaseEngine[] | null; profile: boolean; ceilings: boolean } {
  const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const quick = argv.includes('--quick');
  const plan: Plan = quick
    ? { mode: 'quick', buyers: 32, sellers: 4, productsPerSeller: 4, concurrency: [32], warmupMs: 1_000, measureMs: 3_000, httpMeasureMs: 1_500, cryptoMsPerOperation: 40, ledgerOrders: 400, ledgerInFlight: 32 }
    : { mode: 'full', buyers: 64, sellers: 16, productsPerSeller: 8, concurrency: [4, 8, 16, 32, 64], warmupMs: 3_000, measureMs: 12_000, httpMeasureMs: 8_000, cryptoMsPerOperation: 1_000, ledgerOrders: 8_000, ledgerInFlight: 64 };
  const concurrency = option('concurrency');
  if (concurrency) plan.concurrency = concurrency.split(',').map(Number);
  plan.buyers = Math.max(plan.buyers, ...plan.concurrency);
  const measure = option('measure-s');
  if (measure) plan.measureMs = Number(measure) * 1000;
  const engines = option('engines')?.split(',') as DatabaseEngine[] | undefined;
  return { plan, engines: engines ?? null, profile: argv.includes('--profile'), ceilings: !argv.includes('--no-ceilings') };
}

/** Pins a child to one core when the machine has two or more and `taskset` exists. */
function pinnable(): boolean {
  if (os.cpus().length < 2) return false;
  try {
    return statSync('/usr/bin/taskset').isFile();
  } catch {
    return false;
  }
}
const PIN = pinnable();

function startChild(script: string, options: { cpu: number; env?: Record<string, string>; stdoutFile?: string; nodeArgs?: string[] }): ChildProcess {
  // The children run the TypeScript sources: tsx, and the "source" export condition so that
  // @coconutpay/core resolves to its src/ as well, not to a dist/ that may be stale or absent.
  const nodeArgs = [...(options.nodeArgs ?? []), '--conditions=source', '--import', 'tsx', path.join(BENCH_DIR, script)];
  const command = PIN ? '/usr/bin/taskset' : process.execPath;
  const args = PIN ? ['-c', String(options.cpu), process.execPath, ...nodeArgs] : nodeArgs;
  const stdout = options.stdoutFile ? openSync(options.stdoutFile, 'a') : 'ignore';
  const child = spawn(command, args, { stdio: ['ignore', stdout, 'inherit', 'ipc'], env: { ...process.env, ...options.env } });
  if (typeof stdout === 'number') closeSync(stdout);
  return child;
}

/** The next IPC message of `type` from `child`; a 'failed' message, an exit or `timeoutMs` passing rejects. */
function nextMessage<T>(child: ChildProcess, type: string, timeoutMs = 15 * 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${type}' from ${path.basename(String(child.spawnargs.at(-1)))} within ${timeoutMs / 1000} s (hung?)`));
    }, timeoutMs);
    const onMessage = (message: { type: string; error?: string }) => {
      if (message.type === type) {
        cleanup();
        resolve(message as unknown as T);
      } else if (message.type === 'failed') {
        cleanup();
        reject(new Error(message.error));
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited (${code}) while waiting for '${type}'`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

const startedAtMs = Date.now();

/** Share of all cores' time spent busy over the next `ms` milliseconds, before anything of the run starts. */
async function busyShare(ms: number): Promise<number> {
  const total = () => os.cpus().reduce((sum, c) => {
    const t = c.times;
    return { busy: sum.busy + t.user + t.nice + t.sys + t.irq, all: sum.all + t.user + t.nice + t.sys + t.irq + t.idle };
  }, { busy: 0, all: 0 });
  const before = total();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = total();
  return round((after.busy - before.busy) / Math.max(1, after.all - before.all), 3);
}

/** Progress on stdout, each line with the seconds since the run began. */
function say(text: string): void {
  process.stdout.write(`[${String(Math.round((Date.now() - startedAtMs) / 1000)).padStart(3)} s] ${text}\n`);
}

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024, 1) : 0;
  } catch {
    return 0;
  }
}

interface ServerMark {
  cpu: NodeJS.CpuUsage;
  elu: { idle: number; active: number; utilization: number };
  memory: NodeJS.MemoryUsage;
  wallMs: number;
  verifier: { hits: number; misses: number; size: number };
  groupCommit: { transactions: number; commits: number } | null;
}

/**
 * A data folder (CA, server keys) every process of the run starts from a copy of:
 * making a CA costs a second per start, and the crypto ceiling makes one anyway.
 */
const TEMPLATE_DATA_DIR = mkdtempSync(path.join(os.tmpdir(), 'cp-bench-template-'));

function freshDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cp-bench-'));
  cpSync(TEMPLATE_DATA_DIR, dir, { recursive: true });
  return dir;
}

async function measureCrypto(plan: Plan): Promise<CryptoCeiling> {
  const child = startChild('crypto-ceiling.ts', { cpu: 0 });
  const answer = nextMessage<{ result: CryptoCeiling }>(child, 'crypto');
  // The browser's WebCrypto reference is informational: the quick run leaves it out.
  child.send({ durationMs: plan.cryptoMsPerOperation, browser: plan.mode === 'full', dataDir: TEMPLATE_DATA_DIR });
  const { result } = await answer;
  await exited(child);
  return result;
}

async function measureLedger(plan: Plan, engine: DatabaseEngine): Promise<LedgerCeiling> {
  const dataDir = freshDataDir();
  try {
    const child = startChild('ledger-ceiling.ts', { cpu: 0 });
    const answer = nextMessage<{ result: LedgerCeiling }>(child, 'ledger');
    child.send({ engine, orders: plan.ledgerOrders, inFlight: plan.ledgerInFlight, dataDir });
    const { result } = await answer;
    await exited(child);
    return result;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Server and load generator for one engine: setup, HTTP ceiling, then the payment runs. */
async function measureProtocol(plan: Plan, engine: DatabaseEngine, profile: boolean) {
  const engineUnderTest = enginesUnderTest().find((e) => e.engine === engine)!;
  const database = await engineUnderTest.create();
  const dataDir = freshDataDir();
  const logFile = path.join(dataDir, 'server.log');
  if (profile) mkdirSync(PROFILES_DIR, { recursive: true });
  const server = startChild('server-process.ts', {
    cpu: 0,
    stdoutFile: logFile,
    env: {
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      DEMO: 'off',
      // Only registration and login hash passwords; they are setup, not the measured payments.
      PASSWORD_HASH_LOG_N: '10',
      // Buyers top up once for the whole run.
      TOP_UP_DAILY_LIMIT_WON: '1000000000000',
      WEB_DIST_DIR: path.join(dataDir, 'no-web'),
      // One load generator on one address plays every buyer: per-address limits would measure themselves.
      ...Object.fromEntries(['LOGIN', 'REGISTRATION', 'EVIDENCE_VERIFICATION', 'CODE_ISSUING', 'CSR_SUBMISSION', 'PUBLIC'].map((kind) => [`RATE_LIMIT_${kind}_PER_MINUTE`, '1000000'])),
    },
  });
  const load = startChild('load-process.ts', { cpu: 1 });
  const sendLoad = (command: LoadCommand) => load.send(command);
  const mark = async (): Promise<ServerMark> => {
    // A server that cannot answer this within seconds is stuck: better a failed run than a hung one.
    const answer = nextMessage<ServerMark & { type: string }>(server, 'mark', 10_000);
    server.send({ type: 'mark' });
    return answer;
  };
  try {
    const { port } = await nextMessage<{ port: number }>(server, 'ready');
    say(`  server ready on port ${port}`);
    const setupAnswer = nextMessage<SetupResult>(load, 'setup-done');
    sendLoad({ type: 'setup', port, databaseUrl: database.url, dataDir, sellers: plan.sellers, productsPerSeller: plan.productsPerSeller, buyers: plan.buyers, topUpWon: 500_000_000 });
    const setup = await setupAnswer;
    say(`  setup: ${setup.buyers} buyers, ${setup.products} products in ${setup.setup_s} s`);

    const runOne = async (scenario: 'payments' | 'http', concurrency: number, measureMs: number) => {
      let start: ServerMark | undefined;
      let end: ServerMark | undefined;
      let cpuAtStart: CpuSample | undefined;
      let cpuAtEnd: CpuSample | undefined;
      let rssMaxMb = 0;
      const sampler = setInterval(() => (rssMaxMb = Math.max(rssMaxMb, rssMb(server.pid!))), 250);
      const profileFile = path.join(PROFILES_DIR, `server-${engine}-${scenario}-${concurrency}.cpuprofile`);
      const onMessage = (message: LoadMessage) => {
        if (message.type === 'measure-start') {
          cpuAtStart = sampleCpu();
          void mark().then((m) => (start = m), () => undefined);
          if (profile) server.send({ type: 'profile-start' });
        }
        if (message.type === 'measure-end') {
          cpuAtEnd = sampleCpu();
          void mark().then((m) => (end = m), () => undefined);
          if (profile) server.send({ type: 'profile-stop', file: profileFile });
        }
      };
      load.on('message', onMessage);
      const answer = nextMessage<RunResult>(load, 'result');
      sendLoad({ type: 'run', scenario, concurrency, warmupMs: plan.warmupMs, measureMs });
      const result = await answer;
      load.off('message', onMessage);
      clearInterval(sampler);
      const endDeadlineMs = Date.now() + 15_000;
      while (!end && Date.now() < endDeadlineMs) await new Promise((r) => setTimeout(r, 20));
      if (!end) throw new Error('the server did not report its counters after the run (hung?)');
      const cpuUs = start ? end.cpu.user - start.cpu.user + end.cpu.system - start.cpu.system : 0;
      const systemUs = start ? end.cpu.system - start.cpu.system : 0;
      const wallMs = start ? end.wallMs - start.wallMs : 1;
      const server_ = {
        rss_mb: round(end.memory.rss / 1024 / 1024, 1),
        rss_max_mb: Math.max(rssMaxMb, round(end.memory.rss / 1024 / 1024, 1)),
        heap_used_mb: round(end.memory.heapUsed / 1024 / 1024, 1),
        cpu_share: round(cpuUs / 1000 / wallMs, 3),
        cpu_us_per_payment: result.completed > 0 ? round(cpuUs / result.completed, 0) : null,
        // Kernel time (socket I/O, fsync) apart from the process's own code.
        system_us_per_payment: result.completed > 0 ? round(systemUs / result.completed, 0) : null,
        verdict_cache: end.verifier,
        // The database server's processes (PostgreSQL's backends, mariadbd; none for SQLite,
        // which runs inside the server) and the whole machine over the same window.
        database_us_per_payment: engine !== 'sqlite' && cpuAtStart && cpuAtEnd && result.completed > 0 ? round((cpuAtEnd.databaseUs - cpuAtStart.databaseUs) / result.completed, 0) : null,
        machine_us_per_payment: cpuAtStart && cpuAtEnd && result.completed > 0 ? round((cpuAtEnd.machineBusyUs - cpuAtStart.machineBusyUs) / result.completed, 0) : null,
        transactions_per_commit: start && end.groupCommit && start.groupCommit && end.groupCommit.commits > start.groupCommit.commits
          ? round((end.groupCommit.transactions - start.groupCommit.transactions) / (end.groupCommit.commits - start.groupCommit.commits), 1)
          : null,
      };
      say(`  ${scenario} ×${concurrency}: ${result.per_s}/s, p50 ${result.total.p50_ms} ms, p99 ${result.total.p99_ms} ms, errors ${result.errors}, server CPU ${server_.cpu_share} (${server_.cpu_us_per_payment} µs each, ${server_.system_us_per_payment} in the kernel), load CPU ${result.load_cpu_share}, database ${server_.database_us_per_payment ?? '–'} µs, machine ${server_.machine_us_per_payment} µs each, transactions/commit ${server_.transactions_per_commit}`);
      for (const e of result.errorSamples) say(`    error: ${e}`);
      return { ...result, server: server_ };
    };

    const http = await runOne('http', Math.max(...plan.concurrency), plan.httpMeasureMs);
    const runs = [];
    for (const c of plan.concurrency) runs.push(await runOne('payments', c, plan.measureMs));
    const logBytes = statSync(logFile).size;
    return { setup, http, runs, logBytes };
  } finally {
    load.send({ type: 'stop' });
    server.send({ type: 'stop' });
    await Promise.all([exited(load), exited(server)]);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const harness: Harness = { startChild, nextMessage, exited, freshDataDir, say };

/** Which parts `--only=a,b` asks for (all without it); an unknown name is an error, not a silent no-op. */
function wantedParts(argv: string[]): { payments: boolean; extras: Set<ExtraScenario> } {
  const option = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  if (option === undefined) return { payments: true, extras: new Set(EXTRA_SCENARIOS) };
  const names = option.split(',').filter((n) => n.length > 0);
  const unknown = names.filter((n) => n !== 'payments' && !(EXTRA_SCENARIOS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(', ')} (known: payments, ${EXTRA_SCENARIOS.join(', ')})`);
  return { payments: names.includes('payments'), extras: new Set(EXTRA_SCENARIOS.filter((n) => names.includes(n))) };
}

/** Runs the further scenarios and writes their JSON and chart; undefined when none is wanted. */
async function measureExtras(mode: 'quick' | 'full', engines: DatabaseEngine[], enginesNamed: boolean, wanted: Set<ExtraScenario>, date: string): Promise<ScenarioResults | undefined> {
  if (wanted.size === 0) return undefined;
  const started = Date.now();
  const loadAtStart = round(os.loadavg()[0]!, 2);
  const measured = await runExtraScenarios(harness, extraPlan(mode, engines, enginesNamed), wanted);
  const results: ScenarioResults = {
    date, mode,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, pinned: PIN, load_average_at_start: loadAtStart, load_average_at_end: round(os.loadavg()[0]!, 2) },
    seconds: round((Date.now() - started) / 1000, 0),
    // The children inherit this environment: a REDIS_URL here puts every signed request's nonce in Redis.
    redis: process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '',
    ...measured,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${date}-scenarios.json`), `${JSON.stringify(results, null, 2)}\n`);
  const chart = renderLedgerChart(results);
  if (chart) writeFileSync(path.join(RESULTS_DIR, ledgerChartFile(date)), chart);
  return results;
}

/** The stored scenario results of one date, if any. */
function storedScenarios(date: string): ScenarioResults | undefined {
  const file = path.join(RESULTS_DIR, `${date}-scenarios.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ScenarioResults) : undefined;
}

/** Writes the Markdown report again from the stored JSON of one date (`--render=2026-11-30`). */
function renderStored(date: string): void {
  const results = ['sqlite', 'postgres', 'mysql']
    .map((engine) => path.join(RESULTS_DIR, `${date}-${engine}.json`))
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as EngineResult)
    .map((result) => {
      // Records written before `highest` existed: derive it from their runs.
      if (result.highest) return result;
      const top = result.details.runs.reduce((a, b) => (b.per_s > a.per_s ? b : a));
      const highest = { payments_per_s: top.per_s, p50_ms: top.total.p50_ms, p99_ms: top.total.p99_ms, concurrency: top.concurrency, fraction_of_ceiling: round(top.per_s / result.ceiling_per_s, 3) };
      return { ...result, highest, targets: { ...result.targets, fraction_at_least_half: highest.fraction_of_ceiling >= 0.5 } };
    });
  const scenarios = storedScenarios(date);
  if (results.length === 0 && !scenarios) throw new Error(`no results of ${date} in bench/results/`);
  const first = results[0];
  const head = first ? renderReport(results, { mode: first.mode, machine: first.details.machine, seconds: first.details.run_seconds ?? 0 }) : renderScenarioHeader(scenarios!);
  if (scenarios) {
    const chart = renderLedgerChart(scenarios);
    if (chart) writeFileSync(path.join(RESULTS_DIR, ledgerChartFile(date)), chart);
  }
  writeFileSync(path.join(RESULTS_DIR, `${date}-report.md`), head + (scenarios ? renderScenarioSections(scenarios, results) : ''));
  process.stdout.write(`rewrote bench/results/${date}-report.md\n`);
}

/**
 * The name of this run's files: the day, and `--label=<name>` after it for a second run
 * of the same day, so that a committed report is not written over.
 */
function runName(argv: string[]): string {
  const day = new Date().toISOString().slice(0, 10);
  const label = argv.find((a) => a.startsWith('--label='))?.slice('--label='.length);
  if (label === undefined) return day;
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(label)) throw new Error(`--label=${label}: use lower-case letters, digits and dashes`);
  return `${day}-${label}`;
}

async function main(): Promise<void> {
  const render = process.argv.find((a) => a.startsWith('--render='));
  if (render) return renderStored(render.slice('--render='.length));
  const { plan, engines: wanted, profile, ceilings: withCeilings } = planFrom(process.argv.slice(2));
  const parts = wantedParts(process.argv.slice(2));
  const configured = enginesUnderTest().map((e) => e.engine);
  const engines = (wanted ?? configured).filter((e) => configured.includes(e));
  const started = startedAtMs;
  const date = runName(process.argv.slice(2));
  const machine = {
    cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', memory_gb: round(os.totalmem() / 2 ** 30, 1), node: process.version, pinned: PIN,
    load_average_at_start: round(os.loadavg()[0]!, 2),
    load_average_at_end: 0,
    // Anything else running on the two cores shows up here and in every number below. The
    // load average remembers the last minute (a test run just before, say); this is now.
    busy_share_at_start: await busyShare(2_000),
  };
  process.stdout.write(`CoconutPay payment benchmark (${plan.mode}) on ${machine.cpus} × ${machine.cpu_model}, Node ${machine.node}; engines: ${engines.join(', ')}\n`);
  if (!PIN) say('  (not pinning processes to cores: fewer than 2 CPUs or no taskset)');

  if (!withCeilings) {
    for (const engine of engines) await measureProtocol(plan, engine, profile);
    return;
  }
  if (!parts.payments) {
    // The further scenarios alone: their sections join that date's stored payment results, if any.
    await measureExtras(plan.mode, engines, wanted !== null, parts.extras, date);
    renderStored(date);
    rmSync(TEMPLATE_DATA_DIR, { recursive: true, force: true });
    process.stdout.write(`written to bench/results/${date}-scenarios.json and ${date}-report.md (${round((Date.now() - started) / 1000, 0)} s)\n`);
    return;
  }
  say('crypto ceiling…');
  const cryptoCeiling = await measureCrypto(plan);
  say(`  server ${cryptoCeiling.server.us_per_payment} µs/payment (${cryptoCeiling.server.per_s}/s), client ${cryptoCeiling.client.us_per_payment} µs/payment (${cryptoCeiling.client.per_s}/s)`);

  const results: EngineResult[] = [];
  for (const engine of engines) {
    say(`${engine}: protocol over HTTP…`);
    const protocol = await measureProtocol(plan, engine, profile);
    say(`${engine}: ledger ceiling…`);
    const ledger = await measureLedger(plan, engine);
    say(`  payOrder ×${ledger.in_flight} in flight: ${ledger.per_s}/s`);

    const http = protocol.http;
    const ceilings = { crypto_per_s: cryptoCeiling.per_s, http_per_s: http.per_s, ledger_per_s: ledger.per_s };
    const [lowestName, lowest] = Object.entries(ceilings).sort((a, b) => a[1] - b[1])[0]!;
    const withinTarget = protocol.runs.filter((r) => r.errors === 0 && r.total.p99_ms <= 50);
    const best = (withinTarget.length > 0 ? withinTarget : protocol.runs).reduce((a, b) => (b.per_s > a.per_s ? b : a));
    const highest = protocol.runs.reduce((a, b) => (b.per_s > a.per_s ? b : a));
    const paidTotal = protocol.runs.reduce((s, r) => s + r.completed, 0);
    const result: EngineResult = {
      engine,
      date,
      mode: plan.mode,
      payments_per_s: best.per_s,
      p50_ms: best.total.p50_ms,
      p99_ms: best.total.p99_ms,
      rss_mb: best.server.rss_max_mb,
      ceiling_per_s: lowest,
      lowest_ceiling: lowestName.replace(/_per_s$/, ''),
      fraction_of_ceiling: round(best.per_s / lowest, 3),
      concurrency: best.concurrency,
      highest: { payments_per_s: highest.per_s, p50_ms: highest.total.p50_ms, p99_ms: highest.total.p99_ms, concurrency: highest.concurrency, fraction_of_ceiling: round(highest.per_s / lowest, 3) },
      targets: {
        payments_per_s_at_least_1000: best.per_s >= 1000,
        p99_at_most_50_ms: best.total.p99_ms <= 50,
        fraction_at_least_half: highest.per_s / lowest >= 0.5,
      },
      details: {
        machine,
        ceilings: { ...ceilings, crypto: cryptoCeiling, http, ledger },
        runs: protocol.runs,
        code_path: protocol.setup.codePath,
        setup: { ...protocol.setup, type: undefined },
        server_log_bytes_per_request: round(protocol.logBytes / Math.max(1, (paidTotal + protocol.setup.buyers) * 3 + http.completed * 3), 0),
      },
    };
    results.push(result);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(path.join(RESULTS_DIR, `${date}-${engine}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
  const scenarios = await measureExtras(plan.mode, engines, wanted !== null, parts.extras, date);
  machine.load_average_at_end = round(os.loadavg()[0]!, 2);
  for (const result of results) result.details.machine = machine;
  const seconds = round((Date.now() - started) / 1000, 0);
  for (const result of results) result.details.run_seconds = seconds;
  const report = renderReport(results, { mode: plan.mode, machine, seconds }) + (scenarios ? renderScenarioSections(scenarios, results) : '');
  for (const result of results) writeFileSync(path.join(RESULTS_DIR, `${date}-${result.engine}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, `${date}-report.md`), report);
  rmSync(TEMPLATE_DATA_DIR, { recursive: true, force: true });
  process.stdout.write(`\n${report}\nwritten to bench/results/${date}-*.json and ${date}-report.md (${round((Date.now() - started) / 1000, 0)} s)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
