/**
 * Mutual authentication at login: S signs the browser's nonce with the new session;
 * the browser's check (core) accepts exactly that and nothing else. S's and A's
 * certificates are ordinary certificates of our CA, which OpenSSL verifies.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyServerAssertion } from '@coconutpay/core/protocol';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { EKU } from '@coconutpay/core/pki/oids';
import { buyerRegistration, startTestApp, type TestApp } from './helpers.js';

describe('server assertion (S) at login', () => {
  let t: TestApp;
  let loginId: string;
  const nonce = 'bm9uY2Utb2YtdGhlLWJyb3dzZXI';

  beforeAll(async () => {
    t = await startTestApp();
    const registration = buyerRegistration();
    loginId = registration.loginId;
    expect((await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration })).statusCode).toBe(201);
  });
  afterAll(async () => t.close());

  const root = () => [new Uint8Array(t.app.internals.ca.root.certificate.rawData)];
  const login = async (clientNonce?: string) =>
    (await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password: 'correct horse battery', ...(clientNonce ? { clientNonce } : {}) } })).json();

  it('signs this login’s nonce and token; the browser’s check accepts it', async () => {
    const body = await login(nonce);
    const check = await verifyServerAssertion(body.serverAssertion, root(), new Date(t.clock.nowMs), { clientNonce: nonce, publicToken: body.publicToken });
    expect(check).toMatchObject({ ok: true, assertion: { sessionId: body.sessionId, userId: body.user.id } });
  });

  it('refuses another nonce, another session’s token, a tampered assertion, a stale one, and a foreign root', async () => {
    const body = await login(nonce);
    const other = await login(`${nonce}xx`);
    const at = new Date(t.clock.nowMs);
    expect(await verifyServerAssertion(body.serverAssertion, root(), at, { clientNonce: `${nonce}zz`, publicToken: body.publicToken })).toMatchObject({ ok: false });
    expect(await verifyServerAssertion(body.serverAssertion, root(), at, { clientNonce: nonce, publicToken: other.publicToken })).toMatchObject({ ok: false });
    const [h, p, s] = body.serverAssertion.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, userId: 'someone-else' })).toString('base64url')}.${s}`;
    expect(await verifyServerAssertion(forged, root(), at, { clientNonce: nonce, publicToken: body.publicToken })).toMatchObject({ ok: false });
    expect(await verifyServerAssertion(body.serverAssertion, root(), new Date(t.clock.nowMs + 10 * 60_000), { clientNonce: nonce, publicToken: body.publicToken })).toMatchObject({ ok: false });
    expect(await verifyServerAssertion(body.serverAssertion, [new Uint8Array(32)], at, { clientNonce: nonce, publicToken: body.publicToken })).toMatchObject({ ok: false });
  });

  it('S and A hold distinct keys with their own usages, and OpenSSL verifies both certificates strictly', () => {
    const { auth, payment } = t.app.internals.roles;
    expect(Buffer.from(auth.certificate.publicKey.rawData).equals(Buffer.from(payment.certificate.publicKey.rawData))).toBe(false);
    expect(parseCertificate(auth.x5c[0]!).extendedKeyUsage).toEqual([EKU.sessionAuthority]);
    expect(parseCertificate(payment.x5c[0]!).extendedKeyUsage).toEqual([EKU.commandIssuing]);
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-roles-'));
    const f = (name: string, text: string) => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const rootFile = f('root.pem', t.app.internals.ca.root.certificate.toString('pem'));
    const issuingFile = f('issuing.pem', t.app.internals.ca.issuing.certificate.toString('pem'));
    for (const [name, identity] of [['s.pem', auth], ['a.pem', payment]] as const) {
      const out = execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', rootFile, '-untrusted', issuingFile, f(name, identity.certificate.toString('pem'))], { encoding: 'utf8' });
      expect(out).toContain(': OK');
    }
  });
});
