/**
 * Sessions are checked from each process's memory (services/session-cache.ts), so a
 * revocation must reach every process: here two real server processes share one
 * PostgreSQL database and one Redis, a session is used on B until B serves it from its
 * cache, and it is revoked on A (logout, a password change ending the other sessions, an
 * operator's forced logout is the same path as the latter). B must refuse it within one
 * second, measured from the moment A answered the revocation. Needs POSTGRES_URL and
 * REDIS_URL.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceSkip } from './announce-skip.js';
import { buyerRegistration, GOOD_PASSWORD } from './helpers.js';
import { HttpSession, publicRequest, START_TIMEOUT_MS, twoServersOnPostgres, type ServerProcess } from './server-process.js';

/** The promise: every process refuses a revoked session within this long. */
const REFUSED_WITHIN_MS = 1_000;

const postgresUrl = process.env.POSTGRES_URL;
const redisUrl = process.env.REDIS_URL;
const metricsToken = randomBytes(24).toString('hex');

/** How many session lookups `server` has answered from its cache so far. */
async function cacheHits(server: ServerProcess): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  expect(res.status).toBe(200);
  const match = /^coconutpay_session_cache_lookups\{result="hit"\} (\d+)/m.exec(await res.text());
  expect(match, 'the session cache reports its hits').not.toBeNull();
  return Number(match![1]);
}

/** Sends `GET /api/me` as `session` until it is refused; answers the refusal and how long it took. */
async function untilRefused(session: HttpSession, sinceMs: number): Promise<{ status: number; code: string; afterMs: number }> {
  for (;;) {
    const res = await session.get('/api/me');
    const afterMs = performance.now() - sinceMs;
    if (res.status !== 200) return { status: res.status, code: res.body?.code, afterMs };
    if (afterMs > 5_000) return { status: res.status, code: 'still accepted', afterMs };
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a revoked session is refused by every process within a second (PostgreSQL + Redis)', () => {
  if (!postgresUrl || !redisUrl) {
    announceSkip('session revocation across two server processes', `${[!postgresUrl && 'POSTGRES_URL', !redisUrl && 'REDIS_URL'].filter(Boolean).join(' and ')} not set`);
    it.skip('needs POSTGRES_URL and REDIS_URL', () => undefined);
    return;
  }

  const pair = twoServersOnPostgres(postgresUrl, redisUrl, { METRICS_TOKEN: metricsToken });
  const servers = pair.servers;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    ({ a, b } = await pair.start());
  }, 2 * START_TIMEOUT_MS + 10_000);

  afterAll(() => pair.stop(), 30_000);

  it('logout on A, and a password change on A ending the other sessions: B refuses each within a second', async ({ onTestFailed }) => {
    onTestFailed(() => {
      for (const s of servers) process.stderr.write(`\n--- server ${s.name} output ---\n${s.output()}\n`);
    });
    const buyer = buyerRegistration();
    expect((await publicRequest(a.url, 'POST', '/api/auth/register', buyer)).status).toBe(201);
    const first = await HttpSession.login(a.url, buyer.loginId);
    const second = await HttpSession.login(a.url, buyer.loginId);
    const firstOnB = first.at(b.url);
    const secondOnB = second.at(b.url);

    // B learns both sessions and then answers them from memory: the cache is really in use.
    const hitsBefore = await cacheHits(b);
    for (let i = 0; i < 5; i++) {
      expect((await firstOnB.get('/api/me')).status).toBe(200);
      expect((await secondOnB.get('/api/me')).status).toBe(200);
    }
    expect(await cacheHits(b)).toBeGreaterThanOrEqual(hitsBefore + 8);

    // Logout on A.
    const logoutStarted = performance.now();
    expect((await first.request('POST', '/api/auth/logout', {})).status).toBeLessThan(300);
    const afterLogout = await untilRefused(firstOnB, logoutStarted);
    expect(afterLogout).toMatchObject({ status: 401, code: 'SESSION_REVOKED' });
    expect(afterLogout.afterMs).toBeLessThan(REFUSED_WITHIN_MS);
    // The other session is untouched by it.
    expect((await secondOnB.get('/api/me')).status).toBe(200);

    // A third session changes the password on A: the second one ends everywhere.
    const third = await HttpSession.login(a.url, buyer.loginId);
    const changeStarted = performance.now();
    const change = await third.request('POST', '/api/me/password', { currentPassword: GOOD_PASSWORD, newPassword: `${GOOD_PASSWORD}-2` });
    expect(change.status, change.text).toBe(204);
    const afterChange = await untilRefused(secondOnB, changeStarted);
    expect(afterChange).toMatchObject({ status: 401, code: 'SESSION_REVOKED' });
    expect(afterChange.afterMs).toBeLessThan(REFUSED_WITHIN_MS);
    expect((await third.at(b.url).get('/api/me')).status).toBe(200);
  }, 60_000);
});
