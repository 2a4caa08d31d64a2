/** Certificate login's records (migration 0013): PIN verifiers, seen messages (1), open handshakes. */
import type { Kysely } from 'kysely';
import type { LoginHandshake, LoginServerStore, PinVerifier } from '@coconutpay/core/protocol/certificate-login';
import { isUniqueViolation } from './database.js';
import type { Database } from './schema.js';

export class CertificateLoginRepository implements LoginServerStore {
  constructor(private readonly db: Kysely<Database>) {}

  async verifierOf(certificateId: string): Promise<PinVerifier | null> {
    const row = await this.db.selectFrom('certificateLoginVerifiers').select(['salt', 'iterations', 'storedKey']).where('certificateId', '=', certificateId).executeTakeFirst();
    return row ? { salt: row.salt, iterations: Number(row.iterations), storedKey: row.storedKey } : null;
  }

  /** Registers (or replaces, after a password change) a certificate's verifier. */
  async saveVerifier(certificateId: string, userId: string, verifier: PinVerifier, nowMs: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('certificateLoginVerifiers').where('certificateId', '=', certificateId).execute();
      await trx.insertInto('certificateLoginVerifiers').values({ certificateId, userId, ...verifier, createdAtMs: nowMs }).execute();
    });
  }

  async rememberHello(certificateId: string, clientTimeMs: number, nc: string, untilMs: number, nowMs: number): Promise<boolean> {
    // The table holds only messages still inside their window: older ones could not be replayed anyway.
    await this.db.deleteFrom('loginHellos').where('untilMs', '<=', nowMs).execute();
    try {
      await this.db.insertInto('loginHellos').values({ helloKey: `${certificateId}|${clientTimeMs}|${nc}`, untilMs }).execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async saveHandshake(handshake: LoginHandshake): Promise<void> {
    await this.db.deleteFrom('loginHandshakes').where('expiresAtMs', '<=', handshake.expiresAtMs - 10 * 60_000).execute();
    await this.db.insertInto('loginHandshakes').values({ ...handshake, usedAtMs: null }).execute();
  }

  /** The conditional update decides: of two messages (3) racing with one handshake, one finds it. */
  async takeHandshake(id: string, nowMs: number): Promise<LoginHandshake | undefined> {
    const result = await this.db.updateTable('loginHandshakes').set({ usedAtMs: nowMs })
      .where('id', '=', id).where('usedAtMs', 'is', null).where('expiresAtMs', '>', nowMs)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    const row = await this.db.selectFrom('loginHandshakes').select(['id', 'userId', 'certificateId', 'nc', 'ns', 'expiresAtMs', 'admission']).where('id', '=', id).executeTakeFirst();
    return row ? { ...row, expiresAtMs: Number(row.expiresAtMs) } : undefined;
  }
}
