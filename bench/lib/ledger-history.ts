/**
 * Grows a ledger to a given number of journal entries with plain SQL, fast, for the
 * "payment latency vs ledger size" curve: history that the server then pays on top of.
 *
 * The history is top-ups (kind `top_up`, memo `top-up`, as the wallet service writes
 * them): one entry, two postings — the funding account −amount, a wallet +amount —
 * spread round-robin over every wallet already in the database, dated 25 s apart from
 * 300 days ago, so it is older than anything the run pays. Top-ups carry no order, so
 * no order rows are needed and every constraint holds as the product's own writes
 * would leave it: postings sum to zero per entry, amounts are positive and bounded, and
 * each transaction moves the balances of the accounts it posts to by exactly their
 * postings, so sum(postings) = sum(balances) after every commit (checked at the end).
 *
 * Speed: multi-row INSERTs (prepared once on SQLite), several per transaction of
 * ENTRIES_PER_TRANSACTION entries, and ids made from a pooled random buffer.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { FUNDING_ACCOUNT_ID } from '../../apps/server/src/db/ledger-repository.js';
import { round } from './stats.js';

/** Entries per transaction: long enough to amortise the commit, short enough to keep the WAL and undo small. */
const ENTRIES_PER_TRANSACTION = 10_000;
/** Entries per multi-row INSERT (PostgreSQL allows 65,535 parameters; postings use 4 per row, 2 rows per entry). */
const ENTRIES_PER_STATEMENT = 1_000;
/** Entries per prepared SQLite INSERT: one statement per row costs more in the driver than in SQLite. */
const SQLITE_ENTRIES_PER_STATEMENT = 200;
/** Page cache of the loading connection (KiB). */
const SQLITE_LOAD_CACHE_KIB = 262_144;
/** The history ends a day before the run and steps 25 s per entry: 10^6 entries span about 290 days. */
const HISTORY_START_BEFORE_MS = 300 * 86_400_000;
const HISTORY_STEP_MS = 25_000;
/** Most entries one call adds: the curve stops at 10^6, and a typo must not fill the disk. */

export const HISTORY_ENTRIES_ADDED_MAX = 2_000_000;

/** What growing the ledger did. */
export interface LedgerGrowth {
  entries_before: number;
  entries_after: number;
  added: number;
  wallets: number;
  load_s: number;
  /** Rows written per second (entries, postings and balance updates). */
  rows_per_s: number;
  /** sum(postings) and sum(balances) after the load: both must be zero. */
  postings_sum_won: string;
  balances_sum_won: string;
}

type Engine = 'sqlite' | 'postgres' | 'mysql';

function engineOf(url: string): Engine {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:/.test(url)) return 'postgres';
  if (/^(mysql|mariadb):/.test(url)) return 'mysql';
  throw new Error(`unknown database URL scheme: ${url.split(':')[0]}`);
}

/** The history entry with ordinal `k`: its time and amount (1,000 to 100,000 won, a multiple of 100). */
function entryAt(k: number, historyStartMs: number): { createdAtMs: number; amountWon: number } {
  return { createdAtMs: historyStartMs + k * HISTORY_STEP_MS, amountWon: 1_000 + ((k * 7_919) % 991) * 100 };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const RANDOM_BYTES_POOL = 64 * 1024;
const pool = new Uint8Array(RANDOM_BYTES_POOL);
let poolAt = RANDOM_BYTES_POOL;

/**
 * A version 7 UUID exactly as the server's `timeOrderedId` makes it (48 bits of Unix
 * milliseconds, version, variant, 74 random bits), from a pooled random buffer: the
 * server's one-call-at-a-time version costs microseconds, which three million rows notice.
 */
export function historyId(ms: number): string {
  if (poolAt + 10 > RANDOM_BYTES_POOL) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = pool;
  const i = poolAt;
  poolAt += 10;
  const high = Math.floor(ms / 2 ** 16);
  const low = ms % 2 ** 16;
  const time = high.toString(16).padStart(8, '0') + '-' + HEX[low >>> 8]! + HEX[low & 0xff]!;
  return `${time}-${HEX[0x70 | (r[i]! & 0x0f)]}${HEX[r[i + 1]!]}-${HEX[0x80 | (r[i + 2]! & 0x3f)]}${HEX[r[i + 3]!]}-${HEX[r[i + 4]!]}${HEX[r[i + 5]!]}${HEX[r[i + 6]!]}${HEX[r[i + 7]!]}${HEX[r[i + 8]!]}${HEX[r[i + 9]!]}`;
}

/** One batch of history rows, and what it adds to each account's balance. */
interface Batch {
  entries: [string, string, string, number, null][];
  postings: [string, string, string, number][];
  deltas: Map<string, number>;
}

function batchOf(fromK: number, count: number, wallets: string[], historyStartMs: number): Batch {
  const batch: Batch = { entries: [], postings: [], deltas: new Map() };
  let fundingWon = 0;
  for (let k = fromK; k < fromK + count; k++) {
    const { createdAtMs, amountWon } = entryAt(k, historyStartMs);
    const entryId = historyId(createdAtMs);
    const wallet = wallets[k % wallets.length]!;
    batch.entries.push([entryId, 'top_up', 'top-up', createdAtMs, null]);
    batch.postings.push([historyId(createdAtMs), entryId, FUNDING_ACCOUNT_ID, -amountWon], [historyId(createdAtMs), entryId, wallet, amountWon]);
    batch.deltas.set(wallet, (batch.deltas.get(wallet) ?? 0) + amountWon);
    fundingWon -= amountWon;
  }
  batch.deltas.set(FUNDING_ACCOUNT_ID, fundingWon);
  // Every entry sums to zero, so the batch does: the same check the repository makes before it writes.
  if ([...batch.deltas.values()].reduce((s, d) => s + d, 0) !== 0) throw new Error('unbalanced history batch');
  return batch;
}

/** The SQL of one multi-row INSERT with `rows` rows of `columns`, in the engine's placeholder style. */
function multiRowInsert(engine: Engine, table: string, columns: string[], rows: number): string {
  let n = 0;
  const row = () => `(${columns.map(() => (engine === 'postgres' ? `$${++n}` : '?')).join(', ')})`;
  return `insert into ${table} (${columns.join(', ')}) values ${Array.from({ length: rows }, row).join(', ')}`;
}

const ENTRY_COLUMNS = ['id', 'kind', 'memo', 'created_at_ms', 'order_id'];
const POSTING_COLUMNS = ['id', 'entry_id', 'account_id', 'amount_won'];

const PG_INSERT_ENTRIES = 'insert into journal_entries (id, kind, memo, created_at_ms) select * from unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::bigint[])';
const PG_INSERT_POSTINGS = 'insert into postings (id, entry_id, account_id, amount_won) select * from unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::bigint[])';

/** The first `n` columns of `rows`, each as one array. */
function columnsOf(rows: readonly (readonly unknown[])[], n: number): unknown[][] {
  return Array.from({ length: n }, (_, i) => rows.map((r) => r[i]));
}

/** A connection that runs SQL with positional parameters, for the two server engines. */
interface Connection {
  query(sqlText: string, values?: unknown[]): Promise<unknown[]>;
  close(): Promise<void>;
}

async function connect(engine: 'postgres' | 'mysql', url: string): Promise<Connection> {
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return { query: async (text, values) => (await client.query(text, values)).rows as unknown[], close: () => client.end() };
  }
  const connection = await mysql.createConnection({ uri: url.replace(/^mariadb:/, 'mysql:'), supportBigNumbers: true, bigNumberStrings: true });
  return { query: async (text, values) => (await connection.query(text, values))[0] as unknown[], close: () => connection.end() };
}

/**
 * Adds top-up history until the ledger holds `targetEntries` journal entries (nothing
 * when it already does). The server may stay up: it is idle while this runs.
 */
export async function growLedger(databaseUrl: string, targetEntries: number, nowMs = Date.now()): Promise<LedgerGrowth> {
  const engine = engineOf(databaseUrl);
  const historyStartMs = nowMs - HISTORY_START_BEFORE_MS;
  const started = performance.now();
  let before = 0;
  let wallets: string[] = [];
  let sums = { postings: '0', balances: '0' };
  const plan = (count: number) => {
    if (wallets.length === 0) throw new Error('no wallet to top up: set up users first');
    const added = Math.max(0, targetEntries - count);
    if (added > HISTORY_ENTRIES_ADDED_MAX) throw new RangeError(`${added} entries is more than the ${HISTORY_ENTRIES_ADDED_MAX} one call may add`);
    // History must stay history: no entry dated today or later, where the daily top-up limit would count it.
    if (entryAt(count + added, historyStartMs).createdAtMs > nowMs - 86_400_000) throw new RangeError(`${count + added} entries 25 s apart do not fit before yesterday`);
    return added;
  };

  let added: number;
  if (engine === 'sqlite') {
    const db = new SQLite(databaseUrl.slice('sqlite:'.length));
    try {
      db.pragma('busy_timeout = 10000');
      db.pragma('foreign_keys = ON');
      before = Number((db.prepare('select count(*) as n from journal_entries').get() as { n: number }).n);
      wallets = (db.prepare("select id from ledger_accounts where kind = 'wallet' order by id").all() as { id: string }[]).map((r) => r.id);
      added = plan(before);
      // The server's own commits are synced; the history's need not be (WAL, synced at the checkpoint below).
      db.pragma('synchronous = NORMAL');
      // Room for the indexes the load walks: the default cache would read most pages again from the OS.
      db.pragma(`cache_size = -${SQLITE_LOAD_CACHE_KIB}`);
      const entriesStatement = db.prepare(multiRowInsert(engine, 'journal_entries', ENTRY_COLUMNS, SQLITE_ENTRIES_PER_STATEMENT));
      const postingsStatement = db.prepare(multiRowInsert(engine, 'postings', POSTING_COLUMNS, 2 * SQLITE_ENTRIES_PER_STATEMENT));
      const addToBalance = db.prepare('update ledger_accounts set balance_won = balance_won + ? where id = ?');
      const write = db.transaction((fromK: number, count: number) => {
        const deltas = new Map<string, number>();
        for (let s = fromK; s < fromK + count; s += SQLITE_ENTRIES_PER_STATEMENT) {
          const n = Math.min(SQLITE_ENTRIES_PER_STATEMENT, fromK + count - s);
          const batch = batchOf(s, n, wallets, historyStartMs);
          const full = n === SQLITE_ENTRIES_PER_STATEMENT;
          (full ? entriesStatement : db.prepare(multiRowInsert(engine, 'journal_entries', ENTRY_COLUMNS, n))).run(batch.entries.flat());
          (full ? postingsStatement : db.prepare(multiRowInsert(engine, 'postings', POSTING_COLUMNS, 2 * n))).run(batch.postings.flat());
          for (const [id, delta] of batch.deltas) deltas.set(id, (deltas.get(id) ?? 0) + delta);
        }
        for (const [id, delta] of deltas) if (addToBalance.run(delta, id).changes !== 1) throw new Error(`ledger account vanished: ${id}`);
      });
      for (let k = before; k < before + added; k += ENTRIES_PER_TRANSACTION) write(k, Math.min(ENTRIES_PER_TRANSACTION, before + added - k));
      // Hand the server a short WAL, as its own checkpointer would keep it.
      db.pragma('wal_checkpoint(TRUNCATE)');
      const p = db.prepare('select sum(amount_won) as s from postings').get() as { s: number | null };
      const b = db.prepare('select sum(balance_won) as s from ledger_accounts').get() as { s: number | null };
      sums = { postings: String(p.s ?? 0), balances: String(b.s ?? 0) };
    } finally {
      db.close();
    }
  } else {
    const c = await connect(engine, databaseUrl);
    try {
      before = Number(((await c.query('select count(*) as n from journal_entries'))[0] as { n: number | string }).n);
      wallets = ((await c.query("select id from ledger_accounts where kind = 'wallet' order by id")) as { id: string }[]).map((r) => r.id);
      added = plan(before);
      const fullEntries = multiRowInsert(engine, 'journal_entries', ENTRY_COLUMNS, ENTRIES_PER_STATEMENT);
      const fullPostings = multiRowInsert(engine, 'postings', POSTING_COLUMNS, 2 * ENTRIES_PER_STATEMENT);
      const addToBalance = engine === 'postgres' ? 'update ledger_accounts set balance_won = balance_won + $1 where id = $2' : 'update ledger_accounts set balance_won = balance_won + ? where id = ?';
      for (let k = before; k < before + added; k += ENTRIES_PER_TRANSACTION) {
        const transactionEntries = Math.min(ENTRIES_PER_TRANSACTION, before + added - k);
        await c.query(engine === 'postgres' ? 'begin' : 'start transaction');
        try {
          const deltas = new Map<string, number>();
          for (let s = k; s < k + transactionEntries; s += ENTRIES_PER_STATEMENT) {
            const count = Math.min(ENTRIES_PER_STATEMENT, k + transactionEntries - s);
            const batch = batchOf(s, count, wallets, historyStartMs);
            if (engine === 'postgres') {
              // One array per column: PostgreSQL parses and plans one small statement instead of thousands of parameters.
              await c.query(PG_INSERT_ENTRIES, columnsOf(batch.entries, 4));
              await c.query(PG_INSERT_POSTINGS, columnsOf(batch.postings, 4));
            } else {
              await c.query(count === ENTRIES_PER_STATEMENT ? fullEntries : multiRowInsert(engine, 'journal_entries', ENTRY_COLUMNS, count), batch.entries.flat());
              await c.query(count === ENTRIES_PER_STATEMENT ? fullPostings : multiRowInsert(engine, 'postings', POSTING_COLUMNS, 2 * count), batch.postings.flat());
            }
            for (const [id, delta] of batch.deltas) deltas.set(id, (deltas.get(id) ?? 0) + delta);
          }
          for (const [id, delta] of deltas) await c.query(addToBalance, [delta, id]);
          await c.query('commit');
        } catch (error) {
          await c.query('rollback');
          throw error;
        }
      }
      // What autovacuum and InnoDB's persistent statistics would have done while a real ledger grew this far.
      if (engine === 'postgres') await c.query('vacuum analyze journal_entries, postings, ledger_accounts');
      else await c.query('analyze table journal_entries, postings, ledger_accounts');
      const p = (await c.query('select sum(amount_won) as s from postings'))[0] as { s: string | number | null };
      const b = (await c.query('select sum(balance_won) as s from ledger_accounts'))[0] as { s: string | number | null };
      sums = { postings: String(p.s ?? 0), balances: String(b.s ?? 0) };
    } finally {
      await c.close();
    }
  }
  const loadS = (performance.now() - started) / 1000;
  // Entries, postings (two each) and the balance updates, per second.
  const rows = added * 3;
  if (sums.postings !== sums.balances || BigInt(sums.postings) !== 0n) throw new Error(`ledger invariant broken after the load: postings ${sums.postings}, balances ${sums.balances}`);
  return {
    entries_before: before, entries_after: before + added, added, wallets: wallets.length, load_s: round(loadS), rows_per_s: round(rows / Math.max(loadS, 1e-3), 0),
    postings_sum_won: sums.postings, balances_sum_won: sums.balances,
  };
}
