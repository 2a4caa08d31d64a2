/**
 * SQLite WAL checkpoints on a worker thread, and a WAL that stays bounded under load.
 *
 * better-sqlite3 runs on the event loop, and SQLite's automatic checkpoint runs inside
 * whichever commit crosses the WAL size limit: it copies the WAL into the database file
 * and, under `synchronous=FULL`, waits for the disk — milliseconds during which no
 * request is served. Here the server's connection turns the automatic checkpoint off and
 * a second connection on a worker thread checkpoints (PASSIVE: never blocks a writer) a
 * few times a second instead. Durability is unchanged: every commit's WAL frames are
 * synced inside its COMMIT (synchronous=FULL) before it is answered.
 *
 * A checkpoint copies frames into the database file but does not shorten the WAL: SQLite
 * starts writing the WAL from its beginning again only when a write transaction begins
 * while every frame has been copied. Under steady load that moment never comes — group
 * commit begins the next transaction as soon as the last one is synced, and the worker is
 * always a few hundred frames behind — so the WAL grew without end (about 40 MB a second
 * at 150 payments/s, measured), and with it the disk it fills and the index every read
 * searches. So when the WAL passes {@link WAL_FRAMES_LIMIT}, the worker asks for a short
 * hold: group commit starts no new transaction (reads and everything else go on), the
 * worker copies what is left, and the first transaction after the hold starts the WAL
 * over (`journal_size_limit` then truncates the file). A hold ends after at most
 * {@link HOLD_MAX_MS} even if the worker could not catch up (another process's long read
 * keeps frames in use, say): writes never wait on the checkpointer for longer.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker checkpoints while the WAL is below its limit. */
export const CHECKPOINT_INTERVAL_MS = 200;

/** WAL frames (pages, 4 KiB by default) past which writes pause while the worker catches up. */
export const WAL_FRAMES_LIMIT = 8_192;

/** Longest pause of writes for one catch-up. */
export const HOLD_MAX_MS = 250;

// Plain JavaScript evaluated by the worker, so it needs no TypeScript loader.
// States: 'normal' (a checkpoint every interval), 'asked' (a hold was asked for; the
// server has not yet stopped starting transactions), 'catching-up' (it has: checkpoints
// run back to back until every frame is copied).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
let failures = 0;
let state = 'normal';
// A hold the server gave up on is not asked for again until the WAL grew by another limit.
let nextHoldAt = workerData.framesLimit;
let lastLog = 0;
let timer = null;
let stopped = false;
// Frames copied by the last checkpoint: catching up makes no progress while a reader pins them.
let lastCheckpointed = -1;
let stalled = false;
function schedule() {
  if (timer) { clearTimeout(timer); clearImmediate(timer); }
  // Back to back while catching up, but not in a loop that copies nothing: this thread
  // shares the server's core, and a pinned WAL would keep it spinning until the hold ends.
  if (state === 'catching-up') timer = stalled ? setTimeout(checkpoint, 5) : setImmediate(checkpoint);
  else timer = setTimeout(checkpoint, workerData.intervalMs);
}
function checkpoint() {
  timer = null;
  if (stopped) return;
  try {
    const [answer] = db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
    stalled = answer.checkpointed === lastCheckpointed;
    lastCheckpointed = answer.checkpointed;
    lastLog = answer.log;
    if (answer.log < workerData.framesLimit) nextHoldAt = workerData.framesLimit;
    if (state === 'normal' && answer.log >= nextHoldAt) {
      state = 'asked';
      parentPort.postMessage({ type: 'hold' });
    } else if (state === 'catching-up' && answer.checkpointed >= answer.log) {
      state = 'normal';
      parentPort.postMessage({ type: 'caught-up' });
    }
  } catch (error) {
    // A busy database is retried at the next tick; anything else is reported once.
    if (failures++ === 0) parentPort.postMessage({ type: 'error', message: String(error && error.message) });
  }
  schedule();
}
parentPort.on('message', (message) => {
  if (message === 'paused') {
    // No transaction starts now: copy what is left, at once.
    if (state === 'asked') { state = 'catching-up'; schedule(); }
  } else if (message === 'released') {
    // The server stopped waiting (HOLD_MAX_MS): back to the usual pace.
    if (state !== 'normal') { state = 'normal'; nextHoldAt = lastLog + workerData.framesLimit; schedule(); }
  } else if (message === 'stop') {
    stopped = true;
    if (timer) { clearTimeout(timer); clearImmediate(timer); }
    db.close();
    parentPort.postMessage({ type: 'stopped' });
  }
});
schedule();
parentPort.postMessage({ type: 'ready' });
`;

/** A running checkpointer; `stop` ends it before the database is closed. */
export interface WalCheckpointer {
  /**
   * Asked by group commit before each group: null when a write transaction may start now;
   * else a promise that settles when it may (the worker caught up, or {@link HOLD_MAX_MS}
   * passed). Asking tells the worker that no transaction is starting.
   */
  writable(): Promise<void> | null;
  /** Group commit says when it starts and stops running transactions: a hold asked for while it is idle needs no wait. */
  draining(active: boolean): void;
  /** Holds so far, and how each ended (for tests and the benchmark). */
  readonly holds: { started: number; caughtUp: number; timedOut: number };
  stop(): Promise<void>;
}

export interface WalCheckpointerOptions {
  onError?: (message: string) => void;
  /** Overrides {@link WAL_FRAMES_LIMIT} (tests use a small one). */
  framesLimit?: number;
  intervalMs?: number;
}

/**
 * Starts checkpointing the database file `file` (already in WAL mode) from a worker
 * thread. `onError` hears about a checkpoint that failed for another reason than a
 * busy database.
 */
export function startWalCheckpointer(file: string, options: WalCheckpointerOptions = {}): WalCheckpointer {
  const onError = options.onError ?? (() => undefined);
  const modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { file, modulePath, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS, framesLimit: options.framesLimit ?? WAL_FRAMES_LIMIT },
  });
  // The worker must not keep the process alive on its own.
  worker.unref();
  const holds = { started: 0, caughtUp: 0, timedOut: 0 };
  let hold: { done: Promise<void>; end: (how: 'caughtUp' | 'timedOut') => void; paused: boolean } | null = null;
  let active = false;

  // The worker copies what is left only once no transaction is starting.
  const pause = () => {
    if (!hold || hold.paused) return;
    hold.paused = true;
    worker.postMessage('paused');
  };

  const startHold = () => {
    if (hold) return;
    holds.started += 1;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const end = (how: 'caughtUp' | 'timedOut') => {
      if (hold?.done !== done) return;
      clearTimeout(timeout);
      holds[how] += 1;
      hold = null;
      resolve();
    };
    const timeout = setTimeout(() => {
      end('timedOut');
      worker.postMessage('released');
    }, HOLD_MAX_MS);
    timeout.unref();
    hold = { done, end, paused: false };
    if (!active) pause();
  };

  worker.on('message', (message: { type: string; message?: string }) => {
    if (message.type === 'error') onError(message.message ?? 'checkpoint failed');
    else if (message.type === 'hold') startHold();
    else if (message.type === 'caught-up') hold?.end('caughtUp');
  });
  worker.on('error', (error) => {
    hold?.end('timedOut');
    onError(error.message);
  });
  let stopped: Promise<void> | undefined;
  return {
    writable() {
      if (!hold) return null;
      pause();
      return hold.done;
    },
    draining(now: boolean) {
      active = now;
      if (!now) pause();
    },
    holds,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        hold?.end('timedOut');
        worker.on('message', (message: { type: string }) => {
          if (message.type === 'stopped') void worker.terminate().then(() => resolve());
        });
        worker.on('exit', () => resolve());
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
