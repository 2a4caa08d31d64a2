/**
 * Failed logins per client address, across login ids: the limit on password spraying
 * (one address trying a few passwords on many accounts), which the per-id lock of
 * `login_throttles` does not see.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

export function loginAddressThrottlesMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('login_address_throttles')
        // An IPv6 address in text is at most 45 characters.
        .addColumn('address', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('window_started_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addCheckConstraint('login_address_throttles_failures_check', sql`failures >= 0`))
        .execute();
    },
  };
}
