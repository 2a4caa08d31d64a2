/**
 * `Idempotency-Key` through HTTP: a retry gets the stored answer and causes no second
 * effect, a key cannot be reused for another request, requests racing with one key have
 * one effect, a claim a stopped process left in progress is taken over by a later retry,
 * and keys belong to one user for 24 hours.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '@coconutpay/core/encoding';
import { IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS } from '../src/db/idempotency-repository.js';
import { requestFingerprint } from '../src/http/idempotency.js';
import { enginesUnderTest, newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('Idempotency-Key on %s', (_name, engine) => {
  let t: TestApp;
  let seller: SignedClient;

  beforeAll(async () => {
    t = await startTestApp({ engine, configOverrides: { expirySweepIntervalMs: 3_600_000 } });
    seller = await newClient(t, 'seller');
  });
  afterAll(async () => t.close());

  const withKey = (key: string) => ({ headers: { 'idempotency-key': key } });
  const topUp = (c: SignedClient, amountWon: number, key?: string) => c.request('POST', '/api/me/wallet/top-ups', { amountWon }, key === undefined ? {} : withKey(key));
  const entryCount = async (c: SignedClient) => (await c.get('/api/me/wallet/entries')).json().total as number;
  const balance = async (c: SignedClient) => (await c.get('/api/me')).json().walletBalanceWon as number;

  async function product(stock: number): Promise<string> {
    return (await seller.request('POST', '/api/seller/products', { name: '감귤', category: 'food', description: '', priceWon: 5_000, stock })).json().id;
  }
  const stockOf = async (id: string) => (await t.app.inject({ method: 'GET', url: `/api/products/${id}` })).json().stock as number;

  it('answers a retry with the stored status and body, and moves the money once', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    const first = await topUp(buyer, 70_000, key);
    const retry = await topUp(buyer, 70_000, key);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.headers['content-type']).toBe(first.headers['content-type']);
    expect(retry.body).toBe(first.body);
    expect(await entryCount(buyer)).toBe(1);
    expect(await balance(buyer)).toBe(70_000);
    await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
  });

  it('refuses the same key with another body or another path, and does nothing for it', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    expect((await topUp(buyer, 10_000, key)).statusCode).toBe(201);
    const otherBody = await topUp(buyer, 10_001, key);
    expect(otherBody.statusCode).toBe(409);
    expect(otherBody.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    const id = await product(5);
    const otherPath = await buyer.request('POST', '/api/orders', { source: 'product', productId: id, quantity: 1 }, withKey(key));
    expect(otherPath.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await stockOf(id)).toBe(5);
    expect(await entryCount(buyer)).toBe(1);
    expect(await balance(buyer)).toBe(10_000);
  });

  it('lets ten requests racing with one key have one effect', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 10 }, () => topUp(buyer, 25_000, key)));
    const ran = responses.filter((r) => r.statusCode === 201 && r.headers['idempotent-replayed'] === undefined);
    expect(ran).toHaveLength(1);
    for (const r of responses) {
      if (r.statusCode === 201) expect(r.body).toBe(ran[0]!.body);
      else expect([r.statusCode, r.json().code, r.headers['retry-after']]).toEqual([409, 'IDEMPOTENCY_REQUEST_IN_PROGRESS', '1']);
    }
    expect(await entryCount(buyer)).toBe(1);
    expect(await balance(buyer)).toBe(25_000);
    // Once the first has finished, a retry gets its answer.
    const later = await topUp(buyer, 25_000, key);
    expect([later.statusCode, later.headers['idempotent-replayed'], later.body]).toEqual([201, 'true', ran[0]!.body]);
  });

  it('creates one order for a retried order request, racing or not, and holds its stock once', async () => {
    const buyer = await newClient(t, 'buyer');
    const id = await product(10);
    const key = randomUUID();
    const body = { source: 'product', productId: id, quantity: 3 };
    const responses = await Promise.all(Array.from({ length: 4 }, () => buyer.request('POST', '/api/orders', body, withKey(key))));
    const retry = await buyer.request('POST', '/api/orders', body, withKey(key));
    const created = [...responses, retry].filter((r) => r.statusCode === 201);
    expect(new Set(created.map((r) => r.json().id)).size).toBe(1);
    expect(retry.json().id).toBe(created[0]!.json().id);
    expect(await stockOf(id)).toBe(7);
    expect((await buyer.get('/api/orders')).json().total).toBe(1);
  });

  it('keeps each user’s keys apart', async () => {
    const [a, b] = [await newClient(t, 'buyer'), await newClient(t, 'buyer')];
    const key = 'shared-key-0001';
    expect((await topUp(a, 1_000, key)).statusCode).toBe(201);
    const other = await topUp(b, 2_000, key);
    expect(other.statusCode).toBe(201);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect([await balance(a), await balance(b)]).toEqual([1_000, 2_000]);
  });

  it('acts on every request that carries no key', async () => {
    const buyer = await newClient(t, 'buyer');
    await topUp(buyer, 1_000);
    await topUp(buyer, 1_000);
    expect(await entryCount(buyer)).toBe(2);
  });

  it('replays a final refusal, but releases the key after one that may change (a transient code)', async () => {
    const buyer = await newClient(t, 'buyer');
    const id = await product(1);
    const key = randomUUID();
    const body = { source: 'product', productId: id, quantity: 2 };
    const refusal = await buyer.request('POST', '/api/orders', body, withKey(key));
    expect(refusal.json().code).toBe('STOCK_INSUFFICIENT');
    await seller.request('PATCH', `/api/seller/products/${id}`, { stock: 5 });
    const replayed = await buyer.request('POST', '/api/orders', body, withKey(key));
    expect([replayed.statusCode, replayed.headers['idempotent-replayed'], replayed.body]).toEqual([409, 'true', refusal.body]);
    expect(String(replayed.headers['content-type'])).toContain('application/problem+json');
    expect((await buyer.request('POST', '/api/orders', body, withKey(randomUUID()))).statusCode).toBe(201);

    const limitKey = randomUUID();
    const tooMuch = await topUp(buyer, 5_000_001, limitKey);
    expect(tooMuch.json().code).toBe('TOP_UP_DAILY_LIMIT_EXCEEDED');
    const again = await topUp(buyer, 5_000_001, limitKey);
    expect(again.json().code).toBe('TOP_UP_DAILY_LIMIT_EXCEEDED');
    expect(again.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses a malformed key before anything happens, and ignores keys on reads', async () => {
    const buyer = await newClient(t, 'buyer');
    for (const key of ['x'.repeat(129), 'with space', '한글키']) {
      const res = await topUp(buyer, 1_000, key);
      expect(res.json().code, key).toBe('VALIDATION_FAILED');
      expect(res.json().errors, key).toEqual([{ pointer: '/headers/idempotency-key', code: 'pattern' }]);
    }
    expect(await entryCount(buyer)).toBe(0);
    const key = randomUUID();
    expect((await buyer.get('/api/me', withKey(key))).statusCode).toBe(200);
    expect((await topUp(buyer, 3_000, key)).headers['idempotent-replayed']).toBeUndefined();
  });

  it('documents the header on state-changing routes only', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const headerOf = (op: { parameters?: { in: string; name: string }[] }) => op.parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key');
    expect(headerOf(doc.paths['/api/orders'].post)).toBeDefined();
    expect(headerOf(doc.paths['/api/me/wallet/top-ups'].post)).toBeDefined();
    expect(headerOf(doc.paths['/api/cart/items/{productId}'].put)).toBeDefined();
    expect(headerOf(doc.paths['/api/orders'].get)).toBeUndefined();
    expect(headerOf(doc.paths['/api/auth/login'].post)).toBeUndefined();
  });

  it('runs a retry once the claim a stopped process left in progress is abandoned, and only once', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    // What a process that stopped between the claim and the answer leaves behind.
    const nowMs = t.clock.nowMs;
    await t.app.internals.database.db.insertInto('idempotencyKeys').values({
      userId: buyer.userId, idempotencyKey: key, requestSha256Hex: requestFingerprint('POST', '/api/me/wallet/top-ups', utf8(JSON.stringify({ amountWon: 3_000 }))),
      state: 'in_progress', responseStatus: null, responseContentType: null, responseBody: null, createdAtMs: nowMs, expiresAtMs: nowMs + 24 * 3_600_000,
    }).execute();
    const early = await topUp(buyer, 3_000, key);
    expect(early.statusCode).toBe(409);
    expect(early.json().code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    t.clock.advance(IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS);
    const retry = await topUp(buyer, 3_000, key);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const again = await topUp(buyer, 3_000, key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(retry.body);
    expect(await entryCount(buyer)).toBe(1);
    expect(await balance(buyer)).toBe(3_000);
  });

  // Last: it moves the clock a day on, past every session's lifetime.
  it('forgets a key after 24 hours', async () => {
    const buyer = await newClient(t, 'buyer');
    const loginId = (await buyer.get('/api/me')).json().user.loginId;
    const key = randomUUID();
    expect((await topUp(buyer, 4_000, key)).statusCode).toBe(201);
    t.clock.advance(24 * 3_600_000 - 1);
    const stillKnown = await SignedClient.login(t, loginId);
    expect((await topUp(stillKnown, 4_000, key)).headers['idempotent-replayed']).toBe('true');
    t.clock.advance(1);
    const fresh = await topUp(stillKnown, 4_000, key);
    expect(fresh.statusCode).toBe(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
    expect(await entryCount(stillKnown)).toBe(2);
    expect(await t.app.internals.sweeper.runOnce()).toMatchObject({ keysPurged: expect.any(Number) });
  });
});
