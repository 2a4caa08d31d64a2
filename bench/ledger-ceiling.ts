/**
 * Ceiling (c): the ledger transaction alone. `payOrder` — the one write transaction
 * that moves an order's total from buyer to seller and marks the order paid — in a
 * loop with many calls in flight, on a fresh database of one engine, in-process: no
 * HTTP, no cryptography. Orders are made beforehand (not timed).
 *
 * Run as a child of bench/run.ts (IPC): receives {engine, orders, inFlight}.
 */
import { performance } from 'node:perf_hooks';
import type { DatabaseEngine } from '../apps/server/src/config.js';
import { enginesUnderTest, newClient, startTestApp } from '../apps/server/test/helpers.js';
import { round, Samples, type LatencySummary } from './lib/stats.js';
import { inBatches } from './lib/in-batches.js';

export interface LedgerCeiling {
  engine: DatabaseEngine;
  payments: number;
  in_flight: number;
  per_s: number;
  latency: LatencySummary;
}

const SELLERS = 8;

export async function measureLedgerCeiling(engineName: DatabaseEngine, orders: number, inFlight: number, dataDir?: string): Promise<LedgerCeiling> {
  const engine = enginesUnderTest().find((e) => e.engine === engineName);
  if (!engine) throw new Error(`engine ${engineName} is not configured`);
  const t = await startTestApp({ engine, ...(dataDir ? { env: { DATA_DIR: dataDir } } : {}) });
  try {
    const { ledger, orders: orderService, payments } = t.app.internals;
    const productIds = (await inBatches(SELLERS, 8, async () => {
      const seller = await newClient(t, 'seller');
      const res = await seller.request('POST', '/api/seller/products', { name: '원장 상품', category: 'food', description: '', priceWon: 9_900, stock: 1_000_000 });
      if (res.statusCode !== 201) throw new Error(`product: ${res.body}`);
      return res.json().id as string;
    }));
    // One buyer per payment in flight: as many wallets as the protocol runs have clients.
    const buyers = await inBatches(inFlight, 8, async () => {
      const buyer = await newClient(t, 'buyer');
      await ledger.fund(buyer.userId, 1_000_000_000n, 'top_up', 'ledger ceiling', t.clock.nowMs);
      return { userId: buyer.userId, role: 'buyer' as const, sessionId: buyer.sessionId };
    });
    const made = await inBatches(orders, inFlight, async (i) => {
      const actor = buyers[i % buyers.length]!;
      const order = await orderService.create(actor, { source: 'product', productId: productIds[i % productIds.length]!, quantity: 1 });
      return { actor, orderId: order.id };
    });

    const latency = new Samples();
    const started = performance.now();
    await inBatches(made.length, inFlight, async (i) => {
      const { actor, orderId } = made[i]!;
      const t0 = performance.now();
      await payments.payOrder(actor, orderId, { evidenceRef: `ledger-ceiling-${i}` });
      latency.add(performance.now() - t0);
    });
    const seconds = (performance.now() - started) / 1000;
    return { engine: engineName, payments: made.length, in_flight: inFlight, per_s: round(made.length / seconds, 0), latency: latency.summary() };
  } finally {
    await t.close();
  }
}

process.once('message', (message: { engine: DatabaseEngine; orders: number; inFlight: number; dataDir?: string }) => {
  measureLedgerCeiling(message.engine, message.orders, message.inFlight, message.dataDir).then(
    (result) => process.send!({ type: 'ledger', result }, () => process.exit(0)),
    (error: unknown) => process.send!({ type: 'failed', error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1)),
  );
});
