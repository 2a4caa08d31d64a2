/**
 * Foundation schema: accounts, sessions, login throttling, catalogue, cart and the
 * wallet ledger's accounts, journal entries and postings. Written once for the three
 * engines: portable column types only, table-level foreign keys (MariaDB ignores
 * inline REFERENCES), CHECK constraints that repeat the service's own checks.
 */
import { sql, type Kysely, type CreateTableBuilder } from 'kysely';

const ID = 'varchar(36)';

/**
 * MariaDB: InnoDB with full Unicode, whatever the server's defaults are, and a binary
 * collation so that text compares as it does on SQLite and PostgreSQL: `Alice` is not
 * `alice`, trailing blanks count (a NO PAD collation), accents matter.
 */
export function forEngine<T extends string, C extends string>(engine: string, table: CreateTableBuilder<T, C>): CreateTableBuilder<T, C> {
  return engine === 'mysql' ? table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_nopad_bin`) : table;
}

export function foundationMigration(engine: string) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('users')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('login_id', 'varchar(32)', (c) => c.notNull().unique())
        .addColumn('password_hash', 'varchar(200)', (c) => c.notNull())
        .addColumn('role', 'varchar(10)', (c) => c.notNull())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('phone', 'varchar(20)', (c) => c.notNull())
        .addColumn('address', 'varchar(200)', (c) => c.notNull())
        .addColumn('email', 'varchar(254)', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addCheckConstraint('users_role_check', sql`role in ('buyer', 'seller', 'admin')`))
        .execute();

      await forEngine(engine, db.schema
        .createTable('stores')
        .addColumn('user_id', ID, (c) => c.primaryKey())
        .addColumn('store_name', 'varchar(100)', (c) => c.notNull())
        .addColumn('business_number', 'varchar(12)', (c) => c.notNull())
        .addColumn('store_address', 'varchar(200)', (c) => c.notNull())
        .addColumn('representative', 'varchar(100)', (c) => c.notNull())
        .addColumn('store_phone', 'varchar(20)', (c) => c.notNull())
        .addForeignKeyConstraint('stores_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade')))
        .execute();

      await forEngine(engine, db.schema
        .createTable('sessions')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at_ms', 'bigint')
        .addColumn('revoked_reason', 'varchar(40)')
        .addForeignKeyConstraint('sessions_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade')))
        .execute();
      await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();

      await forEngine(engine, db.schema
        .createTable('login_throttles')
        .addColumn('login_id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('locked_until_ms', 'bigint')
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addCheckConstraint('login_throttles_failures_check', sql`failures >= 0`))
        .execute();

      await forEngine(engine, db.schema
        .createTable('products')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('seller_id', ID, (c) => c.notNull())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('category', 'varchar(20)', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('price_won', 'bigint', (c) => c.notNull())
        .addColumn('stock', 'integer', (c) => c.notNull())
        .addColumn('image_file', 'varchar(80)')
        .addColumn('image_type', 'varchar(20)')
        .addColumn('image_version', 'integer', (c) => c.notNull())
        .addColumn('hidden', 'integer', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('products_seller_fk', ['seller_id'], 'users', ['id'])
        .addCheckConstraint('products_price_check', sql`price_won > 0 and price_won <= 1000000000`)
        .addCheckConstraint('products_stock_check', sql`stock >= 0 and stock <= 1000000`)
        .addCheckConstraint('products_hidden_check', sql`hidden in (0, 1)`))
        .execute();
      await db.schema.createIndex('products_listing_idx').on('products').columns(['hidden', 'created_at_ms']).execute();
      await db.schema.createIndex('products_seller_idx').on('products').columns(['seller_id', 'created_at_ms']).execute();
      await db.schema.createIndex('products_category_idx').on('products').columns(['category', 'hidden']).execute();

      await forEngine(engine, db.schema
        .createTable('cart_items')
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('product_id', ID, (c) => c.notNull())
        .addColumn('quantity', 'integer', (c) => c.notNull())
        .addColumn('added_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('cart_items_pk', ['user_id', 'product_id'])
        .addForeignKeyConstraint('cart_items_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade'))
        .addForeignKeyConstraint('cart_items_product_fk', ['product_id'], 'products', ['id'], (fk) => fk.onDelete('cascade'))
        .addCheckConstraint('cart_items_quantity_check', sql`quantity >= 1 and quantity <= 99`))
        .execute();

      await forEngine(engine, db.schema
        .createTable('ledger_accounts')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('kind', 'varchar(10)', (c) => c.notNull())
        .addColumn('owner_user_id', ID, (c) => c.unique())
        .addColumn('balance_won', 'bigint', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('ledger_accounts_owner_fk', ['owner_user_id'], 'users', ['id'])
        .addCheckConstraint('ledger_accounts_kind_check', sql`kind in ('funding', 'wallet')`)
        // A wallet never goes below zero; only the funding account (simulated money from outside) may.
        .addCheckConstraint('ledger_accounts_balance_check', sql`kind = 'funding' or balance_won >= 0`))
        .execute();

      await forEngine(engine, db.schema
        .createTable('journal_entries')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('kind', 'varchar(20)', (c) => c.notNull())
        .addColumn('memo', 'varchar(200)', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull()))
        .execute();

      await forEngine(engine, db.schema
        .createTable('postings')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('entry_id', ID, (c) => c.notNull())
        .addColumn('account_id', ID, (c) => c.notNull())
        .addColumn('amount_won', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('postings_entry_fk', ['entry_id'], 'journal_entries', ['id'])
        .addForeignKeyConstraint('postings_account_fk', ['account_id'], 'ledger_accounts', ['id'])
        .addCheckConstraint('postings_amount_check', sql`amount_won <> 0`))
        .execute();
      await db.schema.createIndex('postings_entry_idx').on('postings').column('entry_id').execute();
      await db.schema.createIndex('postings_account_idx').on('postings').column('account_id').execute();
    },
  };
}
