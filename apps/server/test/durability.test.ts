/**
 * After SQLite reports an I/O failure — a COMMIT whose sync failed, here — the server stops
 * (as PostgreSQL does after a failed fsync): the fatal hook fires once, the write is not
 * answered as done, and no later statement runs either. main.ts turns the hook into an exit
 * with code 70, so a restart recovers from what is on disk. SQLite's own sync cannot be made
 * to fail from JavaScript, so the COMMIT is made to fail with the code SQLite gives a failed
 * sync (SQLITE_IOERR_FSYNC).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newClient, startTestApp, type TestApp } from './helpers.js';

describe('an I/O failure of a SQLite commit', () => {
  let t: TestApp;
  let failNextCommit = false;
  const fatal: unknown[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      build: {
        onFatal: (error) => fatal.push(error),
        sqliteFault: (statement) => {
          if (failNextCommit && /^commit\b/i.test(statement.trim())) {
            failNextCommit = false;
            throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_FSYNC' });
          }
        },
      },
    });
  });
  afterAll(async () => t.close());

  it('stops the service: the hook fires once, the write fails, and every later statement fails too', async () => {
    const buyer = await newClient(t, 'buyer');
    expect((await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 10_000 })).statusCode).toBe(201);
    expect(fatal).toEqual([]);

    failNextCommit = true;
    const failed = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 20_000 });
    expect(failed.statusCode).toBe(500);
    expect(failed.json().code).toBe('INTERNAL_ERROR');
    expect(fatal).toHaveLength(1);
    expect(String((fatal[0] as { code?: string }).code)).toBe('SQLITE_IOERR_FSYNC');

    // Even with the disk answering again, nothing runs any more: reads included.
    const later = await buyer.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 });
    expect(later.statusCode).toBe(500);
    expect((await buyer.get('/api/me/wallet')).statusCode).toBe(500);
    expect(fatal).toHaveLength(1);
  });
});
