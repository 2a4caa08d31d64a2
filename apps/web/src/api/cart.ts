/** The buyer's cart. Every answer carries the server's totals. */
import { authed } from './client.js';
import type { Cart } from './types.js';

/** The current cart. */
export function getCart(): Promise<Cart> {
  return authed.get<Cart>('/api/cart');
}

/** Sets the quantity of a product in the cart, adding the line if it is missing. */
export function setCartQuantity(productId: string, quantity: number): Promise<Cart> {
  return authed.put<Cart>(`/api/cart/items/${encodeURIComponent(productId)}`, { quantity });
}

/** Removes a product from the cart. */
export function removeCartItem(productId: string): Promise<Cart> {
  return authed.delete<Cart>(`/api/cart/items/${encodeURIComponent(productId)}`);
}
