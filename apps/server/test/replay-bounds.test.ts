/**
 * The replay cache's bounds: one session sending as fast as it can fills its own share,
 * not the cache everybody needs; and a proof made before this process started (whose
 * nonce this process cannot have remembered) is refused, so a request captured before a
 * restart cannot be replayed after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClient, startTestApp, TestClock, type TestApp } from './helpers.js';

describe('replay cache bounds', () => {
  let t: TestApp;
  const startMs = Date.parse('2026-12-02T10:00:00Z');

  beforeAll(async () => {
    t = await startTestApp({ clock: new TestClock(startMs), configOverrides: { replayCacheEntriesPerSessionMax: 5 } });
  });
  afterAll(async () => t.close());

  it('a proof timed before the server started is refused, though inside the ±60 s window; one timed after is accepted', async () => {
    t.clock.advance(10_000);
    const buyer = await newClient(t, 'buyer');
    const before = await buyer.get('/api/me', { timestampMs: startMs - 1_000 });
    expect(before.statusCode).toBe(401);
    expect(before.json().code).toBe('TIMESTAMP_OUT_OF_WINDOW');
    expect((await buyer.get('/api/me', { timestampMs: startMs + 1_000 })).statusCode).toBe(200);
  });

  it('one session holds at most its share of the cache (429), and another session is still served', async () => {
    t.clock.advance(300_000);
    const greedy = await newClient(t, 'buyer');
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await greedy.get('/api/me');
      codes.push(res.statusCode === 200 ? 'ok' : res.json().code);
    }
    // newClient's own signed requests count too; at most 5 in all are remembered for it.
    expect(codes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(5);
    expect(codes.slice(-3)).toEqual(['SESSION_REQUEST_RATE_EXCEEDED', 'SESSION_REQUEST_RATE_EXCEEDED', 'SESSION_REQUEST_RATE_EXCEEDED']);
    const other = await newClient(t, 'buyer');
    expect((await other.get('/api/me')).statusCode).toBe(200);
    // Its share frees as its requests age out of the window.
    t.clock.advance(121_000);
    expect((await greedy.get('/api/me')).statusCode).toBe(200);
  });
});
