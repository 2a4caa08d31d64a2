/**
 * Stops the database after the first I/O failure SQLite reports (a failed sync, a write
 * error, a full disk), as PostgreSQL stops after a failed fsync. The connection runs
 * `synchronous=FULL`: SQLite syncs the WAL inside every COMMIT before the commit becomes
 * visible, so a failed sync fails that COMMIT and no reader ever sees it. What may still
 * be wrong is the file itself — after a failed fsync the kernel may have dropped the dirty
 * pages, and a later sync would then "succeed" over a hole — so after the first such error
 * every statement is refused with it, `onFatal` hears about it once, and `buildApp` ends
 * the process so that a restart recovers from what is on disk.
 */
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';

/** The result codes of a failed read or write of the file (SQLite's extended I/O codes included). */
export function isSqliteIoFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(IOERR|FULL|CORRUPT|CANTOPEN|NOTADB)/.test(code);
}

/**
 * A statement about to run; tests throw from it to make a statement fail as a failed
 * sync would (SQLite's own sync cannot be made to fail from JavaScript).
 */
export type StatementFault = (sql: string) => void;

class GuardedConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly guard: IoFailureGuard,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.guard.check();
    try {
      this.guard.fault?.(query.sql);
      return await this.inner.executeQuery<R>(query);
    } catch (error) {
      this.guard.observe(error);
      throw error;
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    this.guard.check();
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/** Kysely's SQLite driver with every statement watched for I/O failures. */
export class IoFailureGuard implements Driver {
  private failure: unknown = null;
  private connection: GuardedConnection | null = null;

  constructor(
    private readonly inner: Driver,
    private readonly onFatal: (error: unknown) => void,
    readonly fault?: StatementFault,
  ) {}

  /** Refuses every statement after the first I/O failure, with that failure. */
  check(): void {
    if (this.failure !== null) throw this.failure;
  }

  observe(error: unknown): void {
    if (this.failure !== null || !isSqliteIoFailure(error)) return;
    this.failure = error;
    this.onFatal(error);
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await this.inner.acquireConnection();
    // SQLite has one connection: one wrapper serves every acquisition.
    this.connection ??= new GuardedConnection(inner, this);
    return this.connection;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  savepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]): Promise<void> {
    return this.inner.savepoint!(connection, name, compile);
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['rollbackToSavepoint']>>[2]): Promise<void> {
    return this.inner.rollbackToSavepoint!(connection, name, compile);
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['releaseSavepoint']>>[2]): Promise<void> {
    return this.inner.releaseSavepoint!(connection, name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
