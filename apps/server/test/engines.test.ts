/**
 * The same product on every engine: migrations at start, then a whole buyer and
 * seller journey through HTTP. SQLite always; PostgreSQL and MariaDB when CI sets
 * POSTGRES_URL and MARIADB_URL.
 */
import { describe, expect, it } from 'vitest';
import { drawProductPicture } from '../src/services/png-image.js';
import { enginesUnderTest, newClient, startTestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand } from './payment-client.js';

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('the API on %s', (_name, engine) => {
  it('migrates, registers, logs in, sells, lists, fills a cart and logs out', async () => {
    const t = await startTestApp({ engine });
    try {
      const seller = await newClient(t, 'seller');
      const buyer = await newClient(t, 'buyer');
      const created = await seller.request('POST', '/api/seller/products', { name: '제주 감귤 5kg', category: 'food', description: '새콤달콤', priceWon: 1_000_000_000, stock: 7 });
      expect(created.statusCode).toBe(201);
      const id = created.json().id;
      expect((await seller.request('PUT', `/api/seller/products/${id}/image`, drawProductPicture(30, 'circle', 48), {}, 'image/png')).statusCode).toBe(200);
      const list = (await t.app.inject({ method: 'GET', url: `/api/products?q=${encodeURIComponent('감귤')}` })).json();
      expect(list.items).toHaveLength(1);
      expect(list.items[0]).toMatchObject({ id, priceWon: 1_000_000_000, storeName: expect.any(String) });
      const cart = (await buyer.request('PUT', `/api/cart/items/${id}`, { quantity: 7 })).json();
      expect(cart.totalWon).toBe(7_000_000_000);
      expect((await buyer.get('/api/me')).json().walletBalanceWon).toBe(0);
      const dup = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { role: 'buyer', loginId: (await buyer.get('/api/me')).json().user.loginId, password: 'another long pw', name: 'x', phone: '010-0000-0000', address: 'a', email: 'a@b.test' } });
      expect(dup.json().code).toBe('LOGIN_ID_TAKEN');
      expect((await buyer.request('POST', '/api/auth/logout')).statusCode).toBe(204);
      expect((await buyer.get('/api/me')).json().code).toBe('SESSION_REVOKED');
      const ledger = await t.app.internals.ledger.checkInvariant();
      expect(ledger).toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    } finally {
      await t.close();
    }
  });

  it('pays directly with a certificate, with the code and without, refuses a replayed request, and keeps the ledger whole', async () => {
    const t = await startTestApp({ engine });
    try {
      const seller = await newClient(t, 'seller');
      const product = async (priceWon: number) => (await seller.request('POST', '/api/seller/products', { name: `상품 ${priceWon}`, category: 'food', description: '', priceWon, stock: 10 })).json().id as string;
      const [dear, cheap] = [await product(80_000), await product(9_000)];
      const buyer = await buyerWithCertificate(t);
      expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
      const pay = async (productId: string) => {
        const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
        const opened = await requestCommand(t, buyer, order.id);
        const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
        const paid = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }));
        expect(paid.statusCode, paid.body).toBe(200);
        return { opened, paid: paid.json() };
      };
      // The first payment of a certificate asks for the code; the next small one does not.
      expect((await pay(dear)).opened.codeRequired).toBe(true);
      const second = await pay(cheap);
      expect(second.opened.codeRequired).toBe(false);
      const waiting = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId: cheap, quantity: 1 })).json();
      const issued = await requestCommand(t, buyer, waiting.id);
      const replay = await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: issued.sealedRequest, locale: 'ko' });
      expect(replay.json().code).toBe('PAYMENT_REQUEST_REPLAYED');
      expect((await buyer.client.get('/api/me/wallet')).json().balanceWon).toBe(100_000 - 80_000 - 9_000);
      expect((await seller.get('/api/me/wallet')).json().balanceWon).toBe(89_000);
      expect((await buyer.client.get(`/api/orders/${second.paid.orderId}/evidence.p7s`)).statusCode).toBe(200);
      expect(await t.app.internals.ledger.checkInvariant()).toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    } finally {
      await t.close();
    }
  });
});
