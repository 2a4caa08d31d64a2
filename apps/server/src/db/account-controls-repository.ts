/** Operator controls over accounts (locks, a required password change) and admin sessions' password confirmations. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Db } from './write-transaction.js';

export interface AccountControl {
  lockedAtMs: number | null;
  lockReason: string | null;
  lockedBy: string | null;
  passwordChangeRequired: boolean;
}

export const NO_CONTROL: AccountControl = Object.freeze({ lockedAtMs: null, lockReason: null, lockedBy: null, passwordChangeRequired: false });

export class AccountControlsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async of(userId: string, trx: Db = this.db): Promise<AccountControl> {
    const row = await trx.selectFrom('accountControls').select(['lockedAtMs', 'lockReason', 'lockedBy', 'passwordChangeRequired']).where('userId', '=', userId).executeTakeFirst();
    if (!row) return NO_CONTROL;
    return { lockedAtMs: row.lockedAtMs === null ? null : Number(row.lockedAtMs), lockReason: row.lockReason, lockedBy: row.lockedBy, passwordChangeRequired: Number(row.passwordChangeRequired) === 1 };
  }

  /** Writes the whole control row of a user (insert or replace), inside the caller's transaction. */
  async put(trx: Db, userId: string, control: AccountControl, nowMs: number): Promise<void> {
    const values = {
      lockedAtMs: control.lockedAtMs, lockReason: control.lockReason, lockedBy: control.lockedBy,
      passwordChangeRequired: control.passwordChangeRequired ? 1 : 0, updatedAtMs: nowMs,
    };
    // Read first rather than trusting an update's count: MariaDB counts changed rows, not matched ones.
    const exists = await trx.selectFrom('accountControls').select('userId').where('userId', '=', userId).executeTakeFirst();
    if (exists) await trx.updateTable('accountControls').set(values).where('userId', '=', userId).execute();
    else await trx.insertInto('accountControls').values({ userId, ...values }).execute();
  }

  async confirmSession(sessionId: string, userId: string, nowMs: number): Promise<void> {
    await this.db.deleteFrom('adminConfirmations').where('sessionId', '=', sessionId).execute();
    await this.db.insertInto('adminConfirmations').values({ sessionId, userId, confirmedAtMs: nowMs }).execute();
  }

  async sessionConfirmed(sessionId: string, userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('adminConfirmations').select('sessionId').where('sessionId', '=', sessionId).where('userId', '=', userId).executeTakeFirst();
    return row !== undefined;
  }
}
