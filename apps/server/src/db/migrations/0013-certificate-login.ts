/**
 * Certificate login (docs/protocol.md, "Certificate login"): each certificate's PIN
 * verifier (salt, iterations and SCRAM StoredKey — nothing that logs in by itself), every
 * message (1) seen within its window (a copy is a replay), and the open handshakes
 * between messages (2) and (3), used once.
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../../config.js';
import { forEngine } from './0001-foundation.js';

const ID = 'varchar(36)';

export function certificateLoginMigration(engine: DatabaseEngine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await forEngine(engine, db.schema
        .createTable('certificate_login_verifiers')
        .addColumn('certificate_id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('salt', 'varchar(44)', (c) => c.notNull())
        .addColumn('iterations', 'integer', (c) => c.notNull())
        .addColumn('stored_key', 'varchar(44)', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint('certificate_login_verifiers_certificate_fk', ['certificate_id'], 'certificates', ['id'])
        .addForeignKeyConstraint('certificate_login_verifiers_user_fk', ['user_id'], 'users', ['id']))
        .execute();
      await forEngine(engine, db.schema
        .createTable('login_hellos')
        // certificate id | T_c | N_c: the primary key is what makes a copy a replay.
        .addColumn('hello_key', 'varchar(100)', (c) => c.primaryKey())
        .addColumn('until_ms', 'bigint', (c) => c.notNull()))
        .execute();
      await db.schema.createIndex('login_hellos_until_idx').on('login_hellos').column('until_ms').execute();
      await forEngine(engine, db.schema
        .createTable('login_handshakes')
        .addColumn('id', ID, (c) => c.primaryKey())
        .addColumn('user_id', ID, (c) => c.notNull())
        .addColumn('certificate_id', ID, (c) => c.notNull())
        .addColumn('nc', 'varchar(32)', (c) => c.notNull())
        .addColumn('ns', 'varchar(32)', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint'))
        .execute();
      await db.schema.createIndex('login_handshakes_expires_idx').on('login_handshakes').column('expires_at_ms').execute();
    },
  };
}
