/**
 * Runs the schema migrations in order. Called at every start; already applied
 * migrations are skipped (Kysely keeps the list in its own table, with a lock so two
 * servers starting together do not race).
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import { foundationMigration } from './migrations/0001-foundation.js';
import { certificatesMigration } from './migrations/0002-certificates.js';
import { deviceCertificatesMigration } from './migrations/0003-device-certificates.js';
import { ordersMigration } from './migrations/0004-orders.js';
import { paymentsMigration } from './migrations/0005-payments.js';
import { evidenceIndexMigration } from './migrations/0006-evidence-index.js';
import { longTermEvidenceMigration } from './migrations/0007-long-term-evidence.js';
import { loginAddressThrottlesMigration } from './migrations/0008-login-address-throttles.js';
import { verificationCodeDigestsMigration } from './migrations/0009-verification-code-digests.js';
import { loginChallengesMigration } from './migrations/0010-login-challenges.js';
import { certificateLoginMigration } from './migrations/0013-certificate-login.js';
import { qrPaymentsMigration } from './migrations/0011-qr-payments.js';
import { receiptsMigration } from './migrations/0012-receipts.js';
import { auditLogMigration } from './migrations/0014-audit-log.js';
import { accountControlsMigration } from './migrations/0015-account-controls.js';
import { policyVersionsMigration } from './migrations/0016-policy-versions.js';
import { sessionCertificatesMigration } from './migrations/0017-session-certificates.js';
import { policySettingsMigration } from './migrations/0018-policy-settings.js';
import { postingsByAccountAndEntryMigration } from './migrations/0019-postings-by-account-and-entry.js';
import { loginHandshakeAdmissionMigration } from './migrations/0020-login-handshake-admission.js';
import { qrSessionEndedByMigration } from './migrations/0021-qr-session-ended-by.js';
import type { Database } from './schema.js';

function migrationsFor(engine: DatabaseEngine): Record<string, Migration> {
  return {
    '0001-foundation': foundationMigration(engine),
    '0002-certificates': certificatesMigration(engine),
    '0003-device-certificates': deviceCertificatesMigration(engine),
    '0004-orders': ordersMigration(engine),
    '0005-payments': paymentsMigration(engine),
    '0006-evidence-index': evidenceIndexMigration(),
    '0007-long-term-evidence': longTermEvidenceMigration(engine),
    '0008-login-address-throttles': loginAddressThrottlesMigration(engine),
    '0009-verification-code-digests': verificationCodeDigestsMigration(engine),
    '0010-login-challenges': loginChallengesMigration(engine),
    '0011-qr-payments': qrPaymentsMigration(engine),
    '0012-receipts': receiptsMigration(engine),
    '0013-certificate-login': certificateLoginMigration(engine),
    '0014-audit-log': auditLogMigration(engine),
    '0015-account-controls': accountControlsMigration(engine),
    '0016-policy-versions': policyVersionsMigration(engine),
    '0017-session-certificates': sessionCertificatesMigration(),
    '0018-policy-settings': policySettingsMigration(),
    '0019-postings-by-account-and-entry': postingsByAccountAndEntryMigration(engine),
    '0020-login-handshake-admission': loginHandshakeAdmissionMigration(),
    '0021-qr-session-ended-by': qrSessionEndedByMigration(),
  };
}

/** The names of all migrations, in the order they apply (the same on every engine). */
export function migrationNames(): string[] {
  return Object.keys(migrationsFor('sqlite')).sort();
}

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<Database>, engine: DatabaseEngine): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(engine) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Applies the pending migrations up to and including `lastName` (a test's database as an
 * earlier release left it, to check what a later migration does to its rows).
 */
export async function migrateThrough(db: Kysely<Database>, engine: DatabaseEngine, lastName: string): Promise<void> {
  if (!migrationNames().includes(lastName)) throw new RangeError(`no migration ${lastName}`);
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrationsFor(engine) } });
  const { error, results } = await migrator.migrateTo(lastName);
  const failed = results?.find((r) => r.status === 'Error');
  if (error) throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed`, { cause: error });
}
