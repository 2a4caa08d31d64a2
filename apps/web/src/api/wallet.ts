/** My wallet: balance, the simulated top-up (bounded per day) and the history. */
import { authed } from './client.js';
import type { Page } from './types.js';

/** Balance and today's top-ups (Korean calendar day) against the daily limit. */
export interface WalletSummary {
  balanceWon: number;
  toppedUpTodayWon: number;
  dailyLimitWon: number;
}

/** What a top-up answers: the new balance and today's total. */
export interface TopUpResult extends WalletSummary {
  entryId: string;
  amountWon: number;
  createdAtMs: number;
}

/** Kinds of wallet entries; a newer server may send others. */
export type WalletEntryKind = 'top_up' | 'payment' | 'demo_grant';

/** One line of the wallet history, signed from the wallet's side. */
export interface WalletEntry {
  entryId: string;
  /** One of {@link WalletEntryKind}. */
  kind: string;
  memo: string;
  /** Positive when money came in. */
  amountWon: number;
  orderId: string | null;
  orderNumber: string | null;
  createdAtMs: number;
}

/** My balance and today's top-ups. */
export function getWallet(): Promise<WalletSummary> {
  return authed.get<WalletSummary>('/api/me/wallet');
}

/** Tops my wallet up; `idempotencyKey` makes a resend after a lost answer safe. */
export function topUp(amountWon: number, idempotencyKey: string): Promise<TopUpResult> {
  return authed.post<TopUpResult>('/api/me/wallet/top-ups', { amountWon }, idempotencyKey);
}

/** My wallet history, newest first. */
export function listWalletEntries(page: number, pageSize: number): Promise<Page<WalletEntry>> {
  return authed.get<Page<WalletEntry>>('/api/me/wallet/entries', { page, pageSize });
}
