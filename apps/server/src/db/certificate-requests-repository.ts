/** Requests for additional certificates, and the certificate history of each user. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CertificateEventsTable, CertificateRequestsTable, Database } from './schema.js';

export type CertificateRequestRecord = Selectable<CertificateRequestsTable>;
export type CertificateEventRecord = Selectable<CertificateEventsTable>;

type Db = Kysely<Database> | Transaction<Database>;

const nullableNumber = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function normaliseRequest(row: CertificateRequestRecord): CertificateRequestRecord {
  return { ...row, createdAtMs: Number(row.createdAtMs), expiresAtMs: Number(row.expiresAtMs), decidedAtMs: nullableNumber(row.decidedAtMs) };
}

export class CertificateRequestsRepository {
  constructor(readonly db: Kysely<Database>) {}

  async insert(trx: Db, record: CertificateRequestRecord): Promise<void> {
    await trx.insertInto('certificateRequests').values(record).execute();
  }

  async findById(trx: Db, id: string): Promise<CertificateRequestRecord | undefined> {
    const row = await trx.selectFrom('certificateRequests').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? normaliseRequest(row) : undefined;
  }

  /** Pending requests of a user that have not expired yet, oldest first. */
  async pendingOf(userId: string, nowMs: number): Promise<CertificateRequestRecord[]> {
    const rows = await this.db
      .selectFrom('certificateRequests')
      .selectAll()
      .where('userId', '=', userId)
      .where('status', '=', 'pending')
      .where('expiresAtMs', '>', nowMs)
      .orderBy('createdAtMs')
      .orderBy('id')
      .limit(100)
      .execute();
    return rows.map(normaliseRequest);
  }

  /**
   * Moves a pending, unexpired request to its decision. Conditional on the current
   * state, so two approvals racing each other cannot both win.
   */
  async decide(trx: Db, id: string, status: 'approved' | 'rejected' | 'expired', nowMs: number, certificateId: string | null): Promise<boolean> {
    let query = trx
      .updateTable('certificateRequests')
      .set({ status, decidedAtMs: nowMs, certificateId })
      .where('id', '=', id)
      .where('status', '=', 'pending');
    if (status !== 'expired') query = query.where('expiresAtMs', '>', nowMs);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Nicknames in use by a user: pending requests and active additional certificates. */
  async nicknamesInUse(trx: Db, userId: string, nowMs: number): Promise<string[]> {
    const pending = await trx.selectFrom('certificateRequests').select('nickname').where('userId', '=', userId).where('status', '=', 'pending').where('expiresAtMs', '>', nowMs).execute();
    const active = await trx
      .selectFrom('certificates')
      .select('deviceNickname')
      .where('userId', '=', userId)
      .where('status', '=', 'active')
      .where('notAfterMs', '>', nowMs)
      .where('deviceNickname', 'is not', null)
      .execute();
    return [...pending.map((r) => r.nickname), ...active.map((r) => r.deviceNickname!)];
  }

  /** Active, unexpired additional certificates plus pending requests: what counts towards the maximum. */
  async devicesCounted(trx: Db, userId: string, nowMs: number): Promise<number> {
    const certificates = await trx
      .selectFrom('certificates')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('userId', '=', userId)
      .where('kind', '=', 'additional')
      .where('status', '=', 'active')
      .where('notAfterMs', '>', nowMs)
      .executeTakeFirstOrThrow();
    const pending = await trx
      .selectFrom('certificateRequests')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('userId', '=', userId)
      .where('status', '=', 'pending')
      .where('expiresAtMs', '>', nowMs)
      .executeTakeFirstOrThrow();
    return Number(certificates.n) + Number(pending.n);
  }

  async addEvent(trx: Db, event: CertificateEventRecord): Promise<void> {
    await trx.insertInto('certificateEvents').values(event).execute();
  }

  async eventsOf(userId: string, limit = 200): Promise<CertificateEventRecord[]> {
    const rows = await this.db.selectFrom('certificateEvents').selectAll().where('userId', '=', userId).orderBy('atMs', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ ...r, atMs: Number(r.atMs) }));
  }
}
