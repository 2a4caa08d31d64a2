/**
 * The WAL flusher: a commit is answered only after a sync that began after it; syncs
 * run one at a time and are shared by the commits that wait together; a failed sync
 * fails exactly its waiters. And on a real database file: the connection runs
 * NORMAL, and autocommit writes, Kysely transactions and group commits all wait for a sync.
 */
import { existsSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';
import { WalFlusher } from './wal-flusher.js';
import { runWriteTransaction } from './write-transaction.js';

/** A sync that finishes only when the test says so, and records when each one started. */
function controlledSync() {
  const pending: ((error: NodeJS.ErrnoException | null) => void)[] = [];
  return {
    started: () => pending.length,
    sync: (_fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void pending.push(done),
    finish: (index: number, error: NodeJS.ErrnoException | null = null) => pending[index]!(error),
  };
}

const settled = async (p: Promise<unknown>) => {
  let state = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('WalFlusher', () => {
  const walFile = () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cp-wal-')), 'db-wal');
    writeFileSync(file, 'frames');
    return file;
  };

  it('answers a commit only after a sync that started after it, and shares one sync among commits that wait together', async () => {
    const control = controlledSync();
    const flusher = new WalFlusher(walFile(), control.sync);
    const first = flusher.durable();
    expect(control.started()).toBe(1);
    // These two commit while the first sync runs: it may have begun before their frames.
    const second = flusher.durable();
    const third = flusher.durable();
    expect(control.started()).toBe(1);
    control.finish(0);
    expect(await settled(first)).toBe('resolved');
    expect(await settled(second)).toBe('pending');
    // The next sync starts as soon as the first ends, and answers both.
    expect(control.started()).toBe(2);
    control.finish(1);
    expect(await settled(second)).toBe('resolved');
    expect(await settled(third)).toBe('resolved');
    expect(flusher.counts).toEqual({ syncs: 2, waits: 3 });
  });

  it('after a failed sync answers no commit as durable again, waiting or later', async () => {
    const failures: unknown[] = [];
    const control = controlledSync();
    const flusher = new WalFlusher(walFile(), control.sync, (error) => failures.push(error));
    const first = flusher.durable();
    const second = flusher.durable();
    control.finish(0, Object.assign(new Error('EIO'), { code: 'EIO' }));
    await expect(first).rejects.toThrow('EIO');
    await expect(second).rejects.toThrow('EIO');
    await expect(flusher.durable()).rejects.toThrow('EIO');
    // No further sync was even tried: one that succeeded would prove nothing about the lost pages.
    expect(control.started()).toBe(1);
    expect(failures).toHaveLength(1);
  });

  it('will not start without the WAL file, rather than answer writes it cannot sync', () => {
    expect(() => new WalFlusher(path.join(tmpdir(), 'no-such-dir-cp', 'db-wal'))).toThrow(/ENOENT/);
  });

  it('answers nothing as durable once closed', async () => {
    const control = controlledSync();
    const flusher = new WalFlusher(walFile(), control.sync);
    await flusher.close();
    await expect(flusher.durable()).rejects.toThrow(/closed/);
    expect(control.started()).toBe(0);
  });
});

describe('durable writes on a database file', () => {
  it('run NORMAL on the connection and wait for a sync after every kind of commit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-durable-'));
    const handle = openDatabase(`sqlite:${path.join(dir, 'test.db')}`);
    try {
      await migrateToLatest(handle.db, handle.engine);
      const mode = await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db);
      expect(mode.rows[0]!.synchronous).toBe(1);
      const flusher = handle.flusher!;
      const syncs = () => flusher.counts.syncs;
      expect(existsSync(flusher.walPath)).toBe(true);

      let before = syncs();
      await handle.db.insertInto('ledgerAccounts').values({ id: 'a1', kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: 1 }).execute();
      expect(syncs()).toBeGreaterThan(before);

      before = syncs();
      await handle.db.selectFrom('ledgerAccounts').selectAll().execute();
      expect(syncs()).toBe(before);

      before = syncs();
      await handle.db.transaction().execute(async (trx) => {
        await trx.insertInto('ledgerAccounts').values({ id: 'a2', kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: 1 }).execute();
        // Inside the transaction nothing is synced yet.
        expect(syncs()).toBe(before);
      });
      expect(syncs()).toBeGreaterThan(before);

      before = syncs();
      await Promise.all(['a3', 'a4', 'a5'].map((id) =>
        runWriteTransaction(handle.db, handle.engine, (trx) => trx.insertInto('ledgerAccounts').values({ id, kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: 1 }).execute())));
      expect(syncs()).toBeGreaterThan(before);
      expect(handle.groupCommit!.counts.transactions).toBe(3);
    } finally {
      await handle.close();
    }
  });

  it('sync the WAL beside the real file when the database path is a link', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-durable-link-'));
    const real = path.join(dir, 'real.db');
    const handle0 = openDatabase(`sqlite:${real}`);
    await handle0.close();
    symlinkSync(real, path.join(dir, 'link.db'));
    const handle = openDatabase(`sqlite:${path.join(dir, 'link.db')}`);
    try {
      expect(handle.flusher!.walPath).toBe(`${realpathSync(real)}-wal`);
      await migrateToLatest(handle.db, handle.engine);
      const before = handle.flusher!.counts.syncs;
      await handle.db.insertInto('ledgerAccounts').values({ id: 'l1', kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: 1 }).execute();
      expect(handle.flusher!.counts.syncs).toBeGreaterThan(before);
      expect(existsSync(`${real}-wal`)).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it('with sqliteSync=full run FULL on the connection, with group commit and no flusher', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-durable-full-'));
    const handle = openDatabase(`sqlite:${path.join(dir, 'test.db')}`, { sqliteSync: 'full' });
    try {
      await migrateToLatest(handle.db, handle.engine);
      const mode = await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db);
      expect(mode.rows[0]!.synchronous).toBe(2);
      expect(handle.flusher).toBeNull();
      await Promise.all(['f1', 'f2', 'f3'].map((id) =>
        runWriteTransaction(handle.db, handle.engine, (trx) => trx.insertInto('ledgerAccounts').values({ id, kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: 1 }).execute())));
      expect(handle.groupCommit!.counts.transactions).toBe(3);
      expect(handle.groupCommit!.counts.commits).toBeLessThan(3);
    } finally {
      await handle.close();
    }
  });
});
