/**
 * Certificates issued by the service CA, CRL numbering per issuer, and the one-time
 * challenges of "test my certificate".
 */
import { sql, type Kysely } from 'kysely';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function certificatesMigration(engine: string) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('certificates')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('kind', 'varchar(12)', (c) => c.notNull())
        .addColumn('serial_hex', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('issuer_id', 'varchar(40)', (c) => c.notNull())
        .addColumn('subject', 'varchar(400)', (c) => c.notNull())
        .addColumn('spki_sha256_hex', 'varchar(64)', (c) => c.notNull())
        .addColumn('der_base64', 'text', (c) => c.notNull())
        .addColumn('status', 'varchar(10)', (c) => c.notNull())
        // Holds the user id while this is the user's active master, else null: a unique
        // column that allows many nulls keeps "one active master per user" on all engines.
        .addColumn('active_master_of', ID, (c) => c.unique())
        .addColumn('not_before_ms', 'bigint', (c) => c.notNull())
        .addColumn('not_after_ms', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at_ms', 'bigint')
        .addColumn('revocation_reason', 'varchar(30)')
        .addColumn('device_nickname', 'varchar(40)')
        .addColumn('approved_by_certificate_id', ID)
        .addColumn('last_used_at_ms', 'bigint')
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('certificates_user_fk', ['user_id'], 'users', ['id'])
        .addCheckConstraint('certificates_kind_check', sql`kind in ('master', 'additional')`)
        .addCheckConstraint('certificates_status_check', sql`status in ('active', 'revoked')`)
        .addCheckConstraint('certificates_revocation_check', sql`(status = 'revoked') = (revoked_at_ms is not null)`))
        .execute();
      await db.schema.createIndex('certificates_user_idx').on('certificates').columns(['user_id', 'created_at_ms']).execute();
      await db.schema.createIndex('certificates_issuer_status_idx').on('certificates').columns(['issuer_id', 'status']).execute();

      await forEngine(engine, db.schema
        .createTable('crl_numbers')
        .addColumn('issuer_id', 'varchar(40)', (c) => c.primaryKey())
        .addColumn('last_number', 'bigint', (c) => c.notNull())
        .addColumn('issued_at_ms', 'bigint', (c) => c.notNull()))
        .execute();

      await forEngine(engine, db.schema
        .createTable('certificate_challenges')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('challenge', 'varchar(64)', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint')
        .addForeignKeyConstraint('certificate_challenges_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade')))
        .execute();
    },
  };
}
