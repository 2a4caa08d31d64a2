/** Registration, login and logout. */
import { importSecretToken, nonceFromBytes, verifyServerAssertion } from '@coconutpay/core/protocol';
import { ApiError, authed, get, post } from './client.js';
import { toBase64Url } from '@coconutpay/core/encoding';
import { allPemBlocks } from '@coconutpay/core/pki/pem';
import type { CertificateLoginProof, LoginChallenge } from '@coconutpay/core/pki/possession-proof';
import { seal, unseal } from '@coconutpay/core/payment';
import {
  continueCertificateLogin, NotGenuineServer, PIN_VERIFIER_ITERATIONS, pinVerifierSalt, startCertificateLogin, verifyAuthServerKey,
  type AuthServerKey, type LoginConfirm, type SignedLoginMessage,
} from '@coconutpay/core/protocol/certificate-login';
import { clearSession, saveSession } from './token-store.js';
import type { LoginResponse, Role, Store, User } from './types.js';

/** What the registration form sends; `store` only for sellers. */
export interface RegisterInput {
  role: Exclude<Role, 'admin'>;
  loginId: string;
  password: string;
  name: string;
  phone: string;
  address: string;
  email: string;
  store?: Store;
}

/** Creates an account. It does not log in. */
export async function register(input: RegisterInput): Promise<User> {
  const { user } = await post<{ user: User }>('/api/auth/register', input);
  return user;
}

/**
 * Logs in and stores the session. The secret token is imported straight into a
 * non-extractable key and the string itself goes out of scope here; only the key
 * and the public token are kept (in IndexedDB).
 */
/** Our root certificate (the last of /pki/ca.pem), the anchor of the server's login assertion. */
async function rootCertificate(): Promise<Uint8Array> {
  const response = await fetch('/pki/ca.pem', { headers: { accept: 'application/pem-certificate-chain' } });
  const root = response.ok ? allPemBlocks(await response.text(), 'CERTIFICATE').at(-1) : undefined;
  if (!root) throw new ApiError({ status: 0, code: 'SERVER_AUTHENTICATION_FAILED', title: 'The server could not prove its identity', detail: 'no root certificate' });
  return root;
}

/** A single-use challenge for `loginId`, to be signed with a certificate key of this device (see login's `certificateProof`). */
export function createLoginChallenge(loginId: string): Promise<LoginChallenge> {
  return post<LoginChallenge>('/api/auth/login-challenges', { loginId });
}

/**
 * `certificateProof` (this device holds one of the account's certificates) lets the
 * login pass a lock of the account that someone else's failed guesses caused.
 */
export async function login(loginId: string, password: string, certificateProof?: CertificateLoginProof): Promise<User> {
  const clientNonce = nonceFromBytes(crypto.getRandomValues(new Uint8Array(16)));
  const response = await post<LoginResponse>('/api/auth/login', { loginId, password, clientNonce, ...(certificateProof ? { certificateProof } : {}) });
  // Mutual authentication: the server (S) must sign our nonce with this session's token
  // under a certificate of our root before anything is kept.
  const check = await verifyServerAssertion(response.serverAssertion, [await rootCertificate()], new Date(), { clientNonce, publicToken: response.publicToken });
  if (!check.ok) throw new ApiError({ status: 0, code: 'SERVER_AUTHENTICATION_FAILED', title: 'The server could not prove its identity', detail: check.reason });
  await keepSession(response);
  return response.user;
}

/** Keeps a new session: the secret token goes straight into a non-extractable key. */
async function keepSession(response: LoginResponse): Promise<void> {
  const secretKey = await importSecretToken(response.secretToken);
  await saveSession({
    publicToken: response.publicToken,
    secretKey,
    sessionId: response.sessionId,
    expiresAtMs: response.expiresAtMs,
    idleTimeoutMs: response.idleTimeoutMs,
    user: response.user,
  });
}

/**
 * Certificate login (docs/protocol.md, "Certificate login"), the browser's end: S's key is
 * checked against our root before anything is sealed to it; message (2) must be S's and
 * answer this very login, or nothing more is sent (NotGenuineServer); the session that
 * comes back is kept only after S's assertion over it verified too.
 */
export async function loginWithCertificate(input: { loginId: string; certificateId: string; password: string; signingKey: CryptoKey }): Promise<User> {
  const root = await rootCertificate();
  const serverKey = await get<AuthServerKey>('/api/auth/certificate-login/server-key');
  const checked = await verifyAuthServerKey(serverKey, [root], new Date());
  if (!checked.ok) throw new NotGenuineServer(checked.reason);
  const serverAgreementKey = await crypto.subtle.importKey('jwk', { ...checked.value, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const { sealedHello, state } = await startCertificateLogin({
    loginId: input.loginId, certificateId: input.certificateId, password: input.password,
    verifier: { salt: toBase64Url(await pinVerifierSalt(input.certificateId)), iterations: PIN_VERIFIER_ITERATIONS },
    signingKey: input.signingKey, serverAgreementKey, nowMs: Date.now(), random, seal,
  });
  const two = await post<{ handshakeId: string; sealedChallenge: string }>('/api/auth/certificate-login/hello', { sealedHello });
  const confirm: SignedLoginMessage<LoginConfirm> = await continueCertificateLogin({ state, sealedChallenge: two.sealedChallenge, trustAnchors: [root], nowMs: Date.now(), signingKey: input.signingKey, unseal });
  const response = await post<LoginResponse>('/api/auth/certificate-login/confirm', { loginId: input.loginId, confirm });
  const assertion = await verifyServerAssertion(response.serverAssertion, [root], new Date(), { clientNonce: state.hello.nc, publicToken: response.publicToken });
  if (!assertion.ok) throw new NotGenuineServer(assertion.reason);
  await keepSession(response);
  return response.user;
}

/** Ends the session on the server (when possible) and forgets it here in any case. */
export async function logout(): Promise<void> {
  try {
    await authed.post<void>('/api/auth/logout');
  } finally {
    await clearSession();
  }
}
