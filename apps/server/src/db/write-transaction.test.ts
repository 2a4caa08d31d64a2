/**
 * Write transactions on every engine: all or nothing, retried from the start on a
 * conflict (a bounded number of times), never retried on other errors; on SQLite the
 * write lock is taken at BEGIN.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@coconutpay/core/errors';
import { enginesUnderTest } from '../../test/helpers.js';
import { migratedDatabase } from '../../test/migrated-database.js';
import { openDatabase, type DatabaseHandle } from './database.js';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';
import { WRITE_ATTEMPTS_MAX, isRetryableConflict, runWriteTransaction } from './write-transaction.js';

const T0_MS = 1_767_225_600_000;

/** An error shaped like the driver's report of a conflict on this engine. */
function conflict(engine: string): Error {
  const error = new Error('conflict') as Error & { code?: string; errno?: number };
  if (engine === 'postgres') error.code = '40P01';
  else if (engine === 'mysql') error.errno = 1213;
  else error.code = 'SQLITE_BUSY';
  return error;
}

describe('isRetryableConflict', () => {
  it('knows the engines’ deadlock, serialization and busy errors, and nothing else', () => {
    for (const e of [{ code: '40001' }, { code: '40P01' }, { errno: 1213 }, { errno: 1205 }, { errno: 1020 }, { code: 'SQLITE_BUSY' }, { code: 'SQLITE_BUSY_SNAPSHOT' }, { code: 'SQLITE_LOCKED' }]) {
      expect(isRetryableConflict(e), JSON.stringify(e)).toBe(true);
    }
    for (const e of [null, undefined, {}, { code: '23505' }, { errno: 1062 }, { code: 'SQLITE_CONSTRAINT_CHECK' }, new AppError('INSUFFICIENT_BALANCE'), new RangeError('x')]) {
      expect(isRetryableConflict(e), JSON.stringify(e)).toBe(false);
    }
  });
});

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('runWriteTransaction on %s', (_name, engine) => {
  const database = migratedDatabase(engine, { poolSize: 4 });
  const db = () => database().db;

  const insertEntry = (trx: Kysely<Database>, memo: string) =>
    trx.insertInto('journalEntries').values({ id: randomUUID(), kind: 'test', memo, createdAtMs: T0_MS }).execute();
  const count = async (memo: string) => Number((await db().selectFrom('journalEntries').select((eb) => eb.fn.countAll<number>().as('n')).where('memo', '=', memo).executeTakeFirstOrThrow()).n);

  it('commits what the work wrote and returns its result', async () => {
    const memo = `commit-${randomUUID()}`;
    await expect(runWriteTransaction(db(), database().engine, async (trx) => (await insertEntry(trx, memo), 42))).resolves.toBe(42);
    expect(await count(memo)).toBe(1);
  });

  it('rolls everything back when the work throws, and does not retry an ordinary error', async () => {
    const memo = `rollback-${randomUUID()}`;
    let attempts = 0;
    await expect(runWriteTransaction(db(), database().engine, async (trx) => {
      attempts += 1;
      await insertEntry(trx, memo);
      throw new AppError('INSUFFICIENT_BALANCE');
    })).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
    expect(attempts).toBe(1);
    expect(await count(memo)).toBe(0);
  });

  it('runs the work again after a conflict, keeping only the last attempt’s writes', async () => {
    const memo = `retry-${randomUUID()}`;
    let attempts = 0;
    await runWriteTransaction(db(), database().engine, async (trx) => {
      attempts += 1;
      await insertEntry(trx, memo);
      if (attempts < 3) throw conflict(database().engine);
    });
    expect(attempts).toBe(3);
    expect(await count(memo)).toBe(1);
  });

  it('gives up after a bounded number of conflicts', async () => {
    let attempts = 0;
    await expect(runWriteTransaction(db(), database().engine, async () => {
      attempts += 1;
      throw conflict(database().engine);
    })).rejects.toThrow('conflict');
    expect(attempts).toBe(WRITE_ATTEMPTS_MAX);
  });

});

describe('runWriteTransaction on SQLite', () => {
  it('holds the write lock from BEGIN, before the work has written anything', async () => {
    const created = await enginesUnderTest()[0]!.create();
    const handle = openDatabase(created.url);
    await migrateToLatest(handle.db, handle.engine);
    const other = new SQLite(created.url.slice('sqlite:'.length));
    other.pragma('busy_timeout = 0');
    try {
      let busy: unknown;
      await runWriteTransaction(handle.db, handle.engine, async (trx) => {
        await trx.selectFrom('journalEntries').select('id').limit(1).execute();
        try {
          other.exec('begin immediate');
          other.exec('rollback');
        } catch (error) {
          busy = error;
        }
      });
      expect((busy as { code?: string } | undefined)?.code).toBe('SQLITE_BUSY');
      // Once committed, the lock is free again.
      other.exec('begin immediate');
      other.exec('rollback');
    } finally {
      other.close();
      await handle.close();
      await created.drop();
    }
  });
});

describe('group commit on SQLite', () => {
  let handle: DatabaseHandle;
  let drop: () => Promise<void>;
  let dbFile: string;
  const memoPrefix = () => `group-${randomUUID()}`;

  beforeAll(async () => {
    const created = await enginesUnderTest()[0]!.create();
    drop = created.drop;
    dbFile = created.url.slice('sqlite:'.length);
    handle = openDatabase(created.url);
    await migrateToLatest(handle.db, handle.engine);
  });
  afterAll(async () => {
    await handle.close();
    await drop();
  });

  const insert = (trx: Kysely<Database>, memo: string) =>
    trx.insertInto('journalEntries').values({ id: randomUUID(), kind: 'test', memo, createdAtMs: T0_MS }).execute();
  const memos = async (prefix: string) =>
    (await handle.db.selectFrom('journalEntries').select('memo').where('memo', 'like', `${prefix}%`).orderBy('memo').execute()).map((r) => r.memo);

  it('commits transactions that arrive together in one commit, each one whole', async () => {
    const prefix = memoPrefix();
    const before = { ...handle.groupCommit!.counts };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => runWriteTransaction(handle.db, 'sqlite', async (trx) => {
      await insert(trx, `${prefix}-${String(i).padStart(2, '0')}-a`);
      await insert(trx, `${prefix}-${String(i).padStart(2, '0')}-b`);
      return i;
    })));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await memos(prefix)).toHaveLength(40);
    const commits = handle.groupCommit!.counts.commits - before.commits;
    expect(handle.groupCommit!.counts.transactions - before.transactions).toBe(20);
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThan(20);
  });

  it('rolls back only the transaction that failed; the others in its commit stay', async () => {
    const prefix = memoPrefix();
    const outcomes = await Promise.allSettled([0, 1, 2].map((i) => runWriteTransaction(handle.db, 'sqlite', async (trx) => {
      await insert(trx, `${prefix}-${i}`);
      if (i === 1) throw new AppError('INSUFFICIENT_BALANCE');
      return i;
    })));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
    expect(await memos(prefix)).toEqual([`${prefix}-0`, `${prefix}-2`]);
  });

  it('lets each transaction see the writes of those before it in the same commit', async () => {
    const prefix = memoPrefix();
    const seen = await Promise.all([0, 1, 2].map((i) => runWriteTransaction(handle.db, 'sqlite', async (trx) => {
      const count = (await trx.selectFrom('journalEntries').select('id').where('memo', 'like', `${prefix}%`).execute()).length;
      await insert(trx, `${prefix}-${i}`);
      return count;
    })));
    expect(seen).toEqual([0, 1, 2]);
  });

  it('checkpoints the WAL from its worker thread, not in the commits', async () => {
    const setting = await sql<Record<string, number>>`pragma wal_autocheckpoint`.execute(handle.db);
    expect(Object.values(setting.rows[0]!)[0]).toBe(0);
    // In WAL mode the database file only changes when a checkpoint copies pages into it.
    const sizeBefore = statSync(dbFile).size;
    const prefix = memoPrefix();
    await Promise.all(Array.from({ length: 200 }, (_, i) => runWriteTransaction(handle.db, 'sqlite', (trx) => insert(trx, `${prefix}-${i}-${'x'.repeat(500)}`))));
    const deadline = Date.now() + 5_000;
    while (statSync(dbFile).size <= sizeBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statSync(dbFile).size).toBeGreaterThan(sizeBefore);
  });
});
