/**
 * Certificate login over the API, on every engine: a device with an additional certificate
 * logs in with it (the four messages of seed 004 §3.2), and the session it gets pays only
 * with that certificate (or the account's master); replays, a wrong password, a revoked
 * certificate and a certificate without a registered verifier are refused, and failures
 * count toward the account's login lock.
 */
import { describe, expect, it } from 'vitest';
import { approvalMessage } from '@coconutpay/core/pki/master-approval';
import { importSecretToken } from '@coconutpay/core/protocol';
import { seal, unseal } from '@coconutpay/core/payment';
import {
  continueCertificateLogin, pinVerifierOf, pinVerifierSalt, PIN_VERIFIER_ITERATIONS, startCertificateLogin, verifyAuthServerKey, type PinVerifier,
} from '@coconutpay/core/protocol/certificate-login';
import { enginesUnderTest, newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, deviceKeys, requestCommand, rootDer, sealedRequest, type Holder } from './payment-client.js';

const PASSWORD = '추가 인증서 비밀번호';
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('certificate login on %s', (_name, engine) => {
  /** A buyer with a master certificate, and an approved additional certificate on a second device. */
  async function buyerWithPhone(t: TestApp): Promise<{ master: Holder; phone: Holder; loginId: string }> {
    const master = await buyerWithCertificate(t);
    const keys = await deviceKeys();
    expect((await master.client.request('POST', '/api/certificates/requests', { nickname: 'phone', csrPem: keys.csrPem })).statusCode).toBe(201);
    const pending = (await master.client.get('/api/certificates/requests')).json().items[0];
    const text = approvalMessage({ requestId: pending.id, userId: master.client.userId, spkiSha256Hex: pending.spkiSha256Hex, nickname: pending.nickname, code: pending.code, expiresAtMs: pending.expiresAtMs });
    const signature = Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, master.keys.privateKey, Buffer.from(text))).toString('base64url');
    const approved = await master.client.request('POST', `/api/certificates/requests/${pending.id}/approve`, { masterCertificateId: master.certificateId, signature });
    expect(approved.statusCode, approved.body).toBe(200);
    const loginId = (await master.client.get('/api/me')).json().user.loginId as string;
    const phone: Holder = { client: master.client, certificateId: approved.json().issued.certificate.id, keys: keys.keys, certificatePem: approved.json().issued.certificatePem };
    return { master, phone, loginId };
  }

  async function enable(holder: Holder, password = PASSWORD): Promise<PinVerifier> {
    const verifier = await pinVerifierOf(password, await pinVerifierSalt(holder.certificateId), PIN_VERIFIER_ITERATIONS);
    const res = await holder.client.request('PUT', `/api/certificates/${holder.certificateId}/login-verifier`, verifier);
    expect(res.statusCode, res.body).toBe(204);
    return verifier;
  }

  /** The browser's side of the login, step by step; answers every message, for replaying. */
  async function login(t: TestApp, holder: Holder, loginId: string, verifier: PinVerifier, options: { password?: string; helloTimeMs?: number; helloFrom?: string; confirmFrom?: string } = {}) {
    const published = (await t.app.inject({ method: 'GET', url: '/api/auth/certificate-login/server-key' })).json();
    const checked = await verifyAuthServerKey(published, [rootDer(t)], new Date(t.clock.nowMs));
    if (!checked.ok) throw new Error(checked.reason);
    const serverAgreementKey = await crypto.subtle.importKey('jwk', { ...checked.value, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
    const { sealedHello, state } = await startCertificateLogin({
      loginId, certificateId: holder.certificateId, password: options.password ?? PASSWORD, verifier, signingKey: holder.keys.privateKey,
      serverAgreementKey, nowMs: options.helloTimeMs ?? t.clock.nowMs, random, seal,
    });
    const hello = await t.app.inject({ method: 'POST', url: '/api/auth/certificate-login/hello', payload: { sealedHello }, ...(options.helloFrom ? { remoteAddress: options.helloFrom } : {}) });
    if (hello.statusCode !== 200) return { hello, sealedHello };
    const confirm = await continueCertificateLogin({ state, sealedChallenge: hello.json().sealedChallenge, trustAnchors: [rootDer(t)], nowMs: t.clock.nowMs, signingKey: holder.keys.privateKey, unseal });
    const session = await t.app.inject({ method: 'POST', url: '/api/auth/certificate-login/confirm', payload: { loginId, confirm }, ...(options.confirmFrom ? { remoteAddress: options.confirmFrom } : {}) });
    return { hello, sealedHello, confirm, session };
  }

  async function clientOf(t: TestApp, body: { publicToken: string; secretToken: string; user: { id: string }; sessionId: string }): Promise<SignedClient> {
    return new SignedClient(t, body.publicToken, await importSecretToken(body.secretToken), body.user.id, body.sessionId);
  }

  it('a second device logs in with its additional certificate; the session pays only with that certificate or the master', async () => {
    const t = await startTestApp({ engine });
    try {
      const { master, phone, loginId } = await buyerWithPhone(t);
      const verifier = await enable(phone);
      const { session } = await login(t, phone, loginId, verifier);
      expect(session!.statusCode, session!.body).toBe(200);
      const body = session!.json();
      expect(body.user.loginId).toBe(loginId);
      // The public token names the certificate the session is bound to.
      expect(JSON.parse(Buffer.from(body.publicToken.split('.')[1], 'base64url').toString()).cid).toBe(phone.certificateId);
      const device = await clientOf(t, body);
      expect((await device.get('/api/me')).statusCode).toBe(200);

      const seller = await newClient(t, 'seller');
      const productId = (await seller.request('POST', '/api/seller/products', { name: '사과', category: 'food', description: '', priceWon: 5_000, stock: 10 })).json().id;
      expect((await device.request('POST', '/api/me/wallet/top-ups', { amountWon: 50_000 })).statusCode).toBe(201);
      const order = (await device.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();

      // Another additional certificate of the same account: refused for this session.
      const other = await deviceKeys();
      expect((await master.client.request('POST', '/api/certificates/requests', { nickname: 'tablet', csrPem: other.csrPem })).statusCode).toBe(201);
      const pending = (await master.client.get('/api/certificates/requests')).json().items[0];
      const text = approvalMessage({ requestId: pending.id, userId: master.client.userId, spkiSha256Hex: pending.spkiSha256Hex, nickname: pending.nickname, code: pending.code, expiresAtMs: pending.expiresAtMs });
      const signature = Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, master.keys.privateKey, Buffer.from(text))).toString('base64url');
      const tablet = (await master.client.request('POST', `/api/certificates/requests/${pending.id}/approve`, { masterCertificateId: master.certificateId, signature })).json().issued;
      const tabletHolder: Holder = { client: device, certificateId: tablet.certificate.id, keys: other.keys, certificatePem: tablet.certificatePem };
      const { sealed } = await sealedRequest(t, tabletHolder, order.id);
      const refused = await device.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe('CERTIFICATE_NOT_BOUND_TO_SESSION');

      // Its own certificate pays.
      const own: Holder = { ...phone, client: device };
      const opened = await requestCommand(t, own, order.id);
      const paid = await device.request('POST', '/api/payments/authorizations', await authorizationBody(t, own, opened, { code: opened.codeRequired ? await codeOf(t, opened.comId) : null }));
      expect(paid.statusCode, paid.body).toBe(200);
      // The master may pay from it too.
      const order2 = (await device.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      expect((await requestCommand(t, { ...master, client: device }, order2.id)).comId).toBeTruthy();
    } finally {
      await t.close();
    }
  });

  it("a certificate-login session cannot take the account's other certificates over, and ends when its certificate is revoked", async () => {
    const t = await startTestApp({ engine });
    try {
      const { master, phone, loginId } = await buyerWithPhone(t);
      const verifier = await enable(phone);
      const { session } = await login(t, phone, loginId, verifier);
      const device = await clientOf(t, session!.json());
      // No new master from one device and its PIN; no revoking the master; no verifier for another certificate.
      const another = await deviceKeys();
      const mint = await device.request('POST', '/api/certificates/master', { csrPem: another.csrPem, replace: true });
      expect(mint.statusCode).toBe(403);
      expect(mint.json().code).toBe('CERTIFICATE_SESSION_RESTRICTED');
      expect((await device.request('POST', `/api/certificates/${master.certificateId}/revoke`, { reason: 'keyCompromise' })).json().code).toBe('CERTIFICATE_SESSION_RESTRICTED');
      const forMaster = await pinVerifierOf(PASSWORD, await pinVerifierSalt(master.certificateId), PIN_VERIFIER_ITERATIONS);
      expect((await device.request('PUT', `/api/certificates/${master.certificateId}/login-verifier`, forMaster)).json().code).toBe('CERTIFICATE_SESSION_RESTRICTED');
      // A verifier with another salt or cost is refused even for the session's own certificate.
      const cheap = await pinVerifierOf(PASSWORD, random(16), 1_000);
      expect((await device.request('PUT', `/api/certificates/${phone.certificateId}/login-verifier`, cheap)).json().code).toBe('VALIDATION_FAILED');
      // The master is still the active one.
      expect((await master.client.get('/api/certificates')).json().items.find((c: { id: string }) => c.id === master.certificateId).status).toBe('active');

      // A command asked for in one session is not authorized from another.
      const seller = await newClient(t, 'seller');
      const productId = (await seller.request('POST', '/api/seller/products', { name: '배', category: 'food', description: '', priceWon: 3_000, stock: 10 })).json().id;
      expect((await device.request('POST', '/api/me/wallet/top-ups', { amountWon: 10_000 })).statusCode).toBe(201);
      const order = (await device.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
      const own: Holder = { ...phone, client: device };
      const opened = await requestCommand(t, own, order.id);
      const body = await authorizationBody(t, own, opened, { code: opened.codeRequired ? await codeOf(t, opened.comId) : null });
      const elsewhere = await master.client.request('POST', '/api/payments/authorizations', body);
      expect(elsewhere.json().code).toBe('PAYMENT_COMMAND_NOT_FOUND');

      // The phone is lost: revoking its certificate ends its session at once.
      const certificates = t.app.internals.certificates;
      expect(await certificates.revoke(certificates.db, phone.certificateId, 'keyCompromise', t.clock.nowMs)).toBe(true);
      const after = await device.get('/api/me');
      expect(after.statusCode).toBe(401);
      expect(after.json().code).toBe('SESSION_REVOKED');
      // The password session of the master device goes on.
      expect((await master.client.get('/api/me')).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('a success gives its place back to the address its attempt was counted against at message (1), wherever message (3) comes from', async () => {
    const t = await startTestApp({ engine });
    try {
      const { phone, loginId } = await buyerWithPhone(t);
      const verifier = await enable(phone);
      const [helloFrom, confirmFrom] = ['203.0.113.7', '198.51.100.9'];
      const failuresAt = async (address: string) =>
        Number((await t.app.internals.database.db.selectFrom('loginAddressThrottles').select('failures').where('address', '=', address).executeTakeFirst())?.failures ?? 0);
      // A wrong password from the address message (3) will come from: one attempt counted there.
      const wrong = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password: 'wrong password!' }, remoteAddress: confirmFrom });
      expect(wrong.json().code).toBe('LOGIN_FAILED');
      expect(await failuresAt(confirmFrom)).toBe(1);

      const loggedIn = await login(t, phone, loginId, verifier, { helloFrom, confirmFrom });
      expect(loggedIn.session!.statusCode, loggedIn.session!.body).toBe(200);
      // Message (1) counted an attempt at its address; the success gave that one back, and the other address keeps its failure.
      expect(await failuresAt(helloFrom)).toBe(0);
      expect(await failuresAt(confirmFrom)).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('refuses replayed messages, a wrong password, a revoked certificate and one without a verifier; failures count toward the lock', async () => {
    const t = await startTestApp({ engine });
    try {
      const { master, phone, loginId } = await buyerWithPhone(t);
      // Not enabled yet.
      const notEnabled = await login(t, phone, loginId, await pinVerifierOf(PASSWORD, await pinVerifierSalt(phone.certificateId), PIN_VERIFIER_ITERATIONS));
      expect(notEnabled.hello.json().code).toBe('CERTIFICATE_LOGIN_NOT_ENABLED');
      const verifier = await enable(phone);

      const first = await login(t, phone, loginId, verifier);
      expect(first.session!.statusCode).toBe(200);
      // Message (1) again: a replay. Message (3) again: its handshake is used up.
      const replayedHello = await t.app.inject({ method: 'POST', url: '/api/auth/certificate-login/hello', payload: { sealedHello: first.sealedHello } });
      expect(replayedHello.statusCode).toBe(409);
      expect(replayedHello.json().code).toBe('CERTIFICATE_LOGIN_REPLAYED');
      const replayedConfirm = await t.app.inject({ method: 'POST', url: '/api/auth/certificate-login/confirm', payload: { loginId, confirm: first.confirm } });
      expect(replayedConfirm.statusCode).toBe(401);
      expect(replayedConfirm.json().code).toBe('CERTIFICATE_LOGIN_EXPIRED');
      // A message (1) from two minutes ago.
      const stale = await login(t, phone, loginId, verifier, { helloTimeMs: t.clock.nowMs - 120_000 });
      expect(stale.hello.json().code).toBe('CERTIFICATE_LOGIN_EXPIRED');

      // Wrong passwords count toward the account's lock, as wrong login passwords do.
      for (let i = 0; i < 4; i++) expect((await login(t, phone, loginId, verifier, { password: 'wrong password!' })).hello.json().code).toBe('CERTIFICATE_LOGIN_INVALID');
      const fifth = await login(t, phone, loginId, verifier, { password: 'wrong password!' });
      expect(fifth.hello.json().code).toBe('CERTIFICATE_LOGIN_INVALID');
      const locked = await login(t, phone, loginId, verifier);
      expect(locked.hello.statusCode).toBe(429);
      expect(locked.hello.json().code).toBe('LOGIN_THROTTLED');
      t.clock.advance(16 * 60_000);

      // Revoked: refused (the repository's revoke is what the master's signed revocation ends in).
      const certificates = t.app.internals.certificates;
      expect(await certificates.revoke(certificates.db, phone.certificateId, 'keyCompromise', t.clock.nowMs)).toBe(true);
      const afterRevoke = await login(t, phone, loginId, verifier);
      expect(afterRevoke.hello.json().code).toBe('CERTIFICATE_REVOKED');
    } finally {
      await t.close();
    }
  });
});
