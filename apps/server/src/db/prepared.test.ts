/**
 * Prepared queries on every engine: the same SQL and parameters Kysely makes for the
 * same builder, the values of each run in their places, results through the camelCase
 * plugin, and the same handle inside a transaction.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enginesUnderTest } from '../../test/helpers.js';
import { openDatabase, type DatabaseHandle } from './database.js';
import { migrateToLatest } from './migrate.js';
import { columns, prepare, preparedStatementName } from './prepared.js';
import { runWriteTransaction } from './write-transaction.js';

const T0_MS = 1_767_225_600_000;

const accountRow = prepare((db, v: { id: string; kind: 'wallet' | 'funding'; balanceWon: number; createdAtMs: number }) =>
  db.insertInto('ledgerAccounts').values({ ...columns(v, ['id', 'kind', 'balanceWon', 'createdAtMs']), ownerUserId: null }));
const accountById = prepare((db, v: { id: string }) => db.selectFrom('ledgerAccounts').select(['id', 'kind', 'balanceWon', 'createdAtMs']).where('id', '=', v.id));
const accountPair = prepare((db, v: { a: string; b: string }) => db.selectFrom('ledgerAccounts').select(['id', 'balanceWon']).where('id', 'in', [v.a, v.b]).orderBy('id'));
// A fixed value beside the placeholders ('wallet') must stay where the builder put it.
const addIfWallet = prepare((db, v: { id: string; deltaWon: number }) =>
  db.updateTable('ledgerAccounts').set((eb) => ({ balanceWon: eb('balanceWon', '+', v.deltaWon) })).where('id', '=', v.id).where('kind', '=', 'wallet'));

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('prepared queries on %s', (_name, engine) => {
  let database: DatabaseHandle;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await engine.create();
    drop = created.drop;
    database = openDatabase(created.url);
    await migrateToLatest(database.db, database.engine);
  });
  afterAll(async () => {
    await database.db.destroy();
    await drop();
  });

  it('compile to exactly what Kysely compiles for the same builder', () => {
    const kysely = database.db.selectFrom('ledgerAccounts').select(['id', 'kind', 'balanceWon', 'createdAtMs']).where('id', '=', 'x').compile();
    const spy = prepare((db, v: { id: string }) => {
      const built = db.selectFrom('ledgerAccounts').select(['id', 'kind', 'balanceWon', 'createdAtMs']).where('id', '=', v.id);
      expect(built.compile().sql).toBe(kysely.sql);
      return built;
    });
    return spy.first(database.db, { id: 'none' }).then((row) => expect(row).toBeUndefined());
  });

  it('put each run’s values in their places, and read rows with camelCase names', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    expect(await accountRow.affected(database.db, { id: a, kind: 'wallet', balanceWon: 100, createdAtMs: T0_MS })).toBe(1);
    expect(await accountRow.affected(database.db, { id: b, kind: 'funding', balanceWon: 200, createdAtMs: T0_MS + 1 })).toBe(1);
    expect(await accountRow.affected(database.db, { id: c, kind: 'wallet', balanceWon: 300, createdAtMs: T0_MS + 2 })).toBe(1);
    const read = await accountById.first(database.db, { id: b });
    expect({ ...read, balanceWon: Number(read!.balanceWon), createdAtMs: Number(read!.createdAtMs) }).toEqual({ id: b, kind: 'funding', balanceWon: 200, createdAtMs: T0_MS + 1 });
    const pair = await accountPair.rows(database.db, { a: c, b: a });
    expect(pair.map((r) => [r.id, Number(r.balanceWon)])).toEqual([[a, 100], [c, 300]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
    expect(await addIfWallet.affected(database.db, { id: a, deltaWon: 5 })).toBe(1);
    // The fixed 'wallet' condition still holds: the funding account is not touched.
    expect(await addIfWallet.affected(database.db, { id: b, deltaWon: 5 })).toBe(0);
    expect(Number((await accountById.first(database.db, { id: a }))!.balanceWon)).toBe(105);
    expect(Number((await accountById.first(database.db, { id: b }))!.balanceWon)).toBe(200);
  });

  // SQLite needs no such test: better-sqlite3 statements are prepared and kept by database.ts.
  if (engine.engine !== 'sqlite') it('reach PostgreSQL as named statements and MariaDB as server-side prepared statements', async () => {
    const id = randomUUID();
    await runWriteTransaction(database.db, database.engine, async (trx) => {
      // One transaction is one connection: what it prepared is visible to it.
      if (database.engine === 'postgres') {
        await accountById.first(trx, { id });
        const named = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(trx);
        expect(named.rows.some((r) => r.name === preparedStatementName(r.statement))).toBe(true);
      } else {
        const executed = async () => Number((await sql<{ Value: string }>`show session status like 'Com_stmt_execute'`.execute(trx)).rows[0]!.Value);
        const before = await executed();
        await accountById.first(trx, { id });
        await accountById.first(trx, { id });
        expect(await executed()).toBe(before + 2);
      }
    });
  });

  it('refuse a value used as a literal while building, and a value missing when run', async () => {
    const literal = prepare((db, v: { id: string }) => db.selectFrom('ledgerAccounts').selectAll().where('id', '=', `x-${v.id}`));
    await expect(literal.first(database.db, { id: 'a' })).rejects.toThrow(/used as a literal/);
    await expect(accountById.first(database.db, {} as { id: string })).rejects.toThrow(/"id" is missing/);
  });

  it('run inside a transaction on its handle, and roll back with it', async () => {
    const id = randomUUID();
    await expect(
      runWriteTransaction(database.db, database.engine, async (trx) => {
        await accountRow.affected(trx, { id, kind: 'wallet', balanceWon: 1, createdAtMs: T0_MS });
        expect(await accountById.first(trx, { id })).toBeDefined();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await accountById.first(database.db, { id })).toBeUndefined();
  });
});
