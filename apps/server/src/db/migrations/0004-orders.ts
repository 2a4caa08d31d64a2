/**
 * Orders and their items, the link from a journal entry to the order it pays, and
 * the stored results of requests sent with an `Idempotency-Key`. The CHECK and UNIQUE
 * constraints repeat what the services check, so a bug there cannot corrupt the data.
 */
import { sql, type Kysely } from 'kysely';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

/** The migration for `engine` ('sqlite', 'postgres' or 'mysql'). */
export function ordersMigration(engine: string) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('orders')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('order_number', 'varchar(20)', (c) => c.notNull().unique())
        .addColumn('buyer_id', ID, (c) => c.notNull())
        .addColumn('seller_id', ID, (c) => c.notNull())
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('total_won', 'bigint', (c) => c.notNull())
        .addColumn('recipient_name', 'varchar(100)', (c) => c.notNull())
        .addColumn('shipping_address', 'varchar(200)', (c) => c.notNull())
        .addColumn('shipping_phone', 'varchar(20)', (c) => c.notNull())
        .addColumn('from_cart', 'integer', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('paid_at_ms', 'bigint')
        .addColumn('cancelled_at_ms', 'bigint')
        .addColumn('expired_at_ms', 'bigint')
        .addColumn('evidence_ref', 'varchar(200)')
        .addForeignKeyConstraint('orders_buyer_fk', ['buyer_id'], 'users', ['id'])
        .addForeignKeyConstraint('orders_seller_fk', ['seller_id'], 'users', ['id'])
        .addCheckConstraint('orders_status_check', sql`status in ('awaiting_payment', 'paid', 'expired', 'cancelled')`)
        .addCheckConstraint('orders_total_check', sql`total_won > 0 and total_won <= 1000000000000`)
        .addCheckConstraint('orders_from_cart_check', sql`from_cart in (0, 1)`)
        .addCheckConstraint('orders_window_check', sql`expires_at_ms > created_at_ms`)
        // Each final state has its time, and only that state has it: a paid order cannot
        // also be expired, and a row cannot claim to be paid without saying when.
        .addCheckConstraint('orders_paid_check', sql`(status = 'paid') = (paid_at_ms is not null)`)
        .addCheckConstraint('orders_cancelled_check', sql`(status = 'cancelled') = (cancelled_at_ms is not null)`)
        .addCheckConstraint('orders_expired_check', sql`(status = 'expired') = (expired_at_ms is not null)`))
        .execute();
      await db.schema.createIndex('orders_buyer_idx').on('orders').columns(['buyer_id', 'created_at_ms']).execute();
      await db.schema.createIndex('orders_seller_idx').on('orders').columns(['seller_id', 'created_at_ms']).execute();
      // The expiry sweep looks for awaiting orders whose window has passed.
      await db.schema.createIndex('orders_due_idx').on('orders').columns(['status', 'expires_at_ms']).execute();

      await forEngine(engine, db.schema
        .createTable('order_items')
        .addColumn('order_id', ID, (c) => c.notNull())
        .addColumn('product_id', ID, (c) => c.notNull())
        .addColumn('line_no', 'integer', (c) => c.notNull())
        .addColumn('product_name', 'varchar(100)', (c) => c.notNull())
        .addColumn('unit_price_won', 'bigint', (c) => c.notNull())
        .addColumn('quantity', 'integer', (c) => c.notNull())
        .addColumn('line_total_won', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('order_items_pk', ['order_id', 'product_id'])
        .addForeignKeyConstraint('order_items_order_fk', ['order_id'], 'orders', ['id'])
        .addForeignKeyConstraint('order_items_product_fk', ['product_id'], 'products', ['id'])
        .addCheckConstraint('order_items_price_check', sql`unit_price_won > 0 and unit_price_won <= 1000000000`)
        .addCheckConstraint('order_items_quantity_check', sql`quantity >= 1 and quantity <= 99`)
        .addCheckConstraint('order_items_line_total_check', sql`line_total_won = unit_price_won * quantity`))
        .execute();
      await db.schema.createIndex('order_items_product_idx').on('order_items').column('product_id').execute();

      // A journal entry may name the order it belongs to. One entry of each kind per
      // order at most: the database's own guard that an order is paid only once.
      // (Unique indexes let many rows have no order: NULLs are distinct on all three engines.)
      await db.schema.alterTable('journal_entries').addColumn('order_id', ID).execute();
      await db.schema.createIndex('journal_entries_order_kind_uq').on('journal_entries').columns(['order_id', 'kind']).unique().execute();

      await forEngine(engine, db.schema
        .createTable('idempotency_keys')
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('idempotency_key', 'varchar(128)', (c) => c.notNull())
        .addColumn('request_sha256_hex', 'varchar(64)', (c) => c.notNull())
        .addColumn('state', 'varchar(12)', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response_content_type', 'varchar(100)')
        // MariaDB's TEXT stops at 64 KiB; a stored response may be longer.
        .addColumn('response_body', engine === 'mysql' ? sql`mediumtext` : 'text')
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['user_id', 'idempotency_key'])
        .addForeignKeyConstraint('idempotency_keys_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'))
        .addCheckConstraint('idempotency_keys_state_check', sql`state in ('in_progress', 'completed')`)
        .addCheckConstraint('idempotency_keys_response_check', sql`(state = 'completed') = (response_status is not null and response_body is not null)`))
        .execute();
      await db.schema.createIndex('idempotency_keys_expiry_idx').on('idempotency_keys').column('expires_at_ms').execute();
    },
  };
}
