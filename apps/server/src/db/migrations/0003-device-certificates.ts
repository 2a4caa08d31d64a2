/**
 * Additional certificates: the requests a new device makes and the master device
 * decides, and the certificate history shown to the user.
 */
import { sql, type Kysely } from 'kysely';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function deviceCertificatesMigration(engine: string) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('certificate_requests')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('nickname', 'varchar(40)', (c) => c.notNull())
        .addColumn('csr_pem', 'text', (c) => c.notNull())
        .addColumn('spki_base64', 'varchar(200)', (c) => c.notNull())
        .addColumn('spki_sha256_hex', 'varchar(64)', (c) => c.notNull())
        .addColumn('server_nonce', 'varchar(64)', (c) => c.notNull())
        .addColumn('code', 'varchar(6)', (c) => c.notNull())
        .addColumn('status', 'varchar(10)', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('decided_at_ms', 'bigint')
        .addColumn('certificate_id', ID)
        .addColumn('requested_from', 'varchar(64)')
        .addColumn('requested_agent', 'varchar(200)')
        .addForeignKeyConstraint('certificate_requests_user_fk', ['user_id'], 'users', ['id'])
        .addCheckConstraint('certificate_requests_status_check', sql`status in ('pending', 'approved', 'rejected', 'expired')`))
        .execute();
      await db.schema.createIndex('certificate_requests_user_idx').on('certificate_requests').columns(['user_id', 'status']).execute();

      await forEngine(engine, db.schema
        .createTable('certificate_events')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('kind', 'varchar(20)', (c) => c.notNull())
        .addColumn('certificate_id', ID)
        .addColumn('request_id', ID)
        .addColumn('nickname', 'varchar(40)')
        .addColumn('detail', 'varchar(200)')
        .addColumn('ip', 'varchar(64)')
        .addColumn('user_agent', 'varchar(200)')
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('certificate_events_user_fk', ['user_id'], 'users', ['id']))
        .execute();
      await db.schema.createIndex('certificate_events_user_idx').on('certificate_events').columns(['user_id', 'at_ms']).execute();
    },
  };
}
