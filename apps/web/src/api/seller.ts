/** The seller's my page: store profile, ledger with running balance, sales history and daily totals. */
import { authed } from './client.js';
import type { Page } from './types.js';
import type { OrderItem } from './orders.js';

/** The store block of a seller (printed on receipts). */
export interface StoreProfile {
  storeName: string;
  businessNumber: string;
  storeAddress: string;
  representative: string;
  storePhone: string;
}

/** One ledger line with the wallet balance right after it. */
export interface LedgerEntry {
  entryId: string;
  kind: string;
  memo: string;
  /** Positive when money came in. */
  amountWon: number;
  balanceAfterWon: number;
  orderId: string | null;
  orderNumber: string | null;
  createdAtMs: number;
}

/** One paid order in the sales history. */
export interface Sale {
  orderId: string;
  orderNumber: string;
  paidAtMs: number;
  totalWon: number;
  recipientName: string;
  shippingAddress: string;
  shippingPhone: string;
  /** The current receipt's number, or null. */
  receiptNumber: string | null;
  items: OrderItem[];
}

/** A page of the sales history with the totals of the whole range. */
export interface SalesPage extends Page<Sale> {
  totalWon: number;
  fromDate: string;
  toDate: string;
}

/** One Korean calendar day of sales. */
export interface DailySales {
  date: string;
  count: number;
  totalWon: number;
}

export function getStore(): Promise<StoreProfile> {
  return authed.get<StoreProfile>('/api/seller/store');
}

export function updateStore(profile: StoreProfile): Promise<StoreProfile> {
  return authed.put<StoreProfile>('/api/seller/store', profile);
}

export function listLedger(page: number, pageSize: number): Promise<Page<LedgerEntry>> {
  return authed.get<Page<LedgerEntry>>('/api/seller/ledger', { page, pageSize });
}

/** Paid orders between two days (`YYYY-MM-DD`, both included); without dates the last 30 days. */
export function listSales(query: { page: number; pageSize: number; from?: string; to?: string }): Promise<SalesPage> {
  return authed.get<SalesPage>('/api/seller/sales', { ...query });
}

export async function getDailySales(): Promise<DailySales[]> {
  return (await authed.get<{ days: DailySales[] }>('/api/seller/sales/daily')).days;
}
