import { describe, expect, it } from 'vitest';
import { measureIdleGaps } from './idle-gap-cost.js';
import { renderScenarioSections } from './lib/scenario-report.js';
import type { ScenarioResults } from './scenarios.js';

describe('work after an idle core', () => {
  it('times the unit back to back and after each gap, the wake-up apart', () => {
    const result = measureIdleGaps({ rounds: 2, units: 40, gapsMs: [0, 0.5, 1] });
    expect(result.rounds).toBe(2);
    expect(result.units_per_measure).toBe(40);
    // An ECDSA signature and verification alone take tens of µs.
    expect(result.back_to_back_us).toBeGreaterThan(10);
    // A gap of 0 is the back-to-back figure, not a point of its own.
    expect(result.points.map((p) => p.gap_ms)).toEqual([0.5, 1]);
    for (const p of result.points) {
      expect(p.work_us).toBeGreaterThan(0);
      // Sleeping and waking up is not free: its CPU is measured, and kept out of the unit.
      expect(p.wait_us).toBeGreaterThan(0);
      expect(p.ratio).toBeCloseTo(p.work_us / result.back_to_back_us, 1);
    }
  });

  it('is reported as a table, a row per gap', () => {
    const results: ScenarioResults = {
      date: '2026-12-07', mode: 'quick', redis: false, seconds: 3,
      machine: { cpus: 2, cpu_model: 'test', node: 'v20', pinned: true, load_average_at_start: 0, load_average_at_end: 0 },
      idle_gaps: { rounds: 5, units_per_measure: 2_000, back_to_back_us: 120.4, points: [{ gap_ms: 1, work_us: 173, wait_us: 27.1, ratio: 1.44 }] },
    };
    const text = renderScenarioSections(results);
    expect(text).toContain('## Work after an idle core');
    expect(text).toContain('Medians of 5 round(s) of 2,000 units');
    expect(text).toContain('| nothing (back to back) | 120.4 | 1 | – |');
    expect(text).toContain('| 1 ms idle | 173 | 1.44 | 27.1 |');
  });
});
