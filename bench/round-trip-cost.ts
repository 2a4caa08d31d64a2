/**
 * What one database round trip costs this machine, apart from any work of ours: the
 * drivers the server uses (pg, mysql2), a prepared primary-key read and a one-row update
 * in its own transaction (BEGIN, UPDATE, COMMIT: three round trips and a durable commit),
 * 16 in flight, on the server's core. Measured on both sides: this process's CPU (what the
 * server pays per round trip) and the database server's processes' CPU (/proc).
 *
 * Multiplied by the statements a payment sends, it is the part of a payment's CPU that no
 * change to our code can remove without removing round trips.
 *
 * Run as a child of bench/run.ts (IPC), or alone:
 *   npx tsx --conditions=source bench/round-trip-cost.ts postgres://… | mysql://…
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { createPool } from 'mysql2/promise';
import { round } from './lib/stats.js';
import { sampleCpu } from './lib/process-cpu.js';

export interface RoundTripCost {
  engine: 'postgres' | 'mysql';
  in_flight: number;
  read: RoundTripFigures;
  /** Per transaction of three round trips (BEGIN, UPDATE, COMMIT), durable commit included. */
  write_transaction: RoundTripFigures;
}

export interface RoundTripFigures {
  per_s: number;
  client_us: number;
  database_us: number;
}

const ROWS = 1_000;
const IN_FLIGHT = 16;

/** What differs between the two drivers; the measured operations are the same on both. */
interface Driver {
  /** The prepared primary-key read, on any pooled connection. */
  read(id: number): Promise<unknown>;
  /** A pooled connection: statements as text, the prepared one-row update, and its release. */
  connection(): Promise<{ text(sql: string): Promise<unknown>; update(id: number): Promise<unknown>; release(): void }>;
  /** A statement as text on any pooled connection (setup and cleanup). */
  text(sql: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

function postgresDriver(url: string): Driver {
  const pool = new pg.Pool({ connectionString: url, max: IN_FLIGHT });
  return {
    read: (id) => pool.query({ name: 'bench_rt_read', text: 'select id, n from bench_round_trip where id = $1', values: [id] }),
    connection: async () => {
      const client = await pool.connect();
      return {
        text: (sql) => client.query(sql),
        update: (id) => client.query({ name: 'bench_rt_write', text: 'update bench_round_trip set n = n + 1 where id = $1', values: [id] }),
        release: () => client.release(),
      };
    },
    text: (sql, values) => pool.query(sql, values),
    end: () => pool.end(),
  };
}

function mysqlDriver(url: string): Driver {
  const pool = createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: IN_FLIGHT });
  return {
    read: (id) => pool.execute('select id, n from bench_round_trip where id = ?', [id]),
    connection: async () => {
      const connection = await pool.getConnection();
      return {
        text: (sql) => connection.query(sql),
        update: (id) => connection.execute('update bench_round_trip set n = n + 1 where id = ?', [id]),
        release: () => connection.release(),
      };
    },
    text: (sql, values) => pool.query(sql, values),
    end: () => pool.end(),
  };
}

/** BEGIN, the one-row update, COMMIT: three round trips on one connection and a durable commit. */
async function writeTransaction(driver: Driver, id: number): Promise<void> {
  const connection = await driver.connection();
  try {
    await connection.text('begin');
    await connection.update(id);
    await connection.text('commit');
  } finally {
    connection.release();
  }
}

async function measure(work: (id: number) => Promise<unknown>, measureMs: number): Promise<RoundTripFigures> {
  const runFor = async (ms: number) => {
    let done = 0;
    const until = performance.now() + ms;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await work(randomInt(1, ROWS + 1));
        done += 1;
      }
    }));
    return done;
  };
  await runFor(Math.min(1_000, measureMs / 4));
  const [cpu0, db0, t0] = [process.cpuUsage(), sampleCpu(), performance.now()];
  const done = await runFor(measureMs);
  const [cpu1, db1, t1] = [process.cpuUsage(cpu0), sampleCpu(), performance.now()];
  return {
    per_s: round(done / ((t1 - t0) / 1000), 1),
    client_us: round((cpu1.user + cpu1.system) / done, 1),
    database_us: round((db1.databaseUs - db0.databaseUs) / done, 1),
  };
}

export async function measureRoundTrips(url: string, measureMs: number): Promise<RoundTripCost> {
  const engine = url.startsWith('postgres') ? 'postgres' : 'mysql';
  const driver = engine === 'postgres' ? postgresDriver(url) : mysqlDriver(url);
  try {
    await driver.text('create table if not exists bench_round_trip (id integer primary key, n bigint not null)');
    // One multi-row insert, the same SQL on both engines (the values are our own integers).
    await driver.text(`insert into bench_round_trip (id, n) values ${Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 0)`).join(',')}`);
    const read = await measure((id) => driver.read(id), measureMs);
    const write = await measure((id) => writeTransaction(driver, id), measureMs);
    return { engine, in_flight: IN_FLIGHT, read, write_transaction: write };
  } finally {
    await driver.text('drop table bench_round_trip').catch(() => undefined);
    await driver.end();
  }
}

if (process.send) {
  process.once('message', (message: { url: string; measureMs: number }) => {
    void measureRoundTrips(message.url, message.measureMs).then(
      (result) => process.send!({ type: 'round-trips', result }, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else if (process.argv[2]) {
  console.log(JSON.stringify(await measureRoundTrips(process.argv[2], 5_000), null, 2));
}
