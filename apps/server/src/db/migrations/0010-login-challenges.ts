/**
 * Login challenges: short-lived, single-use random strings bound to a login id, which a
 * device signs with a certificate's key to pass the per-account login lock. Keyed by
 * login id rather than user, so issuing one says nothing about whether the id exists.
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

export function loginChallengesMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('login_challenges')
        .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('login_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('challenge', 'varchar(64)', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint'))
        .execute();
      // Expired challenges are deleted by expiry time.
      await db.schema.createIndex('login_challenges_expires_idx').on('login_challenges').column('expires_at_ms').execute();
    },
  };
}
