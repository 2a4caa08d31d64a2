/** Server-side sessions: the record that makes a public token revocable. */
import type { Kysely } from 'kysely';
import { prepare } from './prepared.js';
import type { Database, SessionsTable } from './schema.js';
import type { SessionCache } from '../services/session-cache.js';

/** A session as each request reads it (the bound certificate rides in the token, so it is not read here). */
export type SessionRecord = Omit<SessionsTable, 'certificateId'>;

/**
 * Every authenticated request reads its session: built once (prepared.ts). Columns are
 * named rather than `*`: PostgreSQL refuses to run a prepared statement whose result
 * columns a migration has changed since it was prepared.
 */
const SESSION_COLUMNS = ['id', 'userId', 'keyId', 'createdAtMs', 'lastSeenAtMs', 'expiresAtMs', 'revokedAtMs', 'revokedReason'] as const;
const sessionById = prepare((db, v: { id: string }) => db.selectFrom('sessions').select(SESSION_COLUMNS).where('id', '=', v.id));

export class SessionsRepository {
  /**
   * @param cache copies of sessions for the hot path (services/session-cache.ts); every
   *   revocation here tells it after the write, which is committed then (no caller runs
   *   these inside a transaction)
   */
  constructor(private readonly db: Kysely<Database>, private readonly cache?: SessionCache) {}

  /** Forgets a user's sessions in every process, after a revocation committed elsewhere (certificate revocation). */
  async forgetUser(userId: string): Promise<void> {
    await this.cache?.forgetUser(userId);
  }

  async insert(session: SessionRecord & { certificateId?: string | null }): Promise<void> {
    await this.db.insertInto('sessions').values({ ...session, certificateId: session.certificateId ?? null }).execute();
  }

  /**
   * The session, from the cache when it holds a young copy; `fresh` reads the row
   * (before acting on a copy's verdict that would end the session).
   */
  async findById(id: string, options: { fresh?: boolean } = {}): Promise<SessionRecord | undefined> {
    const cache = this.cache;
    if (cache && !options.fresh) {
      const cached = cache.get(id);
      if (cached) return cached;
    }
    const epoch = cache?.epoch() ?? 0;
    const row = await sessionById.first(this.db, { id });
    if (!row) return undefined;
    const record: SessionRecord = {
      ...row,
      createdAtMs: Number(row.createdAtMs),
      lastSeenAtMs: Number(row.lastSeenAtMs),
      expiresAtMs: Number(row.expiresAtMs),
      revokedAtMs: row.revokedAtMs === null ? null : Number(row.revokedAtMs),
    };
    cache?.fill(record, epoch);
    return record;
  }

  async touch(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('sessions').set({ lastSeenAtMs: nowMs }).where('id', '=', id).execute();
    this.cache?.touched(id, nowMs);
  }

  async revoke(id: string, reason: string, nowMs: number): Promise<void> {
    await this.db.updateTable('sessions').set({ revokedAtMs: nowMs, revokedReason: reason }).where('id', '=', id).where('revokedAtMs', 'is', null).execute();
    await this.cache?.forgetSession(id);
  }

  /** Sessions neither revoked, expired nor idle longer than `idleMs` at `nowMs`. */
  async countActive(nowMs: number, idleMs: number): Promise<number> {
    const row = await this.db.selectFrom('sessions').select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('revokedAtMs', 'is', null).where('expiresAtMs', '>', nowMs).where('lastSeenAtMs', '>', nowMs - idleMs).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Revokes every live session of a user; returns how many. */
  async revokeAll(userId: string, reason: string, nowMs: number): Promise<number> {
    const result = await this.db.updateTable('sessions').set({ revokedAtMs: nowMs, revokedReason: reason }).where('userId', '=', userId).where('revokedAtMs', 'is', null).executeTakeFirst();
    await this.cache?.forgetUser(userId);
    return Number(result.numUpdatedRows);
  }

  /** Revokes every live session of a user except `keepId`; returns how many. */
  async revokeOthers(userId: string, keepId: string, reason: string, nowMs: number): Promise<number> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revokedAtMs: nowMs, revokedReason: reason })
      .where('userId', '=', userId)
      .where('id', '<>', keepId)
      .where('revokedAtMs', 'is', null)
      .executeTakeFirst();
    await this.cache?.forgetUser(userId);
    return Number(result.numUpdatedRows);
  }
}
