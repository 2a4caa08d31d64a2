import { describe, expect, it } from 'vitest';
import { formatRemaining } from './use-countdown.js';

describe('formatRemaining', () => {
  it('shows minutes and seconds, rounding a started second up', () => {
    expect(formatRemaining(600_000)).toBe('10:00');
    expect(formatRemaining(599_001)).toBe('10:00');
    expect(formatRemaining(599_000)).toBe('9:59');
    expect(formatRemaining(61_000)).toBe('1:01');
    expect(formatRemaining(1)).toBe('0:01');
  });

  it('never goes below zero and adds hours when needed', () => {
    expect(formatRemaining(0)).toBe('0:00');
    expect(formatRemaining(-5_000)).toBe('0:00');
    expect(formatRemaining(3_600_000 + 65_000)).toBe('1:01:05');
  });
});
