/**
 * Consecutive login failures per login id, whether or not an account has that id,
 * so a lock reveals nothing about which ids exist.
 */
import type { Kysely } from 'kysely';
import { isUniqueViolation } from './database.js';
import type { Database } from './schema.js';

export class LoginThrottlesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The time until which `loginId` is locked, or `null`. */
  async lockedUntil(loginId: string): Promise<number | null> {
    const row = await this.db.selectFrom('loginThrottles').select('lockedUntilMs').where('loginId', '=', loginId).executeTakeFirst();
    return row?.lockedUntilMs == null ? null : Number(row.lockedUntilMs);
  }

  /**
   * Counts one failure; on reaching `failuresMax` locks the id until `nowMs + lockMs`
   * and starts counting again. Returns the failures counted so far.
   */
  async recordFailure(loginId: string, nowMs: number, failuresMax: number, lockMs: number): Promise<number> {
    // No transaction: on PostgreSQL a failed insert would abort it. Each step is atomic
    // on its own, and the increment counts every parallel failure.
    try {
      await this.db.insertInto('loginThrottles').values({ loginId, failures: 0, lockedUntilMs: null, updatedAtMs: nowMs }).execute();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    await this.db.updateTable('loginThrottles').set((eb) => ({ failures: eb('failures', '+', 1), updatedAtMs: nowMs })).where('loginId', '=', loginId).execute();
    const row = await this.db.selectFrom('loginThrottles').select('failures').where('loginId', '=', loginId).executeTakeFirstOrThrow();
    if (row.failures >= failuresMax) {
      await this.db.updateTable('loginThrottles').set({ failures: 0, lockedUntilMs: nowMs + lockMs }).where('loginId', '=', loginId).execute();
    }
    return row.failures;
  }

  async clear(loginId: string): Promise<void> {
    await this.db.deleteFrom('loginThrottles').where('loginId', '=', loginId).execute();
  }
}
