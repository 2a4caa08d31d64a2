/**
 * The wallet ledger: double-entry in integer won. Every movement is one journal
 * entry whose postings sum to zero, written in one transaction together with the
 * account balances it changes. Wallet balances never go below zero (checked here
 * under row locks, and by a CHECK constraint); the funding account stands for money
 * from outside.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AMOUNT_MAX_WON } from '@coconutpay/core/money';
import { AppError } from '@coconutpay/core/errors';
import type { DatabaseEngine } from '../config.js';
import { columns, prepare } from './prepared.js';
import type { Database } from './schema.js';
import { lockingRead, runWriteTransaction, type Db } from './write-transaction.js';
import { timeOrderedId, timeOrderedIdLowerBound } from './time-ordered-id.js';
import { WriteBatch } from './write-batch.js';

/** The single funding account's fixed id. */
export const FUNDING_ACCOUNT_ID = '00000000-0000-0000-0000-00000000f00d';

/** Wallet ids remembered per user; the mapping never changes, so the cache never goes stale. */
const WALLET_ID_CACHE_ENTRIES_MAX = 100_000;

/** One signed amount on one account. */
export interface PostingInput {
  accountId: string;
  amountWon: bigint;
}

/** A journal entry to write: its postings must sum to zero. */
export interface EntryInput {
  kind: string;
  memo: string;
  /** The order this entry belongs to; at most one entry of a kind per order. */
  orderId?: string | null;
  nowMs: number;
  postings: PostingInput[];
}

/** An account as read under its row lock. */
export interface LockedAccount {
  id: string;
  kind: 'funding' | 'wallet';
  balanceWon: bigint;
}

/** What posting an entry did: written, or refused because a wallet would go below zero. */
export type PostingOutcome = { ok: true; entryId: string } | { ok: false; reason: 'insufficient_balance'; accountId: string };

/** One line of a wallet's history. */
export interface WalletEntryRecord {
  entryId: string;
  kind: string;
  memo: string;
  /** Signed: positive when money came into this wallet. */
  amountWon: bigint;
  orderId: string | null;
  orderNumber: string | null;
  createdAtMs: number;
}

/** A won column as the drivers return it (number, or string for PostgreSQL's SUM) → bigint. */
const wonOf = (value: unknown): bigint => BigInt(String(value ?? 0));

// What every payment writes here, built once (prepared.ts). A payment is two postings.
const insertEntryRow = prepare((db, v: { id: string; kind: string; memo: string; orderId: string | null; createdAtMs: number }) =>
  db.insertInto('journalEntries').values(columns(v, ['id', 'kind', 'memo', 'orderId', 'createdAtMs'])));
const insertPostingPair = prepare((db, v: { entryId: string; id1: string; account1: string; amount1: number; id2: string; account2: string; amount2: number }) =>
  db.insertInto('postings').values([
    { id: v.id1, entryId: v.entryId, accountId: v.account1, amountWon: v.amount1 },
    { id: v.id2, entryId: v.entryId, accountId: v.account2, amountWon: v.amount2 },
  ]));
const addToBalance = prepare((db, v: { id: string; deltaWon: number }) =>
  db.updateTable('ledgerAccounts').set((eb) => ({ balanceWon: eb('balanceWon', '+', v.deltaWon) })).where('id', '=', v.id));

/** Wallets, the funding account, journal entries and postings. */
export class LedgerRepository {
  private readonly walletIds = new Map<string, string>();
  /** Two accounts read under row locks (a transfer), in id order. */
  private readonly lockPair;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: DatabaseEngine,
  ) {
    this.lockPair = prepare((db, v: { first: string; second: string }) =>
      lockingRead(engine, db.selectFrom('ledgerAccounts').select(['id', 'kind', 'balanceWon']).where('id', 'in', [v.first, v.second]).orderBy('id')));
  }

  /** Creates the wallet of a new user, inside the caller's transaction. */
  async createWallet(trx: Db, userId: string, nowMs: number): Promise<void> {
    await trx.insertInto('ledgerAccounts').values({ id: randomUUID(), kind: 'wallet', ownerUserId: userId, balanceWon: 0, createdAtMs: nowMs }).execute();
  }

  /** Creates the funding account when it does not exist yet. */
  async ensureFundingAccount(nowMs: number): Promise<void> {
    const found = await this.db.selectFrom('ledgerAccounts').select('id').where('id', '=', FUNDING_ACCOUNT_ID).executeTakeFirst();
    if (!found) await this.db.insertInto('ledgerAccounts').values({ id: FUNDING_ACCOUNT_ID, kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: nowMs }).execute();
  }

  async walletBalanceWon(userId: string): Promise<bigint | null> {
    const row = await this.db.selectFrom('ledgerAccounts').select('balanceWon').where('ownerUserId', '=', userId).executeTakeFirst();
    return row ? wonOf(row.balanceWon) : null;
  }

  /** The id of a user's wallet account, or undefined when the user has none. */
  async walletAccountId(trx: Db, userId: string): Promise<string | undefined> {
    const cached = this.walletIds.get(userId);
    if (cached) return cached;
    const row = await trx.selectFrom('ledgerAccounts').select('id').where('ownerUserId', '=', userId).where('kind', '=', 'wallet').executeTakeFirst();
    if (!row) return undefined;
    if (this.walletIds.size >= WALLET_ID_CACHE_ENTRIES_MAX) this.walletIds.clear();
    this.walletIds.set(userId, row.id);
    return row.id;
  }

  /**
   * Reads accounts under row locks, in ascending id order. Every writer locks accounts
   * in this one order, which is what keeps two transfers from deadlocking each other.
   */
  async lockAccounts(trx: Db, accountIds: string[]): Promise<Map<string, LockedAccount>> {
    const ids = [...new Set(accountIds)].sort();
    const rows =
      ids.length === 2
        ? await this.lockPair.rows(trx, { first: ids[0]!, second: ids[1]! })
        : await lockingRead(this.engine, trx.selectFrom('ledgerAccounts').select(['id', 'kind', 'balanceWon']).where('id', 'in', ids).orderBy('id')).execute();
    return new Map(rows.map((r) => [r.id, { id: r.id, kind: r.kind, balanceWon: wonOf(r.balanceWon) }]));
  }

  /**
   * Writes one journal entry and moves the balances, inside the caller's write
   * transaction. Accounts are locked here unless the caller passes them already locked.
   * A wallet that would go below zero refuses the whole entry before anything is
   * written; a balance beyond `AMOUNT_MAX_WON` is a RangeError.
   */
  async postEntry(trx: Db, entry: EntryInput, locked?: Map<string, LockedAccount>): Promise<PostingOutcome> {
    const batch = new WriteBatch();
    const outcome = await this.addEntry(trx, batch, entry, locked);
    if (outcome.ok) await batch.flush(trx, this.engine);
    return outcome;
  }

  /**
   * {@link postEntry}'s checks, with its writes (the entry, its postings, the balances)
   * added to `batch` for the caller to send with its own in the same transaction
   * (write-batch.ts). A refusal adds nothing. The locked view's balances are moved at
   * once, so a caller posting twice in one transaction checks against what it will write.
   */
  async addEntry(trx: Db, batch: WriteBatch, entry: EntryInput, locked?: Map<string, LockedAccount>): Promise<PostingOutcome> {
    // Debits equal credits, and every amount is non-zero and bounded, before anything is read or written.
    if (entry.postings.length < 2) throw new RangeError('a journal entry needs at least two postings');
    if (entry.postings.reduce((sum, p) => sum + p.amountWon, 0n) !== 0n) throw new Error('unbalanced journal entry');
    for (const p of entry.postings) {
      if (p.amountWon === 0n || p.amountWon > AMOUNT_MAX_WON || p.amountWon < -AMOUNT_MAX_WON) throw new RangeError('posting amount out of range');
    }
    const accounts = locked ?? (await this.lockAccounts(trx, entry.postings.map((p) => p.accountId)));
    const deltas = new Map<string, bigint>();
    for (const p of entry.postings) deltas.set(p.accountId, (deltas.get(p.accountId) ?? 0n) + p.amountWon);
    for (const [accountId, deltaWon] of deltas) {
      const account = accounts.get(accountId);
      if (!account) throw new Error(`posting to an account that is not locked: ${accountId}`);
      if (account.kind !== 'wallet') continue;
      const newBalanceWon = account.balanceWon + deltaWon;
      if (newBalanceWon < 0n) return { ok: false, reason: 'insufficient_balance', accountId };
      if (newBalanceWon > AMOUNT_MAX_WON) throw new RangeError('balance out of range');
    }

    const entryId = timeOrderedId(entry.nowMs);
    const [first, second] = entry.postings as [PostingInput, PostingInput];
    if (entry.postings.length === 2) {
      batch.add(insertEntryRow, { id: entryId, kind: entry.kind, memo: entry.memo, orderId: entry.orderId ?? null, createdAtMs: entry.nowMs });
      batch.add(insertPostingPair, {
        entryId, id1: timeOrderedId(entry.nowMs), account1: first.accountId, amount1: Number(first.amountWon), id2: timeOrderedId(entry.nowMs), account2: second.accountId, amount2: Number(second.amountWon),
      });
    } else {
      // Any other number of postings is not a prepared query: written now, entry first for its foreign key.
      await insertEntryRow.affected(trx, { id: entryId, kind: entry.kind, memo: entry.memo, orderId: entry.orderId ?? null, createdAtMs: entry.nowMs });
      await trx
        .insertInto('postings')
        .values(entry.postings.map((p) => ({ id: timeOrderedId(entry.nowMs), entryId, accountId: p.accountId, amountWon: Number(p.amountWon) })))
        .execute();
    }
    for (const [accountId, deltaWon] of deltas) {
      if (deltaWon === 0n) continue;
      batch.add(addToBalance, { id: accountId, deltaWon: Number(deltaWon) }, { rows: 1, otherwise: () => new Error(`ledger account vanished: ${accountId}`) });
      accounts.get(accountId)!.balanceWon += deltaWon;
    }
    return { ok: true, entryId };
  }

  /**
   * Sum of the postings to one account from entries of `kind` at or after `sinceMs`.
   * `latest`: for a limit checked under the account's row lock. MariaDB's REPEATABLE READ
   * would answer a plain read from the snapshot the transaction took at its first read,
   * without an entry another transaction committed while this one waited for the lock; a
   * locking read sees it. PostgreSQL (READ COMMITTED, a new snapshot per statement) and
   * SQLite (one writer) see it anyway, and PostgreSQL allows no FOR UPDATE with a sum.
   */
  async sumPostedSinceWon(trx: Db, accountId: string, kind: string, sinceMs: number, options: { latest?: boolean } = {}): Promise<bigint> {
    const query = trx
      .selectFrom('postings')
      .innerJoin('journalEntries', 'journalEntries.id', 'postings.entryId')
      .select((eb) => eb.fn.sum<string>('postings.amountWon').as('s'))
      .where('postings.accountId', '=', accountId)
      // Entry ids are made from their entry's creation time (postEntry), so this bound is the
      // time condition below as a range of the (account, entry) index: the read is as long as
      // the day's postings, not the wallet's history. The time condition stays the rule.
      .where('postings.entryId', '>=', timeOrderedIdLowerBound(sinceMs))
      .where('journalEntries.kind', '=', kind)
      .where('journalEntries.createdAtMs', '>=', sinceMs);
    const row = await (options.latest && this.engine === 'mysql' ? query.forUpdate() : query).executeTakeFirstOrThrow();
    return wonOf(row.s);
  }

  /**
   * Moves `amountWon` from the funding account to a user's wallet as one journal entry
   * (simulated money from outside; the demo data uses it for starting balances).
   */
  async fund(userId: string, amountWon: bigint, kind: string, memo: string, nowMs: number): Promise<string> {
    if (amountWon <= 0n || amountWon > AMOUNT_MAX_WON) throw new RangeError('amount out of range');
    return runWriteTransaction(this.db, this.engine, async (trx) => {
      const walletId = await this.walletAccountId(trx, userId);
      if (!walletId) throw new AppError('ROUTE_NOT_FOUND', { detail: 'no wallet' });
      const outcome = await this.postEntry(trx, {
        kind, memo, nowMs,
        postings: [
          { accountId: FUNDING_ACCOUNT_ID, amountWon: -amountWon },
          { accountId: walletId, amountWon },
        ],
      });
      // Only the funding account loses money here, and it may go negative.
      if (!outcome.ok) throw new Error('funding refused by a wallet balance');
      return outcome.entryId;
    });
  }

  /** One page of a user's wallet history, newest first, and the number of entries in all. */
  async walletEntries(userId: string, offset: number, limit: number): Promise<{ items: WalletEntryRecord[]; total: number }> {
    const walletId = await this.walletAccountId(this.db, userId);
    if (!walletId) return { items: [], total: 0 };
    const base = this.db
      .selectFrom('postings')
      .innerJoin('journalEntries', 'journalEntries.id', 'postings.entryId')
      .where('postings.accountId', '=', walletId);
    const totalRow = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await base
      .leftJoin('orders', 'orders.id', 'journalEntries.orderId')
      .select(['journalEntries.id', 'journalEntries.kind', 'journalEntries.memo', 'journalEntries.createdAtMs', 'postings.amountWon', 'journalEntries.orderId', 'orders.orderNumber'])
      .orderBy('journalEntries.createdAtMs', 'desc')
      // The id breaks ties between entries of the same millisecond, so paging is stable.
      .orderBy('journalEntries.id', 'desc')
      .limit(limit)
      .offset(offset)
      .execute();
    return {
      items: rows.map((r) => ({
        entryId: r.id,
        kind: r.kind,
        memo: r.memo,
        amountWon: wonOf(r.amountWon),
        orderId: r.orderId ?? null,
        orderNumber: r.orderNumber ?? null,
        createdAtMs: Number(r.createdAtMs),
      })),
      total: Number(totalRow.n),
    };
  }

  /**
   * A wallet's balance right after one of its entries: the sum of its postings up to and
   * including that entry, in history order (time, then id). Postings are never changed,
   * so the answer does not move when later entries arrive.
   */
  async walletBalanceThroughWon(userId: string, entry: { createdAtMs: number; entryId: string }): Promise<bigint> {
    const walletId = await this.walletAccountId(this.db, userId);
    if (!walletId) return 0n;
    const row = await this.db
      .selectFrom('postings')
      .innerJoin('journalEntries', 'journalEntries.id', 'postings.entryId')
      .select((eb) => eb.fn.sum<string>('postings.amountWon').as('s'))
      .where('postings.accountId', '=', walletId)
      .where((eb) => eb.or([
        eb('journalEntries.createdAtMs', '<', entry.createdAtMs),
        eb.and([eb('journalEntries.createdAtMs', '=', entry.createdAtMs), eb('journalEntries.id', '<=', entry.entryId)]),
      ]))
      .executeTakeFirstOrThrow();
    return wonOf(row.s);
  }

  /** Sum of all postings minus sum of all balances must both be zero: the ledger's invariant. */
  async checkInvariant(): Promise<{ postingsSumWon: bigint; balancesSumWon: bigint }> {
    const p = await this.db.selectFrom('postings').select((eb) => eb.fn.sum<string>('amountWon').as('s')).executeTakeFirstOrThrow();
    const b = await this.db.selectFrom('ledgerAccounts').select((eb) => eb.fn.sum<string>('balanceWon').as('s')).executeTakeFirstOrThrow();
    return { postingsSumWon: wonOf(p.s), balancesSumWon: wonOf(b.s) };
  }
}
