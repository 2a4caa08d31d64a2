/**
 * Who is logged in. The store holds only the user as the server last reported
 * it; the credentials themselves stay in the token store (IndexedDB).
 */
import type { CertificateLoginProof } from '@coconutpay/core/pki/possession-proof';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import * as authApi from '../api/auth.js';
import { getMe } from '../api/me.js';
import { clearSession, loadSession, updateStoredUser } from '../api/token-store.js';
import type { RegisterInput } from '../api/auth.js';
import type { User } from '../api/types.js';

/** The session store. */
export const useSessionStore = defineStore('session', () => {
  const user = ref<User | null>(null);
  /** True once the stored session has been looked at after page load. */
  const ready = ref(false);
  let restoring: Promise<void> | undefined;

  const isLoggedIn = computed(() => user.value !== null);
  const isBuyer = computed(() => user.value?.role === 'buyer');
  const isSeller = computed(() => user.value?.role === 'seller');

  /** Picks up a session stored by an earlier visit; an expired one is dropped unseen. */
  function restore(): Promise<void> {
    restoring ??= (async () => {
      const stored = await loadSession();
      if (stored && stored.expiresAtMs > Date.now()) user.value = stored.user;
      else if (stored) await clearSession();
      ready.value = true;
    })();
    return restoring;
  }

  /** Logs in; the token store keeps the credentials. */
  async function login(loginId: string, password: string, certificateProof?: CertificateLoginProof): Promise<User> {
    const loggedIn = await authApi.login(loginId, password, certificateProof);
    user.value = loggedIn;
    return loggedIn;
  }

  /** Certificate login (the four messages of docs/protocol.md); the token store keeps the credentials. */
  async function loginWithCertificate(input: { loginId: string; certificateId: string; password: string; signingKey: CryptoKey }): Promise<User> {
    const loggedIn = await authApi.loginWithCertificate(input);
    user.value = loggedIn;
    return loggedIn;
  }

  /** Creates an account and logs into it with the same credentials. */
  async function register(input: RegisterInput): Promise<User> {
    await authApi.register(input);
    return login(input.loginId, input.password);
  }

  /** Logs out on the server and here; local state is cleared even if the server call fails. */
  async function logout(): Promise<void> {
    try {
      await authApi.logout();
    } catch {
      // The session may already be over on the server; forgetting it here is what matters.
    } finally {
      user.value = null;
    }
  }

  /** Forgets the user after the server ended the session (the token is already cleared). */
  function ended(): void {
    user.value = null;
  }

  /** Refreshes the user from the server and returns the account page data. */
  async function refresh(): Promise<Awaited<ReturnType<typeof getMe>>> {
    const me = await getMe();
    user.value = me.user;
    await updateStoredUser(me.user);
    return me;
  }

  return { user, ready, isLoggedIn, isBuyer, isSeller, restore, login, loginWithCertificate, register, logout, ended, refresh };
});
