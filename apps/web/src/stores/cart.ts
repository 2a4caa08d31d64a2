/**
 * The buyer's cart as the server last returned it. Totals are never computed
 * here; every change replaces the whole cart with the server's answer.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { CART_QUANTITY_MAX } from '@coconutpay/core/catalogue';
import { getCart, removeCartItem, setCartQuantity } from '../api/cart.js';
import type { Cart, CartLine } from '../api/types.js';

/** The cart lines of one store: an order is paid to one store, so the checkout orders one group at a time. */
export interface StoreGroup {
  sellerId: string;
  storeName: string;
  lines: CartLine[];
}

/**
 * Groups cart lines by store, stores in the order their first line appears (the
 * cart's own order), lines in cart order within each store.
 *
 * @example
 * groupByStore(cart.items).map((g) => g.storeName) // ['코코넛 마트', 'JOONGBU']
 */
export function groupByStore(lines: readonly CartLine[]): StoreGroup[] {
  const groups = new Map<string, StoreGroup>();
  for (const line of lines) {
    const group = groups.get(line.sellerId) ?? { sellerId: line.sellerId, storeName: line.storeName, lines: [] };
    group.lines.push(line);
    groups.set(line.sellerId, group);
  }
  return [...groups.values()];
}

/** The cart store. */
export const useCartStore = defineStore('cart', () => {
  const cart = ref<Cart | null>(null);
  /** Product ids with a change in flight, so their controls can show it. */
  const pending = ref<Set<string>>(new Set());

  /** Number of units in the cart, for the header badge. */
  const itemCount = computed(() => cart.value?.items.reduce((sum, line) => sum + line.quantity, 0) ?? 0);

  async function track<T>(productId: string, action: () => Promise<T>): Promise<T> {
    pending.value = new Set(pending.value).add(productId);
    try {
      return await action();
    } finally {
      const next = new Set(pending.value);
      next.delete(productId);
      pending.value = next;
    }
  }

  /** Loads the cart from the server. */
  async function load(): Promise<Cart> {
    cart.value = await getCart();
    return cart.value;
  }

  /** Sets a line's quantity. */
  async function setQuantity(productId: string, quantity: number): Promise<void> {
    cart.value = await track(productId, () => setCartQuantity(productId, quantity));
  }

  /**
   * Adds `quantity` units to whatever the cart already holds of the product,
   * capped at the per-line maximum (the API sets quantities, it does not add).
   */
  async function add(productId: string, quantity: number): Promise<void> {
    const current = cart.value ?? (await load());
    const existing = current.items.find((line) => line.productId === productId)?.quantity ?? 0;
    await setQuantity(productId, Math.min(CART_QUANTITY_MAX, existing + quantity));
  }

  /** Removes a line. */
  async function remove(productId: string): Promise<void> {
    cart.value = await track(productId, () => removeCartItem(productId));
  }

  /** Forgets the cart (after logout). */
  function reset(): void {
    cart.value = null;
  }

  return { cart, pending, itemCount, load, setQuantity, add, remove, reset };
});
