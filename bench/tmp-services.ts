import { newClient, startTestApp } from '../apps/server/test/helpers.js';
import { generateSigningKeyPair } from '@coconutpay/core/pki/key-pair';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { performance } from 'node:perf_hooks';

const t = await startTestApp();
const { orders, payments, ledger } = t.app.internals;
const seller = await newClient(t, 'seller');
const p = await seller.request('POST', '/api/seller/products', { name: 'x', category: 'food', description: '', priceWon: 1000, stock: 1_000_000 });
const productId = p.json().id;
const buyers = [];
for (let i = 0; i < 32; i++) { const b = await newClient(t, 'buyer'); await ledger.fund(b.userId, 1_000_000_000n, 'top_up', 'x', t.clock.nowMs); buyers.push({ userId: b.userId, role: 'buyer' as const, sessionId: b.sessionId, client: b }); }
async function timeIt(name: string, n: number, inflight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0; const c0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, async () => { while (next < n) { const i = next++; await fn(i); } }));
  const c = process.cpuUsage(c0); const wall = performance.now() - t0;
  console.log(name, 'per s', Math.round(n / wall * 1000), 'cpu µs/op', Math.round((c.user + c.system) / n));
}
const made: string[] = [];
await timeIt('orders.create', 2000, 32, async (i) => { const o = await orders.create(buyers[i % 32]!, { source: 'product', productId, quantity: 1 }); made[i] = o.id; });
await timeIt('payOrder', 2000, 32, async (i) => payments.payOrder(buyers[i % 32]!, made[i]!));
await timeIt('GET /api/me (inject)', 2000, 32, async (i) => buyers[i % 32]!.client.get('/api/me'));
await timeIt('users.findById', 5000, 32, async (i) => t.app.internals.accounts.profile(buyers[i % 32]!));
await t.close();
