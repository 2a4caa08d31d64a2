/**
 * The payment's races on every engine: failed authorizations that arrive together are
 * counted one by one and lock at exactly the limit; a certificate revoked, or an order
 * changed, after the checks of `authorize` and before the payment's transaction is
 * refused inside that transaction, and no money moves.
 */
import { describe, expect, it } from 'vitest';
import { approvalMessage } from '@coconutpay/core/pki/master-approval';
import { PAYMENT_FAILURES_MAX } from '../src/services/payment-auth.js';
import { enginesUnderTest, newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, deviceKeys, requestCommand, type Holder } from './payment-client.js';

/** Failed authorizations sent at once for one user. */
const CONCURRENT_FAILURES = 20;

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('payment races on %s', (_name, engine) => {
  async function setUp(t: TestApp): Promise<{ seller: SignedClient; buyer: Holder; orderId: () => Promise<string> }> {
    const seller = await newClient(t, 'seller');
    const productId = (await seller.request('POST', '/api/seller/products', { name: '상품', category: 'food', description: '', priceWon: 9_000, stock: 100 })).json().id as string;
    const buyer = await buyerWithCertificate(t);
    expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
    const orderId = async () => {
      const res = await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    return { seller, buyer, orderId };
  }

  const failuresOf = async (t: TestApp, userId: string) =>
    Number((await t.app.internals.database.db.selectFrom('paymentLockouts').select('consecutiveFailures').where('userId', '=', userId).executeTakeFirst())?.consecutiveFailures ?? 0);

  it(`${CONCURRENT_FAILURES} wrong signatures at once count ${PAYMENT_FAILURES_MAX} failures, then lock, with no server error`, async () => {
    const t = await startTestApp({ engine });
    try {
      const { buyer, orderId } = await setUp(t);
      const opened = await requestCommand(t, buyer, await orderId());
      const stranger = (await deviceKeys()).keys.privateKey;
      const bodies = await Promise.all(Array.from({ length: CONCURRENT_FAILURES }, () => authorizationBody(t, buyer, opened, { code: 'WWWWWW', signer: stranger })));
      const responses = await Promise.all(bodies.map((body) => buyer.client.request('POST', '/api/payments/authorizations', body)));
      expect(responses.filter((r) => r.statusCode >= 500).map((r) => r.body)).toEqual([]);
      const codes = responses.map((r) => r.json().code as string);
      expect(codes.filter((c) => c === 'PAYMENT_AUTHORIZATION_FAILED')).toHaveLength(PAYMENT_FAILURES_MAX - 1);
      expect(codes.filter((c) => c === 'PAYMENT_LOCKED')).toHaveLength(CONCURRENT_FAILURES - PAYMENT_FAILURES_MAX + 1);
      expect(await failuresOf(t, buyer.client.userId)).toBe(PAYMENT_FAILURES_MAX);
      // Locked: even the right code and signature are refused now.
      const right = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: await codeOf(t, opened.comId) }));
      expect(right.json().code).toBe('PAYMENT_LOCKED');
    } finally {
      await t.close();
    }
  });

  it(`${CONCURRENT_FAILURES} wrong codes at once count ${PAYMENT_FAILURES_MAX} failures, then lock, with no server error`, async () => {
    const t = await startTestApp({ engine });
    try {
      const { buyer, orderId } = await setUp(t);
      const opened = await requestCommand(t, buyer, await orderId());
      expect(opened.codeRequired).toBe(true);
      const bodies = await Promise.all(Array.from({ length: CONCURRENT_FAILURES }, () => authorizationBody(t, buyer, opened, { code: 'WWWWWW' })));
      const responses = await Promise.all(bodies.map((body) => buyer.client.request('POST', '/api/payments/authorizations', body)));
      expect(responses.filter((r) => r.statusCode >= 500).map((r) => r.body)).toEqual([]);
      const codes = responses.map((r) => r.json().code as string);
      expect(codes.filter((c) => c === 'PAYMENT_AUTHORIZATION_FAILED')).toHaveLength(PAYMENT_FAILURES_MAX - 1);
      expect(codes.filter((c) => c === 'PAYMENT_LOCKED')).toHaveLength(CONCURRENT_FAILURES - PAYMENT_FAILURES_MAX + 1);
      expect(await failuresOf(t, buyer.client.userId)).toBe(PAYMENT_FAILURES_MAX);
    } finally {
      await t.close();
    }
  });

  /**
   * Runs `between` after `authorize` has checked everything and before the payment's
   * transaction begins, by wrapping the payments service the app was built with.
   */
  function between(t: TestApp, step: (orderId: string) => Promise<void>): void {
    const payments = t.app.internals.payments;
    const payOrder = payments.payOrder.bind(payments);
    payments.payOrder = async (actor, orderId, options) => {
      await step(orderId);
      return payOrder(actor, orderId, options);
    };
  }

  async function expectNothingMoved(t: TestApp, seller: SignedClient, buyer: Holder, orderId: string, comId: string): Promise<void> {
    expect((await buyer.client.get('/api/me/wallet')).json().balanceWon).toBe(100_000);
    expect((await seller.get('/api/me/wallet')).json().balanceWon).toBe(0);
    expect((await buyer.client.get(`/api/orders/${orderId}`)).json().status).toBe('awaiting_payment');
    const command = await t.app.internals.database.db.selectFrom('paymentCommands').select('status').where('comId', '=', comId).executeTakeFirstOrThrow();
    expect(command.status).toBe('issued');
    expect(await t.app.internals.database.db.selectFrom('paymentEvidence').select('id').where('orderId', '=', orderId).executeTakeFirst()).toBeUndefined();
    expect(await t.app.internals.ledger.checkInvariant()).toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
  }

  it('a certificate revoked after the checks and before the payment transaction pays nothing (CERTIFICATE_REVOKED)', async () => {
    const t = await startTestApp({ engine });
    try {
      const { seller, buyer, orderId } = await setUp(t);
      const id = await orderId();
      const opened = await requestCommand(t, buyer, id);
      const body = await authorizationBody(t, buyer, opened, { code: await codeOf(t, opened.comId) });
      between(t, async () => {
        const certificates = t.app.internals.certificates;
        expect(await certificates.revoke(certificates.db, buyer.certificateId, 'keyCompromise', t.clock.nowMs)).toBe(true);
      });
      const res = await buyer.client.request('POST', '/api/payments/authorizations', body);
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().code).toBe('CERTIFICATE_REVOKED');
      await expectNothingMoved(t, seller, buyer, id, opened.comId);
    } finally {
      await t.close();
    }
  });

  it('an additional certificate whose master is revoked after the checks and before the payment transaction pays nothing (CERTIFICATE_REVOKED)', async () => {
    const t = await startTestApp({ engine });
    try {
      const { seller, buyer, orderId } = await setUp(t);
      const phone = await deviceKeys();
      expect((await buyer.client.request('POST', '/api/certificates/requests', { nickname: 'phone', csrPem: phone.csrPem })).statusCode).toBe(201);
      const pending = (await buyer.client.get('/api/certificates/requests')).json().items[0];
      const text = approvalMessage({ requestId: pending.id, userId: buyer.client.userId, spkiSha256Hex: pending.spkiSha256Hex, nickname: pending.nickname, code: pending.code, expiresAtMs: pending.expiresAtMs });
      const signature = Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, buyer.keys.privateKey, Buffer.from(text))).toString('base64url');
      const approved = await buyer.client.request('POST', `/api/certificates/requests/${pending.id}/approve`, { masterCertificateId: buyer.certificateId, signature });
      expect(approved.statusCode, approved.body).toBe(200);
      const holder: Holder = { client: buyer.client, certificateId: approved.json().issued.certificate.id, keys: phone.keys, certificatePem: approved.json().issued.certificatePem };
      const id = await orderId();
      const opened = await requestCommand(t, holder, id);
      const body = await authorizationBody(t, holder, opened, { code: await codeOf(t, opened.comId) });
      // Only the master's row: the device's own certificate stays active.
      between(t, async () => {
        const certificates = t.app.internals.certificates;
        expect(await certificates.revoke(certificates.db, buyer.certificateId, 'keyCompromise', t.clock.nowMs)).toBe(true);
      });
      const res = await holder.client.request('POST', '/api/payments/authorizations', body);
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json()).toMatchObject({ code: 'CERTIFICATE_REVOKED', detail: expect.stringContaining('master') });
      await expectNothingMoved(t, seller, buyer, id, opened.comId);
    } finally {
      await t.close();
    }
  });

  it('an order whose total changed after the command was issued pays nothing', async () => {
    const t = await startTestApp({ engine });
    try {
      const { seller, buyer, orderId } = await setUp(t);
      const id = await orderId();
      const opened = await requestCommand(t, buyer, id);
      const body = await authorizationBody(t, buyer, opened, { code: await codeOf(t, opened.comId) });
      between(t, async (orderId) => {
        await t.app.internals.database.db.updateTable('orders').set({ totalWon: '1000' }).where('id', '=', orderId).execute();
      });
      const res = await buyer.client.request('POST', '/api/payments/authorizations', body);
      expect(res.statusCode, res.body).toBe(410);
      expect(res.json().code).toBe('PAYMENT_COMMAND_EXPIRED');
      await t.app.internals.database.db.updateTable('orders').set({ totalWon: '9000' }).where('id', '=', id).execute();
      await expectNothingMoved(t, seller, buyer, id, opened.comId);
    } finally {
      await t.close();
    }
  });
});
