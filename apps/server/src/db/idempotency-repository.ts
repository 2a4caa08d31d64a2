/**
 * Stored results of requests sent with an `Idempotency-Key`, per user. A key is
 * claimed by one insert-if-absent (the primary key decides between racing requests),
 * then completed with the response, or released when the outcome may change on a retry.
 *
 * Completing and releasing act only on a key still in progress. A request with an effect
 * completes its key inside the effect's own transaction (`completeWithin`), so for it
 * "still in progress" means exactly "the effect did not commit": a release after a
 * failure can then never open a committed effect to a second run.
 */
import type { Kysely } from 'kysely';
import { isUniqueViolation } from './database.js';
import type { Database } from './schema.js';
import type { Db } from './write-transaction.js';

/** A response as stored for replay. */
export interface StoredResponse {
  status: number;
  contentType: string | null;
  body: string;
}

/** What claiming a key found. */
export type IdempotencyClaim =
  /** The key is new: this request runs and its response is stored afterwards. */
  | { state: 'claimed' }
  /** The same request finished before: answer with its stored response. */
  | { state: 'completed'; status: number; contentType: string | null; body: string }
  /** The same request is still running. */
  | { state: 'in_progress' }
  /** The key belongs to a different request. */
  | { state: 'reused' };

/** Claim attempts: a row can vanish between the failed insert and the read (expiry, release). */
const CLAIM_ATTEMPTS_MAX = 3;

/** The `idempotency_keys` table. */
export class IdempotencyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Claims `key` for `userId` and a request hash, or reports what holds it. An expired
   * row no longer counts: it is removed and the key claimed afresh.
   */
  async claim(userId: string, key: string, requestSha256Hex: string, nowMs: number, ttlMs: number): Promise<IdempotencyClaim> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt += 1) {
      try {
        await this.db
          .insertInto('idempotencyKeys')
          .values({
            userId, idempotencyKey: key, requestSha256Hex, state: 'in_progress',
            responseStatus: null, responseContentType: null, responseBody: null,
            createdAtMs: nowMs, expiresAtMs: nowMs + ttlMs,
          })
          .execute();
        return { state: 'claimed' };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      const row = await this.db
        .selectFrom('idempotencyKeys')
        .select(['requestSha256Hex', 'state', 'responseStatus', 'responseContentType', 'responseBody', 'expiresAtMs'])
        .where('userId', '=', userId)
        .where('idempotencyKey', '=', key)
        .executeTakeFirst();
      if (!row) continue;
      if (Number(row.expiresAtMs) <= nowMs) {
        // Only this expired row: a fresh claim that won a race meanwhile stays.
        await this.db.deleteFrom('idempotencyKeys').where('userId', '=', userId).where('idempotencyKey', '=', key).where('expiresAtMs', '=', Number(row.expiresAtMs)).execute();
        continue;
      }
      if (row.requestSha256Hex !== requestSha256Hex) return { state: 'reused' };
      if (row.state === 'in_progress') return { state: 'in_progress' };
      return { state: 'completed', status: Number(row.responseStatus), contentType: row.responseContentType, body: row.responseBody ?? '' };
    }
    // Still contended after every attempt: the caller answers "in progress", which is retryable.
    return { state: 'in_progress' };
  }

  /** Stores the response of a claimed key; a key no longer in progress keeps what it has. */
  async complete(userId: string, key: string, response: StoredResponse): Promise<void> {
    await this.completed(this.db, userId, key, response);
  }

  /**
   * Stores the response of a claimed key inside `trx`, the transaction of the effect it
   * answers: the answer commits with the effect or not at all. Throws (rolling the effect
   * back) unless this request's claim is still in progress, since an effect whose answer
   * cannot be stored must not commit either.
   */
  async completeWithin(trx: Db, userId: string, key: string, response: StoredResponse): Promise<void> {
    if (!(await this.completed(trx, userId, key, response))) throw new Error(`idempotency key of user ${userId} is not in progress; the effect is not committed`);
  }

  private async completed(db: Db, userId: string, key: string, response: StoredResponse): Promise<boolean> {
    const result = await db
      .updateTable('idempotencyKeys')
      .set({ state: 'completed', responseStatus: response.status, responseContentType: response.contentType, responseBody: response.body })
      .where('userId', '=', userId)
      .where('idempotencyKey', '=', key)
      .where('state', '=', 'in_progress')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Gives a claimed key up, so a retry runs the request again. Only a key still in
   * progress: an answer stored with its effect (`completeWithin`) stays, whatever the
   * request answered afterwards. The delete waits on the row's lock while that transaction
   * is still being decided, so a commit that reported an error but went through is seen
   * as committed, and one that did not as still in progress.
   */
  async release(userId: string, key: string): Promise<void> {
    await this.db.deleteFrom('idempotencyKeys').where('userId', '=', userId).where('idempotencyKey', '=', key).where('state', '=', 'in_progress').execute();
  }

  /**
   * Deletes expired keys, about `limit` at most per call (ties at the boundary time go
   * too): one bounded statement, not one per row. Returns how many were deleted.
   */
  async purgeExpired(nowMs: number, limit: number): Promise<number> {
    const boundary = await this.db
      .selectFrom('idempotencyKeys')
      .select('expiresAtMs')
      .where('expiresAtMs', '<=', nowMs)
      .orderBy('expiresAtMs')
      .limit(1)
      .offset(limit - 1)
      .executeTakeFirst();
    const upToMs = boundary ? Number(boundary.expiresAtMs) : nowMs;
    const result = await this.db.deleteFrom('idempotencyKeys').where('expiresAtMs', '<=', upToMs).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
