import { describe, expect, it } from 'vitest';
import {
  ORDER_NUMBER_ALPHABET, ORDER_NUMBER_PATTERN, ORDER_STATUSES, ORDER_TRANSITIONS,
  formatOrderNumber, koreanDateDigits, koreanDayStartMs,
} from './index.js';

describe('order vocabulary', () => {
  it('lets only an order awaiting payment change state, and only to a final state', () => {
    for (const status of ORDER_STATUSES) {
      for (const next of ORDER_TRANSITIONS[status]) expect(ORDER_TRANSITIONS[next], `${status} → ${next}`).toEqual([]);
    }
    expect(ORDER_TRANSITIONS.awaiting_payment).toEqual(['paid', 'expired', 'cancelled']);
  });

  it('has 32 distinct order-number symbols without I, L, O or U', () => {
    expect(new Set(ORDER_NUMBER_ALPHABET).size).toBe(32);
    expect(ORDER_NUMBER_ALPHABET).not.toMatch(/[ILOU]/);
  });
});

describe('Korean calendar day', () => {
  // 2026-03-01 00:00 in Seoul is 2026-02-28 15:00 UTC.
  const MIDNIGHT_KST_MS = Date.UTC(2026, 1, 28, 15);

  it('starts at midnight in Seoul, not in UTC', () => {
    expect(koreanDayStartMs(MIDNIGHT_KST_MS)).toBe(MIDNIGHT_KST_MS);
    expect(koreanDayStartMs(MIDNIGHT_KST_MS + 86_399_999)).toBe(MIDNIGHT_KST_MS);
    expect(koreanDayStartMs(MIDNIGHT_KST_MS - 1)).toBe(MIDNIGHT_KST_MS - 86_400_000);
  });

  it('dates by Seoul time', () => {
    expect(koreanDateDigits(MIDNIGHT_KST_MS - 1)).toBe('20260228');
    expect(koreanDateDigits(MIDNIGHT_KST_MS)).toBe('20260301');
  });
});

describe('formatOrderNumber', () => {
  it('builds a number the pattern accepts from any bytes', () => {
    const t = Date.UTC(2026, 2, 1, 3);
    for (const bytes of [[0, 0, 0, 0, 0, 0], [255, 255, 255, 255, 255, 255], [8, 18, 21, 24, 27, 31]]) {
      const n = formatOrderNumber(t, new Uint8Array(bytes));
      expect(n, n).toMatch(ORDER_NUMBER_PATTERN);
    }
    expect(formatOrderNumber(t, new Uint8Array([0, 1, 2, 30, 31, 32]))).toBe('CP-20260301-012YZ0');
  });

  it('uses a pattern that refuses look-alikes and other shapes', () => {
    for (const bad of ['CP-20260301-7KQ2XI', 'CP-20260301-7KQ2XO', 'cp-20260301-7KQ2XM', 'CP-2026031-7KQ2XM', 'CP-20260301-7KQ2X', 'CP-20260301-7KQ2XMM']) {
      expect(bad, bad).not.toMatch(ORDER_NUMBER_PATTERN);
    }
  });

  it('refuses too few random bytes', () => {
    expect(() => formatOrderNumber(0, new Uint8Array(5))).toThrow(RangeError);
  });
});
