/** Registration, login and logout. */
import { importSecretToken } from '@coconutpay/core/protocol';
import { authed, post } from './client.js';
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
export async function login(loginId: string, password: string): Promise<User> {
  const response = await post<LoginResponse>('/api/auth/login', { loginId, password });
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
