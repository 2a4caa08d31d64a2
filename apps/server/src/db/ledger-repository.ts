/**
 * The wallet ledger: double-entry in integer won. Every movement is one journal
 * entry whose postings sum to zero, written in one transaction together with the
 * account balances it changes. Wallet balances never go below zero (checked here
 * and by a CHECK constraint); the funding account stands for money from outside.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AMOUNT_MAX_WON } from '@coconutpay/core/money';
import { AppError } from '@coconutpay/core/errors';
import type { Database } from './schema.js';

/** The single funding account's fixed id. */
export const FUNDING_ACCOUNT_ID = '00000000-0000-0000-0000-00000000f00d';

type Db = Kysely<Database> | Transaction<Database>;

export class LedgerRepository {
  constructor(private readonly db: Kysely<Database>) {}

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
    return row ? BigInt(String(row.balanceWon)) : null;
  }

  /**
   * Moves `amountWon` from the funding account to a user's wallet as one journal entry
   * (simulated top-up; the demo data uses it for starting balances).
   */
  async fund(userId: string, amountWon: bigint, kind: string, memo: string, nowMs: number): Promise<string> {
    if (amountWon <= 0n || amountWon > AMOUNT_MAX_WON) throw new RangeError('amount out of range');
    return this.db.transaction().execute(async (trx) => {
      const wallet = await trx.selectFrom('ledgerAccounts').select(['id', 'balanceWon']).where('ownerUserId', '=', userId).executeTakeFirst();
      if (!wallet) throw new AppError('ROUTE_NOT_FOUND', { detail: 'no wallet' });
      const newBalance = BigInt(String(wallet.balanceWon)) + amountWon;
      if (newBalance > AMOUNT_MAX_WON) throw new RangeError('balance out of range');
      const entryId = randomUUID();
      await trx.insertInto('journalEntries').values({ id: entryId, kind, memo, createdAtMs: nowMs }).execute();
      const postings = [
        { id: randomUUID(), entryId, accountId: FUNDING_ACCOUNT_ID, amountWon: -Number(amountWon) },
        { id: randomUUID(), entryId, accountId: wallet.id, amountWon: Number(amountWon) },
      ];
      // Debits equal credits before anything is written.
      if (postings.reduce((sum, p) => sum + BigInt(p.amountWon), 0n) !== 0n) throw new Error('unbalanced journal entry');
      await trx.insertInto('postings').values(postings).execute();
      await trx.updateTable('ledgerAccounts').set((eb) => ({ balanceWon: eb('balanceWon', '-', Number(amountWon)) })).where('id', '=', FUNDING_ACCOUNT_ID).execute();
      await trx.updateTable('ledgerAccounts').set((eb) => ({ balanceWon: eb('balanceWon', '+', Number(amountWon)) })).where('id', '=', wallet.id).execute();
      return entryId;
    });
  }

  /** Sum of all postings minus sum of all balances must both be zero: the ledger's invariant. */
  async checkInvariant(): Promise<{ postingsSumWon: bigint; balancesSumWon: bigint }> {
    const p = await this.db.selectFrom('postings').select((eb) => eb.fn.sum<string>('amountWon').as('s')).executeTakeFirstOrThrow();
    const b = await this.db.selectFrom('ledgerAccounts').select((eb) => eb.fn.sum<string>('balanceWon').as('s')).executeTakeFirstOrThrow();
    return { postingsSumWon: BigInt(String(p.s ?? 0)), balancesSumWon: BigInt(String(b.s ?? 0)) };
  }
}
