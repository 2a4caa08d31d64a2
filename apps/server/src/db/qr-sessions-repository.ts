/**
 * QR payment sessions and the order history (migration 0011). Every change of a
 * session's status is one conditional UPDATE on the status it expects, so the first of
 * two racing changes wins and the other learns it lost from the row count.
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import type { Database, OrderEventsTable, QrSessionEndedBy, QrSessionsTable } from './schema.js';
import { runWriteTransaction, type Db } from './write-transaction.js';

export type QrSessionRecord = QrSessionsTable;
export type OrderEventRecord = OrderEventsTable;

export class QrSessionsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: DatabaseEngine,
  ) {}

  async insert(session: QrSessionRecord, event: OrderEventRecord): Promise<void> {
    await runWriteTransaction(this.db, this.engine, async (trx) => {
      await trx.insertInto('qrSessions').values(session).execute();
      await trx.insertInto('orderEvents').values(event).execute();
    });
  }

  async findById(id: string, db: Db = this.db): Promise<QrSessionRecord | undefined> {
    return db.selectFrom('qrSessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByTokenDigest(tokenDigest: string): Promise<QrSessionRecord | undefined> {
    return this.db.selectFrom('qrSessions').selectAll().where('tokenDigest', '=', tokenDigest).executeTakeFirst();
  }

  /** The account's sessions that may still be taken with a numeric code. */
  async openWithNumericCode(userId: string, nowMs: number): Promise<QrSessionRecord[]> {
    return this.db.selectFrom('qrSessions').selectAll()
      .where('userId', '=', userId).where('status', '=', 'open').where('expiresAtMs', '>', nowMs).where('numericCodeDigest', 'is not', null)
      .execute();
  }

  /** Takes one of a session's numeric-code tries; false when none is left (or its code is gone). */
  async reserveNumericTry(id: string, max: number): Promise<boolean> {
    const result = await this.db.updateTable('qrSessions').set((eb) => ({ numericTries: eb('numericTries', '+', 1) }))
      .where('id', '=', id).where('numericTries', '<', max).where('numericCodeDigest', 'is not', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Forgets the numeric code of each of `ids` that has used all its tries. */
  async forgetSpentNumericCodes(ids: readonly string[], max: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('qrSessions').set({ numericCodeDigest: null }).where('id', 'in', ids).where('numericTries', '>=', max).execute();
  }

  /** open → scanned by `phoneSessionId`, while the token is live; false when it was not open (or no longer live). */
  async markScanned(id: string, phoneSessionId: string, nowMs: number, payUntilMs: number, event: OrderEventRecord): Promise<boolean> {
    return runWriteTransaction(this.db, this.engine, async (trx) => {
      const result = await trx.updateTable('qrSessions')
        .set({ status: 'scanned', phoneSessionId, scannedAtMs: nowMs, expiresAtMs: payUntilMs, numericCodeDigest: null })
        .where('id', '=', id).where('status', '=', 'open').where('expiresAtMs', '>', nowMs)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx.insertInto('orderEvents').values(event).execute();
      return true;
    });
  }

  /**
   * open or scanned → expired or cancelled (and by whom), with its history entry; false when
   * the session had already ended. An expiry applies only once the session's time is up
   * (`dueAt`), so a timer in any process may try it.
   */
  async end(id: string, ending: { status: 'expired'; dueAt: number } | { status: 'cancelled'; by: QrSessionEndedBy }, nowMs: number, event: OrderEventRecord): Promise<boolean> {
    return runWriteTransaction(this.db, this.engine, async (trx) => {
      let update = trx.updateTable('qrSessions')
        .set({ status: ending.status, endedAtMs: nowMs, numericCodeDigest: null, endedBy: ending.status === 'cancelled' ? ending.by : null })
        .where('id', '=', id).where('status', 'in', ['open', 'scanned']);
      if (ending.status === 'expired') update = update.where('expiresAtMs', '<=', ending.dueAt);
      const result = await update.executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx.insertInto('orderEvents').values(event).execute();
      return true;
    });
  }

  /** The live sessions of an order, whichever PC opened them: ended when the order is paid another way. */
  async liveOfAnyPc(orderId: string): Promise<QrSessionRecord[]> {
    return this.db.selectFrom('qrSessions').selectAll().where('orderId', '=', orderId).where('status', 'in', ['open', 'scanned']).execute();
  }

  /** The live sessions of one order and PC session, which a new QR code replaces. */
  async liveOfOrder(orderId: string, pcSessionId: string): Promise<QrSessionRecord[]> {
    return this.db.selectFrom('qrSessions').selectAll()
      .where('orderId', '=', orderId).where('pcSessionId', '=', pcSessionId).where('status', 'in', ['open', 'scanned'])
      .execute();
  }

  /**
   * scanned by `phoneSessionId` → paid, inside the payment's transaction: a session the PC
   * cancelled (or that expired) a moment ago makes the whole payment roll back.
   */
  async markPaid(trx: Db, id: string, phoneSessionId: string, nowMs: number): Promise<boolean> {
    const result = await trx.updateTable('qrSessions')
      .set({ status: 'paid', endedAtMs: nowMs })
      .where('id', '=', id).where('status', '=', 'scanned').where('phoneSessionId', '=', phoneSessionId).where('expiresAtMs', '>', nowMs)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async appendEvent(event: OrderEventRecord, executor: Db = this.db): Promise<void> {
    await executor.insertInto('orderEvents').values(event).execute();
  }

  async eventsOfOrder(orderId: string): Promise<OrderEventRecord[]> {
    return this.db.selectFrom('orderEvents').selectAll().where('orderId', '=', orderId).orderBy('atMs').orderBy('id').execute();
  }
}
