/**
 * The payment authentication phase: the authorization policy (the paper's policy
 * database, kept as data so an operator can change it), issued payment commands
 * with the policy decision and its reason, one-time verification codes, the
 * payment lockout after repeated failures, and the signed evidence of each payment.
 */
import { sql, type Kysely } from 'kysely';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function paymentsMigration(engine: string) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('payment_policies')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('priority', 'integer', (c) => c.notNull().unique())
        .addColumn('rule', 'varchar(40)', (c) => c.notNull().unique())
        .addColumn('description', 'varchar(200)', (c) => c.notNull())
        // Conditions; a null condition matches anything. All set conditions must hold.
        .addColumn('certificate_kind', 'varchar(12)')
        .addColumn('min_amount_won', 'bigint')
        .addColumn('first_payment_of_certificate', 'integer')
        // The decision when the rule matches.
        .addColumn('require_code', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addCheckConstraint('payment_policies_kind_check', sql`certificate_kind is null or certificate_kind in ('master', 'additional')`)
        .addCheckConstraint('payment_policies_flags_check', sql`require_code in (0, 1) and enabled in (0, 1) and (first_payment_of_certificate is null or first_payment_of_certificate in (0, 1))`))
        .execute();

      await forEngine(engine, db.schema
        .createTable('payment_commands')
        .addColumn('com_id', ID, (c) => c.primaryKey())
        .addColumn('order_id', ID, (c) => c.notNull())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('session_id', ID, (c) => c.notNull())
        .addColumn('certificate_id', ID, (c) => c.notNull())
        .addColumn('request_nonce', 'varchar(64)', (c) => c.notNull())
        .addColumn('command_json', 'text', (c) => c.notNull())
        .addColumn('command_jws', 'text', (c) => c.notNull())
        .addColumn('amount_won', 'bigint', (c) => c.notNull())
        .addColumn('code_required', 'integer', (c) => c.notNull())
        .addColumn('policy_rule', 'varchar(40)', (c) => c.notNull())
        .addColumn('policy_reason', 'varchar(200)', (c) => c.notNull())
        .addColumn('status', 'varchar(12)', (c) => c.notNull())
        .addColumn('issued_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('decided_at_ms', 'bigint')
        .addColumn('failure_code', 'varchar(60)')
        .addForeignKeyConstraint('payment_commands_user_fk', ['user_id'], 'users', ['id'])
        .addForeignKeyConstraint('payment_commands_order_fk', ['order_id'], 'orders', ['id'])
        .addCheckConstraint('payment_commands_status_check', sql`status in ('issued', 'authorized', 'failed')`))
        .execute();
      // A request nonce is used once per session: a replayed REQ finds its row taken.
      await db.schema.createIndex('payment_commands_replay_idx').unique().on('payment_commands').columns(['session_id', 'request_nonce']).execute();
      await db.schema.createIndex('payment_commands_order_idx').on('payment_commands').columns(['order_id']).execute();

      await forEngine(engine, db.schema
        .createTable('verification_codes')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('com_id', ID, (c) => c.notNull().unique())
        // The code itself, needed to check the HMAC the browser binds into its signature;
        // erased when used. The picture is kept so a reload shows the same code.
        .addColumn('code', 'varchar(6)')
        .addColumn('image_base64', 'text', (c) => c.notNull())
        .addColumn('tries', 'integer', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint')
        .addForeignKeyConstraint('verification_codes_com_fk', ['com_id'], 'payment_commands', ['com_id'])
        .addCheckConstraint('verification_codes_tries_check', sql`tries >= 0 and tries <= 5`))
        .execute();

      await forEngine(engine, db.schema
        .createTable('payment_lockouts')
        .addColumn('user_id', ID, (c) => c.primaryKey())
        .addColumn('consecutive_failures', 'integer', (c) => c.notNull())
        .addColumn('locked_until_ms', 'bigint')
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('payment_lockouts_user_fk', ['user_id'], 'users', ['id']))
        .execute();

      await forEngine(engine, db.schema
        .createTable('payment_evidence')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('order_id', ID, (c) => c.notNull().unique())
        .addColumn('com_id', ID, (c) => c.notNull().unique())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('certificate_id', ID, (c) => c.notNull())
        .addColumn('cms_base64', 'text', (c) => c.notNull())
        .addColumn('signing_time_ms', 'bigint', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('payment_evidence_order_fk', ['order_id'], 'orders', ['id'])
        .addForeignKeyConstraint('payment_evidence_com_fk', ['com_id'], 'payment_commands', ['com_id']))
        .execute();
    },
  };
}
