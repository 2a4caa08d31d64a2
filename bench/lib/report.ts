/** The benchmark's Markdown report and the shape of one engine's JSON record. */
import type { CryptoCeiling } from '../crypto-ceiling.js';
import type { LedgerCeiling } from '../ledger-ceiling.js';
import type { CodePathResult, RunResult } from './messages.js';

export interface ServerSide {
  rss_mb: number;
  rss_max_mb: number;
  heap_used_mb: number;
  cpu_share: number;
  cpu_us_per_payment: number | null;
  verdict_cache: { hits: number; misses: number; size: number };
  /** CPU of the database server's processes per payment (PostgreSQL, MariaDB; null for SQLite, which runs inside the server). Absent in records made before it was measured. */
  database_us_per_payment?: number | null;
  /** CPU of the whole machine (both cores, every process) per payment over the same window. */
  machine_us_per_payment?: number | null;
  /** SQLite group commit: write transactions per fsync'd commit in the window. */
  transactions_per_commit: number | null;
}

export type MeasuredRun = RunResult & { server: ServerSide };

/** One engine's record: bench/results/<date>-<engine>.json. */
export interface EngineResult {
  engine: string;
  date: string;
  mode: 'quick' | 'full';
  payments_per_s: number;
  p50_ms: number;
  p99_ms: number;
  rss_mb: number;
  /** The lowest of the three ceilings measured in the same run. */
  ceiling_per_s: number;
  lowest_ceiling: string;
  fraction_of_ceiling: number;
  /** Clients of the reported run: the fastest with p99 ≤ 50 ms and no errors, else the fastest. */
  concurrency: number;
  /** The fastest run whatever its latency; the fraction target is judged on it. */
  highest: { payments_per_s: number; p50_ms: number; p99_ms: number; concurrency: number; fraction_of_ceiling: number };
  targets: { payments_per_s_at_least_1000: boolean; p99_at_most_50_ms: boolean; fraction_at_least_half: boolean };
  details: {
    machine: { cpus: number; cpu_model: string; memory_gb: number; node: string; pinned: boolean; load_average_at_start: number; load_average_at_end: number; busy_share_at_start?: number };
    ceilings: { crypto_per_s: number; http_per_s: number; ledger_per_s: number; crypto: CryptoCeiling; http: MeasuredRun; ledger: LedgerCeiling };
    runs: MeasuredRun[];
    code_path: CodePathResult;
    setup: unknown;
    server_log_bytes_per_request: number;
    run_seconds?: number;
  };
}

/**
 * The server's CPU per payment against its parts (docs/performance.md, "Targets"): the
 * parts the target names — three signed do-nothing requests, the server's crypto, the
 * ledger transaction (1 ÷ its rate) — and, measured alone in the same run, the payment's
 * two other durable steps, which no payment can skip. Their sum with the ledger's own CPU
 * is a lower bound on what the server spends per payment.
 */
export function budgetOf(r: EngineResult): string | null {
  const c = r.details.ceilings;
  const steps = c.ledger.steps;
  const measured = r.details.runs.flatMap((run) => (run.per_s > 0 && run.server.cpu_us_per_payment !== null ? [{ clients: run.concurrency, us: run.server.cpu_us_per_payment }] : []));
  const best = measured.sort((a, b) => a.us - b.us)[0];
  const http = c.http.server.cpu_us_per_payment;
  if (!steps || c.ledger.cpu_us === undefined || !best || http === null) return null;
  const cryptoUs = c.crypto.server.us_per_payment;
  const ledgerUs = Math.round(1e6 / c.ledger.per_s);
  const parts = http + cryptoUs + ledgerUs;
  const floor = http + cryptoUs + c.ledger.cpu_us + steps.order.cpu_us + steps.command.cpu_us;
  const x = (v: number) => `${(v / parts).toFixed(2)} ×`;
  // Since the protocol steps were measured too: the whole server side, each step alone.
  const whole = steps.request && steps.authorize ? http + steps.order.cpu_us + steps.request.cpu_us + steps.authorize.cpu_us : null;
  const wholeLine = whole === null || !steps.request || !steps.authorize ? '' :
    ` The whole server side, each step alone (no HTTP but the three signed requests): ${http} + the order ${steps.order.cpu_us} + the request ${steps.request.cpu_us} (${steps.request.per_s}/s) + the authorization ${steps.authorize.cpu_us} (${steps.authorize.per_s}/s) = ${Math.round(whole)} µs, at most ${Math.floor(1e6 / whole)} payments/s on one core; the payment runs spent ${Math.abs(best.us - Math.round(whole))} µs ${best.us >= Math.round(whole) ? 'more' : 'less'} at their least${best.us < Math.round(whole) ? ' (each step alone ran at another moment of the machine: a drift, not a saving)' : ''}.`;
  return `- **Budget**: the parts are ${http} (three signed requests) + ${Math.round(cryptoUs)} (crypto) + ${ledgerUs} (ledger, 1 ÷ its rate) = ${Math.round(parts)} µs; the server spent ${best.us} µs per payment at its least (${best.clients} clients), ${x(best.us)} the parts. The payment's other durable steps, each alone: the order ${steps.order.cpu_us} µs of CPU (${steps.order.per_s}/s${steps.order.with_key ? ', its Idempotency-Key claimed and its answer stored' : ''}), the command with its two reads ${steps.command.cpu_us} µs (${steps.command.per_s}/s). With the ledger's own ${c.ledger.cpu_us} µs of CPU, the floor is ${Math.round(floor)} µs: ${x(floor)} the parts before any read of the request and authorization steps.${wholeLine}`;
}

const ENGINE_NAMES: Record<string, string> = { sqlite: 'SQLite (WAL, every commit synced before it is answered)', postgres: 'PostgreSQL', mysql: 'MariaDB' };
const yes = (ok: boolean) => (ok ? 'yes' : '**no**');

export function renderReport(results: EngineResult[], meta: { mode: string; machine: EngineResult['details']['machine']; seconds: number }): string {
  const m = meta.machine;
  const lines: string[] = [];
  lines.push(`# Payment benchmark — ${results[0]?.date ?? ''} (${meta.mode})`, '');
  lines.push(`${m.cpus} × ${m.cpu_model}, ${m.memory_gb} GB, Node ${m.node}; server on core 0, load generator on core 1${m.pinned ? '' : ' (not pinned)'}; ${meta.seconds} s in all; 1-minute load average ${m.load_average_at_start} at the start, ${m.load_average_at_end} at the end (the database servers under test count in it)${m.busy_share_at_start === undefined ? '' : `; the cores were ${Math.round(m.busy_share_at_start * 100)} % busy in the 2 s before the run`}.`);
  // What was busy just before the run is other work; older records only have the load average.
  const otherWork = m.busy_share_at_start === undefined ? m.load_average_at_start > 0.5 || m.load_average_at_end > 2.5 : m.busy_share_at_start > 0.1;
  if (otherWork) {
    lines.push('', `**Other work shared the two cores when this run began (${m.busy_share_at_start === undefined ? `load average ${m.load_average_at_start}` : `${Math.round(m.busy_share_at_start * 100)} % busy`}): every number below is low by an unknown amount.**`);
  }
  lines.push('', 'A payment is complete when the buyer holds the receipt: order → sealed signed REQ → sealed A-signed COM → CMS-signed AUTH → paid, three HTTP round trips, over keep-alive loopback connections. Targets: ≥ 1,000 payments/s on SQLite with p99 ≤ 50 ms, and ≥ 50 % of the lowest ceiling.', '');
  lines.push('| engine | payments/s | p50 ms | p99 ms | clients | highest payments/s (clients, p99 ms) | server RSS MB | crypto ceiling/s | HTTP ceiling/s | ledger ceiling/s | fraction of lowest ceiling (headline / highest) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const c = r.details.ceilings;
    const mark = (name: string, value: number) => (r.lowest_ceiling === name ? `**${value}**` : String(value));
    const h = r.highest;
    lines.push(`| ${ENGINE_NAMES[r.engine] ?? r.engine} | ${r.payments_per_s} | ${r.p50_ms} | ${r.p99_ms} | ${r.concurrency} | ${h.payments_per_s} (${h.concurrency}, ${h.p99_ms}) | ${r.rss_mb} | ${mark('crypto', c.crypto_per_s)} | ${mark('http', c.http_per_s)} | ${mark('ledger', c.ledger_per_s)} | ${Math.round(r.fraction_of_ceiling * 100)} % / ${Math.round(h.fraction_of_ceiling * 100)} % |`);
  }
  lines.push('', 'payments/s, p50, p99 (the headline): the fastest run whose p99 is at most 50 ms, else the fastest run. "highest": the fastest run at any latency; the ≥ 50 % target is judged on it. The lowest ceiling is in bold. Targets met:', '');
  lines.push('| engine | ≥ 1,000/s | p99 ≤ 50 ms | ≥ 50 % of ceiling |', '|---|---|---|---|');
  for (const r of results) lines.push(`| ${r.engine} | ${yes(r.targets.payments_per_s_at_least_1000)} | ${yes(r.targets.p99_at_most_50_ms)} | ${yes(r.targets.fraction_at_least_half)} |`);

  for (const r of results) {
    const c = r.details.ceilings;
    lines.push('', `## ${ENGINE_NAMES[r.engine] ?? r.engine}`, '');
    lines.push('| clients | payments/s | p50 | p99 | max | order p99 | REQ→COM p99 | AUTH p99 | server CPU | server µs/payment | load CPU | load µs/payment | database µs/payment | machine µs/payment | RSS MB | errors |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const run of r.details.runs) {
      const loadUs = run.per_s > 0 ? Math.round((run.load_cpu_share * 1e6) / run.per_s) : '–';
      lines.push(`| ${run.concurrency} | ${run.per_s} | ${run.total.p50_ms} | ${run.total.p99_ms} | ${run.total.max_ms} | ${run.steps.order?.p99_ms} | ${run.steps.request?.p99_ms} | ${run.steps.authorize?.p99_ms} | ${Math.round(run.server.cpu_share * 100)} % | ${run.server.cpu_us_per_payment} | ${Math.round(run.load_cpu_share * 100)} % | ${loadUs} | ${run.server.database_us_per_payment ?? '–'} | ${run.server.machine_us_per_payment ?? '–'} | ${run.server.rss_max_mb} | ${run.errors} |`);
    }
    lines.push('', 'Per payment, CPU of: the server (pinned to core 0), the load generator (core 1), the database server (PostgreSQL\'s or MariaDB\'s processes, unpinned; SQLite runs inside the server) and the whole machine (both cores, everything on them). Two cores give 2,000,000 µs a second: a rate of R payments/s needs machine µs/payment ≤ 2,000,000 ÷ R.');
    const h = c.http;
    lines.push('', `- **HTTP ceiling**: ${h.per_s} groups/s of the same three signed POSTs (same body sizes) to an authenticated route that does nothing, ${h.concurrency} clients; p50 ${h.total.p50_ms} ms, p99 ${h.total.p99_ms} ms; server ${h.server.cpu_us_per_payment} µs CPU per group, load CPU ${Math.round(h.load_cpu_share * 100)} %.`);
    lines.push(`- **Ledger ceiling**: \`payOrder\` alone, ${c.ledger.in_flight} in flight, ${c.ledger.payments} payments: ${c.ledger.per_s}/s, p50 ${c.ledger.latency.p50_ms} ms, p99 ${c.ledger.latency.p99_ms} ms${c.ledger.cpu_us === undefined ? '' : `; ${c.ledger.cpu_us} µs of CPU each`}.`);
    lines.push(`- **Crypto ceiling**: server ${c.crypto.server.us_per_payment} µs per payment (${c.crypto.server.per_s}/s on one core), client ${c.crypto.client.us_per_payment} µs (${c.crypto.client.per_s}/s); the lower one counts.`);
    const budget = budgetOf(r);
    if (budget) lines.push(budget);
    const code = r.details.code_path;
    lines.push(`- **Code path** (each certificate's first payment, ${code.payments} payments, 4 at a time): REQ→COM with code issue p50 ${code.request_with_code.p50_ms} ms, code picture p50 ${code.code_image.p50_ms} ms, AUTH with code check p50 ${code.authorize_with_code.p50_ms} ms; whole payment p50 ${code.total_with_code.p50_ms} ms. CPU: issuing a code (random + distorted PNG) ${c.crypto.code.issue_us} µs, checking its proof ${c.crypto.code.check_us} µs.`);
    lines.push(`- Server log: ${r.details.server_log_bytes_per_request} bytes per request (pino, level info as shipped).`);
  }
  const crypto = results[0]?.details.ceilings.crypto;
  if (crypto) {
    lines.push('', '## Crypto per payment (µs of one core)', '', '| side | operation | × | µs per call |', '|---|---|---:|---:|');
    for (const o of crypto.server.operations) lines.push(`| server | ${o.name} | ${o.perPayment} | ${o.us_per_call} |`);
    for (const o of crypto.client.operations) lines.push(`| client | ${o.name} | ${o.perPayment} | ${o.us_per_call} |`);
    lines.push(`| | **server total** | | **${crypto.server.us_per_payment}** |`, `| | **load generator total** | | **${crypto.client.us_per_payment}** |`);
    if (crypto.browser) lines.push('', `For reference, the web app's client steps with core's WebCrypto code cost ${crypto.browser.us_per_payment} µs per payment on this core (checking A's chain on every command: ${crypto.browser.full_chain_check_us} µs of it); the load generator does the same steps with node:crypto.`);
  }
  lines.push('');
  return lines.join('\n');
}
