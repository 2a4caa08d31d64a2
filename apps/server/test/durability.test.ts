/**
 * After a commit could not be synced to disk the server stops (as PostgreSQL does after a
 * failed fsync): the fatal hook fires once, the write that waited for the sync is not
 * answered as done, and no later write is either. main.ts turns the hook into an exit
 * with code 70, so a restart recovers from what is on disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClient, startTestApp, type TestApp } from './helpers.js';

describe('a failed sync of a SQLite commit', () => {
  let t: TestApp;
  let failNext = false;
  const fatal: unknown[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      build: {
        onFatal: (error) => fatal.push(error),
        walSync: (_fd, done) => (failNext ? done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : done(null)),
      },
    });
  });
  afterAll(async () => t.close());

  it('stops the service: the hook fires once, and the waiting write and every later one fail', async () => {
    const buyer = await newClient(t, 'buyer');
    expect((await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 10_000 })).statusCode).toBe(201);
    expect(fatal).toEqual([]);

    failNext = true;
    const failed = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 20_000 });
    expect(failed.statusCode).toBe(500);
    expect(failed.json().code).toBe('INTERNAL_ERROR');
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0])).toMatch(/EIO/);

    // Even with the disk answering again, nothing is answered as written any more.
    failNext = false;
    const later = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 });
    expect(later.statusCode).toBe(500);
    expect(fatal).toHaveLength(1);
  });
});
