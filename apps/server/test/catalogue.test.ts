/** Sellers manage products; everyone browses; images are checked by content. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drawProductPicture } from '../src/services/png-image.js';
import { newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

const product = (overrides: Record<string, unknown> = {}) => ({ name: '노트북 JB-15', category: 'electronics', description: '가벼운 노트북', priceWon: 800_000, stock: 5, ...overrides });

describe('catalogue', () => {
  let t: TestApp;
  let seller: SignedClient;
  let otherSeller: SignedClient;
  let buyer: SignedClient;

  beforeAll(async () => {
    t = await startTestApp();
    [seller, otherSeller, buyer] = await Promise.all([newClient(t, 'seller'), newClient(t, 'seller'), newClient(t, 'buyer')]);
  });
  afterAll(async () => t.close());

  it('a seller creates a product that everyone can see', async () => {
    const created = await seller.request('POST', '/api/seller/products', product());
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ name: '노트북 JB-15', priceWon: 800_000, stock: 5, hidden: false, sellerId: seller.userId, imageUrl: null });
    const page = await t.app.inject({ method: 'GET', url: `/api/products/${body.id}` });
    expect(page.statusCode).toBe(200);
    expect(page.json().storeName).toMatch(/^Store /);
  });

  it('a buyer cannot create or edit products', async () => {
    expect((await buyer.request('POST', '/api/seller/products', product())).json().code).toBe('ROLE_FORBIDDEN');
    const { id } = (await seller.request('POST', '/api/seller/products', product())).json();
    const res = await buyer.request('PATCH', `/api/seller/products/${id}`, { priceWon: 1 });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('ROLE_FORBIDDEN');
  });

  it('a seller cannot edit, hide or re-image another seller’s product', async () => {
    const { id } = (await seller.request('POST', '/api/seller/products', product())).json();
    expect((await otherSeller.request('PATCH', `/api/seller/products/${id}`, { priceWon: 1 })).json().code).toBe('PRODUCT_NOT_OWNED');
    expect((await otherSeller.request('PATCH', `/api/seller/products/${id}`, { hidden: true })).json().code).toBe('PRODUCT_NOT_OWNED');
    const img = await otherSeller.request('PUT', `/api/seller/products/${id}/image`, drawProductPicture(10, 'circle', 32), {}, 'image/png');
    expect(img.json().code).toBe('PRODUCT_NOT_OWNED');
    expect((await t.app.inject({ method: 'GET', url: `/api/products/${id}` })).json().priceWon).toBe(800_000);
  });

  it('the seller edits and hides; a hidden product is gone for others but not for its owner', async () => {
    const { id } = (await seller.request('POST', '/api/seller/products', product({ name: 'hide-me' }))).json();
    const edited = await seller.request('PATCH', `/api/seller/products/${id}`, { priceWon: 750_000, stock: 3, description: '할인' });
    expect(edited.json()).toMatchObject({ priceWon: 750_000, stock: 3, description: '할인' });
    expect((await seller.request('PATCH', `/api/seller/products/${id}`, { hidden: true })).json().hidden).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: `/api/products/${id}` })).json().code).toBe('PRODUCT_NOT_FOUND');
    expect((await buyer.get(`/api/products/${id}`)).statusCode).toBe(404);
    expect((await seller.get(`/api/products/${id}`)).statusCode).toBe(200);
    const list = await t.app.inject({ method: 'GET', url: '/api/products?q=hide-me' });
    expect(list.json().total).toBe(0);
    const own = (await seller.get('/api/seller/products?pageSize=60')).json();
    expect(own.items.some((p: { id: string; hidden: boolean }) => p.id === id && p.hidden)).toBe(true);
  });

  it('validates product fields strictly', async () => {
    for (const bad of [
      product({ priceWon: 0 }), product({ priceWon: 1.5 }), product({ priceWon: '1000' }), product({ priceWon: 1_000_000_001 }),
      product({ stock: -1 }), product({ category: 'weapons' }), product({ name: '' }), product({ name: 'x'.repeat(101) }),
      { ...product(), sellerId: otherSeller.userId },
    ]) {
      const res = await seller.request('POST', '/api/seller/products', bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    expect((await seller.request('PATCH', '/api/seller/products/not-a-uuid', { stock: 1 })).json().code).toBe('VALIDATION_FAILED');
    const { id } = (await seller.request('POST', '/api/seller/products', product())).json();
    expect((await seller.request('PATCH', `/api/seller/products/${id}`, {})).json().code).toBe('VALIDATION_FAILED');
  });

  describe('images', () => {
    let id: string;
    beforeAll(async () => {
      id = (await seller.request('POST', '/api/seller/products', product({ name: 'with image' }))).json().id;
    });

    it('accepts a PNG and serves it back with its type; the URL changes with each upload', async () => {
      const png = drawProductPicture(200, 'ring', 64);
      const res = await seller.request('PUT', `/api/seller/products/${id}/image`, png, {}, 'image/png');
      expect(res.statusCode).toBe(200);
      const url = res.json().imageUrl as string;
      expect(url).toMatch(new RegExp(`^/api/products/${id}/image\\?v=1$`));
      const img = await t.app.inject({ method: 'GET', url });
      expect(img.statusCode).toBe(200);
      expect(img.headers['content-type']).toBe('image/png');
      expect(img.rawPayload.equals(png)).toBe(true);
      const again = await seller.request('PUT', `/api/seller/products/${id}/image`, drawProductPicture(20, 'square', 64), {}, 'image/png');
      expect(again.json().imageUrl).toMatch(/\?v=2$/);
    });

    it('refuses a file whose bytes are not an image, whatever it claims to be', async () => {
      const res = await seller.request('PUT', `/api/seller/products/${id}/image`, Buffer.from('<svg onload="alert(1)"></svg>'), {}, 'image/png');
      expect(res.statusCode).toBe(415);
      expect(res.json().code).toBe('IMAGE_TYPE_UNSUPPORTED');
      const gif = await seller.request('PUT', `/api/seller/products/${id}/image`, Buffer.from('GIF89a............'), {}, 'image/gif');
      expect(gif.json().code).toBe('IMAGE_TYPE_UNSUPPORTED');
      const mismatch = await seller.request('PUT', `/api/seller/products/${id}/image`, drawProductPicture(1, 'circle', 16), {}, 'image/jpeg');
      expect(mismatch.json().code).toBe('IMAGE_TYPE_UNSUPPORTED');
    });

    it('refuses an image over 2 MiB', async () => {
      const big = Buffer.concat([drawProductPicture(1, 'circle', 16), Buffer.alloc(2 * 1024 * 1024)]);
      const res = await seller.request('PUT', `/api/seller/products/${id}/image`, big, {}, 'image/png');
      expect(res.statusCode).toBe(413);
      expect(['IMAGE_TOO_LARGE', 'PAYLOAD_TOO_LARGE']).toContain(res.json().code);
    });

    it('a product without an image answers IMAGE_NOT_FOUND', async () => {
      const bare = (await seller.request('POST', '/api/seller/products', product())).json().id;
      expect((await t.app.inject({ method: 'GET', url: `/api/products/${bare}/image` })).json().code).toBe('IMAGE_NOT_FOUND');
    });
  });

  describe('listing', () => {
    let lister: SignedClient;
    const tag = `zq${Date.now().toString(36)}`;
    beforeAll(async () => {
      lister = await newClient(t, 'seller');
      const rows = [
        { name: `${tag} Alpha`, category: 'books', priceWon: 3000 },
        { name: `${tag} bravo`, category: 'books', priceWon: 1000 },
        { name: `${tag} Charlie`, category: 'food', priceWon: 2000 },
        { name: `${tag} 100%_off`, category: 'food', priceWon: 5000 },
        { name: `${tag} 감귤`, category: 'food', priceWon: 4000 },
      ];
      for (const r of rows) {
        t.clock.advance(1);
        expect((await lister.request('POST', '/api/seller/products', product(r))).statusCode).toBe(201);
      }
    });
    const list = async (query: string) => (await t.app.inject({ method: 'GET', url: `/api/products?${query}` })).json();

    it('searches by name, case-insensitively, with % and _ taken literally', async () => {
      expect((await list(`q=${tag}`)).total).toBe(5);
      expect((await list(`q=${tag.toUpperCase()}%20ALPHA`)).items.map((p: { name: string }) => p.name)).toEqual([`${tag} Alpha`]);
      expect((await list(`q=${encodeURIComponent(`${tag} 100%_`)}`)).total).toBe(1);
      expect((await list(`q=${encodeURIComponent(`${tag} 1_0`)}`)).total).toBe(0);
      expect((await list(`q=${encodeURIComponent('감귤')}&category=food`)).items.some((p: { name: string }) => p.name === `${tag} 감귤`)).toBe(true);
    });

    it('filters by category and sorts', async () => {
      expect((await list(`q=${tag}&category=books`)).total).toBe(2);
      const prices = (await list(`q=${tag}&sort=price_asc`)).items.map((p: { priceWon: number }) => p.priceWon);
      expect(prices).toEqual([1000, 2000, 3000, 4000, 5000]);
      const desc = (await list(`q=${tag}&sort=price_desc`)).items.map((p: { priceWon: number }) => p.priceWon);
      expect(desc).toEqual([5000, 4000, 3000, 2000, 1000]);
      const newest = (await list(`q=${tag}&sort=newest`)).items.map((p: { name: string }) => p.name);
      expect(newest[0]).toBe(`${tag} 감귤`);
    });

    it('pages through results without repeats', async () => {
      const seen = new Set<string>();
      for (let page = 1; page <= 3; page++) {
        const res = await list(`q=${tag}&pageSize=2&page=${page}&sort=price_asc`);
        expect(res.total).toBe(5);
        for (const item of res.items) seen.add(item.id);
      }
      expect(seen.size).toBe(5);
    });

    it('refuses out-of-range paging and unknown sort or category', async () => {
      for (const q of ['pageSize=61', 'pageSize=0', 'page=0', 'sort=random', 'category=weapons', 'unknown=1']) {
        expect((await t.app.inject({ method: 'GET', url: `/api/products?${q}` })).json().code, q).toBe('VALIDATION_FAILED');
      }
    });
  });
});
