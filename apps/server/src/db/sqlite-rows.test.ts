/**
 * SQLite's rows named by the driver (sqlite-rows.ts) are the rows Kysely's own
 * CamelCasePlugin made: the same queries run through `openDatabase` and through a plain
 * Kysely with the stock plugin, on one file, must answer alike, key for key and in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { CamelCasePlugin, Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from './database.js';
import { rowFunction } from './sqlite-rows.js';

// The tests' own tables, not the app's schema.
type AnyDb = Kysely<any>;

let dir: string;
let handle: DatabaseHandle;
let ours: AnyDb;
let stock: AnyDb;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cp-rows-'));
  const file = path.join(dir, 'rows.db');
  handle = openDatabase(`sqlite:${file}`);
  ours = handle.db as unknown as AnyDb;
  stock = new Kysely({ dialect: new SqliteDialect({ database: new SQLite(file) }), plugins: [new CamelCasePlugin()] });
  await sql`create table wallet_rows (wallet_id text primary key, owner_user_id text, balance_won integer, photo_bytes blob, created_at_ms integer)`.execute(ours);
  await sql`create table row_notes (note_id integer primary key, wallet_id text, note_text text)`.execute(ours);
  await ours.insertInto('walletRows').values([
    { walletId: 'w1', ownerUserId: 'u1', balanceWon: 9_007_199_254_740_991, photoBytes: Buffer.from([1, 2, 3]), createdAtMs: 1 },
    { walletId: 'w2', ownerUserId: null, balanceWon: -5, photoBytes: null, createdAtMs: 2 },
  ]).execute();
  await ours.insertInto('rowNotes').values([{ noteId: 1, walletId: 'w1', noteText: '첫 메모' }, { noteId: 2, walletId: 'w1', noteText: "it's" }]).execute();
});

afterEach(async () => {
  await stock.destroy();
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The rows a query gives through both, with their keys in order. */
async function both(query: (db: AnyDb) => { execute(): Promise<unknown[]> }): Promise<[unknown[], unknown[]]> {
  const a = await query(ours).execute();
  const b = await query(stock).execute();
  return [a, b];
}

function keysOf(rows: unknown[]): string[][] {
  return rows.map((r) => Object.keys(r as object));
}

describe('rows named by the SQLite driver', () => {
  it('are the rows the stock CamelCasePlugin gives, for every kind of select', async () => {
    const queries: ((db: AnyDb) => { execute(): Promise<unknown[]> })[] = [
      (db) => db.selectFrom('walletRows').selectAll().orderBy('walletId'),
      (db) => db.selectFrom('walletRows').select(['ownerUserId as the_owner', 'balanceWon']).where('walletId', '=', 'w1'),
      // Two columns of one name: the last one's value, as better-sqlite3 and an object literal both keep.
      (db) => db.selectFrom('walletRows').innerJoin('rowNotes', 'rowNotes.walletId', 'walletRows.walletId').select(['walletRows.walletId', 'rowNotes.walletId', 'noteText']).orderBy('noteId'),
      (db) => db.selectFrom('rowNotes').select((eb) => [eb.fn.countAll().as('note_count'), eb.fn.max('noteText').as('last_text')]),
      (db) => ({ execute: async () => (await sql`select wallet_id, balance_won * 2 as double_won, 'x' as "weird key_name" from wallet_rows order by wallet_id`.execute(db)).rows }),
      (db) => db.selectFrom('walletRows').selectAll().where('walletId', '=', 'none'),
    ];
    for (const query of queries) {
      const [a, b] = await both(query);
      expect(a).toEqual(b);
      expect(keysOf(a)).toEqual(keysOf(b));
    }
    const [first] = await both((db) => db.selectFrom('walletRows').selectAll().orderBy('walletId'));
    expect(first[0]).toEqual({ walletId: 'w1', ownerUserId: 'u1', balanceWon: 9_007_199_254_740_991, photoBytes: Buffer.from([1, 2, 3]), createdAtMs: 1 });
  });

  it('keeps a column named __proto__ as a column, not as the row prototype', async () => {
    const { rows } = await sql<Record<string, unknown>>`select wallet_id, owner_user_id as "__proto__" from wallet_rows where wallet_id = 'w1'`.execute(ours);
    expect(rows[0]!.walletId).toBe('w1');
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
    expect(rowFunction(['a', '__proto__'])).toBeNull();
  });

  it('names the columns a migration gave a cached statement, in this connection', async () => {
    const read = () => ours.selectFrom('walletRows').selectAll().where('walletId', '=', 'w2').executeTakeFirst();
    expect(Object.keys((await read())!)).toEqual(['walletId', 'ownerUserId', 'balanceWon', 'photoBytes', 'createdAtMs']);
    // As many columns as before, one of another name: only preparing afresh can tell.
    await sql`alter table wallet_rows rename column owner_user_id to holder_user_id`.execute(ours);
    expect(await read()).toEqual({ walletId: 'w2', holderUserId: null, balanceWon: -5, photoBytes: null, createdAtMs: 2 });
  });

  it('names the columns of a statement SQLite re-prepared after another connection changed the schema', async () => {
    const read = () => ours.selectFrom('walletRows').selectAll().where('walletId', '=', 'w1').executeTakeFirst();
    await read();
    const other = new SQLite(path.join(dir, 'rows.db'));
    other.exec('alter table wallet_rows add column closed_at_ms integer default 7');
    other.close();
    expect(await read()).toMatchObject({ walletId: 'w1', closedAtMs: 7 });
  });

  it('leaves inserts, updates and deletes as they were: affected rows and insert ids', async () => {
    const inserted = await ours.insertInto('rowNotes').values({ noteId: 9, walletId: 'w2', noteText: 'n' }).executeTakeFirst();
    expect(inserted.insertId).toBe(9n);
    const updated = await ours.updateTable('walletRows').set({ balanceWon: 0 }).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(2n);
    const deleted = await ours.deleteFrom('rowNotes').where('walletId', '=', 'w1').executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(2n);
  });
});
