/**
 * Paying orders from the wallet ledger, on every engine: a reference model checked with
 * random top-ups, orders, payments (some raced against themselves), cancellations and
 * waits; 200 payments at once against a balance that covers only some of them; and the
 * database's own guards.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@coconutpay/core/errors';
import { ORDER_PAYMENT_WINDOW_MS, koreanDayStartMs, type OrderStatus } from '@coconutpay/core/orders';
import { ProductsRepository } from '../src/db/products-repository.js';
import type { RegistrationInput } from '../src/services/accounts.js';
import type { Actor } from '../src/services/actor.js';
import { check, refusal } from './constraint-violation.js';
import { buyerRegistration, enginesUnderTest, sellerRegistration, startTestApp, type TestApp } from './helpers.js';

/** The error code a call fails with, or 'ok'. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('paying orders on %s', (engineName, engine) => {
  const TOP_UP_DAILY_LIMIT_WON = 1_000_000n;
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      engine,
      env: { TOP_UP_DAILY_LIMIT_WON: String(TOP_UP_DAILY_LIMIT_WON) },
      // The sweep's own timer stays out of the way; the model checks call it explicitly.
      configOverrides: { expirySweepIntervalMs: 3_600_000 },
    });
  });
  afterAll(async () => t.close());

  const db = () => t.app.internals.database.db;

  async function addUser(role: 'buyer' | 'seller'): Promise<Actor> {
    const registration = role === 'buyer' ? buyerRegistration() : sellerRegistration();
    const user = await t.app.internals.accounts.register(registration as RegistrationInput);
    return { userId: user.id, role, sessionId: randomUUID() };
  }

  async function addProduct(seller: Actor, priceWon: bigint, stock: number): Promise<string> {
    const id = randomUUID();
    await new ProductsRepository(db()).insert({ id, sellerId: seller.userId, name: `상품 ${id.slice(0, 8)}`, category: 'food', description: '', priceWon, stock, createdAtMs: t.clock.nowMs });
    return id;
  }

  const balanceOf = async (actor: Actor) => (await t.app.internals.ledger.walletBalanceWon(actor.userId))!;
  const stockOf = async (productId: string) => (await new ProductsRepository(db()).findById(productId))!.stock;
  const order = (buyer: Actor, productId: string, quantity: number) => t.app.internals.orders.create(buyer, { source: 'product', productId, quantity });

  async function paymentEntryCounts(orderIds: string[]): Promise<Map<string, number>> {
    const rows = await db()
      .selectFrom('journalEntries')
      .select(['orderId', (eb) => eb.fn.countAll<number>().as('n')])
      .where('kind', '=', 'payment')
      .where('orderId', 'in', orderIds)
      .groupBy('orderId')
      .execute();
    return new Map(rows.map((r) => [r.orderId!, Number(r.n)]));
  }

  describe('payOrder', () => {
    it('moves exactly the total from buyer to seller, once, with the order marked paid in the same step', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const productId = await addProduct(seller, 27_900n, 5);
      await t.app.internals.wallet.topUp(buyer, 100_000n);
      const created = await order(buyer, productId, 2);

      const paid = await t.app.internals.payments.payOrder(buyer, created.id, { evidenceRef: 'com-0001' });
      expect(paid.order).toMatchObject({ status: 'paid', paidAtMs: t.clock.nowMs, evidenceRef: 'com-0001', totalWon: 55_800n });
      expect(await balanceOf(buyer)).toBe(100_000n - 55_800n);
      expect(await balanceOf(seller)).toBe(55_800n);
      const postings = await db().selectFrom('postings').select(['accountId', 'amountWon']).where('entryId', '=', paid.entryId).execute();
      expect(postings.map((p) => Number(p.amountWon)).sort((a, b) => a - b)).toEqual([-55_800, 55_800]);
      expect(await paymentEntryCounts([created.id])).toEqual(new Map([[created.id, 1]]));

      expect(await outcome(t.app.internals.payments.payOrder(buyer, created.id))).toBe('ORDER_ALREADY_PAID');
      expect(await balanceOf(buyer)).toBe(44_200n);
      expect(await balanceOf(seller)).toBe(55_800n);
      expect(await stockOf(productId)).toBe(3);
      await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });

    it('refuses a payment the balance does not cover, moving nothing, and takes it once the wallet is topped up', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const created = await order(buyer, await addProduct(seller, 60_000n, 1), 1);
      await t.app.internals.wallet.topUp(buyer, 59_999n);
      expect(await outcome(t.app.internals.payments.payOrder(buyer, created.id))).toBe('INSUFFICIENT_BALANCE');
      expect(await balanceOf(buyer)).toBe(59_999n);
      expect(await balanceOf(seller)).toBe(0n);
      expect((await t.app.internals.orders.get(buyer, created.id)).status).toBe('awaiting_payment');
      await t.app.internals.wallet.topUp(buyer, 1n);
      expect(await outcome(t.app.internals.payments.payOrder(buyer, created.id))).toBe('ok');
      expect(await balanceOf(buyer)).toBe(0n);
      expect(await balanceOf(seller)).toBe(60_000n);
    });

    it('refuses another buyer’s order, a seller, a cancelled and an expired order, moving nothing', async () => {
      const [buyer, other, seller] = [await addUser('buyer'), await addUser('buyer'), await addUser('seller')];
      const productId = await addProduct(seller, 1_000n, 10);
      await t.app.internals.wallet.topUp(buyer, 10_000n);
      await t.app.internals.wallet.topUp(other, 10_000n);
      const first = await order(buyer, productId, 1);
      expect(await outcome(t.app.internals.payments.payOrder(other, first.id))).toBe('ORDER_NOT_FOUND');
      expect(await outcome(t.app.internals.payments.payOrder(seller, first.id))).toBe('ROLE_FORBIDDEN');
      expect(await outcome(t.app.internals.payments.payOrder(buyer, randomUUID()))).toBe('ORDER_NOT_FOUND');

      await t.app.internals.orders.cancel(buyer, first.id);
      expect(await outcome(t.app.internals.payments.payOrder(buyer, first.id))).toBe('ORDER_CANCELLED');

      const late = await order(buyer, productId, 4);
      expect(await stockOf(productId)).toBe(6);
      t.clock.advance(ORDER_PAYMENT_WINDOW_MS);
      // Paying past the window expires the order on the spot and frees its stock.
      expect(await outcome(t.app.internals.payments.payOrder(buyer, late.id))).toBe('ORDER_EXPIRED');
      expect((await t.app.internals.orders.get(buyer, late.id)).status).toBe('expired');
      expect(await stockOf(productId)).toBe(10);
      expect(await outcome(t.app.internals.payments.payOrder(buyer, late.id))).toBe('ORDER_EXPIRED');

      expect([await balanceOf(buyer), await balanceOf(other), await balanceOf(seller)]).toEqual([10_000n, 10_000n, 0n]);
      await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });

    it('commits the caller’s own writes with the payment, and keeps nothing of the payment when they fail', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const productId = await addProduct(seller, 8_000n, 2);
      await t.app.internals.wallet.topUp(buyer, 20_000n);
      const [first, second] = [await order(buyer, productId, 1), await order(buyer, productId, 1)];

      const memo = `evidence-${randomUUID()}`;
      await t.app.internals.payments.payOrder(buyer, first.id, {
        within: async (trx) => {
          await trx.insertInto('journalEntries').values({ id: randomUUID(), kind: 'test_note', memo, createdAtMs: t.clock.nowMs }).execute();
        },
      });
      expect(await db().selectFrom('journalEntries').select('id').where('memo', '=', memo).execute()).toHaveLength(1);

      const failing = t.app.internals.payments.payOrder(buyer, second.id, {
        within: async () => {
          throw new AppError('ORDER_CANCELLED', { detail: 'the caller changed its mind' });
        },
      });
      expect(await outcome(failing)).toBe('ORDER_CANCELLED');
      expect((await t.app.internals.orders.get(buyer, second.id)).status).toBe('awaiting_payment');
      expect(await balanceOf(buyer)).toBe(12_000n);
      expect(await balanceOf(seller)).toBe(8_000n);
      expect(await paymentEntryCounts([first.id, second.id])).toEqual(new Map([[first.id, 1]]));
    });

    it('refuses an empty or over-long evidence reference before touching anything', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const created = await order(buyer, await addProduct(seller, 1_000n, 1), 1);
      await expect(t.app.internals.payments.payOrder(buyer, created.id, { evidenceRef: 'x'.repeat(201) })).rejects.toThrow(RangeError);
      await expect(t.app.internals.payments.payOrder(buyer, created.id, { evidenceRef: '' })).rejects.toThrow(RangeError);
      expect((await t.app.internals.orders.get(buyer, created.id)).status).toBe('awaiting_payment');
    });
  });

  describe('the database’s own guards', () => {
    it('refuses a second payment entry for one order', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const created = await order(buyer, await addProduct(seller, 1_000n, 1), 1);
      await t.app.internals.wallet.topUp(buyer, 1_000n);
      await t.app.internals.payments.payOrder(buyer, created.id);
      expect(await refusal(db().insertInto('journalEntries').values({ id: randomUUID(), kind: 'payment', memo: 'again', orderId: created.id, createdAtMs: t.clock.nowMs }).execute())).toEqual({ kind: 'unique' });
      // Another kind of entry for the same order (a later refund) is not what the guard is about.
      await db().insertInto('journalEntries').values({ id: randomUUID(), kind: 'test_note', memo: 'not a payment', orderId: created.id, createdAtMs: t.clock.nowMs }).execute();
    });

    it('refuses an order state without its time, a time without its state, and an unknown state', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const created = await order(buyer, await addProduct(seller, 1_000n, 3), 1);
      const update = () => db().updateTable('orders').where('id', '=', created.id);
      expect(await refusal(update().set({ status: 'paid' }).execute())).toEqual(check('orders_paid_check'));
      expect(await refusal(update().set({ cancelledAtMs: t.clock.nowMs }).execute())).toEqual(check('orders_cancelled_check'));
      expect(await refusal(update().set({ status: 'shipped' as OrderStatus }).execute())).toEqual(check('orders_status_check'));
      expect(await refusal(update().set({ status: 'paid', paidAtMs: t.clock.nowMs, expiredAtMs: t.clock.nowMs }).execute())).toEqual(check('orders_expired_check'));
      expect(await refusal(update().set({ totalWon: 0 }).execute())).toEqual(check('orders_total_check'));
      expect((await t.app.internals.orders.get(buyer, created.id)).status).toBe('awaiting_payment');
    });

    it('refuses an order line whose total is not price × quantity, and a quantity outside 1..99', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const created = await order(buyer, await addProduct(seller, 1_000n, 3), 2);
      const productId = created.items[0]!.productId;
      const line = () => db().updateTable('orderItems').where('orderId', '=', created.id).where('productId', '=', productId);
      expect(await refusal(line().set({ lineTotalWon: 1_999 }).execute())).toEqual(check('order_items_line_total_check'));
      expect(await refusal(line().set({ quantity: 3 }).execute())).toEqual(check('order_items_line_total_check'));
      expect(await refusal(line().set({ quantity: 0, lineTotalWon: 0 }).execute())).toEqual(check('order_items_quantity_check'));
      expect(await refusal(line().set({ quantity: 100, lineTotalWon: 100_000 }).execute())).toEqual(check('order_items_quantity_check'));
    });
  });

  describe('200 payments at once', () => {
    async function ordersOf(buyer: Actor, productId: string, quantities: number[]): Promise<{ id: string; totalWon: bigint }[]> {
      const created: { id: string; totalWon: bigint }[] = [];
      for (const quantity of quantities) {
        const o = await order(buyer, productId, quantity);
        created.push({ id: o.id, totalWon: o.totalWon });
      }
      return created;
    }

    it('against a balance that covers 73 equal ones: exactly 73 succeed and the rest are refused', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const productId = await addProduct(seller, 10_000n, 1_000);
      const orders = await ordersOf(buyer, productId, Array.from({ length: 200 }, () => 1));
      await t.app.internals.wallet.topUp(buyer, 730_000n);

      const results = await Promise.all(orders.map((o) => outcome(t.app.internals.payments.payOrder(buyer, o.id))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(73);
      expect(results.filter((r) => r !== 'ok').every((r) => r === 'INSUFFICIENT_BALANCE')).toBe(true);
      expect(await balanceOf(buyer)).toBe(0n);
      expect(await balanceOf(seller)).toBe(730_000n);

      const paidIds = orders.filter((_, i) => results[i] === 'ok').map((o) => o.id);
      const statuses = await db().selectFrom('orders').select(['id', 'status']).where('buyerId', '=', buyer.userId).execute();
      expect(statuses.filter((s) => s.status === 'paid').map((s) => s.id).sort()).toEqual([...paidIds].sort());
      const entries = await paymentEntryCounts(orders.map((o) => o.id));
      expect([...entries.keys()].sort()).toEqual([...paidIds].sort());
      expect([...entries.values()].every((n) => n === 1)).toBe(true);
      await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });

    it('of different amounts: none overdraws, and each refused one was more than what was left', async () => {
      const [buyer, seller] = [await addUser('buyer'), await addUser('seller')];
      const productId = await addProduct(seller, 1_000n, 2_000);
      const orders = await ordersOf(buyer, productId, Array.from({ length: 200 }, (_, i) => 1 + ((i * 7) % 9)));
      const startWon = 555_000n;
      await t.app.internals.wallet.topUp(buyer, startWon);

      const results = await Promise.all(orders.map((o) => outcome(t.app.internals.payments.payOrder(buyer, o.id))));
      const paidWon = orders.filter((_, i) => results[i] === 'ok').reduce((sum, o) => sum + o.totalWon, 0n);
      const leftWon = await balanceOf(buyer);
      expect(leftWon).toBe(startWon - paidWon);
      expect(leftWon >= 0n).toBe(true);
      expect(await balanceOf(seller)).toBe(paidWon);
      // Balances only fall, so a payment refused at any moment was larger than the final balance too.
      orders.forEach((o, i) => {
        if (results[i] !== 'ok') {
          expect(results[i]).toBe('INSUFFICIENT_BALANCE');
          expect(o.totalWon > leftWon, `${o.totalWon} refused with ${leftWon} left`).toBe(true);
        }
      });
      expect(results.filter((r) => r === 'ok').length).toBeGreaterThan(0);
      await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });
  });

  describe('against a reference model', () => {
    type Op =
      | { kind: 'topUp'; buyer: number; amountWon: number }
      | { kind: 'order'; buyer: number; product: number; quantity: number }
      | { kind: 'pay'; buyer: number; order: number; copies: number }
      | { kind: 'cancel'; buyer: number; order: number }
      | { kind: 'wait'; ms: number };

    interface ModelOrder {
      id: string;
      buyer: number;
      product: number;
      quantity: number;
      totalWon: bigint;
      status: OrderStatus;
      expiresAtMs: number;
    }

    const buyerIndex = fc.nat(1);
    const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('topUp' as const), buyer: buyerIndex, amountWon: fc.integer({ min: 1, max: 400_000 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('order' as const), buyer: buyerIndex, product: fc.nat(2), quantity: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('pay' as const), buyer: buyerIndex, order: fc.nat(40), copies: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), buyer: buyerIndex, order: fc.nat(40) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(60_000, 7 * 60_000, 16 * 60_000, 9 * 3_600_000) }) },
    );
    const scenario = fc.record({
      pricesWon: fc.array(fc.integer({ min: 1, max: 150_000 }), { minLength: 3, maxLength: 3 }),
      stocks: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }),
      ops: fc.array(opArbitrary, { minLength: 1, maxLength: 30 }),
    });

    it('conserves money, never overdraws, pays each order at most once, and agrees with the model on every answer', async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ pricesWon, stocks, ops }) => {
          const buyers = [await addUser('buyer'), await addUser('buyer')];
          const sellers = [await addUser('seller'), await addUser('seller')];
          // Products 0 and 1 belong to the first store, product 2 to the second.
          const productSellers = [0, 0, 1];
          const productIds: string[] = [];
          for (let p = 0; p < 3; p += 1) productIds.push(await addProduct(sellers[productSellers[p]!]!, BigInt(pricesWon[p]!), stocks[p]!));

          const model = {
            buyerWon: [0n, 0n],
            sellerWon: [0n, 0n],
            stock: [...stocks],
            orders: [] as ModelOrder[],
            topUpsByDay: new Map<string, bigint>(),
            toppedUpWon: 0n,
          };
          const expireIfDue = (o: ModelOrder) => {
            if (o.status === 'awaiting_payment' && t.clock.nowMs >= o.expiresAtMs) {
              o.status = 'expired';
              model.stock[o.product]! += o.quantity;
            }
          };
          const modelPay = (buyer: number, o: ModelOrder): string => {
            if (o.buyer !== buyer) return 'ORDER_NOT_FOUND';
            expireIfDue(o);
            if (o.status === 'paid') return 'ORDER_ALREADY_PAID';
            if (o.status === 'cancelled') return 'ORDER_CANCELLED';
            if (o.status === 'expired') return 'ORDER_EXPIRED';
            if (model.buyerWon[buyer]! < o.totalWon) return 'INSUFFICIENT_BALANCE';
            model.buyerWon[buyer]! -= o.totalWon;
            model.sellerWon[productSellers[o.product]!]! += o.totalWon;
            o.status = 'paid';
            return 'ok';
          };

          for (const op of ops) {
            switch (op.kind) {
              case 'topUp': {
                const day = `${op.buyer}:${koreanDayStartMs(t.clock.nowMs)}`;
                const before = model.topUpsByDay.get(day) ?? 0n;
                const amountWon = BigInt(op.amountWon);
                let expected = 'TOP_UP_DAILY_LIMIT_EXCEEDED';
                if (before + amountWon <= TOP_UP_DAILY_LIMIT_WON) {
                  expected = 'ok';
                  model.topUpsByDay.set(day, before + amountWon);
                  model.buyerWon[op.buyer]! += amountWon;
                  model.toppedUpWon += amountWon;
                }
                expect(await outcome(t.app.internals.wallet.topUp(buyers[op.buyer]!, amountWon)), JSON.stringify(op)).toBe(expected);
                break;
              }
              case 'order': {
                // A new order first frees the stock of expired orders of the same product.
                model.orders.filter((o) => o.product === op.product).forEach(expireIfDue);
                const expected = model.stock[op.product]! >= op.quantity ? 'ok' : 'STOCK_INSUFFICIENT';
                let actual = 'ok';
                let createdId: string | undefined;
                try {
                  createdId = (await order(buyers[op.buyer]!, productIds[op.product]!, op.quantity)).id;
                } catch (error) {
                  if (!(error instanceof AppError)) throw error;
                  actual = error.code;
                }
                expect(actual, JSON.stringify(op)).toBe(expected);
                if (createdId !== undefined) {
                  model.stock[op.product]! -= op.quantity;
                  model.orders.push({
                    id: createdId, buyer: op.buyer, product: op.product, quantity: op.quantity,
                    totalWon: BigInt(pricesWon[op.product]!) * BigInt(op.quantity), status: 'awaiting_payment', expiresAtMs: t.clock.nowMs + ORDER_PAYMENT_WINDOW_MS,
                  });
                }
                break;
              }
              case 'pay': {
                if (model.orders.length === 0) break;
                const o = model.orders[op.order % model.orders.length]!;
                // The copies race each other: a client retrying while the first attempt still runs.
                const actual = await Promise.all(Array.from({ length: op.copies }, () => outcome(t.app.internals.payments.payOrder(buyers[op.buyer]!, o.id))));
                const expected = Array.from({ length: op.copies }, () => modelPay(op.buyer, o));
                expect(actual.sort(), JSON.stringify(op)).toEqual(expected.sort());
                break;
              }
              case 'cancel': {
                if (model.orders.length === 0) break;
                const o = model.orders[op.order % model.orders.length]!;
                let expected: string;
                if (o.buyer !== op.buyer) expected = 'ORDER_NOT_FOUND';
                else {
                  expireIfDue(o);
                  expected = { awaiting_payment: 'ok', cancelled: 'ok', paid: 'ORDER_ALREADY_PAID', expired: 'ORDER_EXPIRED' }[o.status];
                  if (o.status === 'awaiting_payment') {
                    o.status = 'cancelled';
                    model.stock[o.product]! += o.quantity;
                  }
                }
                expect(await outcome(t.app.internals.orders.cancel(buyers[op.buyer]!, o.id)), JSON.stringify(op)).toBe(expected);
                break;
              }
              case 'wait':
                t.clock.advance(op.ms);
                break;
            }
          }

          // Expire whatever is due, in the system by its sweep, in the model by hand.
          while ((await t.app.internals.sweeper.runOnce()).ordersExpired > 0);
          model.orders.forEach(expireIfDue);

          const buyerWon = await Promise.all(buyers.map(balanceOf));
          const sellerWon = await Promise.all(sellers.map(balanceOf));
          expect(buyerWon).toEqual(model.buyerWon);
          expect(sellerWon).toEqual(model.sellerWon);
          // Money is conserved: what these wallets hold is exactly what was topped up into them.
          expect([...buyerWon, ...sellerWon].reduce((a, b) => a + b, 0n)).toBe(model.toppedUpWon);
          for (const won of [...buyerWon, ...sellerWon]) expect(won >= 0n).toBe(true);
          expect(await Promise.all(productIds.map(stockOf))).toEqual(model.stock);
          for (const o of model.orders) expect((await t.app.internals.orders.get(buyers[o.buyer]!, o.id)).status, o.id).toBe(o.status);
          if (model.orders.length > 0) {
            const entries = await paymentEntryCounts(model.orders.map((o) => o.id));
            for (const o of model.orders) expect(entries.get(o.id) ?? 0, o.id).toBe(o.status === 'paid' ? 1 : 0);
          }
          await expect(t.app.internals.ledger.checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
        }),
        // Fewer runs on the networked engines, whose round trips make each run slower.
        { numRuns: engineName === 'sqlite' ? 100 : 40 },
      );
    }, 300_000);
  });
});
