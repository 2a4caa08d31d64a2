import { describe, expect, it } from 'vitest';
import { perMinute } from './use-per-minute.js';

describe('perMinute', () => {
  const now = 1_700_000_000_000;
  it('counts events in their minute, oldest minute first', () => {
    expect(perMinute([{ atMs: now }, { atMs: now - 59_999 }, { atMs: now - 60_001 }, { atMs: now - 179_000 }], now, 3)).toEqual([1, 1, 2]);
  });
  it('leaves out events outside the window', () => {
    expect(perMinute([{ atMs: now + 1 }, { atMs: now - 180_000 }, { atMs: now - 600_000 }], now, 3)).toEqual([0, 0, 0]);
  });
});
