/**
 * Receipts: the seller's draft and issuing, an order's receipts and file, the public
 * verification of a file or a link, and the event the buyer's open order page hears.
 */
import type { ReceiptContent, ReceiptVerdict } from '@coconutpay/core/receipt';
import { authed, authedBlob, get, post } from './client.js';

/** A receipt as an order page shows it. */
export interface Receipt {
  receiptNumber: string;
  orderId: string;
  sequence: number;
  replacesReceiptNumber: string | null;
  current: boolean;
  /** The seller's ECDSA signature r‖s, hex: the receipt signature value. */
  signatureHex: string;
  signingTimeMs: number;
  createdAtMs: number;
  supersededAtMs: number | null;
  /** The public link's id (`/verify-receipt?link=…`). */
  linkId: string;
  content: ReceiptContent;
}

/** The server's verdict, with what replaced the receipt (if anything). */
export type ServerReceiptVerdict = ReceiptVerdict & { supersededBy: string | null };

/** The content to sign for an order's receipt (from the server's records) and its exact bytes. */
export function getReceiptDraft(orderId: string, reissue: boolean): Promise<{ content: ReceiptContent; contentBase64Url: string }> {
  return authed.get(`/api/seller/orders/${encodeURIComponent(orderId)}/receipt-draft`, reissue ? { reissue: 'true' } : undefined);
}

/** Sends the CMS SignedData the seller signed here. */
export function issueReceipt(orderId: string, cmsBase64: string): Promise<Receipt> {
  return authed.post<Receipt>(`/api/seller/orders/${encodeURIComponent(orderId)}/receipts`, { cmsBase64 });
}

/** The receipts of an order I bought or sold, current first. */
export async function listReceipts(orderId: string): Promise<Receipt[]> {
  return (await authed.get<{ items: Receipt[] }>(`/api/orders/${encodeURIComponent(orderId)}/receipts`)).items;
}

/** The current receipt file (DER CMS). */
export async function downloadReceipt(orderId: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await (await authedBlob(`/api/orders/${encodeURIComponent(orderId)}/receipt.p7s`)).arrayBuffer());
}

/** Anyone: the server's verdict on a receipt file. */
export function verifyReceiptOnServer(cmsBase64: string): Promise<ServerReceiptVerdict> {
  return post<ServerReceiptVerdict>('/api/receipts/verify', { cmsBase64 });
}

/** Anyone holding the link: the receipt file and the server's verdict. */
export function receiptByLink(linkId: string): Promise<{ cmsBase64: string; receiptNumber: string; verdict: ServerReceiptVerdict }> {
  return get(`/api/receipts/links/${encodeURIComponent(linkId)}`);
}

/** The buyer's stream of receipts issued for own orders (server-sent events). */
export const RECEIPT_EVENTS_PATH = '/api/receipts/events';
