/** The report's sections for the further scenarios (bench/scenarios.ts), and the ledger-size chart. */
import { LEDGER_P99_GROWTH_TARGET, OVERHEAD_RATIO_TARGET, type ScenarioResults } from '../scenarios.js';
import type { EngineResult } from './report.js';
import { latencyChart } from './svg-chart.js';

const ENGINE_NAMES: Record<string, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB' };
const engineName = (engine: string) => ENGINE_NAMES[engine] ?? engine;
const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
const percent = (share: number) => `${Math.round(share * 100)} %`;
const grouped = (n: number) => n.toLocaleString('en-US');

/** The file name of a date's chart, beside its report. */
export function ledgerChartFile(date: string): string {
  return `${date}-ledger-size.svg`;
}

/** The chart of payment p50/p99 against ledger size, one line per engine; undefined without ledger-size results. */
export function renderLedgerChart(results: ScenarioResults): string | undefined {
  if (!results.ledger_size?.length) return undefined;
  return latencyChart(
    results.ledger_size.map((r) => ({ name: `${engineName(r.engine)} (${r.concurrency} clients)`, points: r.points.map((p) => ({ x: p.entries_at_start, p50: p.p50_ms, p99: p.p99_ms })) })),
    { title: `Complete payment latency vs ledger size — ${results.date} (${results.mode})`, xLabel: 'journal entries in the ledger (log scale)', yLabel: 'payment latency, ms (solid p99, dashed p50)' },
  );
}

/** A header for a report that holds only these sections (a run with --only and no payment runs that day). */
export function renderScenarioHeader(results: ScenarioResults): string {
  const m = results.machine;
  return [
    `# Benchmark — ${results.date} (${results.mode})`, '',
    `${m.cpus} × ${m.cpu_model}, Node ${m.node}; server on core 0, load generator on core 1${m.pinned ? '' : ' (not pinned)'}; ${results.seconds} s in all; 1-minute load average ${m.load_average_at_start} at the start, ${m.load_average_at_end} at the end (the database servers under test count in it).`,
    '',
  ].join('\n');
}

/**
 * The Markdown sections: overhead, issuance, chains, receipts, ledger size (each only when
 * measured). With the same day's payment results, the overhead is also put against a
 * payment's server CPU.
 */
export function renderScenarioSections(results: ScenarioResults, payments: EngineResult[] = []): string {
  const lines: string[] = [];
  const m = results.machine;
  lines.push('', `The sections below took ${results.seconds} s of the ${results.mode} run; 1-minute load average ${m.load_average_at_start} when they began, ${m.load_average_at_end} when they ended. ${results.redis === true ? 'The servers kept their replay cache and rate-limit counts in Redis (REDIS_URL was set).' : results.redis === false ? 'The servers kept their replay cache and rate-limit counts in process (no REDIS_URL).' : ''}`.trimEnd());

  if (results.overhead?.length) {
    const o = results.overhead[0]!;
    lines.push('', '## Dual-token request overhead', '');
    lines.push(`The same do-nothing POST (the payment's three body sizes in turn) sent signed — dual-token proof checked, session looked up, nonce remembered — and anonymously, to its twin route without the session check (which, like every unauthenticated route, passes the \`public\` rate limit instead). ${o.concurrency} clients on keep-alive connections, ${o.rounds} round(s) of ${o.measure_s} s per side in ${o.rounds > 1 ? 'ABBA' : 'AB'} order. Target: signed ≥ ${percent(OVERHEAD_RATIO_TARGET)} of anonymous requests/s.`, '');
    lines.push('| engine | signed requests/s | anonymous requests/s | signed ÷ anonymous | ≥ 85 % | signed p50 / p99 ms | anonymous p50 / p99 ms | server µs CPU per request, signed / anonymous (difference) | load generator CPU, signed / anonymous | errors |');
    lines.push('|---|---:|---:|---:|---|---:|---:|---:|---:|---:|');
    for (const r of results.overhead) {
      const s = r.signed.server_cpu_us_per_request;
      const a = r.anonymous.server_cpu_us_per_request;
      lines.push(`| ${engineName(r.engine)} | ${r.signed.per_s} | ${r.anonymous.per_s} | ${percent(r.ratio)} | ${yes(r.target_met)} | ${r.signed.p50_ms} / ${r.signed.p99_ms} | ${r.anonymous.p50_ms} / ${r.anonymous.p99_ms} | ${s ?? '–'} / ${a ?? '–'}${s !== null && a !== null ? ` (${s - a})` : ''} | ${percent(r.signed.load_cpu_share)} / ${percent(r.anonymous.load_cpu_share)} | ${r.signed.errors + r.anonymous.errors} |`);
    }
    // The same extra CPU on a route that does real work: a payment makes three signed requests.
    const perPayment = results.overhead.flatMap((r) => {
      const paid = payments.find((p) => p.engine === r.engine);
      const s = r.signed.server_cpu_us_per_request;
      const a = r.anonymous.server_cpu_us_per_request;
      const paymentUs = paid?.details.runs.find((run) => run.concurrency === paid.concurrency)?.server.cpu_us_per_payment;
      return paid && s !== null && a !== null && paymentUs ? [`${engineName(r.engine)} ${percent((3 * (s - a)) / paymentUs)} (3 × ${s - a} µs of ${paymentUs} µs)`] : [];
    });
    lines.push('', `A do-nothing route is the worst case for this ratio: the request costs the server almost nothing but its HTTP handling, so whatever authentication adds is a large share of it.${perPayment.length > 0 ? ` The same extra server CPU, three times per complete payment, as a share of a payment's server CPU in this run (the headline concurrency): ${perPayment.join('; ')}.` : ''}`);
  }

  const pki = results.pki;
  if (pki) {
    lines.push('', '## Certificate issuance, chain validation, receipt verification', '');
    lines.push(`One process on the server's core, ${pki.issuance.in_flight} calls in flight; CPU is the process's per call, WebCrypto's thread pool included.`, '');
    lines.push('| operation | per second | µs CPU per call | p50 ms | p99 ms | calls |', '|---|---:|---:|---:|---:|---:|');
    lines.push(`| certificate issuance from a CSR | **${pki.issuance.per_s}** certificates/s | ${pki.issuance.cpu_us_per_call} | ${pki.issuance.latency.p50_ms} | ${pki.issuance.latency.p99_ms} | ${pki.issuance.calls} |`);
    lines.push(`| chain validation with status | **${pki.chains.per_s}** chains/s | ${pki.chains.cpu_us_per_call} | ${pki.chains.latency.p50_ms} | ${pki.chains.latency.p99_ms} | ${pki.chains.calls} |`);
    lines.push(`| receipt verification | **${pki.receipts.per_s}** receipts/s | ${pki.receipts.cpu_us_per_call} | ${pki.receipts.latency.p50_ms} | ${pki.receipts.latency.p99_ms} | ${pki.receipts.calls} |`);
    lines.push('');
    lines.push(`- **Issuance** (${pki.issuance.path}): \`CertificatesService.issueMaster\`, the service behind \`POST /api/certificates/master\`, built from the app's own parts — CSR checks (signature algorithm, proof of possession, P-256), the CA's signature, the issuing transaction (certificate row, certificate event, audit-log entry). No session check; CSRs were made beforehand, one new user per certificate, so every call issues a first master certificate.`);
    lines.push(`- **Chains**: core's \`validatePath\` for a user's master certificate, purpose \`payment\`, root as trust anchor and the issuing CA as intermediate, \`revocation: 'require'\` with the current CRLs of the issuing CA (${pki.chains.crl_entries} revoked certificates, ${pki.chains.crl_bytes[0]} bytes) and the root (${pki.chains.crl_bytes[1]} bytes) — how the product's verifiers (payment evidence, receipts, \`coconutpay cert verify\`) judge status; none of them asks OCSP. Nothing is cached between calls: every call checks both signatures of the path and the CRL's. A revoked certificate was refused first (${pki.chains.revoked_refused_with}).`);
    lines.push(`- **Receipts**: core's \`verifyReceipt\` on a real receipt (${pki.receipts.receipt_bytes} bytes): a paid order's receipt signed by the seller's certificate as the web app signs it, issued through the API and downloaded by the buyer, checked against the root with the current CRLs; checks passed: ${pki.receipts.checks.join(', ')}.`);
  }

  if (results.ledger_size?.length) {
    lines.push('', '## Payment latency vs ledger size', '');
    const first = results.ledger_size[0]!;
    lines.push(`Complete payments (as above) from ${first.concurrency} clients, ${first.measure_s} s measured at each size, on one server whose ledger the load generator grows between the runs with plain SQL (bench/lib/ledger-history.ts): top-up entries (one entry, two postings, the balances moved in the same transaction; sum of postings = sum of balances = 0 checked after each load) spread over every wallet, dated before the run. Target: p99 at 10⁶ entries ≤ ${LEDGER_P99_GROWTH_TARGET} × p99 at 10⁴.`, '');
    lines.push(`![Payment p50 and p99 against journal entries, log scale](${ledgerChartFile(results.date)})`, '');
    lines.push('| engine | journal entries at start | history load s (rows/s) | payments/s | p50 ms | p99 ms | max ms | p99 ÷ p99 at the smallest | server µs CPU per payment | errors | top-ups/s | top-up p50 / p99 ms |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of results.ledger_size) {
      const base = r.points[0]!.p99_ms;
      for (const p of r.points) {
        const t = p.top_up;
        lines.push(`| ${engineName(r.engine)} | ${grouped(p.entries_at_start)} | ${p.growth.load_s} (${grouped(p.growth.rows_per_s)}) | ${p.per_s} | ${p.p50_ms} | ${p.p99_ms} | ${p.max_ms} | ${(Math.round((p.p99_ms / base) * 100) / 100).toFixed(2)} | ${p.server_cpu_us_per_payment ?? '–'} | ${p.errors} | ${t ? `${t.per_s}${t.errors > 0 ? ` (${t.errors} errors)` : ''}` : '–'} | ${!t ? '–' : t.completed === 0 ? 'none ended in the window' : `${t.p50_ms} / ${t.p99_ms}`} |`);
      }
    }
    const largest = results.ledger_size[0]!.points.at(-1)!;
    lines.push('', `Top-ups (${first.concurrency} clients, after the payments at each size, not during them) are not part of the target. They are shown because the daily top-up limit sums the wallet's top-up postings of the day while it holds the funding account's and the wallet's locks. That sum once read every posting the wallet ever had (an index on the account alone; at 10⁶ entries on SQLite top-ups fell to 5/s with p50 1.3 s, and every write transaction waited behind them); since migration 0019 it reads an (account, entry) index from the day's first time-ordered entry id, so it reads one day of postings. The history here is spread over ${largest.growth.wallets} wallets, about ${grouped(Math.round(largest.entries_at_start / largest.growth.wallets))} postings each at the largest size. Payments read no postings.`);
    lines.push('', `| engine | p99 at the largest ÷ p99 at the smallest | ≤ ${LEDGER_P99_GROWTH_TARGET} × |`, '|---|---:|---|');
    for (const r of results.ledger_size) lines.push(`| ${engineName(r.engine)} | ${r.p99_growth} | ${yes(r.target_met)} |`);
  }
  lines.push('');
  if (results.round_trips?.length) {
    lines.push('', '## The cost of one database round trip', '');
    lines.push(`The drivers the server uses, ${results.round_trips[0]!.in_flight} in flight from one process on the server's core, against a table of our own: a prepared primary-key read, and a one-row update in its own transaction (BEGIN, UPDATE, COMMIT: three round trips and a durable commit). CPU per operation, in that process (what the server pays) and in the database server's processes.`, '');
    lines.push('| engine | reads/s | µs here per read | µs in the database per read | write transactions/s | µs here per transaction | µs in the database per transaction |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const r of results.round_trips) lines.push(`| ${engineName(r.engine)} | ${r.read.per_s} | ${r.read.client_us} | ${r.read.database_us} | ${r.write_transaction.per_s} | ${r.write_transaction.client_us} | ${r.write_transaction.database_us} |`);
  }
  if (results.idle_gaps) {
    const g = results.idle_gaps;
    lines.push('', '## Work after an idle core', '');
    lines.push(`One fixed unit of the kinds of work a payment is made of (an ECDSA P-256 signature and its verification, a payment command put in canonical JSON and parsed back, a SHA-256 of 2 KiB), in one process on the server's core: back to back, and each after the thread slept for a gap (a futex wait, as the event loop sleeps between events and the main thread in \`fsync\`). The wake-up's own CPU, measured alone, is shown apart and not counted in the unit. Medians of ${g.rounds} round(s) of ${grouped(g.units_per_measure)} units, every gap in each round. At low concurrency the server's core idles between the steps of a payment; this is what that costs the same instructions on this machine, apart from any code of ours.`, '');
    lines.push('| before each unit | µs CPU per unit | × back to back | µs CPU of the wake-up itself |', '|---|---:|---:|---:|');
    lines.push(`| nothing (back to back) | ${g.back_to_back_us} | 1 | – |`);
    for (const p of g.points) lines.push(`| ${p.gap_ms} ms idle | ${p.work_us} | ${p.ratio} | ${p.wait_us} |`);
  }
  return lines.join('\n');
}
