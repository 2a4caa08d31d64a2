/**
 * An operator's session as the console gets one, for tests: certificate login with the
 * operator's certificate and PIN, then the account password again (docs/admin.md).
 */
import { expect } from 'vitest';
import { importSecretToken } from '@coconutpay/core/protocol';
import { seal, unseal } from '@coconutpay/core/payment';
import { continueCertificateLogin, pinVerifierOf, pinVerifierSalt, PIN_VERIFIER_ITERATIONS, startCertificateLogin, verifyAuthServerKey } from '@coconutpay/core/protocol/certificate-login';
import { SignedClient, type TestApp } from './helpers.js';
import { buyerWithCertificate, rootDer, type Holder } from './payment-client.js';

export const OPERATOR_PIN = '운영자 인증서 비밀번호';
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** Signs in by certificate login with `holder`'s certificate, as the browser does; answers the raw response. */
export async function certificateLogin(t: TestApp, holder: Holder, loginId: string) {
  const verifier = await pinVerifierOf(OPERATOR_PIN, await pinVerifierSalt(holder.certificateId), PIN_VERIFIER_ITERATIONS);
  const enabled = await holder.client.request('PUT', `/api/certificates/${holder.certificateId}/login-verifier`, verifier);
  expect(enabled.statusCode, enabled.body).toBe(204);
  const published = (await t.app.inject({ method: 'GET', url: '/api/auth/certificate-login/server-key' })).json();
  const checked = await verifyAuthServerKey(published, [rootDer(t)], new Date(t.clock.nowMs));
  if (!checked.ok) throw new Error(checked.reason);
  const serverAgreementKey = await crypto.subtle.importKey('jwk', { ...checked.value, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
  const { sealedHello, state } = await startCertificateLogin({
    loginId, certificateId: holder.certificateId, password: OPERATOR_PIN, verifier, signingKey: holder.keys.privateKey, serverAgreementKey, nowMs: t.clock.nowMs, random, seal,
  });
  const hello = await t.app.inject({ method: 'POST', url: '/api/auth/certificate-login/hello', payload: { sealedHello } });
  if (hello.statusCode !== 200) return hello;
  const confirm = await continueCertificateLogin({ state, sealedChallenge: hello.json().sealedChallenge, trustAnchors: [rootDer(t)], nowMs: t.clock.nowMs, signingKey: holder.keys.privateKey, unseal });
  return t.app.inject({ method: 'POST', url: '/api/auth/certificate-login/confirm', payload: { loginId, confirm } });
}

/** The client of a login answer. */
export async function clientOf(t: TestApp, body: { publicToken: string; secretToken: string; user: { id: string }; sessionId: string }): Promise<SignedClient> {
  return new SignedClient(t, body.publicToken, await importSecretToken(body.secretToken), body.user.id, body.sessionId);
}

/** A fully logged-in operator, and a way to log in again after the 5-minute idle timeout (a test that moves the clock). */
export interface Operator {
  client: SignedClient;
  login(): Promise<SignedClient>;
}

/** Creates operator `loginId` (the CLI's path), replaces its one-time password, enrols a certificate and logs in. */
export async function newOperator(t: TestApp, loginId: string, password = 'operator password 2026'): Promise<Operator> {
  const { oneTimePassword } = await t.app.internals.accounts.createAdmin(loginId);
  const first = await SignedClient.login(t, loginId, oneTimePassword);
  expect((await first.request('POST', '/api/me/password', { currentPassword: oneTimePassword, newPassword: password })).statusCode).toBe(204);
  const holder = await buyerWithCertificate(t, await SignedClient.login(t, loginId, password));
  const login = async () => {
    const withPassword = await SignedClient.login(t, loginId, password);
    const session = await certificateLogin(t, { ...holder, client: withPassword }, loginId);
    expect(session.statusCode, session.body).toBe(200);
    const client = await clientOf(t, session.json());
    expect((await client.request('POST', '/admin/api/session/confirm', { password })).statusCode).toBe(204);
    operator.client = client;
    return client;
  };
  const operator: Operator = { client: undefined as unknown as SignedClient, login };
  await login();
  return operator;
}
