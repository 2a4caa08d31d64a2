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
import type { DatabaseEngine } from '../config.js';
import { isUniqueViolation } from './database.js';
import { prepare } from './prepared.js';
import type { Database } from './schema.js';
import { runWriteTransaction, type Db } from './write-transaction.js';

/** A response as stored for replay. */
export interface StoredResponse {
  status: number;
  contentType: string | null;
  body: string;
}

/** What claiming a key found. */
export type IdempotencyClaim =
  /**
   * The key is new (or its last claim was abandoned): this request runs and its response is
   * stored afterwards. `claimedAtMs` tells this claim from an earlier one of the same key:
   * storing or releasing needs it.
   */
  | { state: 'claimed'; claimedAtMs: number }
  /** The same request finished before: answer with its stored response. */
  | { state: 'completed'; status: number; contentType: string | null; body: string }
  /** The same request is still running. */
  | { state: 'in_progress' }
  /** The key belongs to a different request. */
  | { state: 'reused' };

/** Claim attempts: a row can vanish or change between the failed insert and the read (expiry, release, a takeover). */
const CLAIM_ATTEMPTS_MAX = 3;

/**
 * How long a claim may stay in progress before a retry of the same request takes it over.
 * A claim stays in progress for good when the process stops between the claim and the
 * answer (a crash, a deploy): without a takeover the retries were told "in progress" until
 * the key expired, 24 hours later. Far longer than a request runs; and safe even for one
 * that is still running, since storing its answer needs its own claim time, which the
 * takeover replaced: its effect's transaction then rolls back (`completeWithin`).
 */
export const IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS = 60_000;

// What every order sent with a key runs here (the web app's checkout sends each one with a
// key): its claim and its stored answer, built once (prepared.ts).
const insertClaim = prepare((db, v: { userId: string; key: string; requestSha256Hex: string; claimedAtMs: number; expiresAtMs: number }) =>
  db.insertInto('idempotencyKeys').values({
    userId: v.userId, idempotencyKey: v.key, requestSha256Hex: v.requestSha256Hex, state: 'in_progress',
    responseStatus: null, responseContentType: null, responseBody: null, createdAtMs: v.claimedAtMs, expiresAtMs: v.expiresAtMs,
  }));
const completeClaim = prepare((db, v: { userId: string; key: string; claimedAtMs: number; status: number; contentType: string | null; body: string }) =>
  db.updateTable('idempotencyKeys')
    .set({ state: 'completed', responseStatus: v.status, responseContentType: v.contentType, responseBody: v.body })
    .where('userId', '=', v.userId)
    .where('idempotencyKey', '=', v.key)
    .where('state', '=', 'in_progress')
    .where('createdAtMs', '=', v.claimedAtMs));

/** The `idempotency_keys` table. */
export class IdempotencyRepository {
  constructor(private readonly db: Kysely<Database>, private readonly engine: DatabaseEngine) {}

  /**
   * Runs a claim's or an answer's writes. On SQLite a statement outside a transaction is a
   * transaction of its own that syncs the WAL by itself, on the event loop: every order
   * sent with a key (as the web app sends each one) paid a second sync. In-process, 3,000
   * orders 64 at a time, three rounds in turn: 4,737-5,272/s without a key, 1,515-1,781/s
   * with one; with its writes in a write transaction, which joins group commit and shares
   * its sync, 2,866-3,198/s.
   * Elsewhere a single statement is atomic already and needs no BEGIN/COMMIT.
   */
  private writing<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.engine === 'sqlite' ? runWriteTransaction(this.db, this.engine, work) : work(this.db);
  }

  /**
   * Claims `key` for `userId` and a request hash, or reports what holds it. An expired
   * row no longer counts: it is removed and the key claimed afresh. A claim of the same
   * request in progress for `abandonedAfterMs` or longer is taken over.
   */
  async claim(userId: string, key: string, requestSha256Hex: string, nowMs: number, ttlMs: number, abandonedAfterMs = IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS): Promise<IdempotencyClaim> {
    return this.writing((db) => this.claimOn(db, userId, key, requestSha256Hex, nowMs, ttlMs, abandonedAfterMs));
  }

  private async claimOn(db: Db, userId: string, key: string, requestSha256Hex: string, nowMs: number, ttlMs: number, abandonedAfterMs: number): Promise<IdempotencyClaim> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt += 1) {
      try {
        await insertClaim.affected(db, { userId, key, requestSha256Hex, claimedAtMs: nowMs, expiresAtMs: nowMs + ttlMs });
        return { state: 'claimed', claimedAtMs: nowMs };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      const row = await db
        .selectFrom('idempotencyKeys')
        .select(['requestSha256Hex', 'state', 'responseStatus', 'responseContentType', 'responseBody', 'createdAtMs', 'expiresAtMs'])
        .where('userId', '=', userId)
        .where('idempotencyKey', '=', key)
        .executeTakeFirst();
      if (!row) continue;
      if (Number(row.expiresAtMs) <= nowMs) {
        // Only this expired row: a fresh claim that won a race meanwhile stays.
        await db.deleteFrom('idempotencyKeys').where('userId', '=', userId).where('idempotencyKey', '=', key).where('expiresAtMs', '=', Number(row.expiresAtMs)).execute();
        continue;
      }
      if (row.requestSha256Hex !== requestSha256Hex) return { state: 'reused' };
      if (row.state === 'in_progress') {
        const claimedAtMs = Number(row.createdAtMs);
        if (nowMs - claimedAtMs < abandonedAfterMs) return { state: 'in_progress' };
        // Abandoned: this request takes the claim over, if no other retry did meanwhile.
        const taken = await db
          .updateTable('idempotencyKeys')
          .set({ createdAtMs: nowMs })
          .where('userId', '=', userId)
          .where('idempotencyKey', '=', key)
          .where('state', '=', 'in_progress')
          .where('createdAtMs', '=', claimedAtMs)
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) === 1) return { state: 'claimed', claimedAtMs: nowMs };
        continue;
      }
      return { state: 'completed', status: Number(row.responseStatus), contentType: row.responseContentType, body: row.responseBody ?? '' };
    }
    // Still contended after every attempt: the caller answers "in progress", which is retryable.
    return { state: 'in_progress' };
  }

  /** Stores the response of this claim of a key; a key no longer in progress, or claimed again since, keeps what it has. */
  async complete(userId: string, key: string, claimedAtMs: number, response: StoredResponse): Promise<void> {
    await this.writing((db) => this.completed(db, userId, key, claimedAtMs, response));
  }

  /**
   * Stores the response of a claimed key inside `trx`, the transaction of the effect it
   * answers: the answer commits with the effect or not at all. Throws (rolling the effect
   * back) unless this request's claim is still in progress, since an effect whose answer
   * cannot be stored must not commit either — nor one whose claim a retry took over.
   */
  async completeWithin(trx: Db, userId: string, key: string, claimedAtMs: number, response: StoredResponse): Promise<void> {
    if (!(await this.completed(trx, userId, key, claimedAtMs, response))) throw new Error(`idempotency key of user ${userId} is not in progress under this claim; the effect is not committed`);
  }

  private async completed(db: Db, userId: string, key: string, claimedAtMs: number, response: StoredResponse): Promise<boolean> {
    return (await completeClaim.affected(db, { userId, key, claimedAtMs, status: response.status, contentType: response.contentType, body: response.body })) === 1;
  }

  /**
   * Gives a claimed key up, so a retry runs the request again. Only a key still in
   * progress: an answer stored with its effect (`completeWithin`) stays, whatever the
   * request answered afterwards. The delete waits on the row's lock while that transaction
   * is still being decided, so a commit that reported an error but went through is seen
   * as committed, and one that did not as still in progress. A claim a retry took over
   * belongs to that retry, and stays.
   */
  async release(userId: string, key: string, claimedAtMs: number): Promise<void> {
    await this.writing((db) => db.deleteFrom('idempotencyKeys').where('userId', '=', userId).where('idempotencyKey', '=', key).where('state', '=', 'in_progress').where('createdAtMs', '=', claimedAtMs).execute());
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
