/** Server-side sessions: the record that makes a public token revocable. */
import type { Kysely } from 'kysely';
import { prepare } from './prepared.js';
import type { Database, SessionsTable } from './schema.js';

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
  constructor(private readonly db: Kysely<Database>) {}

  async insert(session: SessionRecord & { certificateId?: string | null }): Promise<void> {
    await this.db.insertInto('sessions').values({ ...session, certificateId: session.certificateId ?? null }).execute();
  }

  async findById(id: string): Promise<SessionRecord | undefined> {
    const row = await sessionById.first(this.db, { id });
    if (!row) return undefined;
    return {
      ...row,
      createdAtMs: Number(row.createdAtMs),
      lastSeenAtMs: Number(row.lastSeenAtMs),
      expiresAtMs: Number(row.expiresAtMs),
      revokedAtMs: row.revokedAtMs === null ? null : Number(row.revokedAtMs),
    };
  }

  async touch(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('sessions').set({ lastSeenAtMs: nowMs }).where('id', '=', id).execute();
  }

  async revoke(id: string, reason: string, nowMs: number): Promise<void> {
    await this.db.updateTable('sessions').set({ revokedAtMs: nowMs, revokedReason: reason }).where('id', '=', id).where('revokedAtMs', 'is', null).execute();
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
    return Number(result.numUpdatedRows);
  }
}
