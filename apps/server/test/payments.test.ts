/**
 * Direct payment through the API, with a client that does what the browser does:
 * the happy path moves exactly the total once and leaves evidence OpenSSL and our
 * CLI accept; every tampering, replay and factor failure is refused with its code
 * and moves no money.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_TTL_MS } from '@coconutpay/core/payment';
import { approvalMessage } from '@coconutpay/core/pki/master-approval';
import { PAYMENT_FAILURES_MAX, PAYMENT_LOCK_MS } from '../src/services/payment-auth.js';
import { newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, deviceKeys, requestCommand, sealedRequest, type Holder } from './payment-client.js';

const CLI = fileURLToPath(new URL('../../cli/bin/coconutpay.mjs', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'cp-pay-'));
const write = (name: string, data: string | Uint8Array) => {
  const p = path.join(work, name);
  writeFileSync(p, data);
  return p;
};

describe('direct payment', () => {
  let t: TestApp;
  let seller: SignedClient;
  let cheap: string;
  let dear: string;

  async function product(priceWon: number, name: string): Promise<string> {
    const res = await seller.request('POST', '/api/seller/products', { name, category: 'food', description: '', priceWon, stock: 1000 });
    expect(res.statusCode).toBe(201);
    return res.json().id;
  }

  async function funded(amountWon: number): Promise<Holder> {
    const holder = await buyerWithCertificate(t);
    expect((await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon })).statusCode).toBe(201);
    return holder;
  }

  async function order(holder: Holder, productId: string, quantity = 1): Promise<{ id: string; totalWon: number; orderNumber: string }> {
    const res = await holder.client.request('POST', '/api/orders', { source: 'product', productId, quantity });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }

  const balance = async (c: SignedClient) => (await c.get('/api/me/wallet')).json().balanceWon as number;

  /** Makes the holder's certificate "used before", so the first-payment rule does not ask for a code. */
  async function payOnceWithCode(holder: Holder) {
    const o = await order(holder, cheap);
    const opened = await requestCommand(t, holder, o.id);
    expect(opened.codeRequired).toBe(true);
    const res = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: await codeOf(t, opened.comId) }));
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  beforeAll(async () => {
    t = await startTestApp();
    seller = await newClient(t, 'seller');
    cheap = await product(12_000, '유기농 바나나');
    dear = await product(800_000, '노트북');
  });
  afterAll(async () => t.close());

  it('pays with the code on a first payment: exactly the total moves once; the receipt and evidence match', async () => {
    const buyer = await funded(1_000_000);
    const before = { buyer: await balance(buyer.client), seller: await balance(seller) };
    const o = await order(buyer, dear);
    const opened = await requestCommand(t, buyer, o.id);
    // The command comes from our records: payee, items, amount.
    expect(opened.command).toMatchObject({ orderId: o.id, orderNumber: o.orderNumber, amountWon: 800_000, currency: 'KRW', payer: { userId: buyer.client.userId } });
    expect(opened.command.items).toEqual([{ productId: dear, name: '노트북', quantity: 1, unitPriceWon: 800_000, lineTotalWon: 800_000 }]);
    expect(opened.command.verification).toMatchObject({ codeRequired: true, policyRule: 'first-payment-of-certificate' });
    const picture = await buyer.client.get(`/api/payments/commands/${opened.comId}/code.png`);
    expect(picture.headers['content-type']).toBe('image/png');
    expect(picture.rawPayload.subarray(1, 4).toString()).toBe('PNG');
    // The code is never in any JSON the page receives.
    const code = await codeOf(t, opened.comId);
    expect(JSON.stringify(opened)).not.toContain(code);

    const res = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }));
    expect(res.statusCode, res.body).toBe(200);
    const receipt = res.json();
    expect(receipt).toMatchObject({ orderId: o.id, orderNumber: o.orderNumber, amountWon: 800_000 });
    expect(receipt.signatureHex).toMatch(/^[0-9a-f]+$/);
    expect(await balance(buyer.client)).toBe(before.buyer - 800_000);
    expect(await balance(seller)).toBe(before.seller + 800_000);
    expect((await buyer.client.get(`/api/orders/${o.id}`)).json().status).toBe('paid');

    // A replayed signed authorization moves nothing.
    const again = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }));
    expect(again.json().code).toBe('PAYMENT_COMMAND_USED');
    expect(await balance(buyer.client)).toBe(before.buyer - 800_000);

    // Evidence: OpenSSL and our CLI accept it; one flipped byte and both refuse.
    const evidence = await buyer.client.get(`/api/orders/${o.id}/evidence.p7s`);
    expect(evidence.headers['content-type']).toBe('application/pkcs7-signature');
    const p7s = write('evidence.p7s', evidence.rawPayload);
    const chain = write('chain.pem', (await t.app.inject({ method: 'GET', url: '/pki/ca.pem' })).body);
    const root = write('root.pem', t.app.internals.ca.root.certificate.toString('pem'));
    const ossl = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-CAfile', chain, '-purpose', 'any', '-out', path.join(work, 'content.json')], { encoding: 'utf8' });
    expect(ossl.stderr).toMatch(/Verification successful/);
    const cli = spawnSync(process.execPath, [CLI, 'verify', p7s, '--trust', root], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    const verdict = JSON.parse(cli.stdout);
    expect(verdict).toMatchObject({ valid: true, payment: { orderNumber: o.orderNumber, amountWon: 800_000 }, signer: { kind: 'master' } });
    expect(verdict.signatureHex).toHaveLength(128);
    const broken = Buffer.from(evidence.rawPayload);
    const at = broken.indexOf(Buffer.from('"amountWon":800000'));
    broken[at + 13] = '9'.charCodeAt(0);
    const brokenFile = write('broken.p7s', broken);
    expect(spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', brokenFile, '-CAfile', chain, '-purpose', 'any', '-out', '/dev/null']).status).not.toBe(0);
    expect(spawnSync(process.execPath, [CLI, 'verify', brokenFile, '--trust', root], { encoding: 'utf8' }).status).toBe(1);
    // The public verify endpoint agrees.
    const publicVerdict = await t.app.inject({ method: 'POST', url: '/api/evidence/verify', payload: { cmsBase64: evidence.rawPayload.toString('base64') } });
    expect(publicVerdict.json()).toMatchObject({ valid: true });
  });

  it('below the threshold with a certificate used before, no code is asked', async () => {
    const buyer = await funded(200_000);
    await payOnceWithCode(buyer);
    const o = await order(buyer, cheap);
    const opened = await requestCommand(t, buyer, o.id);
    expect(opened.command.verification).toEqual({ codeRequired: false, codeId: null, policyRule: 'default' });
    expect((await buyer.client.get(`/api/payments/commands/${opened.comId}/code.png`)).json().code).toBe('PAYMENT_COMMAND_NOT_FOUND');
    const res = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened));
    expect(res.statusCode, res.body).toBe(200);
  });

  it('an additional certificate pays the same way, and its evidence carries the master that approved it', async () => {
    const buyer = await funded(100_000);
    // The phone asks, the master approves (docs/pki.md), the phone pays.
    const phone = await deviceKeys();
    const asked = await buyer.client.request('POST', '/api/certificates/requests', { nickname: 'phone', csrPem: phone.csrPem });
    expect(asked.statusCode, asked.body).toBe(201);
    const pending = (await buyer.client.get('/api/certificates/requests')).json().items[0];
    const text = approvalMessage({ requestId: pending.id, userId: buyer.client.userId, spkiSha256Hex: pending.spkiSha256Hex, nickname: pending.nickname, code: pending.code, expiresAtMs: pending.expiresAtMs });
    const signature = Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, buyer.keys.privateKey, Buffer.from(text))).toString('base64url');
    const approved = await buyer.client.request('POST', `/api/certificates/requests/${pending.id}/approve`, { masterCertificateId: buyer.certificateId, signature });
    expect(approved.statusCode, approved.body).toBe(200);
    const holder: Holder = { client: buyer.client, certificateId: approved.json().issued.certificate.id, keys: phone.keys, certificatePem: approved.json().issued.certificatePem };
    const o = await order(holder, cheap);
    const opened = await requestCommand(t, holder, o.id);
    expect(opened.command.certificateId).toBe(holder.certificateId);
    const res = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: await codeOf(t, opened.comId) }));
    expect(res.statusCode, res.body).toBe(200);
    const evidence = await holder.client.get(`/api/orders/${o.id}/evidence.p7s`);
    const verdict = (await t.app.inject({ method: 'POST', url: '/api/evidence/verify', payload: { cmsBase64: evidence.rawPayload.toString('base64') } })).json();
    expect(verdict).toMatchObject({ valid: true, signer: { kind: 'additional' } });
  });

  describe('refusals (no money moves)', () => {
    it('a tampered REQ (signed, then changed) → PAYMENT_AUTHORIZATION_FAILED; another payer → PAYMENT_REQUEST_INVALID', async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const other = await order(buyer, cheap);
      const tampered = await sealedRequest(t, buyer, o.id, { edit: (r) => ({ ...r, orderId: other.id }) });
      expect((await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: tampered.sealed, locale: 'ko' })).json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
      const alien = await sealedRequest(t, buyer, o.id, { edit: (r) => ({ ...r, payerUserId: seller.userId }) });
      expect((await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: alien.sealed, locale: 'ko' })).json().code).toBe('PAYMENT_REQUEST_INVALID');
      expect((await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: 'a.b.c.d.e'.replace(/[a-e]/g, 'x'.repeat(12)), locale: 'ko' })).json().code).toBe('PAYMENT_REQUEST_INVALID');
    });

    it('a REQ whose reply key is not 32 secret bytes → PAYMENT_REQUEST_INVALID, and no command is issued', async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const ecKey = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
      for (const replyKey of [ecKey, { kty: 'oct', k: Buffer.alloc(16, 7).toString('base64url') }, { kty: 'oct' }]) {
        const sent = await sealedRequest(t, buyer, o.id, { edit: (r) => ({ ...r, replyKey: replyKey as never }) });
        const res = await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: sent.sealed, locale: 'ko' });
        expect(res.json(), JSON.stringify(replyKey)).toMatchObject({ code: 'PAYMENT_REQUEST_INVALID', detail: 'The reply key is not a 256-bit symmetric key.' });
      }
      const issued = await t.app.internals.database.db.selectFrom('paymentCommands').select('comId').where('orderId', '=', o.id).execute();
      expect(issued).toEqual([]);
    });

    it('a replayed REQ → PAYMENT_REQUEST_REPLAYED', async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const opened = await requestCommand(t, buyer, o.id);
      const replay = await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: opened.sealedRequest, locale: 'ko' });
      expect(replay.json().code).toBe('PAYMENT_REQUEST_REPLAYED');
    });

    it('a tampered COM (amount, payee, items) → PAYMENT_AUTHORIZATION_FAILED', async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const opened = await requestCommand(t, buyer, o.id);
      const code = await codeOf(t, opened.comId);
      const before = await balance(buyer.client);
      for (const command of [
        { ...opened.command, amountWon: 1 },
        { ...opened.command, payee: { ...opened.command.payee, storeName: 'Mallory' } },
        { ...opened.command, items: [{ ...opened.command.items[0]!, quantity: 0 }] },
      ]) {
        const res = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code, command }));
        expect(res.json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
      }
      expect(await balance(buyer.client)).toBe(before);
    });

    it('the code is stored as a keyed digest: no column holds it or its picture; a wrong code fails, the right one pays, then both are erased', async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const opened = await requestCommand(t, buyer, o.id);
      const code = await codeOf(t, opened.comId);
      const stored = async () => t.app.internals.database.db.selectFrom('verificationCodes').selectAll().where('comId', '=', opened.comId).executeTakeFirstOrThrow();
      const values = Object.values(await stored()).map(String);
      expect(values.some((v) => v.toUpperCase().includes(code))).toBe(false);
      // No picture either (a PNG in base64 begins with these characters): it shows the code to whoever reads it.
      expect(values.some((v) => v.startsWith('iVBORw0KGgo'))).toBe(false);
      // The picture is still served, drawn from the sealed code.
      expect((await buyer.client.get(`/api/payments/commands/${opened.comId}/code.png`)).headers['content-type']).toBe('image/png');

      const wrong = code === 'AAAAAA' ? 'CCCCCC' : 'AAAAAA';
      expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: wrong }))).json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
      expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: code.toLowerCase() }))).statusCode).toBe(200);
      expect(await stored()).toMatchObject({ codeDigest: null, codeSealed: null, tries: 2 });
    });

    it('a signature by another key, a wrong code, an expired command → refused; the right code still works within its tries', async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const opened = await requestCommand(t, buyer, o.id);
      const code = await codeOf(t, opened.comId);
      const otherKey = (await deviceKeys()).keys.privateKey;
      expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code, signer: otherKey }))).json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
      const wrong = code === 'AAAAAA' ? 'CCCCCC' : 'AAAAAA';
      expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: wrong }))).json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
      expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }))).statusCode).toBe(200);

      const o2 = await order(buyer, cheap);
      const late = await requestCommand(t, buyer, o2.id);
      t.clock.advance(COMMAND_TTL_MS + 1);
      try {
        expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, late))).json().code).toBe('PAYMENT_COMMAND_EXPIRED');
      } finally {
        t.clock.advance(-(COMMAND_TTL_MS + 1));
      }
    });

    it(`${PAYMENT_FAILURES_MAX} consecutive failures lock payments for 15 minutes, without saying which factor failed`, async () => {
      const buyer = await funded(100_000);
      const o = await order(buyer, cheap);
      const opened = await requestCommand(t, buyer, o.id);
      const codes: string[] = [];
      for (let i = 0; i < PAYMENT_FAILURES_MAX; i++) {
        const res = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: 'WWWWWW' }));
        codes.push(res.json().code);
      }
      expect(codes).toEqual([...Array(PAYMENT_FAILURES_MAX - 1).fill('PAYMENT_AUTHORIZATION_FAILED'), 'PAYMENT_LOCKED']);
      // Even the right code is refused while locked (the sixth try).
      const right = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: await codeOf(t, opened.comId) }));
      expect(right.json().code).toBe('PAYMENT_LOCKED');
      expect((await buyer.client.get(`/api/orders/${o.id}`)).json().status).toBe('awaiting_payment');
      // Let the lock pass in steps, keeping the session alive (its idle timeout is also 15 minutes).
      for (let i = 0; i < 4; i++) {
        t.clock.advance(PAYMENT_LOCK_MS / 4 + 1);
        expect((await buyer.client.get('/api/me')).statusCode).toBe(200);
      }
      try {
        const fresh = await order(buyer, cheap);
        expect((await requestCommand(t, buyer, fresh.id)).comId).toBeTruthy();
      } finally {
        t.clock.advance(-(PAYMENT_LOCK_MS + 4));
      }
    });

    it('another user’s certificate, a revoked certificate, an order of someone else → refused with their codes', async () => {
      const alice = await funded(100_000);
      const bob = await funded(100_000);
      const o = await order(alice, cheap);
      const withBobsCert = await sealedRequest(t, alice, o.id, { certificateId: bob.certificateId });
      expect((await alice.client.request('POST', '/api/payments/requests', { sealedRequest: withBobsCert.sealed, locale: 'ko' })).json().code).toBe('CERTIFICATE_NOT_OWNED');
      const bobsOrder = await sealedRequest(t, bob, o.id);
      expect((await bob.client.request('POST', '/api/payments/requests', { sealedRequest: bobsOrder.sealed, locale: 'ko' })).json().code).toBe('ORDER_NOT_FOUND');
      const opened = await requestCommand(t, alice, o.id);
      expect((await alice.client.request('POST', `/api/certificates/${alice.certificateId}/revoke`, { reason: 'keyCompromise' })).statusCode).toBe(200);
      const res = await alice.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, alice, opened, { code: await codeOf(t, opened.comId) }));
      expect(res.json().code).toBe('CERTIFICATE_REVOKED');
      expect((await alice.client.request('POST', '/api/payments/requests', { sealedRequest: (await sealedRequest(t, alice, o.id)).sealed, locale: 'ko' })).json().code).toBe('CERTIFICATE_REVOKED');
    });

    it('an expired certificate → CERTIFICATE_EXPIRED, even with a fresh login', async () => {
      const short = await startTestApp({ env: { CERT_VALIDITY_DAYS: '1' } });
      try {
        const shopSeller = await newClient(short, 'seller');
        const item = (await shopSeller.request('POST', '/api/seller/products', { name: '우유', category: 'food', description: '', priceWon: 3_000, stock: 10 })).json().id;
        const holder = await buyerWithCertificate(short);
        await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 10_000 });
        const loginId = (await holder.client.get('/api/me')).json().user.loginId as string;
        short.clock.advance(25 * 3_600_000);
        const again: Holder = { ...holder, client: await SignedClient.login(short, loginId) };
        const o = (await again.client.request('POST', '/api/orders', { source: 'product', productId: item, quantity: 1 })).json();
        const sealed = await sealedRequest(short, again, o.id);
        expect((await again.client.request('POST', '/api/payments/requests', { sealedRequest: sealed.sealed, locale: 'ko' })).json().code).toBe('CERTIFICATE_EXPIRED');
      } finally {
        await short.close();
      }
    });
  });
});
