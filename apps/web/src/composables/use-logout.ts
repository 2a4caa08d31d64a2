import { ref } from 'vue';
import { useRouter } from 'vue-router';
import { useCartStore } from '../stores/cart.js';
import { useSessionStore } from '../stores/session.js';

/**
 * Logging out from anywhere: ends the session on the server, forgets the local
 * session and cart, and shows the login page with a "logged out" note.
 */
export function useLogout() {
  const router = useRouter();
  const session = useSessionStore();
  const cartStore = useCartStore();
  const loggingOut = ref(false);

  async function logout(): Promise<void> {
    loggingOut.value = true;
    try {
      await session.logout();
      cartStore.reset();
      await router.push({ name: 'login', query: { loggedOut: '1' } });
    } finally {
      loggingOut.value = false;
    }
  }

  return { loggingOut, logout };
}
