/**
 * SQLite WAL checkpoints on a worker thread. better-sqlite3 runs on the event loop,
 * and SQLite's automatic checkpoint runs inside whichever commit crosses the WAL size
 * limit: it copies the WAL into the database file and, under `synchronous=FULL`, waits
 * for the disk — milliseconds during which no request is served. Here the server's
 * connection turns the automatic checkpoint off and a second connection on a worker
 * thread checkpoints (PASSIVE: never blocks a writer) a few times a second instead.
 * Durability is unchanged: every commit's WAL frames are synced inside its COMMIT
 * (synchronous=FULL) before it is answered.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker checkpoints. */
export const CHECKPOINT_INTERVAL_MS = 200;

// Plain JavaScript evaluated by the worker, so it needs no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.modulePath);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
let failures = 0;
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
  } catch (error) {
    // A busy database is retried at the next tick; anything else is reported once.
    if (failures++ === 0) parentPort.postMessage({ type: 'error', message: String(error && error.message) });
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ type: 'stopped' });
});
parentPort.postMessage({ type: 'ready' });
`;

/** A running checkpointer; `stop` ends it before the database is closed. */
export interface WalCheckpointer {
  stop(): Promise<void>;
}

/**
 * Starts checkpointing the database file `file` (already in WAL mode) from a worker
 * thread. `onError` hears about a checkpoint that failed for another reason than a
 * busy database.
 */
export function startWalCheckpointer(file: string, onError: (message: string) => void = () => undefined): WalCheckpointer {
  const modulePath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, modulePath, intervalMs: CHECKPOINT_INTERVAL_MS } });
  // The worker must not keep the process alive on its own.
  worker.unref();
  worker.on('message', (message: { type: string; message?: string }) => {
    if (message.type === 'error') onError(message.message ?? 'checkpoint failed');
  });
  worker.on('error', (error) => onError(error.message));
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
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
