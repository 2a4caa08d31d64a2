/**
 * A locked account's own device gets in: a login that carries a signature over a login
 * challenge, made with the key of one of the account's active certificates, passes the
 * per-account lock (issue 10, item 6). Everything else stays locked, each with its own
 * stable code: a revoked certificate, another user's certificate, a bad signature, a
 * challenge used twice or issued for another id. The password and the address limit
 * still apply. On every engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginProofMessage } from '@coconutpay/core/pki/possession-proof';
import { x509 } from '../src/services/pki/x509.js';
import { GOOD_PASSWORD, SignedClient, buyerRegistration, enginesUnderTest, startTestApp, type TestApp } from './helpers.js';

let addressCounter = 0;
/** A client address no other test uses (TEST-NET-2). */
function freshAddress(): string {
  addressCounter += 1;
  return `198.51.100.${addressCounter}`;
}

async function sign(key: CryptoKey, text: string): Promise<string> {
  return Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(text, 'utf8'))).toString('base64url');
}

interface Holder {
  loginId: string;
  client: SignedClient;
  certificateId: string;
  key: CryptoKey;
}

describe.each(enginesUnderTest())('login with a certificate proof on $engine', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ engine });
  });
  afterAll(async () => t?.close());

  const login = (payload: Record<string, unknown>, remoteAddress = freshAddress()) =>
    t.app.inject({ method: 'POST', url: '/api/auth/login', payload, remoteAddress });

  /** A registered buyer with a master certificate whose key this "device" holds. */
  async function holder(): Promise<Holder> {
    const registration = buyerRegistration();
    expect((await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration })).statusCode).toBe(201);
    const client = await SignedClient.login(t, registration.loginId);
    const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=device', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
    const issued = await client.request('POST', '/api/certificates/master', { csrPem: csr.toString('pem') });
    expect(issued.statusCode, issued.body).toBe(201);
    return { loginId: registration.loginId, client, certificateId: issued.json().certificate.id, key: keys.privateKey };
  }

  /** Five wrong passwords: the id is locked for 15 minutes. */
  async function lock(loginId: string): Promise<void> {
    const from = freshAddress();
    for (let i = 0; i < 5; i++) expect((await login({ loginId, password: 'wrong password!' }, from)).json().code).toBe('LOGIN_FAILED');
    expect((await login({ loginId, password: GOOD_PASSWORD })).json().code).toBe('LOGIN_THROTTLED');
  }

  async function challengeFor(loginId: string): Promise<{ challengeId: string; challenge: string; expiresAtMs: number }> {
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/login-challenges', payload: { loginId } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }

  /** A proof for `loginId` by `signer`'s key, naming `certificateId`. */
  async function proofFor(loginId: string, certificateId: string, key: CryptoKey, challenge?: { challengeId: string; challenge: string }) {
    const ch = challenge ?? (await challengeFor(loginId));
    return { certificateId, challengeId: ch.challengeId, signature: await sign(key, loginProofMessage(ch, loginId)) };
  }

  it('lets a locked account in from a device holding its certificate, and the lock is lifted', async () => {
    const h = await holder();
    await lock(h.loginId);
    const res = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: await proofFor(h.loginId, h.certificateId, h.key) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().user.loginId).toBe(h.loginId);
    // The owner's success clears the lock, as any success does.
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD })).statusCode).toBe(200);
  });

  it('still checks the password, and a wrong one neither lifts nor extends the lock', async () => {
    const h = await holder();
    await lock(h.loginId);
    const wrong = await login({ loginId: h.loginId, password: 'wrong password!', certificateProof: await proofFor(h.loginId, h.certificateId, h.key) });
    expect(wrong.json().code).toBe('LOGIN_FAILED');
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD })).json().code).toBe('LOGIN_THROTTLED');
    const lockedUntilMs = await t.app.internals.accounts['deps'].throttles.lockedUntil(h.loginId, t.clock.nowMs);
    expect(lockedUntilMs).toBe(t.clock.nowMs + t.config.loginLockMs);
  });

  it('stays locked with a revoked certificate (CERTIFICATE_REVOKED)', async () => {
    const h = await holder();
    const revoked = await h.client.request('POST', `/api/certificates/${h.certificateId}/revoke`, { reason: 'keyCompromise' });
    expect(revoked.statusCode, revoked.body).toBe(200);
    await lock(h.loginId);
    const res = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: await proofFor(h.loginId, h.certificateId, h.key) });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('CERTIFICATE_REVOKED');
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD })).json().code).toBe('LOGIN_THROTTLED');
  });

  it("stays locked with another user's certificate and key (CERTIFICATE_NOT_OWNED), for an id that exists or not", async () => {
    const victim = await holder();
    const other = await holder();
    await lock(victim.loginId);
    const res = await login({ loginId: victim.loginId, password: GOOD_PASSWORD, certificateProof: await proofFor(victim.loginId, other.certificateId, other.key) });
    expect(res.json().code).toBe('CERTIFICATE_NOT_OWNED');
    const ghost = `ghost${Date.now().toString(36)}`;
    await lock(ghost);
    expect((await login({ loginId: ghost, password: GOOD_PASSWORD, certificateProof: await proofFor(ghost, other.certificateId, other.key) })).json().code).toBe('CERTIFICATE_NOT_OWNED');
    expect((await login({ loginId: victim.loginId, password: GOOD_PASSWORD })).json().code).toBe('LOGIN_THROTTLED');
  });

  it('stays locked with a signature by another key, or over another text (SIGNATURE_INVALID)', async () => {
    const h = await holder();
    const other = await holder();
    await lock(h.loginId);
    const byOtherKey = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: await proofFor(h.loginId, h.certificateId, other.key) });
    expect(byOtherKey.statusCode).toBe(400);
    expect(byOtherKey.json().code).toBe('SIGNATURE_INVALID');
    const ch = await challengeFor(h.loginId);
    const certificateTest = await sign(h.key, `coconutpay-certificate-test\n${ch.challengeId}\n${ch.challenge}`);
    const wrongText = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: { certificateId: h.certificateId, challengeId: ch.challengeId, signature: certificateTest } });
    expect(wrongText.json().code).toBe('SIGNATURE_INVALID');
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD })).json().code).toBe('LOGIN_THROTTLED');
  });

  it('stays locked when a challenge is used twice, issued for another id, or expired (CHALLENGE_INVALID)', async () => {
    const h = await holder();
    await lock(h.loginId);
    const proof = await proofFor(h.loginId, h.certificateId, h.key);
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: proof })).statusCode).toBe(200);
    await lock(h.loginId);
    const reused = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: proof });
    expect(reused.statusCode).toBe(400);
    expect(reused.json().code).toBe('CHALLENGE_INVALID');

    const forOther = await challengeFor('someone-else');
    const crossed = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: await proofFor(h.loginId, h.certificateId, h.key, forOther) });
    expect(crossed.json().code).toBe('CHALLENGE_INVALID');

    const late = await proofFor(h.loginId, h.certificateId, h.key);
    t.clock.advance(2 * 60_000);
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: late })).json().code).toBe('CHALLENGE_INVALID');
    t.clock.advance(-2 * 60_000);
    expect((await login({ loginId: h.loginId, password: GOOD_PASSWORD })).json().code).toBe('LOGIN_THROTTLED');
  });

  it('does not pass the address limit', async () => {
    const h = await holder();
    await lock(h.loginId);
    const sprayer = freshAddress();
    for (let i = 0; i < t.config.loginAddressFailuresMax; i++) await login({ loginId: `spray${i}x${addressCounter}`, password: 'wrong password!' }, sprayer);
    const res = await login({ loginId: h.loginId, password: GOOD_PASSWORD, certificateProof: await proofFor(h.loginId, h.certificateId, h.key) }, sprayer);
    expect(res.json().code).toBe('LOGIN_ADDRESS_THROTTLED');
  });

  it('hands out challenges for any id, existing or not, each different', async () => {
    const a = await challengeFor(`nobody${Date.now().toString(36)}`);
    const b = await challengeFor(`nobody${Date.now().toString(36)}`);
    expect(a.challengeId).not.toBe(b.challengeId);
    expect(a.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.expiresAtMs).toBe(t.clock.nowMs + 2 * 60_000);
  });
});
