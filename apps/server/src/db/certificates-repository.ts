/** Certificates the service CA issued, with their status; CRL numbers; test challenges. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { isUniqueViolation } from './database.js';
import { prepare } from './prepared.js';
import type { CertificatesTable, Database } from './schema.js';
import type { SessionCache } from '../services/session-cache.js';

export type CertificateRecord = Selectable<CertificatesTable>;

/** Read twice per payment (the certificate gate): built once (prepared.ts), columns named as sessions-repository.ts explains. */
const CERTIFICATE_COLUMNS = [
  'id', 'userId', 'kind', 'serialHex', 'issuerId', 'subject', 'spkiSha256Hex', 'derBase64', 'status', 'activeMasterOf', 'notBeforeMs', 'notAfterMs',
  'revokedAtMs', 'revocationReason', 'deviceNickname', 'approvedByCertificateId', 'lastUsedAtMs', 'createdAtMs',
] as const;
const certificateById = prepare((db, v: { id: string }) => db.selectFrom('certificates').select(CERTIFICATE_COLUMNS).where('id', '=', v.id));
// The payment transaction's re-check of a signer and, for a device's certificate, its master (a lone signer passes its id twice).
const statusOfPair = prepare((db, v: { id: string; other: string }) =>
  db.selectFrom('certificates').select(['id', 'status']).where((eb) => eb.or([eb('id', '=', v.id), eb('id', '=', v.other)])));

type Db = Kysely<Database> | Transaction<Database>;

function normalise(row: CertificateRecord): CertificateRecord {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    ...row,
    notBeforeMs: Number(row.notBeforeMs),
    notAfterMs: Number(row.notAfterMs),
    createdAtMs: Number(row.createdAtMs),
    revokedAtMs: n(row.revokedAtMs),
    lastUsedAtMs: n(row.lastUsedAtMs),
  };
}

export class CertificatesRepository {
  /** @param sessions the session cache, suspended for the owner while a revocation ends sessions (session-cache.ts) */
  constructor(readonly db: Kysely<Database>, private readonly sessions?: Pick<SessionCache, 'suspendUser'>) {}

  /** Before the sessions of a certificate's owner are ended in `trx`: no process serves a copy of one meanwhile. */
  private async suspendSessionsOfOwner(trx: Db, certificateId: string): Promise<void> {
    if (!this.sessions) return;
    const owner = await trx.selectFrom('certificates').select('userId').where('id', '=', certificateId).executeTakeFirst();
    if (owner) await this.sessions.suspendUser(owner.userId);
  }

  async insert(trx: Db, record: CertificateRecord): Promise<void> {
    await trx.insertInto('certificates').values(record).execute();
  }

  async findById(id: string): Promise<CertificateRecord | undefined> {
    const row = await certificateById.first(this.db, { id });
    return row ? normalise(row) : undefined;
  }

  async findBySerial(issuerId: string, serialHex: string): Promise<CertificateRecord | undefined> {
    const row = await this.db.selectFrom('certificates').selectAll().where('serialHex', '=', serialHex).where('issuerId', '=', issuerId).executeTakeFirst();
    return row ? normalise(row) : undefined;
  }

  async listByUser(userId: string): Promise<CertificateRecord[]> {
    const rows = await this.db.selectFrom('certificates').selectAll().where('userId', '=', userId).orderBy('createdAtMs', 'desc').orderBy('id').limit(200).execute();
    return rows.map(normalise);
  }

  /** The user's active master, if any (expired or not: the caller checks the time). */
  async activeMaster(trx: Db, userId: string): Promise<CertificateRecord | undefined> {
    const row = await trx.selectFrom('certificates').selectAll().where('activeMasterOf', '=', userId).executeTakeFirst();
    return row ? normalise(row) : undefined;
  }

  /**
   * The ids among `ids` whose certificate is revoked (or missing), read through `trx`:
   * the payment transaction's one indexed re-check of a signer and its master.
   */
  async notActiveAmong(trx: Db, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = ids.length <= 2
      ? await statusOfPair.rows(trx, { id: ids[0]!, other: ids[1] ?? ids[0]! })
      : await trx.selectFrom('certificates').select(['id', 'status']).where('id', 'in', ids).execute();
    const active = new Set(rows.filter((r) => r.status === 'active').map((r) => r.id));
    return ids.filter((id) => !active.has(id));
  }

  /** Revokes one certificate if still active; returns whether it changed. */
  async revoke(trx: Db, id: string, reason: string, nowMs: number): Promise<boolean> {
    const result = await trx
      .updateTable('certificates')
      .set({ status: 'revoked', revokedAtMs: nowMs, revocationReason: reason, activeMasterOf: null })
      .where('id', '=', id)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    // Sessions a certificate login opened with it, or with a device it approved, end with it:
    // a lost phone's revoked certificate must not leave its session working.
    await this.suspendSessionsOfOwner(trx, id);
    const approved = trx.selectFrom('certificates').select('id').where('approvedByCertificateId', '=', id);
    await trx.updateTable('sessions').set({ revokedAtMs: nowMs, revokedReason: 'certificate_revoked' })
      .where('revokedAtMs', 'is', null)
      .where((eb) => eb.or([eb('certificateId', '=', id), eb('certificateId', 'in', approved)]))
      .execute();
    return true;
  }

  /** Revokes every active certificate approved by `masterId` (the devices under a master). */
  async revokeApprovedBy(trx: Db, masterId: string, reason: string, nowMs: number): Promise<number> {
    const approved = trx.selectFrom('certificates').select('id').where('approvedByCertificateId', '=', masterId);
    await this.suspendSessionsOfOwner(trx, masterId);
    await trx.updateTable('sessions').set({ revokedAtMs: nowMs, revokedReason: 'certificate_revoked' })
      .where('revokedAtMs', 'is', null).where('certificateId', 'in', approved)
      .execute();
    const result = await trx
      .updateTable('certificates')
      .set({ status: 'revoked', revokedAtMs: nowMs, revocationReason: reason, activeMasterOf: null })
      .where('approvedByCertificateId', '=', masterId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Every revoked certificate of an issuer, expired or not: a CRL's entries. Expired ones
   * stay so that a later CRL still proves their status (RFC 5280 §3.3 would let them go;
   * the CRL announces keeping them with X.509's expiredCertsOnCRL). Revocations are few
   * next to issued certificates, so the list stays short.
   */
  async revokedOf(issuerId: string): Promise<{ serialHex: string; revokedAtMs: number; revocationReason: string | null }[]> {
    const rows = await this.db
      .selectFrom('certificates')
      .select(['serialHex', 'revokedAtMs', 'revocationReason'])
      .where('issuerId', '=', issuerId)
      .where('status', '=', 'revoked')
      .orderBy('revokedAtMs')
      .orderBy('serialHex')
      .execute();
    return rows.map((r) => ({ serialHex: r.serialHex, revokedAtMs: Number(r.revokedAtMs), revocationReason: r.revocationReason }));
  }

  async touch(id: string, nowMs: number): Promise<void> {
    await this.db.updateTable('certificates').set({ lastUsedAtMs: nowMs }).where('id', '=', id).execute();
  }

  /** The next CRL number of an issuer (monotonic, persisted). */
  async nextCrlNumber(issuerId: string, nowMs: number): Promise<number> {
    try {
      await this.db.insertInto('crlNumbers').values({ issuerId, lastNumber: 0, issuedAtMs: nowMs }).execute();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    // The increment takes the row lock; reading inside the same transaction sees our own value.
    return this.db.transaction().execute(async (trx) => {
      await trx.updateTable('crlNumbers').set((eb) => ({ lastNumber: eb('lastNumber', '+', 1), issuedAtMs: nowMs })).where('issuerId', '=', issuerId).execute();
      const row = await trx.selectFrom('crlNumbers').select('lastNumber').where('issuerId', '=', issuerId).executeTakeFirstOrThrow();
      return Number(row.lastNumber);
    });
  }

  async insertChallenge(challenge: { id: string; userId: string; challenge: string; expiresAtMs: number }): Promise<void> {
    await this.db.insertInto('certificateChallenges').values({ ...challenge, usedAtMs: null }).execute();
  }

  /** Marks a live challenge of the user as used; returns its text, or undefined when not live. */
  async consumeChallenge(id: string, userId: string, nowMs: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('certificateChallenges').selectAll().where('id', '=', id).where('userId', '=', userId).executeTakeFirst();
    if (!row || row.usedAtMs !== null || Number(row.expiresAtMs) <= nowMs) return undefined;
    const result = await this.db.updateTable('certificateChallenges').set({ usedAtMs: nowMs }).where('id', '=', id).where('usedAtMs', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? row.challenge : undefined;
  }
}
