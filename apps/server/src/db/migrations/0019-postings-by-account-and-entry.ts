/**
 * Postings of one account in entry order. The daily top-up limit and the daily payment limit
 * sum what one wallet was posted since midnight; with an index on the account alone that read
 * every posting the wallet ever had, so a top-up slowed as its history grew (1.3 s at 10⁶
 * journal entries on SQLite). Entry ids are time-ordered (UUIDv7, time-ordered-id.ts), so
 * "since midnight" is a range of this index (ledger-repository.ts, sumPostedSinceWon). It
 * replaces the index on the account alone, which it contains as its prefix (and which
 * MariaDB's foreign key on the account can use instead).
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';

export function postingsByAccountAndEntryMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('postings_account_entry_idx').on('postings').columns(['account_id', 'entry_id']).execute();
      // MariaDB names the table of an index it drops; SQLite and PostgreSQL refuse the clause.
      const drop = db.schema.dropIndex('postings_account_idx');
      await (engine === 'mysql' ? drop.on('postings') : drop).execute();
    },
  };
}
