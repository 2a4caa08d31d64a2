import { describe, expect, it } from 'vitest';
import { latencyChart } from './svg-chart.js';

const options = { title: 'Payment latency <test>', xLabel: 'entries', yLabel: 'ms' };

describe('latencyChart', () => {
  it('draws one solid and one dashed line per series on a log axis, escaped and deterministic', () => {
    const series = [
      { name: 'SQLite', points: [{ x: 1e6, p50: 30, p99: 61 }, { x: 1e4, p50: 28, p99: 55 }, { x: 1e5, p50: 29, p99: 58 }] },
      { name: 'PostgreSQL & co', points: [{ x: 1e4, p50: 40, p99: 80 }, { x: 1e6, p50: 41, p99: 90 }] },
    ];
    const svg = latencyChart(series, options);
    expect(svg).toBe(latencyChart(series, options));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Payment latency &lt;test&gt;');
    expect(svg).toContain('PostgreSQL &amp; co');
    expect(svg.match(/<path /g)).toHaveLength(4);
    expect(svg.match(/stroke-dasharray="6 4"\/>/g)!.length).toBeGreaterThanOrEqual(2);
    for (const label of ['10⁴', '10⁵', '10⁶']) expect(svg).toContain(`>${label}</text>`);
    // Points are drawn in x order whatever order they came in.
    const sqliteP99 = /<path d="M([\d.]+) [\d.]+ L([\d.]+) [\d.]+ L([\d.]+)/.exec(svg)!;
    expect(Number(sqliteP99[1])).toBeLessThan(Number(sqliteP99[2]));
    expect(Number(sqliteP99[2])).toBeLessThan(Number(sqliteP99[3]));
  });

  it('refuses what it cannot draw', () => {
    expect(() => latencyChart([], options)).toThrow(RangeError);
    expect(() => latencyChart([{ name: 'x', points: [{ x: 0, p50: 1, p99: 2 }] }], options)).toThrow(RangeError);
    expect(() => latencyChart([{ name: 'x', points: [{ x: 10, p50: Number.NaN, p99: 2 }] }], options)).toThrow(RangeError);
  });
});
