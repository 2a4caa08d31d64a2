/**
 * What a certificate login's attempt was counted against at message (1) — the client's
 * address — kept with its handshake, so the success at message (3) gives that address its
 * place back, and not whichever address message (3) came from (certificate-login.ts).
 */
import type { Kysely } from 'kysely';

export function loginHandshakeAdmissionMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // As wide as the address throttles' key (0008), which is what it names.
      await db.schema.alterTable('login_handshakes').addColumn('admission', 'varchar(64)').execute();
    },
  };
}
