/**
 * The ledger-size curve's history loader, on every configured engine: it adds exactly
 * the entries asked for, every entry balances, the balances move with the postings, and
 * the server's own ledger checks still hold afterwards; it refuses a ledger with no
 * wallet, adds nothing to a ledger already that large, and makes ids the server's way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../apps/server/src/db/time-ordered-id.js';
import { enginesUnderTest, newClient, startTestApp, type TestApp } from '../../apps/server/test/helpers.js';
import { growLedger, historyId } from './ledger-history.js';

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('ledger history on %s', (_name, engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ engine });
  }, 60_000);
  afterAll(async () => t.close());

  it('refuses a ledger without wallets', async () => {
    await expect(growLedger(t.config.databaseUrl, 10)).rejects.toThrow(/no wallet/);
  });

  it('grows the ledger to the target with balanced top-ups and moves the balances with them', async () => {
    const buyer = await newClient(t, 'buyer');
    await newClient(t, 'seller');
    const growth = await growLedger(t.config.databaseUrl, 2_345);
    expect(growth).toMatchObject({ entries_before: 0, entries_after: 2_345, added: 2_345, wallets: 2, postings_sum_won: '0', balances_sum_won: '0' });

    const db = t.app.internals.database.db;
    const count = async (table: 'journalEntries' | 'postings') => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    expect(await count('journalEntries')).toBe(2_345);
    expect(await count('postings')).toBe(2 * 2_345);
    // No entry is unbalanced and none has other than two postings.
    const unbalanced = await db.selectFrom('postings').select('entryId').groupBy('entryId')
      .having((eb) => eb.or([eb(eb.fn.sum('amountWon'), '<>', 0), eb(eb.fn.countAll(), '<>', 2)])).execute();
    expect(unbalanced).toEqual([]);
    expect(await t.app.internals.ledger.checkInvariant()).toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    // Each wallet holds exactly what was posted to it.
    const wallet = await t.app.internals.ledger.walletBalanceWon(buyer.userId);
    const posted = await db.selectFrom('postings').innerJoin('ledgerAccounts', 'ledgerAccounts.id', 'postings.accountId')
      .select((eb) => eb.fn.sum<string>('postings.amountWon').as('s')).where('ledgerAccounts.ownerUserId', '=', buyer.userId).executeTakeFirstOrThrow();
    expect(wallet).toBe(BigInt(String(posted.s)));
    expect(wallet! > 0n).toBe(true);

    // The product still moves money on top of the history, and the history is older than today.
    expect((await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 10_000 })).statusCode).toBe(201);
    const newest = await db.selectFrom('journalEntries').select('createdAtMs').where('memo', '=', 'top-up').orderBy('createdAtMs', 'desc').limit(2).execute();
    expect(Number(newest[1]!.createdAtMs)).toBeLessThan(t.clock.nowMs - 86_400_000);
  });

  it('refuses more history than fits before yesterday, or than one call may add, before writing anything', async () => {
    const before = await growLedger(t.config.databaseUrl, 0);
    await expect(growLedger(t.config.databaseUrl, 1_100_000)).rejects.toThrow(/before yesterday/);
    await expect(growLedger(t.config.databaseUrl, 5_000_000)).rejects.toThrow(RangeError);
    expect((await growLedger(t.config.databaseUrl, 0)).entries_before).toBe(before.entries_before);
  });

  it('adds nothing when the ledger already holds the target', async () => {
    const growth = await growLedger(t.config.databaseUrl, 100);
    expect(growth.added).toBe(0);
    expect(growth.entries_after).toBe(growth.entries_before);
  });
});

describe('history ids', () => {
  it('have the layout and time prefix of the server’s time-ordered ids', () => {
    for (const ms of [0, 1, 65_535, 65_536, 1_765_000_000_123, 2 ** 48 - 1]) {
      const ours = historyId(ms);
      const server = timeOrderedId(ms);
      expect(ours).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(ours.slice(0, 13)).toBe(server.slice(0, 13));
    }
    expect(historyId(1_000)).not.toBe(historyId(1_000));
    expect(historyId(1_000) < historyId(1_001)).toBe(true);
  });
});
