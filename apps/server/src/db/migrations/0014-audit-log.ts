/**
 * The audit log (docs/admin.md): entries chained by hash, the chain's tip (one row that
 * every append locks, so appends form one chain on every engine), and the heads the
 * server signed.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

const HASH = 'char(64)';

export function auditLogMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('audit_log')
        .addColumn('sequence', 'bigint', (c) => c.primaryKey())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'varchar(64)', (c) => c.notNull())
        .addColumn('actor', 'varchar(36)')
        .addColumn('subject', 'varchar(100)')
        // Canonical JSON (RFC 8785) of the detail object: what the hash covers, re-parsed on reading.
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('prev_hash', HASH, (c) => c.notNull())
        .addColumn('hash', HASH, (c) => c.notNull())
        .addCheckConstraint('audit_log_sequence_check', sql`sequence > 0`))
        .execute();
      await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at_ms').execute();
      await db.schema.createIndex('audit_log_kind_idx').on('audit_log').columns(['kind', 'at_ms']).execute();
      await forEngine(engine, db.schema
        .createTable('audit_chain_tip')
        // One row (id 1). Locking it, rather than the last entry, serializes appends on
        // PostgreSQL too: a waiter there re-reads the locked row after the holder commits,
        // while a locked "last entry" would already be the second-to-last.
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('last_sequence', 'bigint', (c) => c.notNull())
        .addColumn('last_hash', HASH, (c) => c.notNull())
        .addColumn('signed_sequence', 'bigint', (c) => c.notNull())
        .addCheckConstraint('audit_chain_tip_one_row', sql`id = 1`))
        .execute();
      await db.insertInto('audit_chain_tip' as never).values({ id: 1, last_sequence: 0, last_hash: '0'.repeat(64), signed_sequence: 0 } as never).execute();
      await forEngine(engine, db.schema
        .createTable('audit_heads')
        .addColumn('sequence', 'bigint', (c) => c.primaryKey())
        .addColumn('signed_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('jws', 'text', (c) => c.notNull()))
        .execute();
    },
  };
}
