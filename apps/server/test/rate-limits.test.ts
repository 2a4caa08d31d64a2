/**
 * Rate limits per client address (issue 10, item 5): each limited kind of route refuses
 * after its limit with a CLIENT_REQUEST_RATE_EXCEEDED problem and Retry-After; routes that
 * need a session and have no limit of their own are not limited; two apps sharing Redis
 * share each count.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { announceSkip } from './announce-skip.js';
import { buyerRegistration, startTestApp, type TestApp } from './helpers.js';

const LIMIT = 3;
const env = Object.fromEntries(
  ['LOGIN', 'REGISTRATION', 'EVIDENCE_VERIFICATION', 'CODE_ISSUING', 'CSR_SUBMISSION', 'PUBLIC'].map((kind) => [`RATE_LIMIT_${kind}_PER_MINUTE`, String(LIMIT)]),
);

let addressCounter = 0;
/** A client address no other test uses (TEST-NET-1). */
function freshAddress(): string {
  addressCounter += 1;
  return `192.0.2.${addressCounter}`;
}

function expectRateRefusal(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.json()).toMatchObject({ status: 429, code: 'CLIENT_REQUEST_RATE_EXCEEDED', type: 'urn:coconutpay:problem:CLIENT_REQUEST_RATE_EXCEEDED' });
  const retryAfterS = Number(res.headers['retry-after']);
  expect(retryAfterS).toBeGreaterThan(0);
  expect(retryAfterS).toBeLessThanOrEqual(60);
}

type Send = (app: TestApp['app'], remoteAddress: string) => Promise<LightMyRequestResponse>;

/** One route of each limited kind; the authenticated ones are counted before the session check. */
const LIMITED: Array<[string, Send]> = [
  ['login', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: 'nobody-here', password: 'wrong password!' }, remoteAddress })],
  ['login challenge', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/auth/login-challenges', payload: { loginId: 'nobody-here' }, remoteAddress })],
  ['registration', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/auth/register', payload: { ...buyerRegistration(), password: 'short' }, remoteAddress })],
  ['evidence verification', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/evidence/verify', payload: { cmsBase64: 'AAAAAAAAAAAA' }, remoteAddress })],
  ['code issuing', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/payments/requests', payload: {}, remoteAddress })],
  ['CSR submission (master)', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/certificates/master', payload: {}, remoteAddress })],
  ['CSR submission (device)', (app, remoteAddress) => app.inject({ method: 'POST', url: '/api/certificates/requests', payload: {}, remoteAddress })],
  ['public: CA chain', (app, remoteAddress) => app.inject({ method: 'GET', url: '/pki/ca.pem', remoteAddress })],
  ['public: OCSP', (app, remoteAddress) => app.inject({ method: 'POST', url: '/pki/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: Buffer.from([0x30, 0x00]), remoteAddress })],
  ['public: TSA', (app, remoteAddress) => app.inject({ method: 'POST', url: '/pki/tsa', headers: { 'content-type': 'application/timestamp-query' }, payload: Buffer.from([0x30, 0x00]), remoteAddress })],
  ['public: catalogue', (app, remoteAddress) => app.inject({ method: 'GET', url: '/api/products', remoteAddress })],
  ['public: server key', (app, remoteAddress) => app.inject({ method: 'GET', url: '/api/payments/server-key', remoteAddress })],
  ['public: health', (app, remoteAddress) => app.inject({ method: 'GET', url: '/healthz', remoteAddress })],
];

describe('rate limits in one process', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env });
  });
  afterAll(async () => t?.close());

  it.each(LIMITED)('%s: refuses after the limit, with Retry-After; another address is still served', async (_name, send) => {
    const from = freshAddress();
    for (let i = 0; i < LIMIT; i++) expect((await send(t.app, from)).statusCode).not.toBe(429);
    expectRateRefusal(await send(t.app, from));
    expect((await send(t.app, freshAddress())).statusCode).not.toBe(429);
  });

  it('counts each route apart: a spent login limit leaves registration open', async () => {
    const from = freshAddress();
    const [, login] = LIMITED[0]!;
    const [, register] = LIMITED[2]!;
    for (let i = 0; i <= LIMIT; i++) await login(t.app, from);
    expectRateRefusal(await login(t.app, from));
    expect((await register(t.app, from)).statusCode).not.toBe(429);
  });

  it('does not limit routes that need a session and have no limit of their own', async () => {
    const from = freshAddress();
    for (let i = 0; i < LIMIT * 3; i++) expect((await t.app.inject({ method: 'GET', url: '/api/me', remoteAddress: from })).json().code).toBe('AUTH_REQUIRED');
  });
});

describe('default limits', () => {
  it('allow a person and stop a script: 30 logins, 10 registrations, 10 CSRs, 30 verifications and codes, 600 other public requests a minute', () => {
    const config = loadConfig({});
    expect(config.rateLimits).toEqual({ login: 30, registration: 10, evidenceVerification: 30, codeIssuing: 30, csrSubmission: 10, public: 600 });
    expect(config.rateLimitWindowMs).toBe(60_000);
    expect(() => loadConfig({ RATE_LIMIT_LOGIN_PER_MINUTE: '0' })).toThrow(/RATE_LIMIT_LOGIN_PER_MINUTE/);
  });
});

const redisUrl = process.env.REDIS_URL;

describe('rate limits shared through Redis', () => {
  if (!redisUrl) {
    announceSkip('Redis-shared rate limits', 'REDIS_URL is not set');
    it.skip('needs REDIS_URL', () => undefined);
    return;
  }
  let a: TestApp;
  let b: TestApp['app'];
  beforeAll(async () => {
    // A prefix of this run's own: other runs sharing the Redis server keep their counts.
    a = await startTestApp({ env: { ...env, REDIS_URL: redisUrl }, configOverrides: { rateLimitRedisPrefix: `cp-test-rate-limit-${randomBytes(6).toString('hex')}:` } });
    b = await buildApp(a.config, { clock: a.clock.now, logger: false });
    await b.ready();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('two app instances share one count per address and route', async () => {
    const from = freshAddress();
    const [, login] = LIMITED[0]!;
    expect((await login(a.app, from)).statusCode).toBe(401);
    expect((await login(b, from)).statusCode).toBe(401);
    expect((await login(a.app, from)).statusCode).toBe(401);
    // The fourth request, on the instance that has seen only one, is refused.
    expectRateRefusal(await login(b, from));
    expectRateRefusal(await login(a.app, from));
    expect((await login(b, freshAddress())).statusCode).toBe(401);
  });
});
