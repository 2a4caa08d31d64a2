/**
 * A buyer's wallet: balance, history, and the simulated top-up ("charge" on my page),
 * which moves won from the funding account like any other journal entry, bounded per
 * Korean calendar day.
 */
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { formatWon } from '@coconutpay/core/money';
import { koreanDayStartMs } from '@coconutpay/core/orders';
import type { DatabaseEngine } from '../config.js';
import { FUNDING_ACCOUNT_ID, type LedgerRepository, type WalletEntryRecord } from '../db/ledger-repository.js';
import type { Database } from '../db/schema.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import { requireRole, type Actor } from './actor.js';
import type { EffectOptions } from './commit-with.js';

/** The journal entry kind of a top-up. */
export const TOP_UP_KIND = 'top_up';

/** A top-up done: the entry, the new balance and today's total against the limit. */
export interface TopUpResult {
  entryId: string;
  amountWon: bigint;
  balanceWon: bigint;
  toppedUpTodayWon: bigint;
  dailyLimitWon: bigint;
  createdAtMs: number;
}

/** Balance, today's top-ups and the daily limit. */
export interface WalletSummary {
  balanceWon: bigint;
  toppedUpTodayWon: bigint;
  dailyLimitWon: bigint;
}

/** One page of a wallet's history. */
export interface WalletEntryPage {
  items: WalletEntryRecord[];
  page: number;
  pageSize: number;
  total: number;
}

/** What the wallet service is built from. */
export interface WalletDeps {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  ledger: LedgerRepository;
  clock: () => number;
  topUpDailyLimitWon: bigint;
}

/** A user's wallet as the user sees it. */
export class WalletService {
  constructor(private readonly deps: WalletDeps) {
    if (deps.topUpDailyLimitWon <= 0n) throw new RangeError('the daily top-up limit must be positive');
  }

  /**
   * Tops the actor's wallet up by `amountWon`. The day's earlier top-ups are summed under
   * the wallet's row lock, so two top-ups at once cannot both slip under the limit.
   * `effect.commitWith` commits with the top-up (a refused top-up commits nothing).
   */
  async topUp(actor: Actor, amountWon: bigint, effect: EffectOptions<TopUpResult> = {}): Promise<TopUpResult> {
    requireRole(actor, 'buyer');
    const { ledger, topUpDailyLimitWon } = this.deps;
    if (amountWon <= 0n) throw new AppError('VALIDATION_FAILED', { detail: 'A top-up is at least 1 won.' });
    if (amountWon > topUpDailyLimitWon) {
      throw new AppError('TOP_UP_DAILY_LIMIT_EXCEEDED', { detail: `One day's top-ups may total at most ${formatWon(topUpDailyLimitWon, 'en')}.` });
    }
    const nowMs = this.deps.clock();
    const dayStartMs = koreanDayStartMs(nowMs);
    const outcome = await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
      const walletId = await ledger.walletAccountId(trx, actor.userId);
      if (!walletId) throw new Error(`user ${actor.userId} has no wallet`);
      const locked = await ledger.lockAccounts(trx, [FUNDING_ACCOUNT_ID, walletId]);
      const before = await ledger.sumPostedSinceWon(trx, walletId, TOP_UP_KIND, dayStartMs);
      if (before + amountWon > topUpDailyLimitWon) return { ok: false as const, remainingWon: topUpDailyLimitWon - before };
      const posted = await ledger.postEntry(trx, {
        kind: TOP_UP_KIND, memo: 'top-up', nowMs,
        postings: [
          { accountId: FUNDING_ACCOUNT_ID, amountWon: -amountWon },
          { accountId: walletId, amountWon },
        ],
      }, locked);
      if (!posted.ok) throw new Error('a top-up was refused by a wallet balance');
      const result: TopUpResult = {
        entryId: posted.entryId, amountWon, balanceWon: locked.get(walletId)!.balanceWon, toppedUpTodayWon: before + amountWon, dailyLimitWon: topUpDailyLimitWon, createdAtMs: nowMs,
      };
      await effect.commitWith?.(trx, result);
      return { ok: true as const, result };
    });
    if (!outcome.ok) {
      const remaining = outcome.remainingWon > 0n ? outcome.remainingWon : 0n;
      throw new AppError('TOP_UP_DAILY_LIMIT_EXCEEDED', { detail: `At most ${formatWon(remaining, 'en')} more can be topped up today.` });
    }
    return outcome.result;
  }

  /** Balance, today's top-ups and the daily limit. */
  async summary(actor: Actor): Promise<WalletSummary> {
    const { ledger } = this.deps;
    const walletId = await ledger.walletAccountId(this.deps.db, actor.userId);
    if (!walletId) throw new Error(`user ${actor.userId} has no wallet`);
    const balanceWon = (await ledger.walletBalanceWon(actor.userId)) ?? 0n;
    const toppedUpTodayWon = await ledger.sumPostedSinceWon(this.deps.db, walletId, TOP_UP_KIND, koreanDayStartMs(this.deps.clock()));
    return { balanceWon, toppedUpTodayWon, dailyLimitWon: this.deps.topUpDailyLimitWon };
  }

  /** One page of the actor's wallet history, newest first. */
  async entries(actor: Actor, page: number, pageSize: number): Promise<WalletEntryPage> {
    const { items, total } = await this.deps.ledger.walletEntries(actor.userId, (page - 1) * pageSize, pageSize);
    return { items, page, pageSize, total };
  }

  /**
   * One page of the actor's wallet history, newest first, each entry with the balance
   * right after it (a seller's ledger on my page). The oldest entry of the page is summed
   * from the postings; the newer ones add their amounts to it.
   */
  async entriesWithBalance(actor: Actor, page: number, pageSize: number): Promise<{ items: (WalletEntryRecord & { balanceAfterWon: bigint })[]; page: number; pageSize: number; total: number }> {
    const { items, total } = await this.deps.ledger.walletEntries(actor.userId, (page - 1) * pageSize, pageSize);
    const oldest = items.at(-1);
    if (!oldest) return { items: [], page, pageSize, total };
    let balanceWon = await this.deps.ledger.walletBalanceThroughWon(actor.userId, oldest);
    const withBalance: (WalletEntryRecord & { balanceAfterWon: bigint })[] = [];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (i !== items.length - 1) balanceWon += item.amountWon;
      withBalance.unshift({ ...item, balanceAfterWon: balanceWon });
    }
    return { items: withBalance, page, pageSize, total };
  }
}
