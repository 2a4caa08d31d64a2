/**
 * Long-term evidence carries the chain's root, CRLs and a time-stamp token beside the
 * signature: several kilobytes more per payment, and the CRLs grow with every
 * revocation they keep. MariaDB's TEXT stops at 64 KiB, so the column becomes
 * MEDIUMTEXT (16 MiB) there; PostgreSQL's and SQLite's TEXT have no such limit.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';

export function longTermEvidenceMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (engine === 'mysql') await sql`ALTER TABLE payment_evidence MODIFY cms_base64 MEDIUMTEXT NOT NULL`.execute(db);
    },
  };
}
