/** Latency samples and their summary (exact percentiles: a run holds at most some 10^5 samples). */

export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

export class Samples {
  private values: number[] = [];

  add(valueMs: number): void {
    this.values.push(valueMs);
  }

  get count(): number {
    return this.values.length;
  }

  summary(): LatencySummary {
    const sorted = Float64Array.from(this.values).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    const sum = sorted.reduce((s, v) => s + v, 0);
    return {
      count: sorted.length,
      mean_ms: round(sorted.length === 0 ? 0 : sum / sorted.length),
      p50_ms: round(at(0.5)),
      p90_ms: round(at(0.9)),
      p99_ms: round(at(0.99)),
      max_ms: round(sorted.length === 0 ? 0 : sorted[sorted.length - 1]!),
    };
  }
}

/** Two decimals: enough for milliseconds and rates, and JSON stays readable. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
