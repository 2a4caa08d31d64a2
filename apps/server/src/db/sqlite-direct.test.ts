/**
 * The direct path on SQLite (sqlite-direct.ts): statements run on better-sqlite3's own
 * statements keep what Kysely's one connection guaranteed. A read outside a transaction
 * never sees an open transaction's writes; a write outside a transaction never lands in
 * one; the I/O guard sees every statement; and the statements a payment runs no longer
 * pass through Kysely's driver.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from './database.js';
import { IoFailureGuard } from './io-failure-guard.js';
import { migrateToLatest } from './migrate.js';
import { columns, prepare } from './prepared.js';
import { runDirect } from './sqlite-direct.js';
import { WriteBatch } from './write-batch.js';
import { runWriteTransaction } from './write-transaction.js';

const T0_MS = 1_767_225_600_000;

const insertAccount = prepare((db, v: { id: string; balanceWon: number }) =>
  db.insertInto('ledgerAccounts').values({ ...columns(v, ['id', 'balanceWon']), kind: 'wallet', ownerUserId: null, createdAtMs: T0_MS }));
const insertAccountReturning = prepare((db, v: { id: string; balanceWon: number }) =>
  db.insertInto('ledgerAccounts').values({ ...columns(v, ['id', 'balanceWon']), kind: 'wallet', ownerUserId: null, createdAtMs: T0_MS }).returning(['id', 'balanceWon']));
const accountById = prepare((db, v: { id: string }) => db.selectFrom('ledgerAccounts').select(['id', 'balanceWon', 'createdAtMs']).where('id', '=', v.id));

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

describe.each([['a database file', 'file'], ['an in-memory database', 'memory']] as const)('the direct path on %s', (_name, kind) => {
  let database: DatabaseHandle;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cp-direct-'));
    database = openDatabase(kind === 'file' ? `sqlite:${path.join(dir, 'test.db')}` : 'sqlite::memory:');
    await migrateToLatest(database.db, 'sqlite');
  });
  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads outside a transaction see what is committed and nothing of an open transaction', async () => {
    const committed = randomUUID();
    const uncommitted = randomUUID();
    await runWriteTransaction(database.db, 'sqlite', (trx) => insertAccount.affected(trx, { id: committed, balanceWon: 5 }));
    // Committed a moment ago: read at once, as the same request would.
    expect(await accountById.first(database.db, { id: committed })).toEqual({ id: committed, balanceWon: 5, createdAtMs: T0_MS });

    const paused = gate();
    const written = gate();
    const transaction = runWriteTransaction(database.db, 'sqlite', async (trx) => {
      await insertAccount.affected(trx, { id: uncommitted, balanceWon: 7 });
      written.open();
      await paused.opened;
      throw new Error('the unit fails');
    });
    await written.opened;
    // On a file the read runs on the reader at once; in memory it waits for the transaction
    // to end. Either way it must not answer with a row that is then rolled back.
    const during = accountById.first(database.db, { id: uncommitted });
    paused.open();
    await expect(transaction).rejects.toThrow('the unit fails');
    expect(await during).toBeUndefined();
    expect(await accountById.first(database.db, { id: uncommitted })).toBeUndefined();
  });

  it('a write outside a transaction waits for an open one and does not roll back with it', async () => {
    const insideId = randomUUID();
    const outsideId = randomUUID();
    const paused = gate();
    const written = gate();
    const failing = runWriteTransaction(database.db, 'sqlite', async (trx) => {
      await insertAccount.affected(trx, { id: insideId, balanceWon: 1 });
      written.open();
      await paused.opened;
      throw new Error('the unit fails');
    });
    await written.opened;
    const outside = insertAccount.affected(database.db, { id: outsideId, balanceWon: 2 });
    paused.open();
    await expect(failing).rejects.toThrow('the unit fails');
    expect(await outside).toBe(1);
    expect(await accountById.first(database.db, { id: insideId })).toBeUndefined();
    expect(await accountById.first(database.db, { id: outsideId })).toMatchObject({ id: outsideId, balanceWon: 2 });
  });

  it('answers as Kysely does: rows named in camelCase, rows touched by a write', async () => {
    const id = randomUUID();
    const viaKysely = async () => (await database.db.executeQuery(accountById.bound(database.db, { id }))).rows;
    await runWriteTransaction(database.db, 'sqlite', async (trx) => {
      const insert = insertAccount.bound(trx, { id, balanceWon: 9 });
      expect(runDirect(trx, insert)).toEqual({ numAffectedRows: 1n, rows: [] });
    });
    expect(runDirect(database.db, accountById.bound(database.db, { id }))).toEqual({ rows: await viaKysely() });
    expect(runDirect(database.db, accountById.bound(database.db, { id }))?.rows).toEqual([{ id, balanceWon: 9, createdAtMs: T0_MS }]);
    // A write outside a transaction is not run here (Kysely's mutex orders it).
    expect(runDirect(database.db, insertAccount.bound(database.db, { id: randomUUID(), balanceWon: 1 }))).toBeUndefined();
  });

  it('an insert that returns rows is a write: outside a transaction it takes Kysely’s way and commits', async () => {
    const id = randomUUID();
    expect(runDirect(database.db, insertAccountReturning.bound(database.db, { id, balanceWon: 6 }))).toBeUndefined();
    expect(await insertAccountReturning.first(database.db, { id, balanceWon: 6 })).toEqual({ id, balanceWon: 6 });
    expect(await accountById.first(database.db, { id })).toMatchObject({ id, balanceWon: 6 });
  });

  it('runs a transaction’s prepared statements, its batch and its savepoints without Kysely’s driver', async () => {
    const acquired = { count: 0 };
    const original = IoFailureGuard.prototype.acquireConnection;
    IoFailureGuard.prototype.acquireConnection = function (this: IoFailureGuard) {
      acquired.count += 1;
      return original.call(this);
    };
    try {
      const id = randomUUID();
      const other = randomUUID();
      await runWriteTransaction(database.db, 'sqlite', async (trx) => {
        await insertAccount.affected(trx, { id, balanceWon: 3 });
        const batch = new WriteBatch();
        batch.add(insertAccount, { id: other, balanceWon: 4 }, { rows: 1, otherwise: () => new Error('not written') });
        await batch.flush(trx, 'sqlite');
      });
      // One acquisition: the group's own hold of the connection for its BEGIN … COMMIT.
      expect(acquired.count).toBe(1);
      acquired.count = 0;
      expect(await accountById.first(database.db, { id: other })).toMatchObject({ balanceWon: 4 });
      expect(acquired.count).toBe(0);
    } finally {
      IoFailureGuard.prototype.acquireConnection = original;
    }
  });
});

describe('the I/O guard on the direct path', () => {
  it('sees a failing direct statement, refuses every later one, and reports it once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-direct-io-'));
    const fatal: unknown[] = [];
    let failNext = false;
    const database = openDatabase(`sqlite:${path.join(dir, 'test.db')}`, {
      onFatal: (error) => fatal.push(error),
      sqliteFault: (sqlText) => {
        if (failNext && sqlText.startsWith('select')) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });
      },
    });
    try {
      await migrateToLatest(database.db, 'sqlite');
      failNext = true;
      await expect(accountById.first(database.db, { id: randomUUID() })).rejects.toMatchObject({ code: 'SQLITE_IOERR_READ' });
      failNext = false;
      // Refused with the first failure, on the direct path and on Kysely's alike.
      await expect(accountById.first(database.db, { id: randomUUID() })).rejects.toMatchObject({ code: 'SQLITE_IOERR_READ' });
      await expect(database.db.selectFrom('ledgerAccounts').selectAll().execute()).rejects.toMatchObject({ code: 'SQLITE_IOERR_READ' });
      expect(fatal).toHaveLength(1);
    } finally {
      await database.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
