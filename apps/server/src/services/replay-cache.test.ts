import { describe, expect, it } from 'vitest';
import { AppError } from '@coconutpay/core/errors';
import { MemoryReplayCache } from './replay-cache.js';

const codeOf = async (promise: Promise<unknown>) => promise.then(() => 'ok', (error: unknown) => (error instanceof AppError ? error.code : 'other'));

describe('MemoryReplayCache', () => {
  it('remembers a pair once, and forgets it only after its time', async () => {
    const cache = new MemoryReplayCache(1_000, 10);
    expect(await cache.remember('s1', 'n1', 0)).toBe(true);
    expect(await cache.remember('s1', 'n1', 999)).toBe(false);
    expect(await cache.remember('s1', 'n1', 1_000)).toBe(true);
  });

  it('when full, refuses the heavy session (429) and serves light ones from the reserve, then refuses all (503)', async () => {
    const cache = new MemoryReplayCache(60_000, 8, { perSessionMax: 100, fairShareMax: 3, reserve: 4 });
    for (let i = 0; i < 8; i++) expect(await cache.remember('greedy', `n${i}`, 0)).toBe(true);
    expect(await codeOf(cache.remember('greedy', 'n8', 0))).toBe('SESSION_REQUEST_RATE_EXCEEDED');
    // Four light sessions still get in, up to the reserve; past it nobody does.
    for (const session of ['a', 'b', 'c', 'd']) expect(await cache.remember(session, 'x', 0)).toBe(true);
    expect(await codeOf(cache.remember('e', 'x', 0))).toBe('SERVICE_UNAVAILABLE');
    // Nothing was forgotten to make room: every pair is still refused as a replay.
    expect(await cache.remember('greedy', 'n0', 1)).toBe(false);
    expect(await cache.remember('a', 'x', 1)).toBe(false);
  });

  it('caps one session at perSessionMax even when the cache has room, and frees the share as pairs expire', async () => {
    const cache = new MemoryReplayCache(1_000, 1_000, { perSessionMax: 2 });
    expect(await cache.remember('s', 'a', 0)).toBe(true);
    expect(await cache.remember('s', 'b', 0)).toBe(true);
    expect(await codeOf(cache.remember('s', 'c', 0))).toBe('SESSION_REQUEST_RATE_EXCEEDED');
    expect(await cache.remember('t', 'a', 0)).toBe(true);
    expect(await cache.remember('s', 'c', 1_000)).toBe(true);
  });
});
