/**
 * Queries built and compiled once, then run with new values: for the statements every
 * payment runs (a session, a certificate, an order, the ledger rows).
 *
 * Kysely builds an operation tree, runs it through the plugins (camelCase names) and
 * compiles it to SQL on every call; for a one-row lookup that cost more than SQLite's
 * own work. Here the query is built with placeholders standing for the values, compiled
 * once per database dialect, and each run passes the stored SQL with the values put in
 * the placeholders' places — the same SQL and parameter order Kysely would have made,
 * through the same executor (on SQLite, the same statement cache run directly:
 * sqlite-direct.ts), so transactions, the statement cache and result plugins behave as before.
 *
 * Limits, by design: a placeholder must be a single value (not a list for `in`, not a
 * `null` compared with `is`), since its place in the SQL is fixed when it is compiled.
 */
import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.js';
import { runQuery } from './sqlite-direct.js';
import type { Db } from './write-transaction.js';

/**
 * The SQL of every prepared query, by text, with a statement name: the PostgreSQL pool
 * (database.ts) sends these as named statements, which the server parses and plans once
 * per connection instead of on every run.
 */
const statementNames = new Map<string, string>();

/** Gives `sqlText` a statement name (once), so the PostgreSQL pool sends it as a named statement. */
export function nameStatement(sqlText: string): void {
  if (!statementNames.has(sqlText)) statementNames.set(sqlText, `cp_${statementNames.size + 1}`);
}

/** The statement name of SQL text a prepared query compiled to, if it is one. */
export function preparedStatementName(sqlText: string): string | undefined {
  return statementNames.get(sqlText);
}

/**
 * Stands for one named value while the query is built. Turning it into a string or a
 * number (a template, `Number(…)`, `??`) would quietly fix the build-time stand-in into the
 * SQL as a literal, so it refuses.
 */
class Placeholder {
  constructor(readonly name: string) {}

  [Symbol.toPrimitive](): never {
    throw new TypeError(`prepared query value "${this.name}" used as a literal while building; pass it to Kysely as a value`);
  }
}

/** The named values of one run (an interface or a record type). */
type Values = object;

interface Compiled {
  query: CompiledQuery;
  /** For each parameter of the SQL: the name of the value that goes there, or a fixed value. */
  places: ({ name: string } | { fixed: unknown })[];
}

/** A query built once by `build`, whose `values` are given on every run. */
export class PreparedQuery<V extends Values, O> {
  /** Compiled per dialect adapter: one Kysely and all of its transactions share it. */
  private readonly compiled = new WeakMap<object, Compiled>();

  constructor(private readonly build: (db: Kysely<Database>, values: V) => Compilable<O>) {}

  private compiledFor(db: Db): Compiled {
    const adapter = db.getExecutor().adapter;
    let compiled = this.compiled.get(adapter);
    if (!compiled) {
      const values = new Proxy({} as V, { get: (_target, name) => new Placeholder(String(name)) });
      const query = this.build(db, values).compile();
      compiled = {
        query,
        places: query.parameters.map((p) => (p instanceof Placeholder ? { name: p.name } : { fixed: p })),
      };
      this.compiled.set(adapter, compiled);
      nameStatement(query.sql);
    }
    return compiled;
  }

  /** The SQL and its parameters for one run with `values`, as `db`'s dialect compiles it (a write batch sends several together). */
  bound(db: Db, values: V): CompiledQuery<O> {
    const { query, places } = this.compiledFor(db);
    const parameters = places.map((place) => {
      if (!('name' in place)) return place.fixed;
      const value = (values as Record<string, unknown>)[place.name];
      // Kysely leaves an undefined column out of an insert; here its place is fixed, so it is a mistake.
      if (value === undefined) throw new TypeError(`prepared query value "${place.name}" is missing`);
      return value;
    });
    return { ...(query as CompiledQuery<O>), parameters };
  }

  private async run(db: Db, values: V) {
    const query = this.bound(db, values);
    // On SQLite, the statement itself where that keeps Kysely's guarantees (sqlite-direct.ts).
    return runQuery<O>(db, query);
  }

  /** The rows of a select. */
  async rows(db: Db, values: V): Promise<O[]> {
    return (await this.run(db, values)).rows;
  }

  /** The first row of a select, or undefined. */
  async first(db: Db, values: V): Promise<O | undefined> {
    return (await this.run(db, values)).rows[0];
  }

  /** How many rows an insert, update or delete touched. */
  async affected(db: Db, values: V): Promise<number> {
    return Number((await this.run(db, values)).numAffectedRows ?? 0n);
  }
}

/**
 * The named values of `keys` as an object, for an insert's `values(…)`: a prepared
 * insert must name its columns while it is built, since the values are not there yet.
 */
export function columns<T extends Values, K extends keyof T & string>(values: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, values[k]])) as Pick<T, K>;
}

/**
 * @example
 * const byId = prepare<{ id: string }, SessionRow>((db, v) => db.selectFrom('sessions').selectAll().where('id', '=', v.id));
 * const row = await byId.first(db, { id });
 */
export function prepare<V extends Values, O>(build: (db: Kysely<Database>, values: V) => Compilable<O>): PreparedQuery<V, O> {
  return new PreparedQuery(build);
}
