/**
 * The writes that end a transaction, sent to the database as one statement instead of
 * one round trip each.
 *
 * On PostgreSQL and MariaDB every statement is a round trip to another process: the
 * server's driver, an event-loop wake-up and the database's own per-message work, which
 * cost more than the writes themselves (docs/performance.md). A payment's last writes —
 * the journal entry, its postings, both balances, the order, the command, the evidence —
 * depend on nothing the others answer, only on how many rows each touched, so they go
 * together:
 *
 * - PostgreSQL: one statement of data-modifying CTEs (`WITH w1 AS (INSERT … RETURNING 1),
 *   …  SELECT count(*) …`), with bound parameters, sent as a named prepared statement.
 *   The sub-statements run against one snapshot, and the foreign keys are checked at the
 *   end of the statement, when all of them are written. No two writes of a batch may touch
 *   the same row (PostgreSQL does not allow it in one statement), which `flush` cannot see
 *   for itself: callers batch writes to distinct rows.
 * - MariaDB: the statements joined by `;` in one text query, whose values the driver
 *   escapes on the client as it does for every text query (the pool allows several
 *   statements in one query for this).
 * - SQLite: one after another, as before; the database is in this process, so there is
 *   no round trip to save.
 *
 * Either way they run inside the caller's transaction: a failing write fails the batch
 * and the transaction rolls back whole. A write may state how many rows it must touch;
 * `flush` throws the first unmet expectation's error after the batch has run, and the
 * caller's transaction rolls back on it like on any other error.
 */
import type { Compilable, CompiledQuery } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import { nameStatement, type PreparedQuery } from './prepared.js';
import { runQuery } from './sqlite-direct.js';
import type { Db } from './write-transaction.js';

/** What one write must have touched, and the error when it did not. */
export interface Expectation {
  rows: number;
  otherwise: () => Error;
}

type BatchedWrite =
  | { query: PreparedQuery<never, unknown>; values: object; expect: Expectation | undefined }
  /** A query built for this run (a list of rows, say), not prepared: its SQL may differ from run to run. */
  | { built: Compilable<unknown>; expect: Expectation | undefined };

export class WriteBatch {
  private readonly writes: BatchedWrite[] = [];

  /** Adds an insert, update or delete (a prepared query) to the batch. */
  add<V extends object>(query: PreparedQuery<V, unknown>, values: V, expect?: Expectation): void {
    this.writes.push({ query: query as unknown as PreparedQuery<never, unknown>, values, expect });
  }

  /**
   * Adds an insert, update or delete built on the transaction's handle (`trx.insertInto(…)…`)
   * rather than prepared: for writes whose SQL changes with their values, such as a list of rows.
   */
  addBuilt(query: Compilable<unknown>, expect?: Expectation): void {
    this.writes.push({ built: query, expect });
  }

  get size(): number {
    return this.writes.length;
  }

  /**
   * Runs every write in `trx` and answers how many rows each touched, in the order they
   * were added; throws the first unmet expectation's error. The batch is empty afterwards.
   */
  async flush(trx: Db, engine: DatabaseEngine): Promise<number[]> {
    const writes = this.writes.splice(0);
    if (writes.length === 0) return [];
    const bound = writes.map((w) => ('built' in w ? w.built.compile() : w.query.bound(trx, w.values as never)));
    // Only prepared writes make the same text on every run; one with a built write would
    // leave a named statement behind on every connection for every list length.
    const sameTextEveryRun = writes.every((w) => !('built' in w));
    let affected: number[];
    if (engine === 'sqlite' || writes.length === 1) {
      affected = [];
      for (const query of bound) affected.push(Number((await runQuery(trx, query)).numAffectedRows ?? 0n));
    } else if (engine === 'postgres') {
      affected = await runAsCommonTableExpressions(trx, bound, sameTextEveryRun);
    } else {
      affected = await runAsMultipleStatements(trx, bound);
    }
    writes.forEach((w, i) => {
      if (w.expect && affected[i] !== w.expect.rows) throw w.expect.otherwise();
    });
    return affected;
  }
}

/**
 * PostgreSQL: `$n` placeholders renumbered into one list. Kysely puts every value in a
 * parameter, so the SQL holds no string literal in which a `$` could mean anything else;
 * a query that does is refused rather than renumbered.
 */
export function combinedAsCommonTableExpressions(queries: readonly CompiledQuery[]): { sql: string; parameters: unknown[] } {
  const parameters: unknown[] = [];
  const parts = queries.map((query, i) => {
    if (query.sql.includes("'")) throw new Error('a batched write holds a literal; batch only queries whose values are all parameters');
    if (!/^\s*(insert|update|delete)\s/i.test(query.sql) || /\breturning\b/i.test(query.sql)) throw new Error('a batched write is an insert, update or delete without RETURNING');
    const offset = parameters.length;
    parameters.push(...query.parameters);
    const renumbered = query.sql.replace(/\$([0-9]+)/g, (_, n: string) => {
      const index = Number(n);
      if (index < 1 || index > query.parameters.length) throw new Error(`placeholder $${n} of a batched write has no parameter`);
      return `$${index + offset}`;
    });
    return `w${i} as (${renumbered} returning 1)`;
  });
  const counts = queries.map((_, i) => `(select count(*) from w${i}) as n${i}`).join(', ');
  return { sql: `with ${parts.join(', ')} select ${counts}`, parameters };
}

async function runAsCommonTableExpressions(trx: Db, queries: CompiledQuery[], named: boolean): Promise<number[]> {
  const { sql, parameters } = combinedAsCommonTableExpressions(queries);
  // The same payment builds the same text every time: planned once per connection.
  if (named) nameStatement(sql);
  const result = await trx.executeQuery<Record<string, number>>({ sql, parameters, query: queries[0]!.query, queryId: queries[0]!.queryId });
  const row = result.rows[0]!;
  return queries.map((_, i) => Number(row[`n${i}`]));
}

/** MariaDB: the statements in one text query; the driver answers one result per statement. */
async function runAsMultipleStatements(trx: Db, queries: CompiledQuery[]): Promise<number[]> {
  const sql = queries.map((q) => q.sql).join(';\n');
  const parameters = queries.flatMap((q) => q.parameters);
  const result = await trx.executeQuery<{ affectedRows?: number }>({ sql, parameters, query: queries[0]!.query, queryId: queries[0]!.queryId });
  if (result.rows.length !== queries.length) throw new Error(`a batch of ${queries.length} writes answered ${result.rows.length} results`);
  return result.rows.map((r) => Number(r.affectedRows ?? 0));
}
