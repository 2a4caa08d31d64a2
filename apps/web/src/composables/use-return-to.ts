/**
 * The `returnTo` query: where a detour (the certificate center, reached from an
 * order's pay page) sends the user back to once it has done its job. Only a path
 * of this app is accepted, so a crafted link cannot send anyone to another site.
 */
import { computed, type ComputedRef } from 'vue';
import { useRoute, useRouter } from 'vue-router';

/** Longest `returnTo` accepted; app paths are far shorter. */
export const RETURN_TO_LENGTH_MAX = 512;

/** The query parameter's name. */
export const RETURN_TO_QUERY = 'returnTo';

/**
 * `value` when it is a path of this app (`/orders/…/pay`, with an optional query),
 * else null: no scheme, no `//host` or `/\host` (which browsers treat as another
 * host), no backslashes, whitespace or control characters, no fragment.
 *
 * @example
 * sameAppPath('/orders/5f0c…/pay') // → '/orders/5f0c…/pay'
 * sameAppPath('//evil.example/x')  // → null
 */
export function sameAppPath(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > RETURN_TO_LENGTH_MAX) return null;
  if (!value.startsWith('/') || value.startsWith('//')) return null;
  // Backslashes, whitespace and control characters are how "a path" gets reinterpreted as a host by URL parsers.
  if (/[\\\s\u0000-\u001f\u007f#]/.test(value)) return null;
  const base = 'https://app.invalid';
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return null;
  }
  // Dot segments and encodings must not move the target: what is followed is what was checked.
  if (url.origin !== base || `${url.pathname}${url.search}` !== value) return null;
  return value;
}

/**
 * The current route's `returnTo`, when it is a same-app path that the router knows
 * (not the not-found page, not the page the user is on), and `go()` to follow it.
 */
export function useReturnTo(): { target: ComputedRef<string | null>; go: () => Promise<boolean> } {
  const route = useRoute();
  const router = useRouter();
  const target = computed(() => {
    const path = sameAppPath(route.query[RETURN_TO_QUERY]);
    if (path === null) return null;
    const resolved = router.resolve(path);
    if (resolved.name === 'not-found' || resolved.name === route.name) return null;
    return path;
  });
  async function go(): Promise<boolean> {
    const path = target.value;
    if (path === null) return false;
    // replace: "back" from the order should not land on the certificate center again.
    await router.replace(path);
    return true;
  }
  return { target, go };
}
