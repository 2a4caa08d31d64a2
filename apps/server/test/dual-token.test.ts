/**
 * The dual token as the authentication of every protected route: each way a
 * request can be wrong is refused with its own code, and nothing else gets through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { nonceFromBytes } from '@coconutpay/core/protocol';
import { Redis } from 'ioredis';
import { RedisReplayCache } from '../src/services/replay-cache.js';
import { announceSkip } from './announce-skip.js';
import { SignedClient, TestClock, newClient, startTestApp, type TestApp } from './helpers.js';

describe('dual-token request proof', () => {
  let t: TestApp;
  let buyer: SignedClient;

  beforeAll(async () => {
    t = await startTestApp();
    buyer = await newClient(t, 'buyer');
  });
  afterAll(async () => t.close());

  it('accepts a correctly signed request', async () => {
    const res = await buyer.get('/api/me');
    expect(res.statusCode).toBe(200);
    expect(res.json().user.id).toBe(buyer.userId);
  });

  it('the login response never repeats the secret token afterwards', async () => {
    const res = await buyer.get('/api/me');
    expect(res.body).not.toContain('secretToken');
  });

  it('refuses a request without authentication', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/me' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('AUTH_REQUIRED');
  });

  it('refuses a bearer-style header and missing proof headers as malformed', async () => {
    const bearer = await t.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `Bearer ${buyer.publicToken}` } });
    expect(bearer.json().code).toBe('AUTH_MALFORMED');
    const noProof = await t.app.inject({ method: 'GET', url: '/api/me', headers: { authorization: `CoconutPay-DualToken ${buyer.publicToken}` } });
    expect(noProof.json().code).toBe('AUTH_MALFORMED');
  });

  it('refuses a wrong proof', async () => {
    const res = await buyer.get('/api/me', { proof: 'A'.repeat(43) });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('PROOF_INVALID');
  });

  it('refuses an altered body', async () => {
    const res = await buyer.request('POST', '/api/me/password', { currentPassword: 'x'.repeat(12), newPassword: 'y'.repeat(12) }, {
      sendBody: JSON.stringify({ currentPassword: 'x'.repeat(12), newPassword: 'z'.repeat(12) }),
    });
    expect(res.json().code).toBe('PROOF_INVALID');
  });

  it('refuses an altered path or query', async () => {
    const path = await buyer.get('/api/me', { sendPath: '/api/cart' });
    expect(path.json().code).toBe('PROOF_INVALID');
    const query = await buyer.get('/api/seller/products?page=1', { sendPath: '/api/seller/products?page=2' });
    expect(query.json().code).toBe('PROOF_INVALID');
  });

  it('refuses a tampered public token (another session id or user)', async () => {
    const [h, p, s] = buyer.publicToken.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.sub = '00000000-0000-0000-0000-000000000000';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const res = await buyer.get('/api/me', { publicToken: forged });
    expect(res.json().code).toBe('TOKEN_INVALID');
  });

  it('refuses an old timestamp and a future timestamp (±60 s window)', async () => {
    // Once the server has run for longer than the window (before that, proofs older than its start are refused too).
    t.clock.advance(60_000);
    const old = await buyer.get('/api/me', { timestampMs: t.clock.nowMs - 61_000 });
    expect(old.json().code).toBe('TIMESTAMP_OUT_OF_WINDOW');
    const future = await buyer.get('/api/me', { timestampMs: t.clock.nowMs + 61_000 });
    expect(future.json().code).toBe('TIMESTAMP_OUT_OF_WINDOW');
    const edge = await buyer.get('/api/me', { timestampMs: t.clock.nowMs - 59_000 });
    expect(edge.statusCode).toBe(200);
  });

  it('refuses a replayed nonce, even for another path', async () => {
    const nonce = nonceFromBytes(randomBytes(16));
    expect((await buyer.get('/api/me', { nonce })).statusCode).toBe(200);
    const again = await buyer.get('/api/me', { nonce });
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('NONCE_REPLAYED');
    const otherPath = await buyer.get('/api/cart', { nonce });
    expect(otherPath.json().code).toBe('NONCE_REPLAYED');
  });

  it('a request refused for its proof does not spend its nonce', async () => {
    const nonce = nonceFromBytes(randomBytes(16));
    expect((await buyer.get('/api/me', { nonce, proof: 'B'.repeat(43) })).json().code).toBe('PROOF_INVALID');
    expect((await buyer.get('/api/me', { nonce })).statusCode).toBe(200);
  });

  it('refuses a revoked session (logout)', async () => {
    const other = await newClient(t, 'buyer');
    expect((await other.request('POST', '/api/auth/logout')).statusCode).toBe(204);
    const res = await other.get('/api/me');
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('SESSION_REVOKED');
  });
});

describe('session lifetime and key rotation', () => {
  let t: TestApp;
  const clock = new TestClock(Date.UTC(2026, 10, 23, 9, 0, 0));

  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(async () => t.close());

  it('ends a session idle for more than 15 minutes', async () => {
    const c = await newClient(t, 'buyer');
    clock.advance(14 * 60_000);
    expect((await c.get('/api/me')).statusCode).toBe(200);
    clock.advance(15 * 60_000 + 1_000);
    const res = await c.get('/api/me');
    expect(res.json().code).toBe('SESSION_IDLE_TIMEOUT');
    // Once timed out, the session stays ended.
    clock.advance(1_000);
    expect((await c.get('/api/me')).json().code).toBe('SESSION_REVOKED');
  });

  it('ends a session after its 12-hour lifetime, however active', async () => {
    const c = await newClient(t, 'buyer');
    for (let i = 0; i < 12 * 6; i++) {
      clock.advance(10 * 60_000);
      const res = await c.get('/api/me');
      if (res.statusCode !== 200) {
        expect(i).toBe(12 * 6 - 1);
        expect(res.json().code).toBe('SESSION_EXPIRED');
        return;
      }
    }
    throw new Error('session outlived its lifetime');
  });

  it('rotating the key keeps old sessions working; new sessions use the new key', async () => {
    const before = await newClient(t, 'buyer');
    const oldKid = JSON.parse(Buffer.from(before.publicToken.split('.')[0]!, 'base64url').toString()).kid;
    const newKid = await t.app.internals.keys.rotate(clock.nowMs);
    expect(newKid).not.toBe(oldKid);
    expect((await before.get('/api/me')).statusCode).toBe(200);
    const after = await newClient(t, 'seller');
    expect(JSON.parse(Buffer.from(after.publicToken.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);

    await t.app.internals.keys.retire(oldKid, clock.nowMs);
    const refused = await before.get('/api/me');
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe('TOKEN_KEY_RETIRED');
    expect((await after.get('/api/me')).statusCode).toBe(200);
  });

  it('keys survive a restart: the ring is reloaded from the data folder, retired keys stay retired', async () => {
    const { TokenKeyRing } = await import('../src/services/token-keys.js');
    const current = t.app.internals.keys.current().kid;
    const reopened = await TokenKeyRing.open(t.dataDir, clock.nowMs);
    expect(reopened.current().kid).toBe(current);
    const c = await newClient(t, 'buyer');
    const kid = JSON.parse(Buffer.from(c.publicToken.split('.')[0]!, 'base64url').toString()).kid;
    expect(reopened.get(kid)).toBeDefined();
  });
});

describe('replay cache shared through Redis', () => {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    announceSkip('Redis replay-cache', 'REDIS_URL is not set');
    it.skip('needs REDIS_URL', () => undefined);
    return;
  }

  it('a nonce seen by one server is refused by another', async () => {
    const a = await startTestApp({ env: { REDIS_URL: redisUrl } });
    try {
      const buyer = await newClient(a, 'buyer');
      const nonce = nonceFromBytes(randomBytes(16));
      expect((await buyer.get('/api/me', { nonce })).statusCode).toBe(200);
      // A second cache on its own connection stands for a second server process.
      const other = new RedisReplayCache(new Redis(redisUrl), 120_000);
      expect(await other.remember(buyer.sessionId, nonce)).toBe(false);
      expect(await other.remember(buyer.sessionId, nonceFromBytes(randomBytes(16)))).toBe(true);
      await other.close();
      expect((await buyer.get('/api/me', { nonce })).json().code).toBe('NONCE_REPLAYED');
    } finally {
      await a.close();
    }
  });
});
