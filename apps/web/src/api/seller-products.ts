/** A seller's own products. */
import type { Category } from '@coconutpay/core/catalogue';
import type { Bytes } from '@coconutpay/core/encoding';
import { authed } from './client.js';
import type { Page, Product } from './types.js';

/** The editable fields of a product. */
export interface ProductInput {
  name: string;
  category: Category;
  description: string;
  priceWon: number;
  stock: number;
}

/** One page of the seller's products, hidden ones included. */
export function listSellerProducts(page: number, pageSize: number): Promise<Page<Product>> {
  return authed.get<Page<Product>>('/api/seller/products', { page, pageSize });
}

/** Creates a product. */
export function createProduct(input: ProductInput): Promise<Product> {
  return authed.post<Product>('/api/seller/products', input);
}

/** Changes some fields of a product, or hides and shows it. */
export function updateProduct(id: string, patch: Partial<ProductInput> & { hidden?: boolean }): Promise<Product> {
  return authed.patch<Product>(`/api/seller/products/${encodeURIComponent(id)}`, patch);
}

/** Replaces the product's image with these exact bytes. */
export function uploadProductImage(id: string, bytes: Bytes, contentType: string, onProgress?: (fraction: number) => void): Promise<Product> {
  return authed.putBytes<Product>(`/api/seller/products/${encodeURIComponent(id)}/image`, bytes, contentType, onProgress);
}
