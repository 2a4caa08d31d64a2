/**
 * On a database file, SQLite runs FULL (each COMMIT syncs the WAL before the commit is
 * visible) with group commit sharing that sync; the guard turns SQLite's I/O failures, and
 * only those, into one fatal report after which nothing runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { isSqliteIoFailure } from './io-failure-guard.js';
import { migrateToLatest } from './migrate.js';
import { runWriteTransaction } from './write-transaction.js';

const account = (id: string) => ({ id, kind: 'funding' as const, ownerUserId: null, balanceWon: 0, createdAtMs: 1 });

describe('SQLite durability', () => {
  it('runs FULL on a database file, and transactions that arrive together share one commit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-durable-'));
    const handle = openDatabase(`sqlite:${path.join(dir, 'test.db')}`);
    try {
      await migrateToLatest(handle.db, handle.engine);
      const mode = await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db);
      expect(mode.rows[0]!.synchronous).toBe(2);
      // Savepoint journals in memory, not in temporary files made and deleted per group (database.ts).
      const temp = await sql<{ tempStore: number }>`pragma temp_store`.execute(handle.db);
      expect(temp.rows[0]!.tempStore).toBe(2);
      const before = { ...handle.groupCommit!.counts };
      await Promise.all(['f1', 'f2', 'f3'].map((id) => runWriteTransaction(handle.db, handle.engine, (trx) => trx.insertInto('ledgerAccounts').values(account(id)).execute())));
      expect(handle.groupCommit!.counts.transactions - before.transactions).toBe(3);
      expect(handle.groupCommit!.counts.commits - before.commits).toBeLessThan(3);
    } finally {
      await handle.close();
    }
  });

  it('an I/O failure is fatal once and refuses every later statement; a constraint violation is not', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-ioerr-'));
    const fatal: unknown[] = [];
    let failCommit = false;
    const handle = openDatabase(`sqlite:${path.join(dir, 'test.db')}`, {
      onFatal: (error) => fatal.push(error),
      sqliteFault: (statement) => {
        if (failCommit && /^commit\b/i.test(statement)) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_FSYNC' });
      },
    });
    try {
      await migrateToLatest(handle.db, handle.engine);
      await handle.db.insertInto('ledgerAccounts').values(account('a1')).execute();
      // A duplicate key is an answer, not a broken disk.
      await expect(handle.db.insertInto('ledgerAccounts').values(account('a1')).execute()).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
      expect(fatal).toEqual([]);

      failCommit = true;
      await expect(runWriteTransaction(handle.db, handle.engine, (trx) => trx.insertInto('ledgerAccounts').values(account('a2')).execute())).rejects.toMatchObject({ code: 'SQLITE_IOERR_FSYNC' });
      failCommit = false;
      expect(fatal).toHaveLength(1);
      await expect(handle.db.selectFrom('ledgerAccounts').selectAll().execute()).rejects.toMatchObject({ code: 'SQLITE_IOERR_FSYNC' });
      expect(fatal).toHaveLength(1);
    } finally {
      await handle.close().catch(() => undefined);
    }
  });

  it('knows SQLite I/O failure codes from other errors', () => {
    for (const code of ['SQLITE_IOERR', 'SQLITE_IOERR_FSYNC', 'SQLITE_IOERR_WRITE', 'SQLITE_FULL', 'SQLITE_CORRUPT']) expect(isSqliteIoFailure({ code })).toBe(true);
    for (const code of ['SQLITE_BUSY', 'SQLITE_CONSTRAINT_UNIQUE', '40001', undefined]) expect(isSqliteIoFailure({ code })).toBe(false);
    expect(isSqliteIoFailure(null)).toBe(false);
  });
});
