/**
 * Counts of events per minute over the last `minutes` minutes ending at `nowMs`, oldest
 * first, for the console's charts. Events outside the window are left out.
 *
 * @example
 * perMinute([{ atMs: now - 30_000 }], now, 3) // [0, 0, 1]
 */
export function perMinute(events: readonly { atMs: number }[], nowMs: number, minutes: number): number[] {
  const counts = new Array<number>(minutes).fill(0);
  const startMs = nowMs - minutes * 60_000;
  for (const { atMs } of events) {
    if (atMs <= startMs || atMs > nowMs) continue;
    const index = Math.min(minutes - 1, Math.floor((atMs - startMs - 1) / 60_000));
    counts[index]! += 1;
  }
  return counts;
}
