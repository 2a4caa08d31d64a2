/**
 * The wallet through HTTP: simulated top-ups bounded per Korean calendar day (also
 * when several arrive at once), and the history with signed amounts and order numbers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KST_OFFSET_MS } from '@coconutpay/core/orders';
import { TestClock, enginesUnderTest, newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

/** 23:58 on 2026-03-01 in Seoul: two minutes before the day's top-ups start afresh. */
const BEFORE_MIDNIGHT_KST_MS = Date.UTC(2026, 2, 1, 23, 58) - KST_OFFSET_MS;

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('the wallet on %s', (_name, engine) => {
  let t: TestApp;
  let seller: SignedClient;

  beforeAll(async () => {
    t = await startTestApp({ engine, clock: new TestClock(BEFORE_MIDNIGHT_KST_MS), configOverrides: { expirySweepIntervalMs: 3_600_000 } });
    seller = await newClient(t, 'seller');
  });
  afterAll(async () => t.close());

  const topUp = (c: SignedClient, amountWon: unknown) => c.request('POST', '/api/me/wallet/top-ups', { amountWon });

  it('tops up from the funding account as one journal entry and shows it in the history', async () => {
    const buyer = await newClient(t, 'buyer');
    const res = await topUp(buyer, 800_000);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ amountWon: 800_000, balanceWon: 800_000, toppedUpTodayWon: 800_000, dailyLimitWon: 5_000_000, createdAtMs: t.clock.nowMs });
    expect((await buyer.get('/api/me')).json().walletBalanceWon).toBe(800_000);
    expect((await buyer.get('/api/me/wallet')).json()).toEqual({ balanceWon: 800_000, toppedUpTodayWon: 800_000, dailyLimitWon: 5_000_000 });
    const history = (await buyer.get('/api/me/wallet/entries')).json();
    expect(history).toMatchObject({ total: 1, page: 1, items: [{ entryId: res.json().entryId, kind: 'top_up', amountWon: 800_000, orderId: null, orderNumber: null }] });
    await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
  });

  it('bounds one Korean calendar day’s top-ups, and starts afresh at midnight in Seoul', async () => {
    const buyer = await newClient(t, 'buyer');
    const dayStartMs = t.clock.nowMs;
    expect((await topUp(buyer, 3_000_000)).statusCode).toBe(201);
    expect((await topUp(buyer, 2_000_000)).json().toppedUpTodayWon).toBe(5_000_000);
    const over = await topUp(buyer, 1);
    expect(over.statusCode).toBe(409);
    expect(over.json()).toMatchObject({ code: 'TOP_UP_DAILY_LIMIT_EXCEEDED', detail: 'At most ₩0 more can be topped up today.' });
    expect((await topUp(buyer, 5_000_001)).json().code).toBe('TOP_UP_DAILY_LIMIT_EXCEEDED');
    expect((await buyer.get('/api/me')).json().walletBalanceWon).toBe(5_000_000);

    t.clock.nowMs = dayStartMs + 2 * 60_000;
    expect((await buyer.get('/api/me/wallet')).json().toppedUpTodayWon).toBe(0);
    expect((await topUp(buyer, 5_000_000)).statusCode).toBe(201);
    expect((await buyer.get('/api/me')).json().walletBalanceWon).toBe(10_000_000);
  });

  it('lets exactly as many simultaneous top-ups through as fit under the limit', async () => {
    const buyer = await newClient(t, 'buyer');
    const results = await Promise.all(Array.from({ length: 8 }, () => topUp(buyer, 1_000_000)));
    expect(results.filter((r) => r.statusCode === 201)).toHaveLength(5);
    expect(results.filter((r) => r.statusCode === 409).every((r) => r.json().code === 'TOP_UP_DAILY_LIMIT_EXCEEDED')).toBe(true);
    expect((await buyer.get('/api/me')).json().walletBalanceWon).toBe(5_000_000);
    expect((await buyer.get('/api/me/wallet/entries')).json().total).toBe(5);
  });

  it('refuses amounts that are not positive whole won, and top-ups by a seller', async () => {
    const buyer = await newClient(t, 'buyer');
    for (const amountWon of [0, -1, 1.5, '1000', null]) expect((await topUp(buyer, amountWon)).json().code, String(amountWon)).toBe('VALIDATION_FAILED');
    expect((await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 1, userId: seller.userId })).json().code).toBe('VALIDATION_FAILED');
    expect((await topUp(seller, 1_000)).json().code).toBe('ROLE_FORBIDDEN');
    expect((await buyer.get('/api/me/wallet/entries')).json().total).toBe(0);
    expect((await t.app.inject({ method: 'POST', url: '/api/me/wallet/top-ups', payload: { amountWon: 1 } })).json().code).toBe('AUTH_REQUIRED');
  });

  it('pages the history newest first, with payments signed and named by order number on both sides', async () => {
    const buyer = await newClient(t, 'buyer');
    const productId = (await seller.request('POST', '/api/seller/products', { name: '도마', category: 'home', description: '', priceWon: 39_000, stock: 5 })).json().id;
    for (const amountWon of [10_000, 20_000, 30_000]) {
      await topUp(buyer, amountWon);
      t.clock.advance(1);
    }
    const order = (await buyer.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
    t.clock.advance(1);
    await t.app.internals.payments.payOrder({ userId: buyer.userId, role: 'buyer', sessionId: buyer.sessionId }, order.id);

    const page1 = (await buyer.get('/api/me/wallet/entries?page=1&pageSize=3')).json();
    const page2 = (await buyer.get('/api/me/wallet/entries?page=2&pageSize=3')).json();
    expect(page1.total).toBe(4);
    expect([...page1.items, ...page2.items].map((e: { amountWon: number }) => e.amountWon)).toEqual([-39_000, 30_000, 20_000, 10_000]);
    expect(page1.items[0]).toMatchObject({ kind: 'payment', orderId: order.id, orderNumber: order.orderNumber });
    const sellerSide = (await seller.get('/api/me/wallet/entries')).json();
    expect(sellerSide.items.find((e: { orderId: string | null }) => e.orderId === order.id)).toMatchObject({ kind: 'payment', amountWon: 39_000, orderNumber: order.orderNumber });
    expect((await buyer.get('/api/me/wallet/entries?pageSize=0')).json().code).toBe('VALIDATION_FAILED');
  });
});
