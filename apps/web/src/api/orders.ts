/**
 * Orders: a buyer orders from the cart (one store at a time) or one product, reads
 * and cancels own orders and downloads a paid order's evidence; a seller lists
 * the orders placed with the store. Totals are always the server's.
 */
import type { OrderStatus } from '@coconutpay/core/orders';
import { authed, authedBlob } from './client.js';
import type { Page } from './types.js';

/** One line of an order, at the price in force when it was ordered. */
export interface OrderItem {
  productId: string;
  productName: string;
  unitPriceWon: number;
  quantity: number;
  lineTotalWon: number;
}

/** Where the order goes. */
export interface Shipping {
  recipientName: string;
  address: string;
  phone: string;
}

/** An order as the server keeps it. */
export interface Order {
  id: string;
  /** `CP-YYYYMMDD-XXXXXX` */
  orderNumber: string;
  status: OrderStatus;
  buyerId: string;
  sellerId: string;
  storeName: string;
  businessNumber: string;
  items: OrderItem[];
  totalWon: number;
  shipping: Shipping;
  createdAtMs: number;
  /** Until then the order holds its stock and may be paid. */
  expiresAtMs: number;
  paidAtMs: number | null;
  cancelledAtMs: number | null;
  expiredAtMs: number | null;
}

/** What to order: one store's lines of the cart, or one product. Shipping fields replace the profile's for this order. */
export type CreateOrderInput =
  | { source: 'cart'; sellerId?: string; shipping?: Partial<Shipping> }
  | { source: 'product'; productId: string; quantity: number; shipping?: Partial<Shipping> };

/** Filters and paging of an order list. */
export interface OrderQuery {
  page: number;
  pageSize: number;
  status?: OrderStatus;
}

/** Places an order; `idempotencyKey` makes a resend after a lost answer safe. */
export function createOrder(input: CreateOrderInput, idempotencyKey: string): Promise<Order> {
  return authed.post<Order>('/api/orders', input, idempotencyKey);
}

/** My orders, newest first. */
export function listOrders(query: OrderQuery): Promise<Page<Order>> {
  return authed.get<Page<Order>>('/api/orders', { ...query });
}

/** One of my orders (or, for a seller, one placed with my store). */
export function getOrder(id: string): Promise<Order> {
  return authed.get<Order>(`/api/orders/${encodeURIComponent(id)}`);
}

/** Cancels my order while it awaits payment. */
export function cancelOrder(id: string): Promise<Order> {
  return authed.post<Order>(`/api/orders/${encodeURIComponent(id)}/cancel`);
}

/** Orders placed with my store, newest first. */
export function listSellerOrders(query: OrderQuery): Promise<Page<Order>> {
  return authed.get<Page<Order>>('/api/seller/orders', { ...query });
}

/** The payment evidence of a paid order: CMS SignedData (DER), as `<orderNumber>.p7s`. */
export async function downloadEvidence(id: string): Promise<Uint8Array<ArrayBuffer>> {
  const blob = await authedBlob(`/api/orders/${encodeURIComponent(id)}/evidence.p7s`);
  return new Uint8Array(await blob.arrayBuffer());
}
