/**
 * Verification codes are no longer kept readable: the plain `code` and its picture
 * (`image_base64`, the code for anyone who looks) give way to a keyed digest of the
 * code's proof and the code sealed under a server key (services/verification-code-key.ts).
 *
 * Codes in flight cannot be carried over (the server never had their digests under
 * the new key), so the table is made again, empty: a command still waiting for its
 * code then finds none and fails, and the payer asks for a new one. Used codes held
 * nothing but a picture of a spent code.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function verificationCodeDigestsMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('verification_codes').execute();
      await forEngine(engine, db.schema
        .createTable('verification_codes')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('com_id', ID, (c) => c.notNull().unique())
        // HMAC-SHA-256, base64url: 43 characters. Both are erased when the code is used.
        .addColumn('code_digest', 'varchar(43)')
        // 12-byte IV, the 6-character code and a 16-byte tag, base64url: 46 characters.
        .addColumn('code_sealed', 'varchar(64)')
        .addColumn('tries', 'integer', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint')
        .addForeignKeyConstraint('verification_codes_com_fk', ['com_id'], 'payment_commands', ['com_id'])
        .addCheckConstraint('verification_codes_tries_check', sql`tries >= 0 and tries <= 5`)
        // A code is either waiting (both values held) or used (both erased), never half of each.
        .addCheckConstraint('verification_codes_secret_check', sql`(used_at_ms is null and code_digest is not null and code_sealed is not null) or (used_at_ms is not null and code_digest is null and code_sealed is null)`))
        .execute();
    },
  };
}
