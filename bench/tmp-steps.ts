import { performance } from 'node:perf_hooks';
import { enginesUnderTest, newClient, startTestApp } from '../apps/server/test/helpers.js';
import { inBatches } from './lib/in-batches.js';
const engine = enginesUnderTest().find((e) => e.engine === (process.argv[2] ?? 'sqlite'))!;
const t = await startTestApp({ engine });
const { ledger, orders: orderService, payments } = t.app.internals;
const productIds = await inBatches(8, 8, async () => {
  const seller = await newClient(t, 'seller');
  const res = await seller.request('POST', '/api/seller/products', { name: '원장 상품', category: 'food', description: '', priceWon: 9_900, stock: 1_000_000 });
  return res.json().id as string;
});
const inFlight = 32, orders = 4000;
const buyers = await inBatches(inFlight, 8, async () => {
  const buyer = await newClient(t, 'buyer');
  await ledger.fund(buyer.userId, 1_000_000_000n, 'top_up', 'x', t.clock.nowMs);
  return { userId: buyer.userId, role: 'buyer' as const, sessionId: buyer.sessionId };
});
for (let round = 0; round < 2; round++) {
let c0 = process.cpuUsage(); let w0 = performance.now();
const made = await inBatches(orders, inFlight, async (i) => {
  const actor = buyers[i % buyers.length]!;
  const order = await orderService.create(actor, { source: 'product', productId: productIds[i % productIds.length]!, quantity: 1 });
  return { actor, orderId: order.id };
});
let c = process.cpuUsage(c0); let w = performance.now() - w0;
console.log('order step: cpu µs', ((c.user + c.system) / orders).toFixed(0), 'wall µs', (w * 1000 / orders).toFixed(0));
c0 = process.cpuUsage(); w0 = performance.now();
await inBatches(made.length, inFlight, async (i) => { const { actor, orderId } = made[i]!; await payments.payOrder(actor, orderId, { evidenceRef: `x-${round}-${i}` }); });
c = process.cpuUsage(c0); w = performance.now() - w0;
console.log('payOrder: cpu µs', ((c.user + c.system) / orders).toFixed(0), 'wall µs', (w * 1000 / orders).toFixed(0));
}
await t.close();
process.exit(0);
