/**
 * The statements every payment runs on SQLite — prepared queries (prepared.ts), a write
 * batch's writes (write-batch.ts), group commit's begin, savepoints and commit — run on better-sqlite3's own
 * statements, synchronously, instead of through Kysely's executor.
 *
 * Why: better-sqlite3 answers synchronously, and Kysely wraps every statement in its
 * connection provider, an asynchronous mutex, the runtime driver and the result plugins:
 * a user read by primary key took 22-34 µs of CPU that way against 12-14 µs on its
 * statement (20,000 reads, three rounds, on the benchmark machine). A payment runs about
 * twenty-five such statements.
 *
 * Which connection runs a statement keeps what Kysely's one connection guaranteed:
 * - Inside a write transaction (a handle group commit, or a lone transaction, registered
 *   with `bindTransactionHandle`): the writer connection. The transaction holds Kysely's
 *   connection for its whole run, so nothing else can be on it in between, and a
 *   synchronous call cannot be interleaved.
 * - Outside (the database's own handle): a read (a statement that cannot write: not an
 *   `insert … returning`, which returns rows too) runs on the writer while no transaction is
 *   open there, and while one is, on a second, read-only connection to the same file, which
 *   in WAL mode sees every committed transaction and nothing else — the same as a read that
 *   waited for the writer — without waiting for the open group. Without a file (`:memory:`)
 *   there is no second connection, and such a read, like every write outside a
 *   transaction, takes Kysely's way (its mutex then orders it).
 *   Why not every read on the reader: a connection that did not make a change itself drops
 *   its whole page cache at its next read after any commit, so under load the reader's
 *   reads would all start cold; the writer's cache stays warm.
 * The I/O guard sees every statement run here as it sees Kysely's (io-failure-guard.ts).
 */
import type { CompiledQuery, QueryResult } from 'kysely';
import type { IoFailureGuard } from './io-failure-guard.js';
import type { DriverStatement } from './sqlite-rows.js';

/** Statements of one connection, prepared once by SQL text (database.ts's statement cache). */
export interface StatementSource {
  prepare(sqlText: string): DriverStatement;
}

/** One SQLite database's connections, as the direct path uses them. */
export interface SqliteConnections {
  writer: StatementSource;
  /** The read-only connection; null for an in-memory database. */
  reader: StatementSource | null;
  /** The writer's state: a read outside a transaction must not see an open one's writes. */
  sqlite: { readonly inTransaction: boolean };
  guard: IoFailureGuard;
}

interface Binding {
  connections: SqliteConnections;
  /** True for a handle inside a write transaction (the writer is held by it). */
  inTransaction: boolean;
}

const bindings = new WeakMap<object, Binding>();

/** Registers a SQLite database's own handle (`openDatabase`). */
export function bindDatabaseHandle(db: object, connections: SqliteConnections): void {
  bindings.set(db, { connections, inTransaction: false });
}

/** Registers the handle a write transaction on `db` runs with, for as long as it is referenced. */
export function bindTransactionHandle(handle: object, db: object): void {
  const root = bindings.get(db);
  if (root) bindings.set(handle, { connections: root.connections, inTransaction: true });
}

function run<R>(statement: DriverStatement, query: CompiledQuery, guard: IoFailureGuard): QueryResult<R> {
  guard.check();
  try {
    guard.fault?.(query.sql);
    if (statement.reader) return { rows: statement.all(query.parameters) as R[] };
    const { changes } = statement.run(query.parameters);
    return { numAffectedRows: BigInt(changes), rows: [] };
  } catch (error) {
    guard.observe(error);
    throw error;
  }
}

/**
 * Runs `query` on `db`'s SQLite connection directly when that keeps Kysely's guarantees
 * (see the file comment), and answers its result as Kysely's SQLite driver would; undefined
 * when `db` is no SQLite handle or the statement must take Kysely's way.
 */
export function runDirect<R>(db: object, query: CompiledQuery): QueryResult<R> | undefined {
  const binding = bindings.get(db);
  if (!binding) return undefined;
  const { connections } = binding;
  if (binding.inTransaction) return run<R>(connections.writer.prepare(query.sql), query, connections.guard);
  // A read outside a transaction: on the writer while no transaction is open there (its page
  // cache stays warm: a connection that did not write itself throws its cache away whenever
  // the file changed), on the reader while one is.
  const source = !connections.sqlite.inTransaction ? connections.writer : connections.reader;
  if (!source) return undefined;
  const statement = source.prepare(query.sql);
  return statement.readonly ? run<R>(statement, query, connections.guard) : undefined;
}

/**
 * Runs `query` on `db` directly where {@link runDirect} may, and through Kysely's executor
 * otherwise. Not an async function: a direct result is answered as it is, without a promise
 * made for it on every statement of a payment.
 */
export function runQuery<R>(db: { executeQuery<T>(query: CompiledQuery<T>): Promise<QueryResult<T>> }, query: CompiledQuery): QueryResult<R> | Promise<QueryResult<R>> {
  return runDirect<R>(db, query) ?? db.executeQuery<R>(query as CompiledQuery<R>);
}
