/**
 * Seller-signed receipts (docs/receipts.md): each receipt is a CMS SignedData made long-term
 * like payment evidence (chain, CRLs, time-stamp), numbered per order. A re-issue adds a
 * row with the next sequence that names the one it replaces, and marks that one
 * superseded; the unique (order, sequence) pair refuses two receipts racing for one number.
 * The index on (seller, paid time) serves the sales history and its daily totals.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function receiptsMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('receipts')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('receipt_number', 'varchar(40)', (c) => c.notNull().unique())
        .addColumn('order_id', ID, (c) => c.notNull())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('seller_id', ID, (c) => c.notNull())
        .addColumn('certificate_id', ID, (c) => c.notNull())
        .addColumn('replaces_receipt_id', ID)
        // The public link's unguessable part: a receipt number alone must not open a stranger's receipt.
        .addColumn('link_id', 'varchar(43)', (c) => c.notNull().unique())
        // Several kilobytes with the chain, CRLs and time-stamp: MEDIUMTEXT on MariaDB (as 0007 for evidence).
        .addColumn('cms_base64', engine === 'mysql' ? sql`mediumtext` : 'text', (c) => c.notNull())
        .addColumn('signature_hex', 'varchar(200)', (c) => c.notNull())
        .addColumn('signing_time_ms', 'bigint', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('superseded_at_ms', 'bigint')
        .addForeignKeyConstraint('receipts_order_fk', ['order_id'], 'orders', ['id'])
        .addForeignKeyConstraint('receipts_seller_fk', ['seller_id'], 'users', ['id'])
        .addForeignKeyConstraint('receipts_replaces_fk', ['replaces_receipt_id'], 'receipts', ['id'])
        .addUniqueConstraint('receipts_order_sequence_unique', ['order_id', 'sequence'])
        .addCheckConstraint('receipts_sequence_check', sql`sequence >= 1 and sequence <= 999`))
        .execute();
      await db.schema.createIndex('orders_seller_paid_idx').on('orders').columns(['seller_id', 'paid_at_ms']).execute();
    },
  };
}
