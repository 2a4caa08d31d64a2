/**
 * Payments: the money side of an order. `payOrder` moves the order total from the
 * buyer's wallet to the seller's and marks the order paid, in one database transaction,
 * so either both happen or neither does.
 *
 * It trusts its caller to have authorized the payment: the payment authentication
 * protocol (signed payment command, verification code) calls it after verifying
 * everything, and passes a reference to that evidence. No HTTP route reaches it
 * directly.
 */
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { formatWon } from '@coconutpay/core/money';
import { koreanDayStartMs } from '@coconutpay/core/orders';
import type { DatabaseEngine } from '../config.js';
import type { LedgerRepository } from '../db/ledger-repository.js';
import type { LockedOrder, OrdersRepository } from '../db/orders-repository.js';
import type { Database } from '../db/schema.js';
import { WriteBatch } from '../db/write-batch.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import { requireRole, type Actor } from './actor.js';

/** Longest evidence reference stored with a paid order. */
export const EVIDENCE_REF_LENGTH_MAX = 200;

/** The paid order as the payment transaction left it (read again with `OrdersRepository.findById` for its items). */
export interface PaidOrder extends LockedOrder {
  status: 'paid';
  paidAtMs: number;
  evidenceRef: string | null;
}

/** A paid order and the entry that paid it. */
export interface PaymentResult {
  order: PaidOrder;
  /** The journal entry that moved the money. */
  entryId: string;
}

/** Options of `payOrder`. */
export interface PayOrderOptions {
  /** What authorized the payment (the evidence's id), stored with the paid order. */
  evidenceRef?: string;
  /**
   * More checks and writes that must commit together with the payment (see `payOrder`);
   * given the order as the payment leaves it, and the batch the payment's own writes wait
   * in, for writes whose rows no other write of the batch touches.
   */
  within?: (trx: Kysely<Database>, order: PaidOrder, batch: WriteBatch) => Promise<void>;
  /**
   * Most the buyer may have paid on the Korean calendar day (Asia/Seoul, midnight to
   * midnight) with this payment included; absent or null, no limit.
   */
  dailyLimitWon?: bigint | null;
}

/** The journal entry kind of a payment. */
export const PAYMENT_KIND = 'payment';

/** What the payments service is built from. */
export interface PaymentsDeps {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  orders: OrdersRepository;
  ledger: LedgerRepository;
  clock: () => number;
}

/** How one payment transaction ended: the only outcome that wrote money is `paid`. */
type PaymentOutcome =
  | { kind: 'paid'; entryId: string; order: PaidOrder }
  | { kind: 'not_found' | 'already_paid' | 'cancelled' | 'expired' | 'insufficient_balance' }
  | { kind: 'daily_limit_exceeded'; limitWon: bigint; paidTodayWon: bigint };

/** The refusal of a payment that would take the day's payments over the limit: how much is left today. */
export function dailyLimitExceeded(limitWon: bigint, paidTodayWon: bigint): AppError {
  const leftWon = limitWon > paidTodayWon ? limitWon - paidTodayWon : 0n;
  return new AppError('PAYMENT_DAILY_LIMIT_EXCEEDED', {
    detail: `Payments today (Korean calendar day) may total at most ${formatWon(limitWon, 'en')}; ${formatWon(leftWon, 'en')} is left.`,
  });
}

/** Moving an order's total from buyer to seller. */
export class PaymentsService {
  constructor(private readonly deps: PaymentsDeps) {}

  /**
   * Pays an order from the buyer's wallet. At most once per order, however many calls
   * race: the order row is locked, its status checked and changed by a conditional
   * update, and the journal entry is unique per order. Refusals are codes:
   * `ORDER_NOT_FOUND` (unknown, or not the actor's), `ORDER_ALREADY_PAID`,
   * `ORDER_CANCELLED`, `ORDER_EXPIRED` (past its window: expired here, its stock
   * released), `INSUFFICIENT_BALANCE` and `PAYMENT_DAILY_LIMIT_EXCEEDED` (nothing moved).
   *
   * `within` runs inside the same transaction once every check has passed and the money's
   * and the order's writes are decided (they reach the database with the batch, after
   * `within`, which may add its own to it), for what must commit with the payment or not at all (the payment
   * protocol's re-checks of the lock, the certificate's status and the order the command
   * describes, its "command used" mark, its evidence and the request's stored answer). If it throws, nothing of the payment
   * is kept. Like the rest of the transaction it may run again after a conflict, so it must
   * only write through the handle it is given.
   *
   * @example
   * const { order } = await payments.payOrder(actor, orderId, { evidenceRef: comId });
   */
  /**
   * What a buyer has paid since midnight Asia/Seoul (the day a daily limit counts), from
   * the ledger: the payments debited from the buyer's wallet.
   */
  async paidTodayWon(userId: string): Promise<bigint> {
    const walletId = await this.deps.ledger.walletAccountId(this.deps.db, userId);
    if (!walletId) return 0n;
    return -(await this.deps.ledger.sumPostedSinceWon(this.deps.db, walletId, PAYMENT_KIND, koreanDayStartMs(this.deps.clock())));
  }

  async payOrder(actor: Actor, orderId: string, options: PayOrderOptions = {}): Promise<PaymentResult> {
    requireRole(actor, 'buyer');
    const evidenceRef = options.evidenceRef ?? null;
    if (evidenceRef !== null && (evidenceRef.length === 0 || evidenceRef.length > EVIDENCE_REF_LENGTH_MAX)) throw new RangeError('evidence reference length out of range');
    const { orders, ledger } = this.deps;
    const nowMs = this.deps.clock();

    const outcome = await runWriteTransaction<PaymentOutcome>(this.deps.db, this.deps.engine, async (trx) => {
      // The order row first, then the wallets: every payment takes its locks in this order.
      const order = await orders.lock(trx, orderId);
      if (!order || order.buyerId !== actor.userId) return { kind: 'not_found' };
      if (order.status === 'paid') return { kind: 'already_paid' };
      if (order.status === 'cancelled') return { kind: 'cancelled' };
      if (order.status === 'expired') return { kind: 'expired' };
      if (order.expiresAtMs <= nowMs) {
        // Past its window the order cannot be paid; expire it now (the sweep may not have
        // come by yet) and commit that, so its stock is free again.
        await orders.close(trx, order.id, 'expired', nowMs);
        return { kind: 'expired' };
      }
      const buyerWalletId = await ledger.walletAccountId(trx, order.buyerId);
      const sellerWalletId = await ledger.walletAccountId(trx, order.sellerId);
      if (!buyerWalletId || !sellerWalletId) throw new Error(`order ${order.id}: a party has no wallet`);
      const locked = await ledger.lockAccounts(trx, [buyerWalletId, sellerWalletId]);
      const limitWon = options.dailyLimitWon ?? null;
      if (limitWon !== null) {
        // Under the buyer's wallet lock, before anything is written: two payments of one
        // buyer are counted one after the other, so both cannot slip under the limit.
        const paidTodayWon = -(await ledger.sumPostedSinceWon(trx, buyerWalletId, PAYMENT_KIND, koreanDayStartMs(nowMs), { latest: true }));
        if (paidTodayWon + order.totalWon > limitWon) return { kind: 'daily_limit_exceeded', limitWon, paidTodayWon };
      }
      // The payment's writes go to the database together with the caller's, in one round
      // trip where the engine is another process (write-batch.ts).
      const batch = new WriteBatch();
      const posted = await ledger.addEntry(trx, batch, {
        kind: PAYMENT_KIND,
        memo: `order ${order.orderNumber}`,
        orderId: order.id,
        nowMs,
        postings: [
          { accountId: buyerWalletId, amountWon: -order.totalWon },
          { accountId: sellerWalletId, amountWon: order.totalWon },
        ],
      }, locked);
      if (!posted.ok) return { kind: 'insufficient_balance' };
      // Under the order's row lock the status cannot have changed; this is the second guard.
      orders.markPaidIn(batch, order.id, nowMs, evidenceRef, () => new Error(`order ${order.id} changed under its row lock`));
      if (order.fromCart) await orders.removeFromCart(trx, order.buyerId, await orders.productIds(trx, order.id));
      const paid: PaidOrder = { ...order, status: 'paid', paidAtMs: nowMs, evidenceRef };
      if (options.within) await options.within(trx, paid, batch);
      await batch.flush(trx, this.deps.engine);
      return { kind: 'paid', entryId: posted.entryId, order: paid };
    });

    switch (outcome.kind) {
      case 'paid':
        // What the transaction wrote, not a second read: the caller has the order's id for more.
        return { order: outcome.order, entryId: outcome.entryId };
      case 'not_found':
        throw new AppError('ORDER_NOT_FOUND');
      case 'already_paid':
        throw new AppError('ORDER_ALREADY_PAID');
      case 'cancelled':
        throw new AppError('ORDER_CANCELLED');
      case 'expired':
        throw new AppError('ORDER_EXPIRED');
      case 'insufficient_balance':
        throw new AppError('INSUFFICIENT_BALANCE');
      case 'daily_limit_exceeded':
        throw dailyLimitExceeded(outcome.limitWon, outcome.paidTodayWon);
    }
  }
}
