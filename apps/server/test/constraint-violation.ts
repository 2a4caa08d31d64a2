/**
 * Which database constraint refused a write, read from the error as each engine reports
 * it, so negative tests can say which guard they expect rather than "it threw".
 *
 * - SQLite: `code` `SQLITE_CONSTRAINT_CHECK` with `CHECK constraint failed: <name>`,
 *   `SQLITE_CONSTRAINT_UNIQUE` / `_PRIMARYKEY`, `_FOREIGNKEY`, `_NOTNULL`.
 * - PostgreSQL: SQLSTATE `23514` (check), `23505` (unique), `23503` (foreign key),
 *   `23502` (not null), with the constraint's name in `constraint`.
 * - MariaDB: errno 4025 with ``CONSTRAINT `<name>` failed``, 1062 (duplicate entry),
 *   1452 / 1451 (foreign key), 1048 (column cannot be null).
 */
import { isUniqueViolation } from '../src/db/database.js';

export type ConstraintKind = 'check' | 'unique' | 'foreign_key' | 'not_null';

/**
 * A refusal as a test compares it: the kind, and for a CHECK the constraint's name
 * (all three engines report it). Unique and foreign-key names differ by engine
 * (SQLite names the columns), so they are not part of the comparison.
 */
export type ConstraintViolation = { kind: 'check'; constraint: string } | { kind: Exclude<ConstraintKind, 'check'> };

interface DriverError {
  code?: unknown;
  errno?: unknown;
  constraint?: unknown;
  message?: unknown;
  sqlMessage?: unknown;
}

/** The constraint violation `error` reports, or undefined when it is not one (or not one we know). */
export function constraintViolation(error: unknown): ConstraintViolation | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as DriverError;
  const message = typeof e.sqlMessage === 'string' ? e.sqlMessage : typeof e.message === 'string' ? e.message : '';
  if (isUniqueViolation(error)) return { kind: 'unique' };
  if (e.code === 'SQLITE_CONSTRAINT_CHECK') {
    const name = /CHECK constraint failed: (\w+)/.exec(message)?.[1];
    return name ? { kind: 'check', constraint: name } : undefined;
  }
  if (e.code === '23514' && typeof e.constraint === 'string') return { kind: 'check', constraint: e.constraint };
  if (e.errno === 4025) {
    const name = /CONSTRAINT `([^`]+)` failed/.exec(message)?.[1];
    return name ? { kind: 'check', constraint: name } : undefined;
  }
  if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e.code === '23503' || e.errno === 1452 || e.errno === 1451) return { kind: 'foreign_key' };
  if (e.code === 'SQLITE_CONSTRAINT_NOTNULL' || e.code === '23502' || e.errno === 1048) return { kind: 'not_null' };
  return undefined;
}

/**
 * Awaits a write the database must refuse and returns the violation it reports;
 * fails when the write is accepted. The raw error is rethrown when it is not a
 * constraint violation, so an unrelated failure is never mistaken for the guard.
 *
 * @example
 * expect(await refusal(db.insertInto('postings').values(zero).execute())).toEqual({ kind: 'check', constraint: 'postings_amount_check' });
 */
export async function refusal(promise: Promise<unknown>): Promise<ConstraintViolation> {
  try {
    await promise;
  } catch (error) {
    const violation = constraintViolation(error);
    if (violation) return violation;
    throw error;
  }
  throw new Error('expected the database to refuse this write, but it was accepted');
}

/** The expected refusal by a named CHECK constraint. */
export function check(constraint: string): ConstraintViolation {
  return { kind: 'check', constraint };
}
