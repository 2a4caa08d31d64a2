/**
 * Write transactions that behave alike on the three engines, for money and stock.
 *
 * - PostgreSQL and MariaDB: the engine's default isolation (READ COMMITTED, REPEATABLE
 *   READ) plus explicit row locks (`SELECT … FOR UPDATE`, see `lockingRead`) on every
 *   row whose value a decision depends on. Locks are taken in one global order (ledger
 *   accounts by id, products by id), so transfers cannot deadlock each other; anything
 *   the engine still reports as a deadlock or serialization failure is retried.
 * - SQLite: `BEGIN IMMEDIATE`, which takes the database's write lock at the start, so
 *   the transaction's reads and writes see no other writer in between. In this process
 *   Kysely already runs one transaction at a time on SQLite's single connection; the
 *   immediate lock also covers a second process on the same file, whose busy wait ends
 *   in `SQLITE_BUSY`, which is retried like a deadlock.
 * - SQLite with group commit (what `openDatabase` sets up for a database file): write
 *   transactions that arrive together share one `BEGIN IMMEDIATE … COMMIT`, each inside
 *   its own savepoint, run one after another. Each still sees every earlier one's writes
 *   and nothing else, a failing one rolls back to its savepoint alone, and nobody is
 *   answered before the common COMMIT is done and synced to disk (synchronous=FULL):
 *   the same guarantees at one fsync per group instead of one per transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CompiledQuery, sql, type Kysely, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import type { Database } from './schema.js';
import { bindTransactionHandle, runQuery } from './sqlite-direct.js';

/** A database handle or an open transaction: repositories take either. */
export type Db = Kysely<Database> | Transaction<Database>;

/** Attempts of one write transaction before a conflict is given up on. */
export const WRITE_ATTEMPTS_MAX = 6;

/** Largest pause between attempts, in milliseconds. */
const RETRY_PAUSE_MAX_MS = 50;

/**
 * True when `error` is a conflict the same transaction may not meet again: a deadlock,
 * a serialization failure, a lock wait that timed out, or SQLite's busy database.
 */
export function isRetryableConflict(error: unknown): boolean {
  const e = error as { code?: string; errno?: number } | null;
  if (!e) return false;
  return (
    // PostgreSQL: serialization_failure, deadlock_detected.
    e.code === '40001' ||
    e.code === '40P01' ||
    // MariaDB: lock wait timeout, deadlock, and "record has changed since last read"
    // (what snapshot isolation in newer versions reports for a row changed under a read view).
    e.errno === 1205 ||
    e.errno === 1213 ||
    e.errno === 1020 ||
    e.code === 'SQLITE_BUSY' ||
    e.code === 'SQLITE_BUSY_SNAPSHOT' ||
    e.code === 'SQLITE_LOCKED'
  );
}

/**
 * `SELECT … FOR UPDATE` where the engine has it. SQLite has no row locks and needs
 * none: inside `BEGIN IMMEDIATE` no other writer can run.
 */
export function lockingRead<DB, TB extends keyof DB, O>(engine: DatabaseEngine, query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O> {
  return engine === 'sqlite' ? query : query.forUpdate();
}

/** Each unit's savepoint and its release, compiled once: every write transaction runs both. */
const SAVEPOINT_UNIT = CompiledQuery.raw('savepoint unit');
const RELEASE_UNIT = CompiledQuery.raw('release unit');
/** A group's begin and commit, likewise. */
const BEGIN_IMMEDIATE = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');

/** Most write transactions one SQLite commit carries. */
export const GROUP_COMMIT_UNITS_MAX = 64;

type Work<T> = (trx: Kysely<Database>) => Promise<T>;

/** What may hold group commit's next group back (the WAL checkpointer, wal-checkpointer.ts). */
export interface WriteGate {
  /** Null to go on now, or a promise to wait for. */
  writable(): Promise<void> | null;
  /** Told when group commit starts and stops running transactions. */
  draining(active: boolean): void;
}

interface QueuedWork {
  work: Work<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Group commit on SQLite's single connection (see the file comment). A unit's work may
 * run more than once: when SQLite abandons the whole transaction because of another
 * unit (an I/O error, a full disk), the units that did nothing wrong run again in the
 * next group, like any transaction retried after a conflict.
 */
export class SqliteGroupCommit {
  private readonly queue: QueuedWork[] = [];
  private draining = false;
  /** Transactions committed and the commits that carried them (for metrics and the benchmark). */
  readonly counts = { transactions: 0, commits: 0 };

  constructor(
    private readonly db: Kysely<Database>,
    private readonly sqlite: { readonly inTransaction: boolean },
    /** The WAL checkpointer (wal-checkpointer.ts): asked before each group whether to wait while it catches up. */
    private readonly gate: WriteGate | null = null,
  ) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        this.gate?.draining(true);
        // One turn of the event loop first: work that is ready in the same turn joins this group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // While the checkpointer catches up, transactions queue here (and then share one commit).
        const hold = this.gate?.writable();
        if (hold) await hold;
        await this.commitGroup(this.queue.splice(0, GROUP_COMMIT_UNITS_MAX));
        // Let waiting I/O run: requests that arrive meanwhile join the next group.
        if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
      this.gate?.draining(false);
    }
  }

  private async commitGroup(group: QueuedWork[]): Promise<void> {
    const outcomes: { unit: QueuedWork; ok: boolean; value: unknown }[] = [];
    let again: QueuedWork[] = [];
    try {
      // COMMIT syncs the WAL (synchronous=FULL): nobody is answered before the group is on disk.
      await this.db.connection().execute(async (connection) => {
        bindTransactionHandle(connection, this.db);
        try {
          again = await this.runGroup(connection, group, outcomes);
        } catch (error) {
          // Whatever failed (a savepoint step, say), no transaction may stay open on the one
          // connection: every later write would land in it uncommitted.
          if (this.sqlite.inTransaction) await sql`rollback`.execute(connection).catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      // BEGIN or COMMIT failed, or the commit could not be synced: each caller decides whether to retry.
      for (const unit of group) unit.reject(error);
      return;
    }
    if (again.length > 0) {
      this.queue.unshift(...again);
    } else {
      this.counts.commits += 1;
      this.counts.transactions += outcomes.filter((o) => o.ok).length;
    }
    for (const { unit, ok, value } of outcomes) (ok ? unit.resolve(value) : unit.reject(value));
  }

  /** One `BEGIN IMMEDIATE … COMMIT` of the group; answers the units to run again when SQLite abandoned it. */
  private async runGroup(connection: Kysely<Database>, group: QueuedWork[], outcomes: { unit: QueuedWork; ok: boolean; value: unknown }[]): Promise<QueuedWork[]> {
    await runQuery(connection, BEGIN_IMMEDIATE);
    for (const [index, unit] of group.entries()) {
      await runQuery(connection, SAVEPOINT_UNIT);
      try {
        const value = await unit.work(connection);
        await runQuery(connection, RELEASE_UNIT);
        outcomes.push({ unit, ok: true, value });
      } catch (error) {
        if (!this.sqlite.inTransaction) {
          // SQLite rolled the whole transaction back: this unit fails, the others run again.
          outcomes.length = 0;
          outcomes.push({ unit, ok: false, value: error });
          return group.filter((_, i) => i !== index);
        }
        await sql`rollback to unit`.execute(connection);
        await sql`release unit`.execute(connection);
        outcomes.push({ unit, ok: false, value: error });
      }
    }
    try {
      await runQuery(connection, COMMIT);
    } catch (error) {
      if (this.sqlite.inTransaction) await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
    return [];
  }
}

const groupCommits = new WeakMap<Kysely<Database>, SqliteGroupCommit>();

/** Makes write transactions on this SQLite database share commits (`openDatabase` calls it). */
export function enableGroupCommit(db: Kysely<Database>, sqlite: { readonly inTransaction: boolean }, gate?: WriteGate): SqliteGroupCommit {
  const group = new SqliteGroupCommit(db, sqlite, gate ?? null);
  groupCommits.set(db, group);
  return group;
}

async function once<T>(db: Kysely<Database>, engine: DatabaseEngine, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (engine !== 'sqlite') return db.transaction().execute(work);
  const group = groupCommits.get(db);
  if (group) return group.run(work);
  // Kysely's SQLite transactions begin DEFERRED; the connection API lets us say IMMEDIATE
  // while still holding the one connection for the whole unit of work.
  return db.connection().execute(async (connection) => {
    bindTransactionHandle(connection, db);
    await sql`begin immediate`.execute(connection);
    let result: T;
    try {
      result = await work(connection);
    } catch (error) {
      // SQLite may have rolled back already (after some errors); then there is nothing to undo.
      await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
    try {
      await sql`commit`.execute(connection);
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => undefined);
      throw error;
    }
    return result;
  });
}

/**
 * Runs `work` in one write transaction, retrying it from the start on a conflict (at
 * most `WRITE_ATTEMPTS_MAX` times, with short random pauses so two conflicting callers
 * do not meet again in step). `work` must use only the handle it is given and must be
 * safe to run again: everything it wrote in a failed attempt was rolled back.
 *
 * @example
 * await runWriteTransaction(db, 'postgres', async (trx) => ledger.postEntry(trx, entry));
 */
export async function runWriteTransaction<T>(db: Kysely<Database>, engine: DatabaseEngine, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await once(db, engine, work);
    } catch (error) {
      if (!isRetryableConflict(error) || attempt >= WRITE_ATTEMPTS_MAX) throw error;
      await sleep(Math.floor(Math.random() * Math.min(RETRY_PAUSE_MAX_MS, 2 ** attempt * 2)));
    }
  }
}
