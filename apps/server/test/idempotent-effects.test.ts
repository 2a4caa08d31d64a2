/**
 * The stored answer of a money route commits with its effect (docs/idempotency.md): when
 * the handler fails after the effect's transaction committed, a retry with the same
 * `Idempotency-Key` gets the stored answer and nothing runs twice; when it fails before
 * anything committed, the key is released and the retry runs. Failures are injected by
 * wrapping the real use case, so everything up to and including its commit is the
 * product's own code.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { IdempotencyRepository } from '../src/db/idempotency-repository.js';
import { enginesUnderTest, newClient, type SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand, sealedRequest, type Holder } from './payment-client.js';

// Every reply's serializer (Fastify's own module, as the app loaded it), to count how often an answer is serialized.
const Reply = createRequire(import.meta.url)('fastify/lib/reply.js') as { prototype: { serialize(payload: unknown): string } };

/** Runs the real method, then fails as if something after its commit broke (a lost connection, a serializer). */
function failAfter<T extends object, K extends keyof T>(target: T, method: K): void {
  const real = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  vi.spyOn(target, method as never).mockImplementationOnce((async (...args: unknown[]) => {
    await real(...args);
    throw new Error('injected failure after the commit');
  }) as never);
}

/** Fails before the real method runs: nothing committed. */
function failBefore<T extends object, K extends keyof T>(target: T, method: K): void {
  vi.spyOn(target, method as never).mockImplementationOnce((async () => {
    throw new Error('injected failure before the effect');
  }) as never);
}

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('money routes store their answer with their effect on %s', (_name, engine) => {
  let t: TestApp;
  let seller: SignedClient;
  let productId: string;

  beforeAll(async () => {
    t = await startTestApp({ engine, configOverrides: { expirySweepIntervalMs: 3_600_000 } });
    seller = await newClient(t, 'seller');
    productId = (await seller.request('POST', '/api/seller/products', { name: '한라봉', category: 'food', description: '', priceWon: 12_000, stock: 100 })).json().id;
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => t.close());

  const withKey = (key: string) => ({ headers: { 'idempotency-key': key } });
  const balance = async (c: SignedClient) => (await c.get('/api/me/wallet')).json().balanceWon as number;
  const entryCount = async (c: SignedClient) => (await c.get('/api/me/wallet/entries')).json().total as number;
  const stock = async () => (await t.app.inject({ method: 'GET', url: `/api/products/${productId}` })).json().stock as number;
  const ledgerBalanced = async () => expect(await t.app.internals.ledger.checkInvariant()).toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });

  /** The first answer was the injected failure; the retry is the stored success, marked replayed. */
  function expectFailedThenReplayed(first: { statusCode: number; json(): { code?: string } }, retry: { statusCode: number; headers: Record<string, unknown> }, status: number): void {
    expect([first.statusCode, first.json().code]).toEqual([500, 'INTERNAL_ERROR']);
    expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([status, 'true']);
  }

  async function funded(amountWon: number): Promise<Holder> {
    const holder = await buyerWithCertificate(t);
    expect((await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon })).statusCode).toBe(201);
    return holder;
  }

  async function order(holder: Holder): Promise<string> {
    const res = await holder.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }

  it('a top-up that failed after its commit is answered from the record on retry, and credits once', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    failAfter(t.app.internals.wallet, 'topUp');
    const first = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 }, withKey(key));
    const retry = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 }, withKey(key));
    expectFailedThenReplayed(first, retry, 201);
    expect(retry.json()).toMatchObject({ amountWon: 30_000, balanceWon: 30_000 });
    expect([await balance(buyer), await entryCount(buyer)]).toEqual([30_000, 1]);
    // Later retries keep getting the same bytes.
    const again = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 }, withKey(key));
    expect(again.body).toBe(retry.body);
    await ledgerBalanced();
  });

  it('an order that failed after its commit is answered from the record on retry, and holds its stock once', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    const before = await stock();
    failAfter(t.app.internals.orders, 'create');
    const body = { source: 'product', productId, quantity: 2 };
    const first = await buyer.request('POST', '/api/orders', body, withKey(key));
    const retry = await buyer.request('POST', '/api/orders', body, withKey(key));
    expectFailedThenReplayed(first, retry, 201);
    const orders = (await buyer.get('/api/orders')).json();
    expect(orders.total).toBe(1);
    expect(retry.json()).toMatchObject({ id: orders.items[0].id, status: 'awaiting_payment', totalWon: 24_000 });
    expect(await stock()).toBe(before - 2);
  });

  it('a payment command issued before a failure is answered from the record on retry, not refused as a replay', async () => {
    const holder = await funded(50_000);
    const orderId = await order(holder);
    const key = randomUUID();
    const { sealed } = await sealedRequest(t, holder, orderId);
    failAfter(t.app.internals.paymentAuth, 'request');
    const body = { sealedRequest: sealed, locale: 'ko' };
    const first = await holder.client.request('POST', '/api/payments/requests', body, withKey(key));
    const retry = await holder.client.request('POST', '/api/payments/requests', body, withKey(key));
    expectFailedThenReplayed(first, retry, 201);
    const issued = await t.app.internals.database.db.selectFrom('paymentCommands').select('comId').where('orderId', '=', orderId).execute();
    expect(issued).toEqual([{ comId: retry.json().comId }]);
  });

  it('answers each effect with the very text stored with it: serialized once', async () => {
    const holder = await funded(50_000);
    const [forRequest, forPayment] = [await order(holder), await order(holder)];
    const opened = await requestCommand(t, holder, forPayment);
    const authorization = await authorizationBody(t, holder, opened, { code: await codeOf(t, opened.comId) });
    const { sealed } = await sealedRequest(t, holder, forRequest);
    const calls: [string, Record<string, unknown>][] = [
      ['/api/me/wallet/top-ups', { amountWon: 1_000 }],
      ['/api/orders', { source: 'product', productId, quantity: 1 }],
      ['/api/payments/requests', { sealedRequest: sealed, locale: 'ko' }],
      ['/api/payments/authorizations', authorization],
    ];
    for (const [url, body] of calls) {
      const serialize = vi.spyOn(Reply.prototype, 'serialize');
      const res = await holder.client.request('POST', url, body, withKey(randomUUID()));
      expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
      expect(serialize, url).toHaveBeenCalledTimes(1);
      expect(serialize.mock.results[0]!.value, url).toBe(res.body);
      serialize.mockRestore();
    }
  });

  it('a payment that failed after its commit is answered with its receipt on retry, and moves the money once', async () => {
    const holder = await funded(50_000);
    const orderId = await order(holder);
    const opened = await requestCommand(t, holder, orderId);
    const body = await authorizationBody(t, holder, opened, { code: await codeOf(t, opened.comId) });
    const sellerBefore = await balance(seller);
    const key = randomUUID();
    failAfter(t.app.internals.paymentAuth, 'authorize');
    const first = await holder.client.request('POST', '/api/payments/authorizations', body, withKey(key));
    const retry = await holder.client.request('POST', '/api/payments/authorizations', body, withKey(key));
    expectFailedThenReplayed(first, retry, 200);
    expect(retry.json()).toMatchObject({ orderId, amountWon: 12_000 });
    expect([await balance(holder.client), await balance(seller)]).toEqual([50_000 - 12_000, sellerBefore + 12_000]);
    expect((await holder.client.get(`/api/orders/${orderId}`)).json().status).toBe('paid');
    await ledgerBalanced();
  });

  it('releases the key when the request failed before its effect: the retry runs, once', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    failBefore(t.app.internals.wallet, 'topUp');
    const first = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 8_000 }, withKey(key));
    expect([first.statusCode, first.json().code]).toEqual([500, 'INTERNAL_ERROR']);
    const retry = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 8_000 }, withKey(key));
    expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([201, undefined]);
    expect([await balance(buyer), await entryCount(buyer)]).toEqual([8_000, 1]);
  });

  it('releases the key when the effect’s transaction rolled back after writing the answer: the retry runs, once', async () => {
    const buyer = await newClient(t, 'buyer');
    const key = randomUUID();
    // The answer is written, then the transaction fails before its commit: both are undone.
    failAfter(IdempotencyRepository.prototype, 'completeWithin');
    const first = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 9_000 }, withKey(key));
    expect([first.statusCode, first.json().code]).toEqual([500, 'INTERNAL_ERROR']);
    expect([await balance(buyer), await entryCount(buyer)]).toEqual([0, 0]);
    const retry = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 9_000 }, withKey(key));
    expect([retry.statusCode, retry.headers['idempotent-replayed']]).toEqual([201, undefined]);
    expect([await balance(buyer), await entryCount(buyer)]).toEqual([9_000, 1]);
    await ledgerBalanced();
  });
});
