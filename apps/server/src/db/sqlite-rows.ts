/**
 * SQLite's rows made once, with their final names: the statements Kysely's SQLite driver
 * runs hand back rows whose columns are already in camelCase, built from better-sqlite3's
 * raw arrays by a function made once per statement, and the CamelCasePlugin on that
 * database leaves results as they come (its query side, camelCase to snake_case, is
 * unchanged).
 *
 * Why: better-sqlite3 builds each row object property by property from the column names,
 * looking every name up in V8's string table on every row, and the plugin then copies
 * each row into a second object under the camelCase names. For a 21-column row that is
 * 5.5 µs + about 2 µs; an array and a literal-shaped object made by a compiled function
 * cost 2.8 µs together (measured on the benchmark machine, 50,000 reads of a 21-column
 * row by primary key). A payment reads about twenty rows.
 *
 * The rows are the same as before, key for key: the names go through the plugin's own
 * camelCase mapper, a repeated column name keeps its last value (as better-sqlite3 and an
 * object literal both do), and SQLite gives no nested objects for the plugin to map.
 * A statement whose column names cannot be object-literal keys safely (`__proto__`)
 * keeps better-sqlite3's objects and is mapped here as the plugin would.
 */
import { CamelCasePlugin, type PluginTransformResultArgs, type QueryResult, type UnknownRow } from 'kysely';
import type SQLite from 'better-sqlite3';

type Row = Record<string, unknown>;
type RowOf = (values: unknown[]) => Row;

/** The CamelCasePlugin of a SQLite database whose driver names the rows itself (see the file comment). */
export class SqliteCamelCasePlugin extends CamelCasePlugin {
  /** The plugin's own snake_case-to-camelCase mapper, for the driver to name rows with. */
  readonly nameOf = (column: string): string => this.camelCase(column);

  override async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** What Kysely's SQLite driver uses of a prepared statement. */
export interface DriverStatement {
  readonly reader: boolean;
  /** True when the statement cannot write (an `insert … returning` is a reader but not read-only). */
  readonly readonly: boolean;
  readonly busy: boolean;
  all(parameters: readonly unknown[]): unknown[];
  run(parameters: readonly unknown[]): SQLite.RunResult;
  iterate(parameters: readonly unknown[]): IterableIterator<unknown>;
}

/**
 * A function making one row object from the values of a row, under `names` in that order;
 * null when a name must not be an object-literal key.
 */
export function rowFunction(names: readonly string[]): RowOf | null {
  if (names.includes('__proto__')) return null;
  // The names are quoted by JSON.stringify: any text is a valid, literal property key.
  return new Function('r', `return {${names.map((name, i) => `${JSON.stringify(name)}: r[${i}]`).join(', ')}};`) as RowOf;
}

/** `row` under camelCase names, as the plugin's `mapRow` makes them (for statements without a row function). */
function mappedRow(row: Row, camelCase: (name: string) => string): Row {
  const out: Row = {};
  for (const key of Object.keys(row)) out[camelCase(key)] = row[key];
  return out;
}

/**
 * `statement` as Kysely's driver runs it, its rows named in camelCase by `camelCase`
 * (the database's CamelCasePlugin's mapper).
 */
export function namingRows(statement: SQLite.Statement, camelCase: (name: string) => string): DriverStatement {
  if (!statement.reader) {
    return {
      reader: false,
      readonly: statement.readonly,
      get busy() { return statement.busy; },
      all: () => { throw new TypeError('not a statement that returns rows'); },
      run: (parameters) => statement.run(parameters),
      iterate: () => { throw new TypeError('not a statement that returns rows'); },
    };
  }
  let names: string[] = [];
  let makeRow: RowOf | null = null;
  const nameColumns = () => {
    names = statement.columns().map((c) => camelCase(c.name));
    makeRow = rowFunction(names);
    statement.raw(makeRow !== null);
  };
  const named = (row: unknown): Row => {
    if (!makeRow) return mappedRow(row as Row, camelCase);
    const values = row as unknown[];
    if (values.length !== names.length) {
      // SQLite re-prepared the statement after a schema change made elsewhere, and it has
      // other columns now: named again from the columns it has, rather than under stale names.
      nameColumns();
      return Object.fromEntries(names.map((name, i) => [name, values[i]]));
    }
    return makeRow(values);
  };
  nameColumns();
  return {
    reader: true,
    readonly: statement.readonly,
    get busy() { return statement.busy; },
    all: (parameters) => {
      const rows = statement.all(parameters);
      for (let i = 0; i < rows.length; i++) rows[i] = named(rows[i]);
      return rows;
    },
    run: (parameters) => statement.run(parameters),
    *iterate(parameters) {
      for (const row of statement.iterate(parameters)) yield named(row);
    },
  };
}
