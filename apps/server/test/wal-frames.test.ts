/**
 * How many pages a payment writes on SQLite: every table and index a step touches is one
 * 4 KiB WAL frame per commit, and the frames — each written, synced and later copied by the
 * checkpointer — are a large share of a commit's CPU (docs/performance.md, "Per payment, by
 * CPU"). Counted here from the WAL's own frame headers, one payment at a time on a fresh
 * database with the checkpointer stopped, so that a new index or a wider step shows up as a
 * failure rather than as a slower benchmark.
 */
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { enginesUnderTest, newClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand } from './payment-client.js';

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/** Frames written to `walFile` past byte `from` (its size before the step). */
function framesSince(walFile: string, from: number): number {
  const wal = readFileSync(walFile);
  const frameBytes = FRAME_HEADER_BYTES + wal.readUInt32BE(8);
  return Math.floor((wal.length - Math.max(from, WAL_HEADER_BYTES)) / frameBytes);
}

const PAYMENTS = 30;

/**
 * Measured 2026-12-07 (seven runs): the order 9.0–10.8, the request 5.0–6.0, the
 * authorization 22.6–27.6 frames a payment, audit-log entries counted with the step that
 * appended them (the spread is where pages split and whether the file grew). The bounds
 * leave room for that, not for a step that touches several more tables or indexes.
 */
const FRAMES_MAX = { order: 13, request: 8, authorization: 32 };

describe('WAL frames per payment step (SQLite)', () => {
  it('stays within what the steps touch', async () => {
    const t: TestApp = await startTestApp({ engine: enginesUnderTest().find((e) => e.engine === 'sqlite')! });
    try {
      const wal = `${t.config.databaseUrl.slice('sqlite:'.length)}-wal`;
      const seller = await newClient(t, 'seller');
      const product = await seller.request('POST', '/api/seller/products', { name: '페이지 상품', category: 'food', description: '', priceWon: 1_000, stock: 1_000 });
      const productId = product.json().id as string;
      const buyers = [];
      for (let i = 0; i < 3; i++) {
        const buyer = await buyerWithCertificate(t);
        expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
        // A certificate's first payment asks for the code; the counted ones do not.
        const order = await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
        const opened = await requestCommand(t, buyer, order.json().id);
        expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: await codeOf(t, opened.comId) }))).statusCode).toBe(200);
        buyers.push(buyer);
      }
      await t.app.internals.audit.settled();
      await t.app.internals.database.walCheckpointer!.stop();

      const frames = { order: 0, request: 0, authorization: 0 };
      const counted = async <T>(step: keyof typeof frames, work: () => Promise<T>): Promise<T> => {
        const before = statSync(wal).size;
        const result = await work();
        await t.app.internals.audit.settled();
        frames[step] += framesSince(wal, before);
        return result;
      };
      for (let i = 0; i < PAYMENTS; i++) {
        const buyer = buyers[i % buyers.length]!;
        const order = await counted('order', () => buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 }));
        expect(order.statusCode).toBe(201);
        const opened = await counted('request', () => requestCommand(t, buyer, order.json().id));
        expect(opened.codeRequired).toBe(false);
        const body = await authorizationBody(t, buyer, opened);
        const paid = await counted('authorization', () => buyer.client.request('POST', '/api/payments/authorizations', body));
        expect(paid.statusCode).toBe(200);
      }
      const perPayment = Object.fromEntries(Object.entries(frames).map(([step, n]) => [step, n / PAYMENTS]));
      console.info(`WAL frames per payment: ${JSON.stringify(perPayment)}`);
      // Each step commits at least one table and one index page: the count is real.
      for (const step of ['order', 'request', 'authorization'] as const) {
        expect(perPayment[step]).toBeGreaterThanOrEqual(2);
        expect(perPayment[step]).toBeLessThanOrEqual(FRAMES_MAX[step]);
      }
    } finally {
      await t.close();
    }
  }, 60_000);
});
