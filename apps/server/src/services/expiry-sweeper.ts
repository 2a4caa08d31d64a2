/**
 * The periodic sweep: expires orders past their payment window (giving their stock
 * back) and deletes idempotency keys past their 24 hours. Reads and order creation
 * already expire what they touch; the sweep frees stock nobody is looking at.
 */
import type { IdempotencyRepository } from '../db/idempotency-repository.js';
import type { OrdersService } from './orders.js';

/** Idempotency keys deleted per sweep at most. */
const KEY_PURGE_BATCH_MAX = 1_000;

/** What the sweeper is built from. */
export interface ExpirySweeperDeps {
  orders: OrdersService;
  idempotency: IdempotencyRepository;
  clock: () => number;
  /** Told about a failed sweep; the next one tries again. */
  onError: (error: unknown) => void;
}

/** Runs the sweep on a timer that does not keep the process alive. */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: ExpirySweeperDeps) {}

  /** One sweep; returns what it did. */
  async runOnce(): Promise<{ ordersExpired: number; keysPurged: number }> {
    const ordersExpired = await this.deps.orders.expireDue();
    const keysPurged = await this.deps.idempotency.purgeExpired(this.deps.clock(), KEY_PURGE_BATCH_MAX);
    return { ordersExpired, keysPurged };
  }

  /** Sweeps every `intervalMs`; a sweep still running when the next is due is not doubled. */
  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.runOnce()
        .then(() => undefined, (error: unknown) => this.deps.onError(error))
        .finally(() => {
          this.running = undefined;
        });
    }, intervalMs);
    // The sweep alone must not keep the process alive.
    this.timer.unref();
  }

  /** Stops sweeping and waits for a sweep in progress, so the database can close after it. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
