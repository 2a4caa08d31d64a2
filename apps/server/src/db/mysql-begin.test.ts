/**
 * MariaDB: a transaction's BEGIN travels with its first statement (database.ts). What must
 * hold: the transaction is real (its writes roll back, its first statement's row lock holds
 * until its end), a transaction with no statement leaves the connection as it found it, a
 * failing first statement leaves no transaction open behind it, the first statement answers
 * what the prepared statement answers (a batch of writes included), and a transaction costs
 * one round trip fewer.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../../test/helpers.js';
import { isUniqueViolation, openDatabase, type DatabaseHandle } from './database.js';
import { migrateToLatest } from './migrate.js';
import { columns, prepare } from './prepared.js';
import { WriteBatch } from './write-batch.js';
import { runWriteTransaction } from './write-transaction.js';

const T0_MS = 1_767_225_600_000;

const insertEntry = prepare((db, v: { id: string; memo: string }) =>
  db.insertInto('journalEntries').values({ id: v.id, kind: 'test', memo: v.memo, orderId: null, createdAtMs: T0_MS }));
const renameEntry = prepare((db, v: { id: string; memo: string }) => db.updateTable('journalEntries').set({ memo: v.memo }).where('id', '=', v.id));
const entryById = prepare((db, v: { id: string }) => db.selectFrom('journalEntries').selectAll().where('id', '=', v.id));
const lockEntry = prepare((db, v: { id: string }) => db.selectFrom('journalEntries').selectAll().where('id', '=', v.id).forUpdate());
const insertAccount = prepare((db, v: { id: string; balanceWon: number }) =>
  db.insertInto('ledgerAccounts').values({ ...columns(v, ['id', 'balanceWon']), kind: 'funding', ownerUserId: null, createdAtMs: T0_MS }));
const accountById = prepare((db, v: { id: string }) => db.selectFrom('ledgerAccounts').selectAll().where('id', '=', v.id));

const mariadb = enginesUnderTest().find((e) => e.engine === 'mysql');

describe.runIf(mariadb)('MariaDB: a transaction’s BEGIN goes with its first statement', () => {
  const sent: string[] = [];
  // One connection: whatever a test left open on it would show in the next test.
  let handle: DatabaseHandle;
  // A second view of the same database: what is committed.
  let other: DatabaseHandle;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const created = await mariadb!.create();
    drop = created.drop;
    handle = openDatabase(created.url, { poolSize: 1, onMysqlRoundTrip: (text) => sent.push(text) });
    await migrateToLatest(handle.db, 'mysql');
    other = openDatabase(created.url, { poolSize: 2 });
  });
  afterAll(async () => {
    await handle?.close();
    await other?.close();
    await drop?.();
  });
  beforeEach(() => {
    sent.length = 0;
  });

  const db = () => handle.db;
  const committedMemo = async (id: string) => (await entryById.first(other.db, { id }))?.memo;
  const inTransaction = <T>(work: Parameters<typeof runWriteTransaction<T>>[2]) => runWriteTransaction(db(), 'mysql', work);

  it('sends BEGIN in front of the first statement: three round trips for BEGIN, two statements and COMMIT', async () => {
    const id = randomUUID();
    const row = await inTransaction(async (trx) => {
      await insertEntry.affected(trx, { id, memo: 'one' });
      return entryById.first(trx, { id });
    });
    expect(row?.memo).toBe('one');
    expect(sent).toHaveLength(3);
    expect(sent[0]).toMatch(/^begin;\ninsert into `journal_entries`/);
    expect(sent[1]).toMatch(/^select /);
    expect(sent[2]).toBe('commit');
    expect(await committedMemo(id)).toBe('one');
  });

  it('begins a real transaction: its writes roll back with it', async () => {
    const id = randomUUID();
    await expect(inTransaction(async (trx) => {
      await insertEntry.affected(trx, { id, memo: 'kept?' });
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    expect(await committedMemo(id)).toBeUndefined();
    expect(await entryById.first(db(), { id })).toBeUndefined();
  });

  it('holds the first statement’s row lock until the transaction ends', async () => {
    const id = randomUUID();
    await insertEntry.affected(db(), { id, memo: 'before' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = inTransaction(async (trx) => {
      await lockEntry.first(trx, { id });
      locked();
      await gate;
      await renameEntry.affected(trx, { id, memo: 'holder' });
    });
    await isLocked;
    let writerDone = false;
    const writer = renameEntry.affected(other.db, { id, memo: 'writer' }).then(() => (writerDone = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Without a transaction the lock would have ended with the select, and the write gone through.
    expect(writerDone).toBe(false);
    release();
    await holder;
    await writer;
    expect(await committedMemo(id)).toBe('writer');
  });

  it('sends nothing for a transaction without a statement and leaves the connection outside any transaction', async () => {
    await inTransaction(async () => undefined);
    expect(sent).toEqual([]);
    const id = randomUUID();
    await insertEntry.affected(db(), { id, memo: 'autocommit' });
    // Seen from another connection at once: the insert was not left inside an open transaction.
    expect(await committedMemo(id)).toBe('autocommit');
  });

  it('leaves no transaction open when the first statement fails', async () => {
    const taken = randomUUID();
    await insertEntry.affected(db(), { id: taken, memo: 'first' });
    const error = await inTransaction(async (trx) => insertEntry.affected(trx, { id: taken, memo: 'again' })).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(sent.at(-1)).toBe('rollback');
    const id = randomUUID();
    await insertEntry.affected(db(), { id, memo: 'after' });
    expect(await committedMemo(id)).toBe('after');
  });

  it('answers the first statement’s rows as the prepared statement does', async () => {
    const accountId = randomUUID();
    const entryId = randomUUID();
    await insertAccount.affected(db(), { id: accountId, balanceWon: Number.MAX_SAFE_INTEGER });
    await insertEntry.affected(db(), { id: entryId, memo: 'ë "quoted" ; $1 ?' });
    const prepared = [await accountById.first(db(), { id: accountId }), await entryById.first(db(), { id: entryId })];
    const first = [await inTransaction((trx) => accountById.first(trx, { id: accountId })), await inTransaction((trx) => entryById.first(trx, { id: entryId }))];
    expect(sent.filter((text) => text.startsWith('begin;\n'))).toHaveLength(2);
    expect(first).toEqual(prepared);
    expect(first[0]).toMatchObject({ id: accountId, balanceWon: Number.MAX_SAFE_INTEGER, ownerUserId: null, createdAtMs: T0_MS });
  });

  it('answers every result of a batch of writes sent as the first statement', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const affected = await inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id: a, memo: 'a' });
      batch.add(insertEntry, { id: b, memo: 'b' });
      batch.add(renameEntry, { id: randomUUID(), memo: 'no such row' });
      return batch.flush(trx, 'mysql');
    });
    expect(affected).toEqual([1, 1, 0]);
    expect(sent[0]).toMatch(/^begin;\ninsert into `journal_entries`[^;]*;\ninsert into/);
    expect([await committedMemo(a), await committedMemo(b)]).toEqual(['a', 'b']);
  });
});
