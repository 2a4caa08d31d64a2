/**
 * What operators control (docs/admin.md): an account's lock by an operator and whether its
 * password must be changed before it may act as an operator (the one-time password of
 * `npm run admin -- create`), and the admin sessions whose account password was checked
 * again after the certificate login.
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function accountControlsMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('account_controls')
        .addColumn('user_id', ID, (c) => c.primaryKey())
        // Null when the account is not locked by an operator.
        .addColumn('locked_at_ms', 'bigint')
        .addColumn('lock_reason', 'varchar(200)')
        .addColumn('locked_by', ID)
        .addColumn('password_change_required', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('account_controls_user_fk', ['user_id'], 'users', ['id'], (fk) => fk.onDelete('cascade')))
        .execute();
      await forEngine(engine, db.schema
        .createTable('admin_confirmations')
        .addColumn('session_id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('confirmed_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('admin_confirmations_session_fk', ['session_id'], 'sessions', ['id'], (fk) => fk.onDelete('cascade')))
        .execute();
    },
  };
}
