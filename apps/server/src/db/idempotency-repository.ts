/**
 * Stored results of requests sent with an `Idempotency-Key`, per user. A key is
 * claimed by one insert-if-absent (the primary key decides between racing requests),
 * then completed with the response, or released when the outcome may change on a retry.
 */
import type { Kysely } from 'kysely';
import { isUniqueViolation } from './database.js';
import type { Database } from './schema.js';

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

  /** Stores the response of a claimed key. */
  async complete(userId: string, key: string, response: { status: number; contentType: string | null; body: string }): Promise<void> {
    await this.db
      .updateTable('idempotencyKeys')
      .set({ state: 'completed', responseStatus: response.status, responseContentType: response.contentType, responseBody: response.body })
      .where('userId', '=', userId)
      .where('idempotencyKey', '=', key)
      .where('state', '=', 'in_progress')
      .execute();
  }

  /** Gives a claimed key up, so a retry runs the request again. */
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
