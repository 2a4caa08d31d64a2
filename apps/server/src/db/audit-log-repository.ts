/**
 * The audit log's rows: the chain's tip (locked by every append), the entries, and the
 * signed heads. Only `AuditLog` (services/audit-log.ts) calls this; the hashing is core's.
 */
import type { Kysely } from 'kysely';
import type { AuditEntry, AuditHead } from '@coconutpay/core/audit';
import type { CanonicalValue } from '@coconutpay/core/encoding/canonical-json';
import type { DatabaseEngine } from '../config.js';
import { prepare } from './prepared.js';
import type { Database } from './schema.js';
import { lockingRead, type Db } from './write-transaction.js';
import { WriteBatch } from './write-batch.js';

export interface ChainTip {
  lastSequence: number;
  lastHash: string;
  signedSequence: number;
}

/** A page of the log; filters are optional and combine. */
export interface AuditQuery {
  afterSequence?: number;
  /** Entries before this sequence number (paging back from the newest). */
  beforeSequence?: number;
  kind?: string;
  kinds?: readonly string[];
  /** Newest first instead of sequence order. */
  newestFirst?: boolean;
  actor?: string;
  subject?: string;
  fromMs?: number;
  untilMs?: number;
  limit: number;
}

type AuditRow = Database['auditLog'];

function toEntry(row: AuditRow): AuditEntry {
  return {
    sequence: Number(row.sequence), atMs: Number(row.atMs), kind: row.kind, actor: row.actor, subject: row.subject,
    detail: JSON.parse(row.detail) as { [key: string]: CanonicalValue },
    // char(64) columns come back exact on every engine; trimming guards against a padded driver.
    prevHash: row.prevHash.trim(), hash: row.hash.trim(),
  };
}

export class AuditLogRepository {
  /** The tip under its row lock: every batch of entries (a payment's among them) reads it, so it is built once. */
  private readonly tipForUpdate;

  constructor(private readonly db: Kysely<Database>, private readonly engine: DatabaseEngine) {
    this.tipForUpdate = prepare((kysely, _v: Record<string, never>) =>
      lockingRead(engine, kysely.selectFrom('auditChainTip').select(['lastSequence', 'lastHash', 'signedSequence']).where('id', '=', 1)));
  }

  /** Reads the tip with a row lock: the caller holds the chain until its transaction ends. */
  async lockTip(trx: Db): Promise<ChainTip> {
    const row = await this.tipForUpdate.first(trx, {});
    if (!row) throw new Error('the audit chain has no tip row');
    return { lastSequence: Number(row.lastSequence), lastHash: row.lastHash.trim(), signedSequence: Number(row.signedSequence) };
  }

  async tip(): Promise<ChainTip> {
    const row = await this.db.selectFrom('auditChainTip').select(['lastSequence', 'lastHash', 'signedSequence']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { lastSequence: Number(row.lastSequence), lastHash: row.lastHash.trim(), signedSequence: Number(row.signedSequence) };
  }

  /** Appends entries (consecutive, in order) and moves the tip to the last; `detailJson[i]` is the canonical JSON entry i's hash covered. */
  async insert(trx: Db, entries: readonly AuditEntry[], detailJson: readonly string[]): Promise<void> {
    if (entries.length === 0) return;
    // The entries and the tip's move in one round trip where the database is another process.
    const batch = new WriteBatch();
    batch.addBuilt(trx.insertInto('auditLog').values(entries.map((e, i) => ({
      sequence: e.sequence, atMs: e.atMs, kind: e.kind, actor: e.actor, subject: e.subject, detail: detailJson[i]!, prevHash: e.prevHash, hash: e.hash,
    }))));
    const last = entries.at(-1)!;
    batch.addBuilt(trx.updateTable('auditChainTip').set({ lastSequence: last.sequence, lastHash: last.hash }).where('id', '=', 1), { rows: 1, otherwise: () => new Error('the audit chain tip is missing') });
    await batch.flush(trx, this.engine);
  }

  async insertHead(trx: Db, head: AuditHead, signedAtMs: number): Promise<void> {
    await trx.insertInto('auditHeads').values({ sequence: head.sequence, signedAtMs, jws: head.jws }).execute();
    await trx.updateTable('auditChainTip').set({ signedSequence: head.sequence }).where('id', '=', 1).execute();
  }

  /** Entries in sequence order (or newest first), filtered. */
  async list(query: AuditQuery): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('auditLog').selectAll().orderBy('sequence', query.newestFirst ? 'desc' : 'asc').limit(query.limit);
    if (query.afterSequence !== undefined) q = q.where('sequence', '>', query.afterSequence);
    if (query.beforeSequence !== undefined) q = q.where('sequence', '<', query.beforeSequence);
    if (query.kind !== undefined) q = q.where('kind', '=', query.kind);
    if (query.kinds !== undefined && query.kinds.length > 0) q = q.where('kind', 'in', [...query.kinds]);
    if (query.actor !== undefined) q = q.where('actor', '=', query.actor);
    if (query.subject !== undefined) q = q.where('subject', '=', query.subject);
    if (query.fromMs !== undefined) q = q.where('atMs', '>=', query.fromMs);
    if (query.untilMs !== undefined) q = q.where('atMs', '<', query.untilMs);
    return (await q.execute()).map(toEntry);
  }

  /** Heads signed over entries in (afterSequence, throughSequence]. */
  async heads(afterSequence: number, throughSequence: number): Promise<AuditHead[]> {
    const rows = await this.db.selectFrom('auditHeads').select(['sequence', 'jws'])
      .where('sequence', '>', afterSequence).where('sequence', '<=', throughSequence).orderBy('sequence').execute();
    return rows.map((r) => ({ sequence: Number(r.sequence), jws: r.jws }));
  }
}
