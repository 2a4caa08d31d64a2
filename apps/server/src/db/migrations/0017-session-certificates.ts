/**
 * The certificate a session was opened with (certificate login): revoking that certificate,
 * or the master that approved it, ends the session at once (certificates-repository.ts).
 */
import type { Kysely } from 'kysely';

export function sessionCertificatesMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('sessions').addColumn('certificate_id', 'varchar(36)').execute();
      await db.schema.createIndex('sessions_certificate_idx').on('sessions').column('certificate_id').execute();
    },
  };
}
