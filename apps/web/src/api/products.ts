/** The public catalogue. */
import type { Category, ProductSort } from '@coconutpay/core/catalogue';
import { authed, get } from './client.js';
import type { Page, Product, ProductSummary } from './types.js';

/** Filters and paging of the product list. */
export interface ProductQuery {
  page: number;
  pageSize: number;
  q?: string;
  category?: Category;
  sort?: ProductSort;
}

/** One page of products on sale. */
export function listProducts(query: ProductQuery): Promise<Page<ProductSummary>> {
  return get<Page<ProductSummary>>('/api/products', { ...query });
}

/**
 * One product. With `signed`, the request carries the session so that a seller
 * can also see their own hidden product.
 */
export function getProduct(id: string, signed = false): Promise<Product> {
  const path = `/api/products/${encodeURIComponent(id)}`;
  return signed ? authed.get<Product>(path) : get<Product>(path);
}
