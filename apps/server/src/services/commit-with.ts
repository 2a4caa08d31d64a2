/**
 * A caller's writes that must commit together with a use case's effect (money moved,
 * stock held, a payment command issued): the stored answer of a request sent with an
 * `Idempotency-Key` (http/idempotency.ts, docs/idempotency.md). Services take it as an
 * option and know nothing of what it writes.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Called inside the use case's write transaction, as its last step, with the value the
 * use case then returns. If it throws, the effect is rolled back with it. Like the rest of
 * the transaction it may run again after a conflict, so it writes only through `trx`.
 */
export type CommitWith<T> = (trx: Kysely<Database>, result: T) => Promise<void>;

/** Options of a use case with an effect. */
export interface EffectOptions<T> {
  /** Writes that commit with the effect or not at all (see {@link CommitWith}). */
  commitWith?: CommitWith<T> | undefined;
}
