/**
 * The settings of a policy version beside its rules (docs/admin.md, "Authorization
 * policies"): a per-day payment limit per user, the failed authorizations that lock
 * payments and for how long, and how long a verification code is valid. Versions written
 * before get the values that were fixed in code until now (5 failures, 15 minutes, codes
 * valid for 2 minutes, no daily limit), so they decide exactly as they did. The database
 * repeats the ranges the service checks.
 *
 * The rule condition on a certificate's age lives in the version's rule list (JSON); the
 * rules' mirror table gets a column for it too.
 */
import { sql, type Kysely } from 'kysely';

export function policySettingsMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // One column per statement: SQLite adds one column per ALTER TABLE.
      await db.schema.alterTable('payment_policy_versions')
        .addColumn('daily_limit_won', 'bigint', (c) => c.check(sql`daily_limit_won is null or (daily_limit_won >= 1000 and daily_limit_won <= 1000000000000)`))
        .execute();
      await db.schema.alterTable('payment_policy_versions')
        .addColumn('failed_attempts_max', 'integer', (c) => c.notNull().defaultTo(5).check(sql`failed_attempts_max >= 3 and failed_attempts_max <= 20`))
        .execute();
      await db.schema.alterTable('payment_policy_versions')
        .addColumn('lock_duration_ms', 'bigint', (c) => c.notNull().defaultTo(900_000).check(sql`lock_duration_ms >= 60000 and lock_duration_ms <= 86400000`))
        .execute();
      await db.schema.alterTable('payment_policy_versions')
        .addColumn('code_validity_ms', 'bigint', (c) => c.notNull().defaultTo(120_000).check(sql`code_validity_ms >= 30000 and code_validity_ms <= 120000`))
        .execute();
      await db.schema.alterTable('payment_policies').addColumn('certificate_issued_within_days', 'integer').execute();
    },
  };
}
