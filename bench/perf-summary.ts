/**
 * Summarises a Linux `perf` CPU profile of the server process: where its CPU goes, on
 * every thread and in the kernel too. The V8 profile (`--profile`, profile-summary.ts)
 * sees the main thread's JavaScript only and samples wall time, so a main thread waiting
 * in `fsync` looks busy there; `perf` samples CPU, so it shows what each part really costs
 * (docs/performance.md, "Per payment, by CPU").
 *
 *   # the server with JIT symbols, a payment run, and 30 s of samples of its process
 *   NODE_OPTIONS=--perf-basic-prof npm run bench -- --no-ceilings --engines=sqlite --concurrency=16 --measure-s=60 &
 *   perf record -F 997 -g -p <server pid> -o server.perf -- sleep 30
 *   perf script -i server.perf -F comm,tid,ip,sym,dso > server.txt
 *   npx tsx bench/perf-summary.ts server.txt --budget=<server µs per payment>
 *
 * Each sample is put in one kind by its whole stack, in this order: SQLite (split into
 * the WAL's writes, the sync, and the rest), garbage collection, OpenSSL's cryptography,
 * then the innermost JavaScript frame's package or folder, then the kernel; the shares
 * are of all samples of the process, so they add up to its CPU.
 */
import { readFileSync } from 'node:fs';

/** One sample: its thread and its frames from the innermost out ("symbol (object)"). */
export interface PerfSample {
  thread: string;
  frames: string[];
}

/** Parses `perf script -F comm,tid,ip,sym,dso` output (a header line, then one indented frame per line). */
export function parsePerfScript(text: string): PerfSample[] {
  const samples: PerfSample[] = [];
  let current: PerfSample | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current) samples.push(current);
      current = null;
    } else if (!current) {
      current = { thread: line.trim().replace(/\s+/g, ' '), frames: [] };
    } else {
      // "    7feb16478fae JS:*executeQuery file:///…:1:460 (/tmp/perf-5669.map)"
      current.frames.push(line.trim().replace(/^[0-9a-f]+\s+/, ''));
    }
  }
  if (current) samples.push(current);
  return samples;
}

const CRYPTO = /nistz256|sha256|sha512|aes|gcm_|ghash|EVP_|BN_|bn_|ossl_|ecdsa|ECDSA|ec_GFp|HMAC|CRYPTO_|node::crypto::/;
const GC = /Scavenge|MarkCompact|ConcurrentMarking|Heap::|GCTracer|Sweeper|MinorMC|ArrayBufferSweeper/;
const NETWORK = /tcp_|sock_|epoll|inet_|__x64_sys_writev|sendmsg|recvmsg/;

/** The kind a sample's CPU is charged to (see the file's comment for the order). */
export function kindOf(frames: string[]): string {
  const stack = frames.join('\n');
  if (stack.includes('better_sqlite3.node')) {
    if (/\bwalCheckpoint\b/.test(stack)) return 'SQLite: checkpoint';
    if (/\bfsync\b|\bfdatasync\b/.test(stack)) return 'SQLite: sync';
    if (/\bwalWriteOneFrame|__libc_pwrite/.test(stack)) return 'SQLite: WAL writes';
    return 'SQLite: statements and commit (not I/O)';
  }
  if (GC.test(stack)) return 'garbage collection';
  if (CRYPTO.test(stack)) return 'OpenSSL';
  for (const frame of frames) {
    // An ES module's frame names its file as a file: URL; a CommonJS module's (mysql2, pg) as a plain path.
    const js = frame.startsWith('JS:') ? /\s((?:file:\/\/)?\/\S+|node:\S+):\d+:\d+\s/.exec(frame) : null;
    if (!js) continue;
    const where = js[1]!;
    const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
    if (module) return `js: ${module[1]}`;
    if (where.startsWith('node:')) return `js: node (${where.slice(5).replace(/^internal\//, '').split('/')[0]})`;
    const own = /\/(apps\/[^/]+\/src\/[^/]+|packages\/core\/src\/[^/]+|bench)\//.exec(where);
    return `js: ${own ? own[1] : where}`;
  }
  if (/malloc|_int_free|cfree|unlink_chunk/.test(frames[0] ?? '')) return 'malloc';
  if (NETWORK.test(stack)) return 'kernel: network';
  if (stack.includes('[kernel.kallsyms]')) return 'kernel: other';
  return 'native: other';
}

export interface PerfSummary {
  samples: number;
  /** Share of the samples by thread ("main" is the thread with the most). */
  threads: { thread: string; share: number }[];
  /** Share of all samples by kind, main thread and other threads apart. */
  kinds: { kind: string; share: number }[];
}

export function summarise(samples: PerfSample[]): PerfSummary {
  const perThread = new Map<string, number>();
  for (const s of samples) perThread.set(s.thread, (perThread.get(s.thread) ?? 0) + 1);
  const main = [...perThread].sort((a, b) => b[1] - a[1])[0]?.[0];
  const perKind = new Map<string, number>();
  for (const s of samples) {
    const kind = `${s.thread === main ? '' : 'other threads: '}${kindOf(s.frames)}`;
    perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
  }
  const shares = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, n / samples.length] as const);
  return {
    samples: samples.length,
    threads: shares(perThread).map(([thread, share]) => ({ thread: thread === main ? `${thread} (main)` : thread, share })),
    kinds: shares(perKind).map(([kind, share]) => ({ kind, share })),
  };
}

if (process.argv[1]?.endsWith('perf-summary.ts')) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const budgetUs = Number(args.find((a) => a.startsWith('--budget='))?.slice('--budget='.length) ?? NaN);
  const rows = Number(args.find((a) => a.startsWith('--rows='))?.slice('--rows='.length) ?? 30);
  if (!file) {
    process.stderr.write('usage: tsx bench/perf-summary.ts <perf script output> [--budget=<µs>] [--rows=N]\n');
    process.exit(2);
  }
  const summary = summarise(parsePerfScript(readFileSync(file, 'utf8')));
  const show = (share: number) => `${(100 * share).toFixed(1).padStart(5)} %${Number.isFinite(budgetUs) ? `  ${Math.round(share * budgetUs).toString().padStart(5)} µs` : ''}`;
  process.stdout.write(`${summary.samples} samples\n\nby thread\n`);
  for (const t of summary.threads.slice(0, 8)) process.stdout.write(`${show(t.share)}  ${t.thread}\n`);
  process.stdout.write('\nby kind\n');
  for (const k of summary.kinds.slice(0, rows)) process.stdout.write(`${show(k.share)}  ${k.kind}\n`);
}
