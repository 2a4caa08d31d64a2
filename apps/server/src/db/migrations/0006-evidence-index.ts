/**
 * The policy's "first payment of a certificate" rule asks whether a certificate has
 * paid before: an index on the evidence's certificate keeps that a lookup, not a scan.
 */
import type { Kysely } from 'kysely';

export function evidenceIndexMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('payment_evidence_certificate_idx').on('payment_evidence').columns(['certificate_id']).execute();
    },
  };
}
