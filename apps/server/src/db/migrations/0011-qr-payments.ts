/**
 * QR payment sessions (docs/protocol.md, "QR payment") and the order's history.
 *
 * A session holds only digests of what the PC shows: the token's SHA-256 (192 random
 * bits need no key) and the numeric code's keyed digest (a million codes would fall to a
 * plain hash at once). The status moves forward only — open → scanned → paid, or to
 * expired / cancelled — each step one conditional UPDATE, so two phones or a phone and
 * the PC racing cannot both win.
 *
 * `order_events` is the order's history as the buyer and seller see it: what happened
 * to the order and its payment sessions, appended, never updated.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function qrPaymentsMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('qr_sessions')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('token_digest', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('order_id', ID, (c) => c.notNull())
        .addColumn('pc_session_id', ID, (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('confirmation_code', 'varchar(8)', (c) => c.notNull())
        .addColumn('numeric_code_digest', 'varchar(64)')
        .addColumn('numeric_tries', 'integer', (c) => c.notNull())
        .addColumn('phone_session_id', ID)
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('scanned_at_ms', 'bigint')
        .addColumn('ended_at_ms', 'bigint')
        .addForeignKeyConstraint('qr_sessions_user_fk', ['user_id'], 'users', ['id'])
        .addForeignKeyConstraint('qr_sessions_order_fk', ['order_id'], 'orders', ['id'])
        .addCheckConstraint('qr_sessions_status_check', sql`status in ('open', 'scanned', 'paid', 'expired', 'cancelled')`)
        .addCheckConstraint('qr_sessions_tries_check', sql`numeric_tries >= 0`)
        // A scanned session names its phone; an open one has none yet.
        .addCheckConstraint('qr_sessions_scan_check', sql`(status = 'open') = (phone_session_id is null) or status in ('expired', 'cancelled')`))
        .execute();
      // A typed numeric code is looked up among the account's open sessions.
      await db.schema.createIndex('qr_sessions_user_status_idx').on('qr_sessions').columns(['user_id', 'status']).execute();
      await db.schema.createIndex('qr_sessions_order_idx').on('qr_sessions').column('order_id').execute();

      await forEngine(engine, db.schema
        .createTable('order_events')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('order_id', ID, (c) => c.notNull())
        .addColumn('at_ms', 'bigint', (c) => c.notNull())
        .addColumn('kind', 'varchar(40)', (c) => c.notNull())
        .addColumn('qr_session_id', ID)
        .addColumn('detail', 'varchar(400)')
        .addForeignKeyConstraint('order_events_order_fk', ['order_id'], 'orders', ['id']))
        .execute();
      await db.schema.createIndex('order_events_order_idx').on('order_events').columns(['order_id', 'at_ms']).execute();
    },
  };
}
