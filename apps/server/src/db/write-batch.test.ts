/**
 * A write batch on every engine: the writes land with their row counts, in the caller's
 * transaction; a foreign key between two writes of one batch holds; a failing write or an
 * unmet expectation keeps nothing of the transaction.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@coconutpay/core/errors';
import { enginesUnderTest } from '../../test/helpers.js';
import { migratedDatabase } from '../../test/migrated-database.js';
import { isUniqueViolation } from './database.js';
import { columns, prepare } from './prepared.js';
import { combinedAsCommonTableExpressions, WriteBatch } from './write-batch.js';
import { runWriteTransaction } from './write-transaction.js';

const T0_MS = 1_767_225_600_000;
const FUNDING = '00000000-0000-0000-0000-00000000f00d';

const insertEntry = prepare((db, v: { id: string; memo: string }) =>
  db.insertInto('journalEntries').values({ id: v.id, kind: 'test', memo: v.memo, orderId: null, createdAtMs: T0_MS }));
const renameEntry = prepare((db, v: { id: string; from: string; to: string }) =>
  db.updateTable('journalEntries').set({ memo: v.to }).where('id', '=', v.id).where('memo', '=', v.from));
const insertPosting = prepare((db, v: { id: string; entryId: string; accountId: string; amountWon: number }) =>
  db.insertInto('postings').values(columns(v, ['id', 'entryId', 'accountId', 'amountWon'])));

describe('combinedAsCommonTableExpressions', () => {
  const q = (sqlText: string, parameters: unknown[]) => ({ sql: sqlText, parameters, query: undefined as never, queryId: undefined as never });

  it('renumbers each write’s placeholders after the ones before it and counts each write', () => {
    const combined = combinedAsCommonTableExpressions([
      q('insert into "a" ("x", "y") values ($1, $2)', [1, 2]),
      q('update "b" set "z" = $1 where "id" = $2 and "v" = $1', ['z', 'id']),
    ]);
    expect(combined.sql).toBe(
      'with w0 as (insert into "a" ("x", "y") values ($1, $2) returning 1), w1 as (update "b" set "z" = $3 where "id" = $4 and "v" = $3 returning 1) select (select count(*) from w0) as n0, (select count(*) from w1) as n1',
    );
    expect(combined.parameters).toEqual([1, 2, 'z', 'id']);
  });

  it('refuses what it cannot combine safely: a literal, a read, a RETURNING, a placeholder without its value', () => {
    expect(() => combinedAsCommonTableExpressions([q(`update "a" set "x" = 'lit'`, [])])).toThrow(/literal/);
    expect(() => combinedAsCommonTableExpressions([q('select 1', [])])).toThrow(/insert, update or delete/);
    expect(() => combinedAsCommonTableExpressions([q('delete from "a" returning "id"', [])])).toThrow(/RETURNING/);
    expect(() => combinedAsCommonTableExpressions([q('delete from "a" where "id" = $2', [1])])).toThrow(/no parameter/);
  });
});

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('WriteBatch on %s', (_name, engine) => {
  const handle = migratedDatabase(engine, { poolSize: 4 });
  const db = () => handle().db;

  beforeAll(async () => {
    await db().insertInto('ledgerAccounts').values({ id: FUNDING, kind: 'funding', ownerUserId: null, balanceWon: 0, createdAtMs: T0_MS }).execute();
  });

  const memoOf = async (id: string) => (await db().selectFrom('journalEntries').select('memo').where('id', '=', id).executeTakeFirst())?.memo;
  const inTransaction = <T>(work: Parameters<typeof runWriteTransaction<T>>[2]) => runWriteTransaction(db(), handle().engine, work);

  it('writes everything in one go and answers each write’s row count, a conditional update that matched nothing included', async () => {
    const [a, b, before] = [randomUUID(), randomUUID(), randomUUID()];
    const counts = await inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id: a, memo: 'first' });
      batch.add(insertEntry, { id: b, memo: 'second' });
      batch.add(renameEntry, { id: randomUUID(), from: 'x', to: 'y' });
      // A row written before the batch, in the same transaction, is there for the batch.
      await insertEntry.affected(trx, { id: before, memo: 'before' });
      batch.add(renameEntry, { id: before, from: 'before', to: 'renamed' });
      expect(batch.size).toBe(4);
      const answered = await batch.flush(trx, handle().engine);
      expect(batch.size).toBe(0);
      return answered;
    });
    expect(counts).toEqual([1, 1, 0, 1]);
    expect([await memoOf(a), await memoOf(b), await memoOf(before)]).toEqual(['first', 'second', 'renamed']);
  });

  it('takes writes built for this run (a list of rows) beside prepared ones', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const length of [3, 2]) {
      const counts = await inTransaction(async (trx) => {
        const batch = new WriteBatch();
        const fresh = ids.map(() => randomUUID()).slice(0, length);
        batch.addBuilt(trx.insertInto('journalEntries').values(fresh.map((id) => ({ id, kind: 'test', memo: `built ${length}`, orderId: null, createdAtMs: T0_MS }))));
        batch.add(insertEntry, { id: randomUUID(), memo: `built ${length}` });
        batch.addBuilt(trx.updateTable('journalEntries').set({ memo: 'nobody' }).where('id', '=', randomUUID()), { rows: 0, otherwise: () => new Error('matched a row it could not') });
        return batch.flush(trx, handle().engine);
      });
      expect(counts).toEqual([length, 1, 0]);
      expect(await db().selectFrom('journalEntries').select('id').where('memo', '=', `built ${length}`).execute()).toHaveLength(length + 1);
    }
  });

  it('lets a write refer to a row another write of the same batch inserts (the entry and its posting)', async () => {
    const entryId = randomUUID();
    await inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id: entryId, memo: 'parent' });
      batch.add(insertPosting, { id: randomUUID(), entryId, accountId: FUNDING, amountWon: 5 });
      await batch.flush(trx, handle().engine);
    });
    expect(await db().selectFrom('postings').select('amountWon').where('entryId', '=', entryId).execute()).toHaveLength(1);

    const orphan = randomUUID();
    await expect(inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id: orphan, memo: 'kept only with its posting' });
      batch.add(insertPosting, { id: randomUUID(), entryId: randomUUID(), accountId: FUNDING, amountWon: 5 });
      await batch.flush(trx, handle().engine);
    })).rejects.toThrow();
    expect(await memoOf(orphan)).toBeUndefined();
  });

  it('throws the first unmet expectation’s error after the batch ran, and the transaction keeps nothing', async () => {
    const [kept, target] = [randomUUID(), randomUUID()];
    await insertEntry.affected(db(), { id: target, memo: 'as it was' });
    const failing = inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id: kept, memo: 'would be written' });
      batch.add(renameEntry, { id: target, from: 'as it was', to: 'changed' }, { rows: 1, otherwise: () => new Error('not this one') });
      batch.add(renameEntry, { id: target, from: 'something else', to: 'x' }, { rows: 1, otherwise: () => new AppError('PAYMENT_COMMAND_USED') });
      await batch.flush(trx, handle().engine);
    });
    await expect(failing).rejects.toMatchObject({ code: 'PAYMENT_COMMAND_USED' });
    expect([await memoOf(kept), await memoOf(target)]).toEqual([undefined, 'as it was']);
  });

  it('fails whole on a write the database refuses, with the engine’s own error', async () => {
    const [fresh, taken] = [randomUUID(), randomUUID()];
    await insertEntry.affected(db(), { id: taken, memo: 'there first' });
    const error = await inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id: fresh, memo: 'new' });
      batch.add(insertEntry, { id: taken, memo: 'again' });
      await batch.flush(trx, handle().engine);
    }).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect([await memoOf(fresh), await memoOf(taken)]).toEqual([undefined, 'there first']);
  });

  it('passes values as values: quotes, semicolons and backslashes arrive as written', async () => {
    const id = randomUUID();
    const memo = `it's; drop table "journal_entries"; -- \\ ' " $1 ?`;
    await inTransaction(async (trx) => {
      const batch = new WriteBatch();
      batch.add(insertEntry, { id, memo: 'placeholder' });
      batch.add(insertEntry, { id: randomUUID(), memo });
      await batch.flush(trx, handle().engine);
      await renameEntry.affected(trx, { id, from: 'placeholder', to: memo });
    });
    expect(await memoOf(id)).toBe(memo);
    expect(await db().selectFrom('journalEntries').select('id').where('memo', '=', memo).execute()).toHaveLength(2);
  });
});
