/**
 * The attack suite (docs/security-tests.md): requests captured from a normal run — log in,
 * top up, order, pay, open a QR code — replayed and altered, plus the classic hostile
 * inputs. Every case names the refusal it expects; any 2xx where a refusal is due, and any
 * 5xx, fails the suite. On every engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { unseal, verifyCommand } from '@coconutpay/core/payment';
import { qrTokenFromText } from '@coconutpay/core/payment/qr';
import { enginesUnderTest, newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand, rootDer, sealedRequest, type Holder, type OpenedCommand } from './payment-client.js';

/** One request as the client sent it, for replaying. */
interface Captured {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

for (const engine of enginesUnderTest()) {
  describe(`attack suite (${engine.engine})`, () => {
    let t: TestApp;
    let buyer: Holder;
    let stranger: Holder;
    let seller: SignedClient;
    let productId: string;
    let paidOrder: { id: string; orderNumber: string };
    let paidCommand: OpenedCommand;
    let paidAuthorization: Awaited<ReturnType<typeof authorizationBody>>;
    const captured: Captured[] = [];

    /** Replays a captured request, with changes. */
    const replay = (c: Captured, change: Partial<Captured> = {}) =>
      t.app.inject({ method: (change.method ?? c.method) as 'GET', url: change.url ?? c.url, headers: { ...c.headers, ...change.headers }, ...(change.payload ?? c.payload ? { payload: change.payload ?? c.payload } : {}) });

    /** The refusal a case is due: its status and code, never a 2xx or a 5xx. */
    function refused(res: LightMyRequestResponse, code: string, status?: number): void {
      expect(res.statusCode, res.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, res.body.slice(0, 300)).toBeLessThan(500);
      expect(res.json().code, res.body.slice(0, 300)).toBe(code);
      if (status !== undefined) expect(res.statusCode).toBe(status);
    }

    beforeAll(async () => {
      t = await startTestApp({ engine });
      // Every request of the normal run is captured as it went out.
      const inject = t.app.inject.bind(t.app);
      (t.app as { inject: unknown }).inject = ((options: Captured & { payload?: string | Buffer }) => {
        if (typeof options === 'object' && options.headers?.['x-coconutpay-proof']) captured.push({ method: options.method, url: options.url, headers: { ...options.headers }, ...(options.payload ? { payload: options.payload } : {}) });
        return inject(options as never);
      }) as never;
      seller = await newClient(t, 'seller');
      productId = (await seller.request('POST', '/api/seller/products', { name: '공격 대상', category: 'food', description: '', priceWon: 20_000, stock: 100 })).json().id;
      buyer = await buyerWithCertificate(t);
      stranger = await buyerWithCertificate(t);
      expect((await buyer.client.get('/api/me')).statusCode).toBe(200);
      expect((await buyer.client.request('PUT', `/api/cart/items/${productId}`, { quantity: 1 })).statusCode).toBe(200);
      expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 500_000 })).statusCode).toBe(201);
      paidOrder = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      paidCommand = await requestCommand(t, buyer, paidOrder.id);
      paidAuthorization = await authorizationBody(t, buyer, paidCommand, { code: await codeOf(t, paidCommand.comId) });
      expect((await buyer.client.request('POST', '/api/payments/authorizations', paidAuthorization)).statusCode).toBe(200);
    });
    afterAll(async () => t.close());

    const topUp = () => captured.find((c) => c.url === '/api/me/wallet/top-ups')!;

    it('dual token: an exact replay is refused (NONCE_REPLAYED)', async () => {
      refused(await replay(topUp()), 'NONCE_REPLAYED', 401);
    });

    it('dual token: a replay with the body, path or method altered is refused (PROOF_INVALID)', async () => {
      refused(await replay(topUp(), { payload: JSON.stringify({ amountWon: 900_000 }) }), 'PROOF_INVALID', 401);
      refused(await replay(topUp(), { url: '/api/me/wallet/top-ups?x=1' }), 'PROOF_INVALID', 401);
      // The same signed PUT sent as a DELETE of the same cart line.
      refused(await replay(captured.find((c) => c.method === 'PUT' && c.url.startsWith('/api/cart/items/'))!, { method: 'DELETE' }), 'PROOF_INVALID', 401);
    });

    it('dual token: a captured request replayed after its window is refused (TIMESTAMP_OUT_OF_WINDOW)', async () => {
      t.clock.advance(10 * 60_000);
      try {
        refused(await replay(captured.find((c) => c.url === '/api/me')!), 'TIMESTAMP_OUT_OF_WINDOW', 401);
      } finally {
        t.clock.advance(-10 * 60_000);
      }
    });

    it('payment: the sealed request replayed with a fresh dual token is refused (PAYMENT_REQUEST_REPLAYED)', async () => {
      const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      const opened = await requestCommand(t, buyer, order.id);
      refused(await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: opened.sealedRequest, locale: 'ko' }), 'PAYMENT_REQUEST_REPLAYED', 409);
      // Once paid, the same request is refused by the order's state first.
      refused(await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: paidCommand.sealedRequest, locale: 'ko' }), 'ORDER_ALREADY_PAID', 409);
    });

    it('payment: the signed authorization replayed pays nothing more (PAYMENT_COMMAND_USED)', async () => {
      const before = await t.app.internals.ledger.walletBalanceWon(buyer.client.userId);
      refused(await buyer.client.request('POST', '/api/payments/authorizations', paidAuthorization), 'PAYMENT_COMMAND_USED', 409);
      expect(await t.app.internals.ledger.walletBalanceWon(buyer.client.userId)).toBe(before);
    });

    it('payment: an order paid twice is refused (ORDER_ALREADY_PAID)', async () => {
      const { sealed } = await sealedRequest(t, buyer, paidOrder.id);
      refused(await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' }), 'ORDER_ALREADY_PAID', 409);
    });

    it('payment: a command with the amount or the payee altered before signing is refused (PAYMENT_AUTHORIZATION_FAILED)', async () => {
      const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      const opened = await requestCommand(t, buyer, order.id);
      const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
      const cheaper = await authorizationBody(t, buyer, opened, { code, command: { ...opened.command, amountWon: 1 } });
      refused(await buyer.client.request('POST', '/api/payments/authorizations', cheaper), 'PAYMENT_AUTHORIZATION_FAILED', 403);
      const elsewhere = await authorizationBody(t, buyer, opened, { code, command: { ...opened.command, payee: { ...opened.command.payee, sellerId: stranger.client.userId } } });
      refused(await buyer.client.request('POST', '/api/payments/authorizations', elsewhere), 'PAYMENT_AUTHORIZATION_FAILED', 403);
    });

    it("payment: a request naming another user's certificate, or signed with it, is refused", async () => {
      const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      const { sealed } = await sealedRequest(t, buyer, order.id, { certificateId: stranger.certificateId, signer: stranger.keys.privateKey });
      refused(await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' }), 'CERTIFICATE_NOT_OWNED', 403);
      const opened = await requestCommand(t, buyer, order.id);
      const forged = await authorizationBody(t, buyer, opened, { code: opened.codeRequired ? await codeOf(t, opened.comId) : null, signer: stranger.keys.privateKey });
      refused(await buyer.client.request('POST', '/api/payments/authorizations', forged), 'PAYMENT_AUTHORIZATION_FAILED', 403);
    });

    it('QR payment: a used token taken again is refused (QR_SESSION_USED)', async () => {
      const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      const qr = (await buyer.client.request('POST', `/api/orders/${order.id}/qr-sessions`, { locale: 'ko' })).json();
      const token = qrTokenFromText(qr.url, t.config.publicUrl)!;
      expect((await buyer.client.request('POST', '/api/qr-sessions/claim', { token })).statusCode).toBe(200);
      const { sealed, reply, request } = await sealedRequest(t, buyer, order.id, { qrSessionId: qr.id });
      const issued = (await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' })).json();
      const { jws } = await unseal<{ jws: string }>(issued.sealedCommand, reply.key, 'coconutpay-payment-command');
      const check = await verifyCommand(jws, [rootDer(t)], new Date(t.clock.nowMs));
      if (!check.ok) throw new Error('command');
      const opened = { comId: issued.comId, command: check.command, jws, codeRequired: issued.codeRequired, request, sealedRequest: sealed };
      expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: issued.codeRequired ? await codeOf(t, issued.comId) : null }))).statusCode).toBe(200);
      const other = await SignedClient.login(t, (await buyer.client.get('/api/me')).json().user.loginId);
      refused(await other.request('POST', '/api/qr-sessions/claim', { token }), 'QR_SESSION_USED', 409);
    });

    it("IDOR: another user's order, evidence, certificate, QR session and receipts are out of reach", async () => {
      refused(await stranger.client.get(`/api/orders/${paidOrder.id}`), 'ORDER_NOT_FOUND', 404);
      refused(await stranger.client.get(`/api/orders/${paidOrder.id}/evidence.p7s`), 'ORDER_NOT_FOUND', 404);
      refused(await stranger.client.get(`/api/orders/${paidOrder.id}/history`), 'ORDER_NOT_FOUND', 404);
      refused(await stranger.client.request('POST', `/api/orders/${paidOrder.id}/cancel`), 'ORDER_NOT_FOUND', 404);
      refused(await stranger.client.request('POST', `/api/orders/${paidOrder.id}/qr-sessions`, { locale: 'ko' }), 'ORDER_NOT_FOUND', 404);
      const revoke = await stranger.client.request('POST', `/api/certificates/${buyer.certificateId}/revoke`, { reason: 'keyCompromise' });
      expect(revoke.statusCode).toBeGreaterThanOrEqual(400);
      expect(revoke.statusCode).toBeLessThan(500);
      expect(['CERTIFICATE_NOT_OWNED', 'CERTIFICATE_NOT_FOUND', 'VALIDATION_FAILED', 'MASTER_SIGNATURE_REQUIRED']).toContain(revoke.json().code);
      const receipts = await stranger.client.get(`/api/orders/${paidOrder.id}/receipts`);
      expect(receipts.statusCode).toBeGreaterThanOrEqual(400);
      expect(receipts.statusCode).toBeLessThan(500);
      // The buyer's certificate is still active: the refused revocation changed nothing.
      const mine = (await buyer.client.get('/api/certificates')).json().items.find((c: { id: string }) => c.id === buyer.certificateId);
      expect(mine.status).toBe('active');
    });

    it('hostile strings: SQL meta-characters and path traversal get ordinary refusals or empty results', async () => {
      refused(await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: "' OR '1'='1' --", password: "' OR '1'='1" } }), 'LOGIN_FAILED', 401);
      const search = await t.app.inject({ method: 'GET', url: `/api/products?q=${encodeURIComponent("%' OR 1=1 --")}` });
      expect(search.statusCode).toBe(200);
      expect(search.json().items).toEqual([]);
      const traversal = await t.app.inject({ method: 'GET', url: '/api/products/..%2F..%2F..%2Fetc%2Fpasswd/image' });
      expect(traversal.statusCode).toBeGreaterThanOrEqual(400);
      expect(traversal.statusCode).toBeLessThan(500);
      const crl = await t.app.inject({ method: 'GET', url: '/pki/crl/..%2F..%2Fkeys%2Fverification-code.key' });
      expect(crl.statusCode).toBeGreaterThanOrEqual(400);
      expect(crl.statusCode).toBeLessThan(500);
    });

    it('bodies: oversized (PAYLOAD_TOO_LARGE), deeply nested (VALIDATION_FAILED), duplicate keys (MALFORMED_JSON)', async () => {
      refused(await buyer.client.request('POST', '/api/me/wallet/top-ups', Buffer.from(JSON.stringify({ amountWon: 1000, pad: 'x'.repeat(2_000_000) }))), 'PAYLOAD_TOO_LARGE', 413);
      refused(await buyer.client.request('POST', '/api/me/wallet/top-ups', Buffer.from(`${'['.repeat(5_000)}${']'.repeat(5_000)}`)), 'VALIDATION_FAILED', 400);
      const before = await t.app.internals.ledger.walletBalanceWon(buyer.client.userId);
      refused(await buyer.client.request('POST', '/api/me/wallet/top-ups', Buffer.from('{"amountWon":1000,"amountWon":300000}')), 'MALFORMED_JSON', 400);
      refused(await t.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"loginId":"a","loginId":"b","password":"x"}' }), 'MALFORMED_JSON', 400);
      expect(await t.app.internals.ledger.walletBalanceWon(buyer.client.userId)).toBe(before);
    });
  });
}
