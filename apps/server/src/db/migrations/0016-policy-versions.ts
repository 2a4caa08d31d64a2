/**
 * Versioned authorization policies (docs/admin.md, "Authorization policies"): every change
 * of the rules is a new version with its author, time and reason (a rollback is a new
 * version that names the one it restores), and each payment command records the version
 * it was decided under.
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

export function policyVersionsMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('payment_policy_versions')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        // The whole rule list, canonical JSON: a version is read back exactly as it was decided.
        .addColumn('rules_json', 'text', (c) => c.notNull())
        // The operator's user id; null for the policy the server shipped with.
        .addColumn('author', 'varchar(36)')
        .addColumn('reason', 'varchar(200)', (c) => c.notNull())
        .addColumn('restored_from', 'integer')
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull()))
        .execute();
      await db.schema.alterTable('payment_commands').addColumn('policy_version', 'integer').execute();
    },
  };
}
