/**
 * Opens the database named by a URL on one of the three supported engines and
 * returns a Kysely instance with the same behaviour everywhere: camelCase names,
 * 64-bit integers as JavaScript numbers (all our integers stay below 2^53).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CamelCasePlugin, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, type MysqlPool, type MysqlPoolConnection, type PostgresPool, type PostgresPoolClient } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { createPool as createMysqlPool, type Pool as MysqlPoolOfDriver, type PoolConnection as MysqlConnectionOfDriver } from 'mysql2';
import type { DatabaseEngine } from '../config.js';
import { preparedStatementName } from './prepared.js';
import type { Database } from './schema.js';
import { startWalCheckpointer, WAL_FRAMES_LIMIT, type WalCheckpointer } from './wal-checkpointer.js';
import { IoFailureGuard, type StatementFault } from './io-failure-guard.js';
import { enableGroupCommit, type SqliteGroupCommit } from './write-transaction.js';
import { bindDatabaseHandle } from './sqlite-direct.js';
import { namingRows, SqliteCamelCasePlugin, type DriverStatement } from './sqlite-rows.js';

/** An open database and how to close it. */
export interface DatabaseHandle {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  /** SQLite's group commit (its counters show how many transactions each commit carried); null elsewhere. */
  groupCommit: SqliteGroupCommit | null;
  /** SQLite's WAL checkpointer on a database file (its holds show how the WAL was kept bounded); null elsewhere. */
  walCheckpointer: WalCheckpointer | null;
  /** Runs a WAL checkpoint on SQLite; a no-op elsewhere. */
  close(): Promise<void>;
}

const PG_INT8_OID = 20;

/** Prepared SQLite statements kept for reuse, by SQL text (the app has a few hundred distinct queries). */
export const SQLITE_STATEMENTS_CACHED_MAX = 1_000;

/** Statements that change the schema: after one, every cached statement is prepared afresh. */
const SCHEMA_CHANGE = /^\s*(create|alter|drop)\b/i;

/**
 * The SQLite connection as Kysely's dialect sees it, with prepared statements reused:
 * Kysely prepares every query afresh, and preparing costs more than running most of ours.
 * A statement still being iterated is busy, so a fresh one is prepared beside it. Rows come
 * back named in camelCase already (sqlite-rows.ts); a schema change (a migration) empties
 * the cache, so no statement keeps the column names it had before.
 */
interface StatementCache {
  prepare(sqlText: string): DriverStatement;
  /** Forgets every statement (after a schema change). */
  clear(): void;
  /** Told after this connection prepared a schema change. */
  onSchemaChange?: () => void;
  close(): void;
}

function withStatementCache(sqlite: SQLite.Database, camelCase: (name: string) => string): StatementCache {
  const statements = new Map<string, DriverStatement>();
  const cache: StatementCache = {
    prepare(sqlText: string) {
      const cached = statements.get(sqlText);
      if (cached && !cached.busy) return cached;
      const statement = namingRows(sqlite.prepare(sqlText), camelCase);
      if (SCHEMA_CHANGE.test(sqlText)) {
        statements.clear();
        cache.onSchemaChange?.();
      } else if (!cached) {
        if (statements.size >= SQLITE_STATEMENTS_CACHED_MAX) statements.delete(statements.keys().next().value as string);
        statements.set(sqlText, statement);
      }
      return statement;
    },
    clear: () => statements.clear(),
    close: () => sqlite.close(),
  };
  return cache;
}

/**
 * The read-only connection beside the writer (sqlite-direct.ts): the writer has made the
 * file a WAL database already, and reads need what the writer's have — a busy wait rather
 * than an error while the WAL is being started over, sorts in memory, and `lower()`.
 */
function openSqliteReader(file: string): SQLite.Database {
  const reader = new SQLite(file, { readonly: true });
  reader.pragma('busy_timeout = 5000');
  reader.pragma('temp_store = MEMORY');
  reader.function('lower', { deterministic: true }, foldLower);
  return reader;
}

/** SQLite's built-in lower() folds ASCII only; search must fold 'É' like the other engines do. */
function foldLower(text: unknown): unknown {
  return typeof text === 'string' ? text.toLowerCase() : text;
}

/**
 * The pool as Kysely sees it, with the SQL of prepared queries (prepared.ts) sent as
 * named statements: PostgreSQL then parses and plans each once per connection, not on
 * every payment. Everything else passes through unchanged.
 */
function namingPreparedStatements(pool: pg.Pool): PostgresPool {
  // One wrapper per pooled client, so Kysely recognises a client it has seen before.
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let w = wrapped.get(client);
      if (!w) {
        w = {
          query: ((text: unknown, values?: unknown[]) => {
            const name = typeof text === 'string' ? preparedStatementName(text) : undefined;
            return name ? client.query({ name, text: text as string, values: values as unknown[] }) : client.query(text as string, values);
          }) as unknown as PostgresPoolClient['query'],
          release: () => client.release(),
        };
        wrapped.set(client, w);
      }
      return w;
    },
    end: () => pool.end(),
  };
}

/** Kysely's BEGIN, COMMIT and ROLLBACK on MariaDB, as its driver sends them. */
const BEGIN_ALONE = /^begin$/i;
const END_ALONE = /^(commit|rollback)$/i;
/** What the server answers a BEGIN, COMMIT or ROLLBACK: an OK packet (Kysely reads only its counts). */
const OK_PACKET = Object.freeze({ affectedRows: 0, insertId: 0, changedRows: 0 });

/**
 * The MariaDB pool as Kysely sees it, sending less:
 * - the SQL of prepared queries runs as server-side prepared statements (`execute`, kept per
 *   connection by the driver) instead of text queries the server parses on every payment;
 * - a transaction's BEGIN is not sent on its own: it goes in front of the transaction's first
 *   statement, as one text query of two statements (`multipleStatements`), so a transaction
 *   costs one round trip less (a payment's round trips 25.8 -> 23.0, counted by the server's
 *   general log). The first statement then runs as a text query whose values the driver
 *   escapes into their places, as for every text query. A transaction that ends before any
 *   statement sends nothing at all.
 * Everything else passes through unchanged.
 */
function executingPreparedStatements(pool: MysqlPoolOfDriver, onRoundTrip?: (sqlText: string) => void): MysqlPool {
  type Callback = (error: unknown, result?: unknown, fields?: unknown) => void;
  const wrapped = new WeakMap<object, MysqlPoolConnection>();
  const wrap = (connection: MysqlConnectionOfDriver): MysqlPoolConnection => {
    let w = wrapped.get(connection);
    if (!w) {
      // Set by a BEGIN not sent yet; the connection's next statement carries it.
      let beginPending = false;
      const query = (text: string, values: unknown[], callback?: Callback) => {
        if (callback && BEGIN_ALONE.test(text)) {
          beginPending = true;
          process.nextTick(callback, null, OK_PACKET);
          return;
        }
        if (callback && beginPending) {
          beginPending = false;
          // Nothing ran in the transaction: there is nothing to commit or roll back.
          if (END_ALONE.test(text)) {
            process.nextTick(callback, null, OK_PACKET);
            return;
          }
          onRoundTrip?.(`begin;\n${text}`);
          // One result per statement: BEGIN's, then the statement's — or, for several
          // statements (a write batch), theirs, as the driver answers several.
          connection.query(`begin;\n${text}`, values, ((error: unknown, results: unknown[], fields: unknown[]) => {
            if (error) return callback(error);
            return results.length === 2 ? callback(null, results[1], fields?.[1]) : callback(null, results.slice(1), fields?.slice(1));
          }) as never);
          return;
        }
        // A streamed query (Kysely's streamQuery, which we do not use) cannot carry a BEGIN.
        if (beginPending) throw new Error('a streamed query cannot be the first statement of a MariaDB transaction');
        onRoundTrip?.(text);
        if (callback && preparedStatementName(text)) connection.execute(text, values as never, callback as never);
        else connection.query(text, values, callback as never);
      };
      w = {
        query: query as unknown as MysqlPoolConnection['query'],
        release: () => {
          // Kysely ends every transaction before it gives the connection back; a BEGIN still
          // pending here began nothing on the server.
          beginPending = false;
          connection.release();
        },
      };
      wrapped.set(connection, w);
    }
    return w;
  };
  return {
    getConnection: (callback) => pool.getConnection((error, connection) => callback(error, error ? (connection as never) : wrap(connection))),
    end: (callback) => pool.end(callback),
  };
}

function toSafeNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer out of the safe range: ${text}`);
  return n;
}

/**
 * Opens `url`: `sqlite:<file>` (created with its folder), `postgres://…`, or `mysql://…`/`mariadb://…`.
 *
 * @example
 * const { db } = openDatabase('sqlite:./data/coconutpay.db');
 */
export interface OpenDatabaseOptions {
  poolSize?: number;
  onBackgroundError?: (message: string) => void;
  /**
   * Hears about the first I/O failure SQLite reports (a failed sync of a commit, say). The
   * file may no longer hold what SQLite believes it wrote: the only safe way on is the one
   * PostgreSQL takes after a failed fsync — stop, and let a restart recover from what is on
   * disk (io-failure-guard.ts). `buildApp` passes one that ends the process.
   */
  onFatal?: (error: unknown) => void;
  /** Makes chosen SQLite statements fail (io-failure-guard.ts); tests only. */
  sqliteFault?: StatementFault;
  /** Hears the SQL text of every round trip to MariaDB (database.ts's pool); tests only. */
  onMysqlRoundTrip?: (sqlText: string) => void;
  /** The WAL's frame limit and the checkpoints' interval (wal-checkpointer.ts); tests set small ones. */
  walFramesLimit?: number;
  walCheckpointIntervalMs?: number;
}

export function openDatabase(url: string, options: OpenDatabaseOptions = {}): DatabaseHandle {
  const plugins = [new CamelCasePlugin()];
  const poolSize = options.poolSize ?? 10;
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    // WAL lets readers proceed during a write. Every committed payment must survive a power
    // cut: FULL syncs the WAL inside each COMMIT, before the commit is visible to anyone, and
    // group commit (write-transaction.ts) shares that sync among the transactions that arrive
    // together. (A WAL flusher that made the sync off the event loop under NORMAL measured
    // within the noise of FULL with group commit — bench/results/2026-12-06-sqlite-sync-ab.md —
    // and let readers see commits not yet synced, so it went.)
    sqlite.pragma('synchronous = FULL');
    // A database file is checkpointed from a worker thread, off the event loop (wal-checkpointer.ts).
    const framesLimit = options.walFramesLimit ?? WAL_FRAMES_LIMIT;
    const checkpointer = file === ':memory:' ? null : startWalCheckpointer(path.resolve(file), {
      onError: options.onBackgroundError, framesLimit, ...(options.walCheckpointIntervalMs ? { intervalMs: options.walCheckpointIntervalMs } : {}),
    });
    if (checkpointer) sqlite.pragma('wal_autocheckpoint = 0');
    // When the WAL starts over (after the checkpointer caught up), its file is cut back to
    // the limit's size, its usual high-water mark.
    const pageBytes = sqlite.pragma('page_size', { simple: true }) as number;
    sqlite.pragma(`journal_size_limit = ${Math.min(framesLimit * pageBytes, 2 ** 40)}`);
    // Group commit runs each transaction inside a savepoint, whose undo record (the statement
    // journal) spilled past 64 KiB into a temporary file: a file created, written and deleted
    // on the event loop, about as many writes as the WAL itself. In memory it needs none; it
    // is never needed after a crash (the WAL is what recovery reads).
    sqlite.pragma('temp_store = MEMORY');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.function('lower', { deterministic: true }, foldLower);
    // The driver names the rows (sqlite-rows.ts); the plugin still names the query's columns.
    const camelCasePlugin = new SqliteCamelCasePlugin();
    const writer = withStatementCache(sqlite, camelCasePlugin.nameOf);
    // A second, read-only connection for the reads the direct path runs outside
    // transactions (sqlite-direct.ts); a schema change on the writer empties its cache too.
    const reader = file === ':memory:' ? null : withStatementCache(openSqliteReader(file), camelCasePlugin.nameOf);
    writer.onSchemaChange = () => reader?.clear();
    const dialect = new SqliteDialect({ database: writer });
    const onIoFailure = (error: unknown) => {
      options.onBackgroundError?.(`SQLite reported an I/O failure; no statement runs again and the process stops: ${String(error)}`);
      options.onFatal?.(error);
    };
    const guard = new IoFailureGuard(dialect.createDriver(), onIoFailure, options.sqliteFault);
    const db = new Kysely<Database>({
      dialect: {
        createAdapter: () => dialect.createAdapter(),
        createDriver: () => guard,
        createQueryCompiler: () => dialect.createQueryCompiler(),
        createIntrospector: (kysely) => dialect.createIntrospector(kysely),
      },
      plugins: [camelCasePlugin],
    });
    bindDatabaseHandle(db, { writer, reader, sqlite, guard });
    const groupCommit = enableGroupCommit(db, sqlite, checkpointer ?? undefined);
    return {
      db, engine: 'sqlite', groupCommit, walCheckpointer: checkpointer,
      // The checkpointer stops first; closing the last connection then checkpoints what is left.
      close: async () => {
        await checkpointer?.stop();
        reader?.close();
        await db.destroy();
      },
    };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === PG_INT8_OID ? toSafeNumber : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection the server closes (restart, admin termination) emits 'error' on the
    // pool; without a listener that would end the process. The pool replaces the connection.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namingPreparedStatements(pool) }), plugins });
    return { db, engine: 'postgres', groupCommit: null, walCheckpointer: null, close: () => db.destroy() };
  }
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) {
    const pool = createMysqlPool({
      uri: url.replace(/^mariadb:/, 'mysql:'),
      connectionLimit: poolSize,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      // Aggregates such as SUM come back as DECIMAL strings; numbers are what the repositories expect.
      decimalNumbers: true,
      timezone: 'Z',
      // A write batch (write-batch.ts) sends a transaction's last writes as one query of
      // several statements. Values are still never part of the SQL text we write: the
      // driver escapes them into their places, as for every text query.
      multipleStatements: true,
    });
    const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool: executingPreparedStatements(pool, options.onMysqlRoundTrip) }), plugins });
    return { db, engine: 'mysql', groupCommit: null, walCheckpointer: null, close: () => db.destroy() };
  }
  throw new Error('unsupported DATABASE_URL scheme');
}

/** True when `error` is a unique or primary-key violation on any of the engines. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; errno?: number } | null;
  if (!e) return false;
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e.code === '23505' ||
    e.code === 'ER_DUP_ENTRY' ||
    e.errno === 1062
  );
}
