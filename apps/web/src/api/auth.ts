/** Registration, login and logout. */
import { importSecretToken, nonceFromBytes, verifyServerAssertion } from '@coconutpay/core/protocol';
import { ApiError, authed, post } from './client.js';
import { allPemBlocks } from '@coconutpay/core/pki/pem';
import type { CertificateLoginProof, LoginChallenge } from '@coconutpay/core/pki/possession-proof';
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
  const secretKey = await importSecretToken(response.secretToken);
  await saveSession({
    publicToken: response.publicToken,
    secretKey,
    sessionId: response.sessionId,
    expiresAtMs: response.expiresAtMs,
    idleTimeoutMs: response.idleTimeoutMs,
    user: response.user,
  });
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
