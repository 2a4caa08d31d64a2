/**
 * Why a QR payment session was cancelled — by the PC, by the phone, replaced by a newer
 * code, or because its order was paid another way — kept on the row, so a stream that
 * reconnects after the end is told the same end as one that was listening (qr-payments.ts).
 */
import type { Kysely } from 'kysely';

export function qrSessionEndedByMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('qr_sessions').addColumn('ended_by', 'varchar(16)').execute();
    },
  };
}
