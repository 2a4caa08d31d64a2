/**
 * Orders through HTTP: the server's prices, one store per order, stock held while an
 * order awaits payment and given back on expiry or cancellation, and each order visible
 * only to its buyer and its seller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_NUMBER_PATTERN, ORDER_PAYMENT_WINDOW_MS } from '@coconutpay/core/orders';
import { enginesUnderTest, newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

const MINUTE_MS = 60_000;

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('orders on %s', (_name, engine) => {
  let t: TestApp;
  let seller: SignedClient;
  let otherSeller: SignedClient;
  let buyer: SignedClient;

  /** Creates a product of `owner` and returns its id. */
  async function product(owner: SignedClient, fields: { priceWon: number; stock: number; name?: string }): Promise<string> {
    const res = await owner.request('POST', '/api/seller/products', { name: fields.name ?? '상품', category: 'food', description: '', priceWon: fields.priceWon, stock: fields.stock });
    expect(res.statusCode).toBe(201);
    return res.json().id;
  }

  /** The stock as anyone sees it on the product page. */
  async function stockOf(productId: string): Promise<number> {
    return (await t.app.inject({ method: 'GET', url: `/api/products/${productId}` })).json().stock;
  }

  /**
   * Moves the test clock forward in steps shorter than the session idle timeout, with a
   * request from each client in between (the shared ones and `extra`), so the sessions
   * stay alive while time passes.
   */
  async function passTime(ms: number, extra: SignedClient[] = []): Promise<void> {
    for (let left = ms; left > 0; ) {
      const step = Math.min(left, 5 * MINUTE_MS);
      t.clock.advance(step);
      left -= step;
      for (const c of [seller, otherSeller, buyer, ...extra]) expect((await c.get('/api/me')).statusCode).toBe(200);
    }
  }

  const orderProduct = (c: SignedClient, productId: string, quantity: number, extra: Record<string, unknown> = {}) =>
    c.request('POST', '/api/orders', { source: 'product', productId, quantity, ...extra });

  beforeAll(async () => {
    // The sweep is exercised by calling it; its timer must not run in between.
    t = await startTestApp({ engine, configOverrides: { expirySweepIntervalMs: 3_600_000 } });
    [seller, otherSeller, buyer] = await Promise.all([newClient(t, 'seller'), newClient(t, 'seller'), newClient(t, 'buyer')]);
  });
  afterAll(async () => t.close());

  it('orders one product at the server’s price and holds its stock', async () => {
    const id = await product(seller, { priceWon: 27_900, stock: 10, name: '제주 감귤 5kg' });
    const res = await orderProduct(buyer, id, 2);
    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(order).toMatchObject({
      status: 'awaiting_payment', buyerId: buyer.userId, sellerId: seller.userId, totalWon: 55_800,
      items: [{ productId: id, productName: '제주 감귤 5kg', unitPriceWon: 27_900, quantity: 2, lineTotalWon: 55_800 }],
      shipping: { recipientName: '홍길동', address: '서울시 중구 1', phone: '010-1111-2222' },
      paidAtMs: null, cancelledAtMs: null, expiredAtMs: null,
    });
    expect(order.orderNumber).toMatch(ORDER_NUMBER_PATTERN);
    expect(order.storeName).toMatch(/^Store /);
    expect(order.businessNumber).toBe('123-45-67890');
    expect(order.createdAtMs).toBe(t.clock.nowMs);
    expect(order.expiresAtMs).toBe(t.clock.nowMs + ORDER_PAYMENT_WINDOW_MS);
    expect(await stockOf(id)).toBe(8);
    expect((await buyer.get(`/api/orders/${order.id}`)).json()).toEqual(order);
  });

  it('refuses a price, total or buyer sent by the client, and keeps the order’s price when the product’s changes', async () => {
    const id = await product(seller, { priceWon: 10_000, stock: 5 });
    for (const extra of [{ unitPriceWon: 1 }, { totalWon: 1 }, { buyerId: otherSeller.userId }, { sellerId: otherSeller.userId }]) {
      const res = await orderProduct(buyer, id, 1, extra);
      expect(res.json().code, JSON.stringify(extra)).toBe('VALIDATION_FAILED');
    }
    expect(await stockOf(id)).toBe(5);

    const order = (await orderProduct(buyer, id, 3)).json();
    expect(order.totalWon).toBe(30_000);
    await seller.request('PATCH', `/api/seller/products/${id}`, { priceWon: 1 });
    expect((await buyer.get(`/api/orders/${order.id}`)).json()).toMatchObject({ totalWon: 30_000, items: [{ unitPriceWon: 10_000, lineTotalWon: 30_000 }] });
  });

  it('takes shipping details from the request when given, field by field', async () => {
    const id = await product(seller, { priceWon: 1_000, stock: 5 });
    const res = await orderProduct(buyer, id, 1, { shipping: { address: '부산시 해운대구 3', phone: '010-9999-8888' } });
    expect(res.json().shipping).toEqual({ recipientName: '홍길동', address: '부산시 해운대구 3', phone: '010-9999-8888' });
    expect((await orderProduct(buyer, id, 1, { shipping: { phone: 'call me' } })).json().code).toBe('VALIDATION_FAILED');
  });

  it('orders a one-store cart; a cart of several stores needs the store named', async () => {
    const c = await newClient(t, 'buyer');
    const a = await product(seller, { priceWon: 3_000, stock: 9 });
    const b = await product(seller, { priceWon: 4_500, stock: 9 });
    const other = await product(otherSeller, { priceWon: 7_000, stock: 9 });
    // A millisecond apart: the cart, and the order made from it, list lines in the order they were added.
    for (const [id, quantity] of [[a, 2], [b, 1], [other, 4]] as const) {
      await c.request('PUT', `/api/cart/items/${id}`, { quantity });
      t.clock.advance(1);
    }

    const mixed = await c.request('POST', '/api/orders', { source: 'cart' });
    expect(mixed.statusCode).toBe(409);
    expect(mixed.json().code).toBe('CART_SELLERS_MIXED');
    expect([await stockOf(a), await stockOf(b), await stockOf(other)]).toEqual([9, 9, 9]);

    const first = (await c.request('POST', '/api/orders', { source: 'cart', sellerId: seller.userId })).json();
    expect(first).toMatchObject({ sellerId: seller.userId, totalWon: 2 * 3_000 + 4_500 });
    expect(first.items.map((i: { productId: string; quantity: number }) => [i.productId, i.quantity])).toEqual([[a, 2], [b, 1]]);
    const second = (await c.request('POST', '/api/orders', { source: 'cart', sellerId: otherSeller.userId })).json();
    expect(second).toMatchObject({ sellerId: otherSeller.userId, totalWon: 28_000 });
    expect([await stockOf(a), await stockOf(b), await stockOf(other)]).toEqual([7, 8, 5]);
    // Ordering does not empty the cart; paying does (see below).
    expect((await c.get('/api/cart')).json().items).toHaveLength(3);
  });

  it('refuses an empty cart, and a store with nothing in the cart', async () => {
    const c = await newClient(t, 'buyer');
    const empty = await c.request('POST', '/api/orders', { source: 'cart' });
    expect(empty.statusCode).toBe(409);
    expect(empty.json().code).toBe('CART_EMPTY');
    const id = await product(seller, { priceWon: 1_000, stock: 1 });
    await c.request('PUT', `/api/cart/items/${id}`, { quantity: 1 });
    expect((await c.request('POST', '/api/orders', { source: 'cart', sellerId: otherSeller.userId })).json().code).toBe('CART_EMPTY');
    expect((await c.get('/api/orders')).json().total).toBe(0);
  });

  it('refuses more than the stock, a hidden and an unknown product, and takes no stock for any line', async () => {
    const c = await newClient(t, 'buyer');
    const plenty = await product(seller, { priceWon: 1_000, stock: 50 });
    const scarce = await product(seller, { priceWon: 1_000, stock: 3 });
    await c.request('PUT', `/api/cart/items/${plenty}`, { quantity: 5 });
    await c.request('PUT', `/api/cart/items/${scarce}`, { quantity: 3 });
    await seller.request('PATCH', `/api/seller/products/${scarce}`, { stock: 2 });
    const short = await c.request('POST', '/api/orders', { source: 'cart' });
    expect(short.json().code).toBe('STOCK_INSUFFICIENT');
    // The line that could be reserved was rolled back with the one that could not.
    expect([await stockOf(plenty), await stockOf(scarce)]).toEqual([50, 2]);

    await seller.request('PATCH', `/api/seller/products/${plenty}`, { hidden: true });
    expect((await orderProduct(c, plenty, 1)).json().code).toBe('PRODUCT_UNAVAILABLE');
    expect((await orderProduct(c, '00000000-0000-4000-8000-000000000000', 1)).json().code).toBe('PRODUCT_NOT_FOUND');
    for (const quantity of [0, 100, 1.5]) expect((await orderProduct(c, scarce, quantity)).json().code, String(quantity)).toBe('VALIDATION_FAILED');
    expect((await c.get('/api/orders')).json().total).toBe(0);
  });

  it('an order nobody pays expires after 15 minutes and gives its stock back when read', async () => {
    const id = await product(seller, { priceWon: 2_000, stock: 4 });
    const order = (await orderProduct(buyer, id, 3)).json();
    await passTime(ORDER_PAYMENT_WINDOW_MS - 1);
    expect((await buyer.get(`/api/orders/${order.id}`)).json().status).toBe('awaiting_payment');
    expect(await stockOf(id)).toBe(1);
    await passTime(1);
    const expired = (await buyer.get(`/api/orders/${order.id}`)).json();
    expect(expired).toMatchObject({ status: 'expired', expiredAtMs: t.clock.nowMs, paidAtMs: null, cancelledAtMs: null });
    expect(await stockOf(id)).toBe(4);
    // Reading it again gives nothing back a second time.
    await buyer.get(`/api/orders/${order.id}`);
    await buyer.get('/api/orders');
    expect(await stockOf(id)).toBe(4);
  });

  it('a new order takes stock held by an expired order that nobody read', async () => {
    const other = await newClient(t, 'buyer');
    const id = await product(seller, { priceWon: 2_000, stock: 2 });
    const first = (await orderProduct(buyer, id, 2)).json();
    expect((await orderProduct(other, id, 1)).json().code).toBe('STOCK_INSUFFICIENT');
    await passTime(ORDER_PAYMENT_WINDOW_MS, [other]);
    const second = await orderProduct(other, id, 2);
    expect(second.statusCode).toBe(201);
    expect(await stockOf(id)).toBe(0);
    expect((await buyer.get(`/api/orders/${first.id}`)).json().status).toBe('expired');
    expect(await stockOf(id)).toBe(0);
  });

  it('the periodic sweep expires orders nobody looks at', async () => {
    const id = await product(seller, { priceWon: 2_000, stock: 6 });
    const order = (await orderProduct(buyer, id, 5)).json();
    await passTime(ORDER_PAYMENT_WINDOW_MS);
    expect(await stockOf(id)).toBe(1);
    const swept = await t.app.internals.sweeper.runOnce();
    expect(swept.ordersExpired).toBeGreaterThanOrEqual(1);
    expect(await stockOf(id)).toBe(6);
    expect((await buyer.get(`/api/orders/${order.id}`)).json().status).toBe('expired');
    expect((await t.app.internals.sweeper.runOnce()).ordersExpired).toBe(0);
  });

  it('cancelling gives the stock back once; cancelling again answers the same; an expired order cannot be cancelled', async () => {
    const id = await product(seller, { priceWon: 5_000, stock: 3 });
    const order = (await orderProduct(buyer, id, 2)).json();
    const cancelled = await buyer.request('POST', `/api/orders/${order.id}/cancel`);
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', cancelledAtMs: t.clock.nowMs });
    expect(await stockOf(id)).toBe(3);
    const again = await buyer.request('POST', `/api/orders/${order.id}/cancel`);
    expect(again.json()).toEqual(cancelled.json());
    expect(await stockOf(id)).toBe(3);

    const late = (await orderProduct(buyer, id, 1)).json();
    await passTime(ORDER_PAYMENT_WINDOW_MS);
    const refused = await buyer.request('POST', `/api/orders/${late.id}/cancel`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('ORDER_EXPIRED');
    expect(await stockOf(id)).toBe(3);
  });

  it('a paid order cannot be cancelled and keeps its stock; paying empties those products from the cart', async () => {
    const c = await newClient(t, 'buyer');
    const id = await product(seller, { priceWon: 12_000, stock: 5 });
    const keep = await product(otherSeller, { priceWon: 1_000, stock: 5 });
    await c.request('PUT', `/api/cart/items/${id}`, { quantity: 2 });
    await c.request('PUT', `/api/cart/items/${keep}`, { quantity: 1 });
    expect((await c.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 })).statusCode).toBe(201);
    const order = (await c.request('POST', '/api/orders', { source: 'cart', sellerId: seller.userId })).json();
    const actor = { userId: c.userId, role: 'buyer' as const, sessionId: c.sessionId };
    const paid = await t.app.internals.payments.payOrder(actor, order.id);
    expect(paid.order.status).toBe('paid');

    const refused = await c.request('POST', `/api/orders/${order.id}/cancel`);
    expect(refused.json().code).toBe('ORDER_ALREADY_PAID');
    expect(await stockOf(id)).toBe(3);
    expect((await c.get(`/api/orders/${order.id}`)).json()).toMatchObject({ status: 'paid', paidAtMs: t.clock.nowMs });
    expect((await c.get('/api/cart')).json().items.map((l: { productId: string }) => l.productId)).toEqual([keep]);
    expect((await c.get('/api/me')).json().walletBalanceWon).toBe(6_000);
  });

  it('only the buyer and the order’s seller can read an order; only the buyer can cancel it', async () => {
    const stranger = await newClient(t, 'buyer');
    const id = await product(seller, { priceWon: 1_000, stock: 5 });
    const order = (await orderProduct(buyer, id, 1)).json();

    const read = await stranger.get(`/api/orders/${order.id}`);
    expect(read.statusCode).toBe(404);
    expect(read.json().code).toBe('ORDER_NOT_FOUND');
    expect((await otherSeller.get(`/api/orders/${order.id}`)).json().code).toBe('ORDER_NOT_FOUND');
    const cancel = await stranger.request('POST', `/api/orders/${order.id}/cancel`);
    expect(cancel.json().code).toBe('ORDER_NOT_FOUND');
    expect((await seller.request('POST', `/api/orders/${order.id}/cancel`)).json().code).toBe('ROLE_FORBIDDEN');
    expect((await buyer.get(`/api/orders/${order.id}`)).json().status).toBe('awaiting_payment');
    expect(await stockOf(id)).toBe(4);

    expect((await seller.get(`/api/orders/${order.id}`)).json().id).toBe(order.id);
    expect((await stranger.get('/api/orders')).json().items).toEqual([]);
    expect((await stranger.get(`/api/orders/00000000-0000-4000-8000-000000000000`)).json().code).toBe('ORDER_NOT_FOUND');
    expect((await t.app.inject({ method: 'GET', url: `/api/orders/${order.id}` })).json().code).toBe('AUTH_REQUIRED');
    expect((await t.app.inject({ method: 'POST', url: '/api/orders', payload: { source: 'product', productId: id, quantity: 1 } })).json().code).toBe('AUTH_REQUIRED');
  });

  it('orders are for buyers; store orders are for sellers', async () => {
    const id = await product(seller, { priceWon: 1_000, stock: 5 });
    expect((await orderProduct(seller, id, 1)).json().code).toBe('ROLE_FORBIDDEN');
    expect((await buyer.get('/api/seller/orders')).json().code).toBe('ROLE_FORBIDDEN');
  });

  it('lists a buyer’s orders newest first in pages, filters by status, and shows a seller only the store’s orders', async () => {
    const c = await newClient(t, 'buyer');
    const mine = await product(seller, { priceWon: 1_000, stock: 20 });
    const theirs = await product(otherSeller, { priceWon: 1_000, stock: 20 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push((await orderProduct(c, i % 2 === 0 ? mine : theirs, i + 1)).json().id);
      t.clock.advance(1_000);
    }
    await c.request('POST', `/api/orders/${ids[1]}/cancel`);

    const page1 = (await c.get('/api/orders?page=1&pageSize=2')).json();
    const page2 = (await c.get('/api/orders?page=2&pageSize=2')).json();
    const page3 = (await c.get('/api/orders?page=3&pageSize=2')).json();
    expect([page1.total, page2.total, page3.total]).toEqual([5, 5, 5]);
    expect([...page1.items, ...page2.items, ...page3.items].map((o: { id: string }) => o.id)).toEqual([...ids].reverse());
    const cancelled = (await c.get('/api/orders?status=cancelled')).json();
    expect(cancelled.items.map((o: { id: string }) => o.id)).toEqual([ids[1]]);
    expect((await c.get('/api/orders?status=shipped')).json().code).toBe('VALIDATION_FAILED');
    expect((await c.get('/api/orders?pageSize=61')).json().code).toBe('VALIDATION_FAILED');

    const storeOrders = (await otherSeller.get('/api/seller/orders?pageSize=60')).json();
    expect(storeOrders.items.every((o: { sellerId: string }) => o.sellerId === otherSeller.userId)).toBe(true);
    expect(storeOrders.items.map((o: { id: string }) => o.id)).toEqual(expect.arrayContaining([ids[1], ids[3]]));
    expect(storeOrders.items.map((o: { id: string }) => o.id)).not.toContain(ids[0]);
    // The seller sees where to ship.
    expect(storeOrders.items.find((o: { id: string }) => o.id === ids[3]).shipping.address).toBe('서울시 중구 1');
  });
});
