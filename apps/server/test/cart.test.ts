/** The cart: prices come from the server's records, never from the client. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

describe('cart', () => {
  let t: TestApp;
  let seller: SignedClient;
  let buyer: SignedClient;
  let productId: string;
  let otherId: string;

  beforeAll(async () => {
    t = await startTestApp();
    seller = await newClient(t, 'seller');
    buyer = await newClient(t, 'buyer');
    productId = (await seller.request('POST', '/api/seller/products', { name: '감귤', category: 'food', description: '', priceWon: 27_900, stock: 10 })).json().id;
    otherId = (await seller.request('POST', '/api/seller/products', { name: '도마', category: 'home', description: '', priceWon: 39_000, stock: 2 })).json().id;
  });
  afterAll(async () => t.close());

  it('adds, changes and removes lines; totals are the server’s', async () => {
    let cart = (await buyer.request('PUT', `/api/cart/items/${productId}`, { quantity: 2 })).json();
    expect(cart.items).toHaveLength(1);
    expect(cart.items[0]).toMatchObject({ productId, sellerId: seller.userId, unitPriceWon: 27_900, quantity: 2, lineTotalWon: 55_800, available: true });
    // The store is named on each line, so the checkout can order one store at a time.
    expect(cart.items[0].storeName).toBe((await seller.get('/api/me')).json().user.store.storeName);
    expect(cart.totalWon).toBe(55_800);
    cart = (await buyer.request('PUT', `/api/cart/items/${otherId}`, { quantity: 1 })).json();
    expect(cart.totalWon).toBe(55_800 + 39_000);
    cart = (await buyer.request('PUT', `/api/cart/items/${productId}`, { quantity: 3 })).json();
    expect(cart.totalWon).toBe(3 * 27_900 + 39_000);
    cart = (await buyer.request('DELETE', `/api/cart/items/${otherId}`)).json();
    expect(cart.items.map((l: { productId: string }) => l.productId)).toEqual([productId]);
    expect((await buyer.request('DELETE', `/api/cart/items/${otherId}`)).json().code).toBe('CART_ITEM_NOT_FOUND');
  });

  it('ignores any price the client sends, and follows price changes', async () => {
    const res = await buyer.request('PUT', `/api/cart/items/${productId}`, { quantity: 1, unitPriceWon: 1 });
    expect(res.json().code).toBe('VALIDATION_FAILED');
    await buyer.request('PUT', `/api/cart/items/${productId}`, { quantity: 1 });
    await seller.request('PATCH', `/api/seller/products/${productId}`, { priceWon: 30_000 });
    const cart = (await buyer.get('/api/cart')).json();
    expect(cart.items[0].unitPriceWon).toBe(30_000);
    expect(cart.totalWon).toBe(30_000);
  });

  it('refuses more than the stock, a hidden product and an unknown product', async () => {
    expect((await buyer.request('PUT', `/api/cart/items/${otherId}`, { quantity: 3 })).json().code).toBe('STOCK_INSUFFICIENT');
    expect((await buyer.request('PUT', `/api/cart/items/00000000-0000-4000-8000-000000000000`, { quantity: 1 })).json().code).toBe('PRODUCT_NOT_FOUND');
    const hidden = (await seller.request('POST', '/api/seller/products', { name: 'h', category: 'food', description: '', priceWon: 100, stock: 1 })).json().id;
    await seller.request('PATCH', `/api/seller/products/${hidden}`, { hidden: true });
    expect((await buyer.request('PUT', `/api/cart/items/${hidden}`, { quantity: 1 })).json().code).toBe('PRODUCT_UNAVAILABLE');
  });

  it('marks a line unavailable and leaves it out of the total when the product is hidden later', async () => {
    const c = await newClient(t, 'buyer');
    await c.request('PUT', `/api/cart/items/${otherId}`, { quantity: 1 });
    await seller.request('PATCH', `/api/seller/products/${otherId}`, { hidden: true });
    const cart = (await c.get('/api/cart')).json();
    expect(cart.items[0].available).toBe(false);
    expect(cart.totalWon).toBe(0);
    await seller.request('PATCH', `/api/seller/products/${otherId}`, { hidden: false });
  });

  it('refuses quantities outside 1..99 and non-integers', async () => {
    for (const quantity of [0, 100, 1.5, '2', -1]) {
      expect((await buyer.request('PUT', `/api/cart/items/${productId}`, { quantity })).json().code, String(quantity)).toBe('VALIDATION_FAILED');
    }
  });

  it('a cart is for buyers; each buyer sees only their own', async () => {
    expect((await seller.get('/api/cart')).json().code).toBe('ROLE_FORBIDDEN');
    const other = await newClient(t, 'buyer');
    expect((await other.get('/api/cart')).json().items).toEqual([]);
  });
});
