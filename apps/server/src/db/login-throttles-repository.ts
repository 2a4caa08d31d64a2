/**
 * Login throttling, counted before the password is checked. Each login attempt first
 * reserves a place under two limits, in one write transaction that holds both rows:
 *
 * - per login id (`login_throttles`), whether or not an account has that id, so a lock
 *   reveals nothing about which ids exist: `failuresMax` consecutive attempts that did
 *   not succeed lock the id for `lockMs`;
 * - per client address (`login_address_throttles`), across ids, against password
 *   spraying: at most `failuresMax` attempts that did not succeed per fixed window of
 *   `windowMs`.
 *
 * A reserved attempt counts as a failure until it succeeds, so attempts arriving
 * together cannot all be evaluated before any of them is counted.
 */
import type { Kysely } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import type { Database } from './schema.js';
import { lockingRead, runWriteTransaction } from './write-transaction.js';

export interface LoginThrottleLimits {
  /** Consecutive attempts per login id that did not succeed before the id is locked. */
  loginFailuresMax: number;
  loginLockMs: number;
  /** Attempts per client address that did not succeed within one window. */
  loginAddressFailuresMax: number;
  loginAddressWindowMs: number;
}

/** Whether one login attempt may be evaluated, and if not, which limit refused it and until when. */
export type LoginAttemptReservation =
  | { allowed: true }
  | { allowed: false; limit: 'login_id' | 'address'; retryAtMs: number };

export class LoginThrottlesRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: DatabaseEngine,
  ) {}

  /**
   * Counts one attempt of `loginId` from `address` unless a limit refuses it; a refused
   * attempt counts towards nothing. Call `recordSuccess` when an allowed attempt succeeds.
   *
   * With `passIdLock` (the device proved it holds one of the account's certificates) a
   * running lock of the id does not refuse, and the attempt leaves the id's lock as it
   * is; the address limit still refuses and still counts.
   */
  async reserveAttempt(loginId: string, address: string, nowMs: number, limits: LoginThrottleLimits, options: { passIdLock?: boolean } = {}): Promise<LoginAttemptReservation> {
    if (!(limits.loginFailuresMax >= 1 && limits.loginAddressFailuresMax >= 1 && limits.loginLockMs > 0 && limits.loginAddressWindowMs > 0)) {
      throw new RangeError('login throttle limits must be positive');
    }
    return runWriteTransaction(this.db, this.engine, async (trx) => {
      // Rows are always created and locked in this order (id, then address), so reservations
      // do not deadlock each other; a deadlock the engine still reports is retried.
      await this.ensureRows(trx, loginId, address, nowMs);
      const id = await lockingRead(this.engine, trx.selectFrom('loginThrottles').select(['failures', 'lockedUntilMs']).where('loginId', '=', loginId)).executeTakeFirstOrThrow();
      const from = await lockingRead(this.engine, trx.selectFrom('loginAddressThrottles').select(['failures', 'windowStartedAtMs']).where('address', '=', address)).executeTakeFirstOrThrow();

      const windowStartedAtMs = Number(from.windowStartedAtMs);
      const windowOpen = nowMs < windowStartedAtMs + limits.loginAddressWindowMs;
      const addressFailures = windowOpen ? from.failures : 0;
      if (addressFailures >= limits.loginAddressFailuresMax) {
        return { allowed: false, limit: 'address', retryAtMs: windowStartedAtMs + limits.loginAddressWindowMs };
      }
      const lockedUntilMs = id.lockedUntilMs == null ? null : Number(id.lockedUntilMs);
      const locked = lockedUntilMs !== null && nowMs < lockedUntilMs;
      if (locked && options.passIdLock !== true) return { allowed: false, limit: 'login_id', retryAtMs: lockedUntilMs };

      // A passed lock stays as it was (counting afresh would lift it for everyone else).
      if (!locked) {
        // An expired lock starts the count afresh.
        const idFailures = (lockedUntilMs === null ? id.failures : 0) + 1;
        await trx.updateTable('loginThrottles')
          .set({ failures: idFailures, lockedUntilMs: idFailures >= limits.loginFailuresMax ? nowMs + limits.loginLockMs : null, updatedAtMs: nowMs })
          .where('loginId', '=', loginId)
          .execute();
      }
      await trx.updateTable('loginAddressThrottles')
        .set({ failures: addressFailures + 1, windowStartedAtMs: windowOpen ? windowStartedAtMs : nowMs, updatedAtMs: nowMs })
        .where('address', '=', address)
        .execute();
      return { allowed: true };
    });
  }

  /**
   * An allowed attempt succeeded: the id's count and lock are cleared, and the address
   * gets back only this attempt's place, so one good login does not clear a spray.
   */
  async recordSuccess(loginId: string, address: string, nowMs: number): Promise<void> {
    await runWriteTransaction(this.db, this.engine, async (trx) => {
      await trx.updateTable('loginThrottles').set({ failures: 0, lockedUntilMs: null, updatedAtMs: nowMs }).where('loginId', '=', loginId).execute();
      await trx.updateTable('loginAddressThrottles')
        .set((eb) => ({ failures: eb('failures', '-', 1), updatedAtMs: nowMs }))
        .where('address', '=', address)
        .where('failures', '>', 0)
        .execute();
    });
  }

  /** The time until which `loginId` is locked, or `null`. */
  async lockedUntil(loginId: string, nowMs: number): Promise<number | null> {
    const row = await this.db.selectFrom('loginThrottles').select('lockedUntilMs').where('loginId', '=', loginId).executeTakeFirst();
    const lockedUntilMs = row?.lockedUntilMs == null ? null : Number(row.lockedUntilMs);
    return lockedUntilMs !== null && nowMs < lockedUntilMs ? lockedUntilMs : null;
  }

  /**
   * Creates the two rows if absent. On MariaDB a no-op update on a duplicate takes the
   * row's exclusive lock at once (INSERT IGNORE would take a shared one, to be upgraded
   * by the locking read: a deadlock between parallel attempts).
   */
  private async ensureRows(trx: Kysely<Database>, loginId: string, address: string, nowMs: number): Promise<void> {
    const idRow = { loginId, failures: 0, lockedUntilMs: null, updatedAtMs: nowMs };
    const addressRow = { address, failures: 0, windowStartedAtMs: nowMs, updatedAtMs: nowMs };
    if (this.engine === 'mysql') {
      // Also unlike INSERT IGNORE, a too-long value stays an error instead of a silent truncation.
      await trx.insertInto('loginThrottles').values(idRow).onDuplicateKeyUpdate((eb) => ({ failures: eb.ref('failures') })).execute();
      await trx.insertInto('loginAddressThrottles').values(addressRow).onDuplicateKeyUpdate((eb) => ({ failures: eb.ref('failures') })).execute();
    } else {
      await trx.insertInto('loginThrottles').values(idRow).onConflict((oc) => oc.column('loginId').doNothing()).execute();
      await trx.insertInto('loginAddressThrottles').values(addressRow).onConflict((oc) => oc.column('address').doNothing()).execute();
    }
  }
}
