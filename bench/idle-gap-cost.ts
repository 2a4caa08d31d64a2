/**
 * What an idle core costs the work that follows it, apart from any code of ours.
 *
 * At low concurrency the server's core idles between events — while the disk syncs a
 * commit, while the next request is on its way — and at 4 clients a payment cost the
 * server twice the CPU it cost at 64, in every kind a `perf` profile sorts it into,
 * including OpenSSL's and Kysely's, whose work per payment does not depend on the
 * concurrency (docs/performance.md, Floors). This measures the machine's part of that
 * alone: one fixed unit of work of the kinds a payment is made of — an ECDSA P-256
 * signature and its verification (OpenSSL), a payment-command-sized object put in
 * canonical form and parsed back (JavaScript), a SHA-256 of 2 KiB — run back to back,
 * and run after the thread has slept for a gap (a futex wait, as the event loop sleeps in
 * `epoll_wait` and the main thread in `fsync`). The gap's own CPU (the wait and the
 * wake-up, measured alone in the same round) is taken off, so what is left is what the
 * same instructions cost on a core that was idle a moment before.
 *
 * Rounds go through every gap in turn, so a drift of the machine falls on all of them;
 * each figure is the median over the rounds. On the server's core (run as a child of
 * bench/run.ts, IPC), or alone: `npx tsx --conditions=source bench/idle-gap-cost.ts`.
 */
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { canonicalJson } from '@coconutpay/core/encoding/canonical-json';
import { round } from './lib/stats.js';

export interface IdleGapPoint {
  gap_ms: number;
  /** CPU of one unit of work after a gap of this length, the gap's own CPU taken off. */
  work_us: number;
  /** CPU of the gap alone (the wait and the wake-up), per gap. */
  wait_us: number;
  /** work_us ÷ the back-to-back figure. */
  ratio: number;
}

export interface IdleGapCost {
  rounds: number;
  units_per_measure: number;
  /** CPU of one unit of work run back to back. */
  back_to_back_us: number;
  points: IdleGapPoint[];
}

export interface IdleGapPlan {
  rounds: number;
  units: number;
  gapsMs: number[];
}

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const HASHED = Buffer.alloc(2_048, 7);
/** About the size and shape of a payment command. */
const COMMAND = {
  v: 1, type: 'coconutpay-payment-command', comId: '0194f3c2-8a1b-7c3d-9e4f-5a6b7c8d9e0f', orderId: '0194f3c2-8a1b-7c3d-9e4f-5a6b7c8d9e10',
  orderNumber: 'CP-20261207-000123', payer: { userId: '0194f3c2-8a1b-7c3d-9e4f-5a6b7c8d9e11', loginId: 'buyer01', name: '김구매' },
  payee: { sellerId: '0194f3c2-8a1b-7c3d-9e4f-5a6b7c8d9e12', storeName: '코코넛 상회', businessNumber: '123-45-67890' },
  items: [{ productId: '0194f3c2-8a1b-7c3d-9e4f-5a6b7c8d9e13', name: '유기농 코코넛 워터 1L', quantity: 2, unitPriceWon: 4_900, lineTotalWon: 9_800 }],
  amountWon: 9_800, currency: 'KRW', issuedAtMs: 1_796_000_000_000, expiresAtMs: 1_796_000_300_000, nonce: 'n2Qm9vJ4cX1tK8sLw0aB7g', requestNonce: 'r5Tz2Yp8dF3hN6mQe1cV4w', locale: 'ko',
};

/** One unit of work; returns something so nothing of it is optimised away. */
function unit(): number {
  const text = canonicalJson(COMMAND);
  const signature = sign('sha256', Buffer.from(text), privateKey);
  const ok = verify('sha256', Buffer.from(text), publicKey, signature);
  const parsed = JSON.parse(text) as { amountWon: number };
  const digest = createHash('sha256').update(HASHED).digest();
  return (ok ? 1 : 0) + parsed.amountWon + digest[0]!;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (a futex wait: the core has nothing of ours to run meanwhile). */
function idle(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

let sink = 0;

/** CPU per unit with `gapMs` of idle before each (0: back to back), and CPU per gap alone. */
function measureGap(gapMs: number, units: number): { work: number; wait: number } {
  let wait = 0;
  if (gapMs > 0) {
    const w0 = cpuUs();
    for (let i = 0; i < units; i++) idle(gapMs);
    wait = (cpuUs() - w0) / units;
  }
  const t0 = cpuUs();
  for (let i = 0; i < units; i++) {
    if (gapMs > 0) idle(gapMs);
    sink += unit();
  }
  return { work: (cpuUs() - t0) / units - wait, wait };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function measureIdleGaps(plan: IdleGapPlan): IdleGapCost {
  // Warm: every path compiled and every key's tables built before anything is timed.
  for (let i = 0; i < 300; i++) sink += unit();
  const gaps = [0, ...plan.gapsMs.filter((g) => g > 0)];
  const work = new Map<number, number[]>(gaps.map((g) => [g, []]));
  const wait = new Map<number, number[]>(gaps.map((g) => [g, []]));
  for (let r = 0; r < plan.rounds; r++) {
    for (const gap of gaps) {
      const m = measureGap(gap, plan.units);
      work.get(gap)!.push(m.work);
      wait.get(gap)!.push(m.wait);
    }
  }
  const backToBack = median(work.get(0)!);
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
  return {
    rounds: plan.rounds,
    units_per_measure: plan.units,
    back_to_back_us: round(backToBack, 1),
    points: gaps.filter((g) => g > 0).map((gap) => {
      const w = median(work.get(gap)!);
      return { gap_ms: gap, work_us: round(w, 1), wait_us: round(median(wait.get(gap)!), 1), ratio: round(w / backToBack, 2) };
    }),
  };
}

// Only as bench/run.ts's child: a test worker has an IPC channel of its own.
if (process.send && !process.env.VITEST) {
  process.once('message', (plan: IdleGapPlan) => {
    const result = measureIdleGaps(plan);
    process.send!({ type: 'idle-gaps', result }, () => process.exit(0));
  });
} else if (process.argv[1]?.endsWith('idle-gap-cost.ts')) {
  console.log(JSON.stringify(measureIdleGaps({ rounds: 3, units: 1_000, gapsMs: [0.25, 1, 2] }), null, 2));
}
