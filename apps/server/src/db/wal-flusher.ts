/**
 * Durable commits on SQLite without stopping the event loop for the disk.
 *
 * Under `synchronous=FULL` SQLite syncs the WAL inside every COMMIT, and better-sqlite3
 * runs COMMIT on the event loop: each commit held the whole server for the length of an
 * fsync (0.4 ms idle, several ms under load), about half of the server's time at low
 * concurrency. `synchronous=FULL` in WAL mode is exactly `synchronous=NORMAL` plus that
 * one sync of the WAL after each commit (sqlite.org/pragma.html#pragma_synchronous), so
 * the connection runs NORMAL and this class makes the same sync itself, from libuv's
 * thread pool, and nobody is answered before it is done:
 *
 * - a commit's caller waits for a WAL sync that *started after* its commit wrote its
 *   frames — the one in flight may have started earlier, so it then waits for the next;
 * - syncs run one at a time and each covers every frame written before it started, so
 *   commits that arrive during a sync share the next one (flush pipelining);
 * - a transaction that read another's committed but not yet synced rows commits later,
 *   so its own sync covers them too: no answered transaction depends on rows a power cut
 *   could take back. What a plain read may see for that fraction of a millisecond is the
 *   one difference from FULL, and it is never given as a result of a write.
 *
 * The checkpointer's connection keeps `synchronous=FULL`, so checkpoints sync as before.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { SelectQueryNode, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely';

type Sync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

interface Waiters {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Syncs one WAL file, one sync at a time, each answering the commits made before it began. */
export class WalFlusher {
  private readonly fd: number;
  private inFlight: Waiters | null = null;
  private next: Waiters | null = null;
  /** The first failed sync: after it nothing is answered as durable again (see `durable`). */
  private failure: unknown = null;
  private closed = false;
  /** Syncs made and the commits that waited for one (for the benchmark and tests). */
  readonly counts = { syncs: 0, waits: 0 };

  /**
   * @param walPath the database's `-wal` file, as SQLite names it (beside the real file, links
   *   resolved); it must exist — `openDatabase` reads once in WAL mode first, which creates it
   * @param sync `fs.fdatasync` (tests pass a controllable one)
   * @param onFailure hears about the first failed sync
   */
  constructor(
    readonly walPath: string,
    private readonly sync: Sync = fdatasync,
    private readonly onFailure: (error: unknown) => void = () => undefined,
  ) {
    // Opened now, not on first use: a write must never be answered because the file was not found.
    this.fd = openSync(walPath, 'r');
  }

  /**
   * Resolves once everything committed before this call is on disk. After a failed sync it
   * rejects, now and for good: the kernel may have dropped the pages it could not write, and
   * a later sync that succeeds would not bring them back (SQLite's recovery would then stop at
   * the first missing frame). A restart recovers from what is on disk.
   */
  durable(): Promise<void> {
    this.counts.waits += 1;
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the database is closed'));
    if (!this.inFlight) return this.start().promise;
    // The sync in flight may have begun before this commit's frames were written.
    this.next ??= waiters();
    return this.next.promise;
  }

  private start(): Waiters {
    const current = waiters();
    this.inFlight = current;
    const finish = (error: unknown) => {
      this.inFlight = null;
      if (error && this.failure === null) {
        this.failure = error;
        this.onFailure(error);
      }
      if (this.failure !== null) current.reject(this.failure);
      else current.resolve();
      const queued = this.next;
      this.next = null;
      if (queued) {
        if (this.failure !== null) queued.reject(this.failure);
        else this.start().promise.then(queued.resolve, queued.reject);
      }
    };
    try {
      this.counts.syncs += 1;
      this.sync(this.fd, (error) => finish(error));
    } catch (error) {
      finish(error);
    }
    return current;
  }

  /** Waits for the last sync and closes the file (before the database is closed). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.inFlight?.promise, this.next?.promise]);
    closeSync(this.fd);
  }
}

/**
 * SQLite's one connection, answering a write only when it is durable: after any statement
 * but a plain select that leaves the connection outside a transaction (an autocommit write,
 * `… RETURNING` included, a COMMIT), the answer waits for the flusher. While the group commit runs a group it says so
 * (`deferred`), and waits for the flusher itself after giving the connection back, so
 * reads go on during the sync.
 */
class DurableConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly sqlite: { readonly inTransaction: boolean },
    private readonly durability: DurableWrites,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.inner.executeQuery<R>(query);
    if (!SelectQueryNode.is(query.query) && !this.sqlite.inTransaction && !this.durability.deferred) await this.durability.flusher.durable();
    return result;
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/** What the group commit and the connection share. */
export interface DurableWrites {
  flusher: WalFlusher;
  /** True while the group commit holds the connection and will wait for the sync itself. */
  deferred: boolean;
}

/** Kysely's SQLite driver with {@link DurableConnection} in place of its connection. */
export class DurableSqliteDriver implements Driver {
  private connection: DurableConnection | null = null;

  constructor(
    private readonly inner: Driver,
    private readonly sqlite: { readonly inTransaction: boolean },
    private readonly durability: DurableWrites,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await this.inner.acquireConnection();
    // SQLite has one connection: one wrapper serves every acquisition.
    this.connection ??= new DurableConnection(inner, this.sqlite, this.durability);
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

  async destroy(): Promise<void> {
    await this.durability.flusher.close();
    await this.inner.destroy();
  }
}
