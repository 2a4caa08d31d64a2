/**
 * Claiming idempotency keys on every engine: one insert-if-absent decides between
 * racing requests; the stored answer, a different request, expiry, release, and the
 * takeover of a claim abandoned in progress.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { check, refusal } from '../../test/constraint-violation.js';
import { enginesUnderTest } from '../../test/helpers.js';
import { migratedDatabase } from '../../test/migrated-database.js';
import { IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS, IdempotencyRepository } from './idempotency-repository.js';
import { UsersRepository } from './users-repository.js';
import { runWriteTransaction } from './write-transaction.js';

const T0_MS = 1_767_225_600_000;
const TTL_MS = 24 * 3_600_000;
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('IdempotencyRepository on %s', (_name, engine) => {
  const database = migratedDatabase(engine, { poolSize: 8 });
  const keys = () => new IdempotencyRepository(database().db, database().engine);

  async function user(): Promise<string> {
    const id = randomUUID();
    const loginId = `idem-${id.slice(0, 8)}`;
    await database().db.transaction().execute((trx) =>
      new UsersRepository(database().db).insert(trx, {
        id, loginId, passwordHash: 'x', role: 'buyer', name: 'n', phone: '010-0000-0000', address: 'a', email: `${loginId}@example.test`, createdAtMs: T0_MS, store: null,
      }),
    );
    return id;
  }

  it('claims a new key once; the same request then finds it in progress, another request finds it reused', async () => {
    const userId = await user();
    await expect(keys().claim(userId, 'k1', HASH_A, T0_MS, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: T0_MS });
    await expect(keys().claim(userId, 'k1', HASH_A, T0_MS + 1, TTL_MS)).resolves.toEqual({ state: 'in_progress' });
    await expect(keys().claim(userId, 'k1', HASH_B, T0_MS + 1, TTL_MS)).resolves.toEqual({ state: 'reused' });
  });

  it('returns the stored answer once completed, byte for byte, and still refuses another request', async () => {
    const userId = await user();
    await keys().claim(userId, 'k2', HASH_A, T0_MS, TTL_MS);
    const body = JSON.stringify({ ok: true, text: '코코넛 ✓', big: 'x'.repeat(70_000) });
    await keys().complete(userId, 'k2', T0_MS, { status: 201, contentType: 'application/json; charset=utf-8', body });
    await expect(keys().claim(userId, 'k2', HASH_A, T0_MS + 5, TTL_MS)).resolves.toEqual({ state: 'completed', status: 201, contentType: 'application/json; charset=utf-8', body });
    await expect(keys().claim(userId, 'k2', HASH_B, T0_MS + 5, TTL_MS)).resolves.toEqual({ state: 'reused' });
  });

  it('stores an empty body (a 204) as completed', async () => {
    const userId = await user();
    await keys().claim(userId, 'k204', HASH_A, T0_MS, TTL_MS);
    await keys().complete(userId, 'k204', T0_MS, { status: 204, contentType: null, body: '' });
    await expect(keys().claim(userId, 'k204', HASH_A, T0_MS, TTL_MS)).resolves.toEqual({ state: 'completed', status: 204, contentType: null, body: '' });
  });

  it('lets a released key be claimed again, but never releases a completed one', async () => {
    const userId = await user();
    await keys().claim(userId, 'k3', HASH_A, T0_MS, TTL_MS);
    await keys().release(userId, 'k3', T0_MS);
    await expect(keys().claim(userId, 'k3', HASH_B, T0_MS, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: T0_MS });
    await keys().complete(userId, 'k3', T0_MS, { status: 200, contentType: null, body: '{}' });
    await keys().release(userId, 'k3', T0_MS);
    await expect(keys().claim(userId, 'k3', HASH_B, T0_MS, TTL_MS)).resolves.toMatchObject({ state: 'completed' });
  });

  it('completes a key inside a transaction: the answer commits with it, or rolls back with it', async () => {
    const userId = await user();
    const answer = { status: 201, contentType: 'application/json; charset=utf-8', body: '{"id":1}' };
    await keys().claim(userId, 'k4', HASH_A, T0_MS, TTL_MS);
    const undone = runWriteTransaction(database().db, database().engine, async (trx) => {
      await keys().completeWithin(trx, userId, 'k4', T0_MS, answer);
      throw new Error('the effect failed after its answer was written');
    });
    await expect(undone).rejects.toThrow('the effect failed');
    // Rolled back with the effect: still in progress, so releasing it lets the retry run.
    await expect(keys().claim(userId, 'k4', HASH_A, T0_MS, TTL_MS)).resolves.toEqual({ state: 'in_progress' });
    await runWriteTransaction(database().db, database().engine, (trx) => keys().completeWithin(trx, userId, 'k4', T0_MS, answer));
    // Committed: neither a later answer nor a release on the way out touches it.
    await keys().complete(userId, 'k4', T0_MS, { status: 500, contentType: null, body: 'no' });
    await keys().release(userId, 'k4', T0_MS);
    await expect(keys().claim(userId, 'k4', HASH_A, T0_MS, TTL_MS)).resolves.toEqual({ state: 'completed', ...answer });
  });

  it('refuses to complete inside a transaction a key that is not in progress, rolling the effect back', async () => {
    const userId = await user();
    const answer = { status: 200, contentType: null, body: '{}' };
    const attempt = (key: string) => runWriteTransaction(database().db, database().engine, (trx) => keys().completeWithin(trx, userId, key, T0_MS, answer));
    // Never claimed (or released meanwhile).
    await expect(attempt('k5')).rejects.toThrow('not in progress');
    // Completed already.
    await keys().claim(userId, 'k6', HASH_A, T0_MS, TTL_MS);
    await attempt('k6');
    await expect(attempt('k6')).rejects.toThrow('not in progress');
  });

  it('forgets a key when it expires, for a new claim and for the purge', async () => {
    const userId = await user();
    await keys().claim(userId, 'k4', HASH_A, T0_MS, TTL_MS);
    await keys().complete(userId, 'k4', T0_MS, { status: 200, contentType: null, body: '{}' });
    await expect(keys().claim(userId, 'k4', HASH_B, T0_MS + TTL_MS - 1, TTL_MS)).resolves.toEqual({ state: 'reused' });
    await expect(keys().claim(userId, 'k4', HASH_B, T0_MS + TTL_MS, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: T0_MS + TTL_MS });

    // Times long before the other tests' keys, so the purge meets only these two.
    const baseMs = T0_MS - 50 * TTL_MS;
    await keys().claim(userId, 'k5', HASH_A, baseMs, TTL_MS);
    await keys().claim(userId, 'k6', HASH_A, baseMs + 10, TTL_MS);
    expect(await keys().purgeExpired(baseMs + TTL_MS, 100)).toBe(1);
    await expect(keys().claim(userId, 'k6', HASH_B, baseMs + TTL_MS, TTL_MS)).resolves.toEqual({ state: 'reused' });
    await expect(keys().claim(userId, 'k5', HASH_A, baseMs + TTL_MS, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: baseMs + TTL_MS });
  });

  it('purges in bounded batches', async () => {
    const userId = await user();
    const baseMs = T0_MS - 100 * TTL_MS;
    for (let i = 0; i < 5; i += 1) await keys().claim(userId, `batch-${i}`, HASH_A, baseMs + i, TTL_MS);
    expect(await keys().purgeExpired(baseMs + 2 * TTL_MS, 2)).toBe(2);
    expect(await keys().purgeExpired(baseMs + 2 * TTL_MS, 10)).toBe(3);
    expect(await keys().purgeExpired(baseMs + 2 * TTL_MS, 10)).toBe(0);
  });

  it('gives a key to exactly one of twenty simultaneous claims', async () => {
    const userId = await user();
    const claims = await Promise.all(Array.from({ length: 20 }, () => keys().claim(userId, 'race', HASH_A, T0_MS, TTL_MS)));
    expect(claims.filter((c) => c.state === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.state === 'in_progress')).toHaveLength(19);
  });

  it('keeps keys per user', async () => {
    const [a, b] = [await user(), await user()];
    await keys().claim(a, 'same', HASH_A, T0_MS, TTL_MS);
    await expect(keys().claim(b, 'same', HASH_B, T0_MS, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: T0_MS });
  });

  it('lets a retry take over a claim abandoned in progress; the old claim can then neither store nor release', async () => {
    const userId = await user();
    const answer = { status: 201, contentType: 'application/json; charset=utf-8', body: '{"id":2}' };
    await keys().claim(userId, 'gone', HASH_A, T0_MS, TTL_MS);
    // Still within the bound: in progress, as before.
    await expect(keys().claim(userId, 'gone', HASH_A, T0_MS + IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS - 1, TTL_MS)).resolves.toEqual({ state: 'in_progress' });
    // Another request never takes a key over, abandoned or not.
    await expect(keys().claim(userId, 'gone', HASH_B, T0_MS + IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS, TTL_MS)).resolves.toEqual({ state: 'reused' });
    const takenAtMs = T0_MS + IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS;
    await expect(keys().claim(userId, 'gone', HASH_A, takenAtMs, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: takenAtMs });
    // The first claimant, were it still running: its effect cannot commit, its release and answer do nothing.
    await expect(runWriteTransaction(database().db, database().engine, (trx) => keys().completeWithin(trx, userId, 'gone', T0_MS, answer))).rejects.toThrow('not in progress under this claim');
    await keys().release(userId, 'gone', T0_MS);
    await keys().complete(userId, 'gone', T0_MS, { status: 500, contentType: null, body: 'old' });
    await expect(keys().claim(userId, 'gone', HASH_A, takenAtMs + 1, TTL_MS)).resolves.toEqual({ state: 'in_progress' });
    // The retry's own claim stores its answer, which every later retry gets.
    await runWriteTransaction(database().db, database().engine, (trx) => keys().completeWithin(trx, userId, 'gone', takenAtMs, answer));
    await expect(keys().claim(userId, 'gone', HASH_A, takenAtMs + 10 * IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS, TTL_MS)).resolves.toEqual({ state: 'completed', ...answer });
  });

  it('gives an abandoned claim to exactly one of twenty simultaneous retries', async () => {
    const userId = await user();
    await keys().claim(userId, 'gone-race', HASH_A, T0_MS, TTL_MS);
    const laterMs = T0_MS + 2 * IDEMPOTENCY_CLAIM_ABANDONED_AFTER_MS;
    const claims = await Promise.all(Array.from({ length: 20 }, () => keys().claim(userId, 'gone-race', HASH_A, laterMs, TTL_MS)));
    expect(claims.filter((c) => c.state === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.state === 'in_progress')).toHaveLength(19);
  });

  it('the database refuses a completed key without its answer, and an unknown state', async () => {
    const userId = await user();
    await keys().claim(userId, 'k7', HASH_A, T0_MS, TTL_MS);
    const row = () => database().db.updateTable('idempotencyKeys').where('userId', '=', userId).where('idempotencyKey', '=', 'k7');
    expect(await refusal(row().set({ state: 'completed' }).execute())).toEqual(check('idempotency_keys_response_check'));
    expect(await refusal(row().set({ state: 'done' as 'completed' }).execute())).toEqual(check('idempotency_keys_state_check'));
    expect(await refusal(row().set({ responseStatus: 200, responseBody: '{}' }).execute())).toEqual(check('idempotency_keys_response_check'));
  });
});

describe('IdempotencyRepository on a SQLite file', () => {
  const database = migratedDatabase(enginesUnderTest().find((e) => e.engine === 'sqlite')!);

  it('writes claims, answers and releases through group commit, sharing its sync, never as a commit of their own', async () => {
    const { db, engine, groupCommit } = database();
    if (!groupCommit) throw new Error('a SQLite database file commits in groups');
    const userId = randomUUID();
    await runWriteTransaction(db, engine, (trx) => new UsersRepository(db).insert(trx, {
      id: userId, loginId: `idem-g-${userId.slice(0, 8)}`, passwordHash: 'x', role: 'buyer', name: 'n', phone: '010-0000-0000', address: 'a', email: `g-${userId.slice(0, 8)}@example.test`, createdAtMs: T0_MS, store: null,
    }));
    const keys = new IdempotencyRepository(db, engine);
    const before = groupCommit.counts.transactions;
    const claims = await Promise.all(['g1', 'g2', 'g3'].map((key) => keys.claim(userId, key, HASH_A, T0_MS, TTL_MS)));
    expect(claims.map((c) => c.state)).toEqual(['claimed', 'claimed', 'claimed']);
    await keys.complete(userId, 'g1', T0_MS, { status: 200, contentType: null, body: '{}' });
    await keys.release(userId, 'g2', T0_MS);
    expect(groupCommit.counts.transactions - before).toBe(5);
    await expect(keys.claim(userId, 'g1', HASH_A, T0_MS, TTL_MS)).resolves.toMatchObject({ state: 'completed', status: 200 });
    await expect(keys.claim(userId, 'g2', HASH_A, T0_MS, TTL_MS)).resolves.toEqual({ state: 'claimed', claimedAtMs: T0_MS });
  });
});
