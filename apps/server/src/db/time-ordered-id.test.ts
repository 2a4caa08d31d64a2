import { describe, expect, it } from 'vitest';
import { monotonicTimeOrderedId, timeOrderedId, timeOrderedIdLowerBound } from './time-ordered-id.js';

describe('timeOrderedId', () => {
  it('is a version 7 UUID (RFC 9562) whose first 48 bits are the time in milliseconds', () => {
    const nowMs = Date.UTC(2026, 10, 30, 12, 34, 56, 789);
    const id = timeOrderedId(nowMs);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(nowMs);
  });

  it('sorts by time across milliseconds and is unique within one', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => timeOrderedId(1_767_225_600_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 10; i < ids.length; i += 10) expect(ids[i - 1]! < ids[i]!).toBe(true);
  });
});

describe('monotonicTimeOrderedId', () => {
  it('sorts in the order made, within one millisecond and across a clock that steps back', () => {
    const ids = [
      ...Array.from({ length: 5000 }, () => monotonicTimeOrderedId(1_700_000_000_000)),
      monotonicTimeOrderedId(1_699_999_999_000),
      monotonicTimeOrderedId(1_700_000_000_500),
    ];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('timeOrderedIdLowerBound', () => {
  it('sorts below every id made at its millisecond or later, and above every id made before', () => {
    for (const ms of [0, 1, 255, 256, 1_700_000_000_000, 1_733_500_800_000, 2 ** 47]) {
      const bound = timeOrderedIdLowerBound(ms);
      for (let i = 0; i < 50; i++) {
        expect(timeOrderedId(ms) >= bound).toBe(true);
        expect(timeOrderedId(ms + 1 + i * 997) >= bound).toBe(true);
        if (ms >= 2) expect(timeOrderedId(ms - 1 - (i % 2)) < bound).toBe(true);
      }
    }
  });
});
