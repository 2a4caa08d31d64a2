/** Shapes service records into response bodies (bigint won → JSON integer). */
import { wonToNumber } from '@coconutpay/core/money';
import type { ProductRecord } from '../db/products-repository.js';
import type { PublicUser } from '../services/accounts.js';
import type { Cart } from '../services/cart.js';

export function imageUrl(productId: string, imageFile: string | null, imageVersion: number): string | null {
  return imageFile ? `/api/products/${productId}/image?v=${imageVersion}` : null;
}

export function productSummaryJson(p: ProductRecord) {
  return {
    id: p.id,
    name: p.name,
    category: p.category,
    priceWon: wonToNumber(p.priceWon),
    stock: p.stock,
    imageUrl: imageUrl(p.id, p.imageFile, p.imageVersion),
    sellerId: p.sellerId,
    storeName: p.storeName,
  };
}

export function productJson(p: ProductRecord) {
  return { ...productSummaryJson(p), description: p.description, hidden: p.hidden, createdAtMs: p.createdAtMs, updatedAtMs: p.updatedAtMs };
}

export function userJson(u: PublicUser) {
  return { id: u.id, loginId: u.loginId, role: u.role, name: u.name, phone: u.phone, address: u.address, email: u.email, store: u.store, createdAtMs: u.createdAtMs };
}

export function cartJson(cart: Cart) {
  return {
    items: cart.items.map((l) => ({
      productId: l.productId,
      name: l.name,
      sellerId: l.sellerId,
      storeName: l.storeName,
      unitPriceWon: wonToNumber(l.unitPriceWon),
      quantity: l.quantity,
      lineTotalWon: wonToNumber(l.lineTotalWon),
      stock: l.stock,
      available: l.available,
      imageUrl: imageUrl(l.productId, l.imageFile, l.imageVersion),
    })),
    totalWon: wonToNumber(cart.totalWon),
  };
}
