/**
 * Smoke test of the benchmark's load generator (not a timed test): against a real
 * server on loopback it sets up a seller and two buyers, pays once per certificate with
 * the code, then runs complete payments for a moment — no errors, every payment paid
 * exactly once, every order with an idempotency key as the web app sends it. Catches a
 * protocol change the benchmark's client has not followed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../apps/server/test/helpers.js';
import { LoadGenerator } from './lib/load-generator.js';
import type { LoadMessage, RunResult, SetupResult } from './lib/messages.js';

describe('benchmark load generator', () => {
  let t: TestApp;
  const messages: LoadMessage[] = [];
  const generator = new LoadGenerator((message) => messages.push(message));

  // Starting the app (migrations, keys, the CA) takes seconds on a busy machine.
  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
  }, 60_000);
  afterAll(async () => {
    generator.close();
    await t?.close();
  });

  it('sets up, pays with the code once per certificate, then pays without errors', async () => {
    const address = t.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no TCP address');
    await generator.setup({ type: 'setup', port: address.port, databaseUrl: t.config.databaseUrl, dataDir: t.config.dataDir, sellers: 1, productsPerSeller: 2, buyers: 2, topUpWon: 5_000_000 });
    const setup = messages.find((m): m is SetupResult => m.type === 'setup-done')!;
    expect(setup.codePath.payments).toBe(2);

    await generator.run({ type: 'run', scenario: 'payments', concurrency: 2, warmupMs: 0, measureMs: 500 });
    const run = messages.find((m): m is RunResult => m.type === 'result')!;
    expect(run.errorSamples).toEqual([]);
    expect(run.completed).toBeGreaterThan(0);

    // Every payment moved money once: the paid orders and the payment entries agree.
    const db = t.app.internals.database.db;
    const paid = await db.selectFrom('orders').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'paid').executeTakeFirstOrThrow();
    const entries = await db.selectFrom('journalEntries').select((eb) => eb.fn.countAll<number>().as('n')).where('kind', '=', 'payment').executeTakeFirstOrThrow();
    expect(Number(paid.n)).toBeGreaterThanOrEqual(run.completed + 2);
    expect(Number(entries.n)).toBe(Number(paid.n));
    // Every order came with an Idempotency-Key, as the web app sends it, and its answer was stored.
    const orders = await db.selectFrom('orders').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const keys = await db.selectFrom('idempotencyKeys').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'completed').where('responseStatus', '=', 201).executeTakeFirstOrThrow();
    expect(Number(keys.n)).toBe(Number(orders.n));
  });
});
