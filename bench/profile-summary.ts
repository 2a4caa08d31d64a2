/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --profile`):
 * self time by function and by package, and total (inclusive) time of the functions
 * that matter, so the costliest parts of a payment are visible without a viewer.
 *
 *   npx tsx bench/profile-summary.ts bench/profiles/server-sqlite-….cpuprofile [rows]
 *     --callers=<function>   who spends that function's self time
 *     --budget=<µs>          the busy time split into the parts of docs/performance.md,
 *                            scaled to <µs> (the server's CPU per request or payment)
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const callersOf = args.find((a) => a.startsWith('--callers='))?.slice('--callers='.length);
const budgetUs = Number(args.find((a) => a.startsWith('--budget='))?.slice('--budget='.length) ?? NaN);
const [file, rowsText] = args.filter((a) => !a.startsWith('--'));
if (!file) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [rows]\n');
  process.exit(2);
}
const rows = Number(rowsText ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const totalUs = profile.endTime - profile.startTime;

function label(n: ProfileNode): string {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, '~/').replace(/.*\/work\/main\//, '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
}
function packageOf(n: ProfileNode): string {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return url.split('/')[0]!.replace(/^node:/, 'node:') + url.slice(5).split('/')[0];
  const own = /work\/main\/(apps\/[^/]+\/src\/[^/]+|packages\/core\/src\/[^/]+|bench)/.exec(url);
  return own ? own[1]! : url;
}

const bySelf = new Map<string, number>();
const byPackage = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  bySelf.set(label(n), (bySelf.get(label(n)) ?? 0) + us);
  byPackage.set(packageOf(n), (byPackage.get(packageOf(n)) ?? 0) + us);
  // Inclusive time: every distinct function on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}
const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)} %`;
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
process.stdout.write(`profile ${(totalUs / 1e6).toFixed(1)} s\n\nby package (self):\n`);
for (const [k, v] of top(byPackage, 25)) process.stdout.write(`${pct(v)}  ${k}\n`);
process.stdout.write('\nby function (self):\n');
for (const [k, v] of top(bySelf, rows)) process.stdout.write(`${pct(v)}  ${k}\n`);
process.stdout.write('\nby function (inclusive):\n');
for (const [k, v] of top(inclusive, rows)) process.stdout.write(`${pct(v)}  ${k}\n`);

if (callersOf) {
  // Who spends the time of one function: the nearest frames of our own code above it.
  const callers = new Map<string, number>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName !== callersOf) continue;
    const own: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && own.length < 3; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (/work\/main\/(apps|packages)\//.test(n.callFrame.url)) own.push(label(n));
    }
    const key = own.join(' < ') || '(no own frame)';
    callers.set(key, (callers.get(key) ?? 0) + us);
  }
  process.stdout.write(`\ncallers of ${callersOf} (self time):\n`);
  for (const [k, v] of top(callers, rows)) process.stdout.write(`${pct(v)}  ${k}\n`);
}

/**
 * The parts of the budget, first match wins, each judged on the whole stack of a sample (so
 * a write(2) made by the logger counts as logging, a query made by a payment as database).
 * Database time includes SQLite's wait for the disk inside COMMIT, which blocks the thread.
 */
const BUDGET_PARTS: [string, (frames: ProfileNode[]) => boolean][] = [
  ['garbage collection', (f) => f[0]!.callFrame.functionName === '(garbage collector)'],
  ['logging', (f) => f.some((n) => /node_modules\/(pino|sonic-boom|@pinojs|fast-redact)\/|access-log\.ts/.test(n.callFrame.url))],
  ['metrics', (f) => f.some((n) => /node_modules\/prom-client\//.test(n.callFrame.url))],
  ['database', (f) => f.some((n) => /node_modules\/(kysely|better-sqlite3|pg|pg-protocol|mysql2|lru\.min)\/|apps\/server\/src\/db\//.test(n.callFrame.url))],
  ['request authentication', (f) => f.some((n) => /request-authenticator\.ts|replay-cache\.ts|session-cache\.ts|http\/authenticate\.ts|protocol\/dual-token\.ts/.test(n.callFrame.url))],
  ['body parsing', (f) => f.some((n) => /body-parsers\.ts|duplicate-keys\.ts|node_modules\/secure-json-parse\//.test(n.callFrame.url))],
  ['schema validation', (f) => f.some((n) => /node_modules\/(ajv|fast-json-stringify|@fastify\/ajv-compiler)\//.test(n.callFrame.url) || /^validate\d*$/.test(n.callFrame.functionName))],
  ['crypto', (f) => f.some((n) => /packages\/core\/src\/(pki|payment|encoding|audit)\/|services\/pki\/|node_modules\/(jose|pkijs|asn1js|@peculiar)\/|node:internal\/crypto|certificate-verifier|time-stamp|verification-code/.test(n.callFrame.url))],
  ['HTTP and framework', (f) => f.some((n) => /node_modules\/(fastify|find-my-way|light-my-request|avvio|@fastify)\/|^node:(_http|net|internal\/stream|internal\/http|stream|events|internal\/streams)/.test(n.callFrame.url) || ['writev', 'writeUtf8String', 'writeBuffer', 'writeLatin1String'].includes(n.callFrame.functionName))],
  ['application', () => true],
];

if (Number.isFinite(budgetUs)) {
  const parts = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id)!;
    if (['(idle)', '(program)', '(root)'].includes(leaf.callFrame.functionName)) continue;
    const frames: ProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) frames.push(byId.get(cur)!);
    const part = BUDGET_PARTS.find(([, matches]) => matches(frames))![0];
    parts.set(part, (parts.get(part) ?? 0) + us);
    busyUs += us;
  }
  process.stdout.write(`\nbudget (busy samples, scaled to ${budgetUs} µs):\n| part | share | µs |\n|---|---:|---:|\n`);
  for (const [part] of BUDGET_PARTS) {
    const us = parts.get(part) ?? 0;
    process.stdout.write(`| ${part} | ${((100 * us) / busyUs).toFixed(1)} % | ${Math.round((budgetUs * us) / busyUs)} |\n`);
  }
}
