/** Login challenges (see migration 0010): issued, consumed once, deleted after expiry. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export class LoginChallengesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a new challenge, first deleting every expired one, so the table stays bounded by the issue rate times the lifetime. */
  async insert(challenge: { id: string; loginId: string; challenge: string; expiresAtMs: number }, nowMs: number): Promise<void> {
    await this.db.deleteFrom('loginChallenges').where('expiresAtMs', '<=', nowMs).execute();
    await this.db.insertInto('loginChallenges').values({ ...challenge, usedAtMs: null }).execute();
  }

  /**
   * Marks a live challenge of `loginId` as used and returns its text; `undefined` when it is
   * unknown, of another login id, used or expired. The conditional update is the one step
   * that decides, so two logins racing with one challenge cannot both have it.
   */
  async consume(id: string, loginId: string, nowMs: number): Promise<string | undefined> {
    const result = await this.db.updateTable('loginChallenges')
      .set({ usedAtMs: nowMs })
      .where('id', '=', id)
      .where('loginId', '=', loginId)
      .where('usedAtMs', 'is', null)
      .where('expiresAtMs', '>', nowMs)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    const row = await this.db.selectFrom('loginChallenges').select('challenge').where('id', '=', id).executeTakeFirst();
    return row?.challenge;
  }
}
