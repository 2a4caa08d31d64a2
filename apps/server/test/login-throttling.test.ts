/**
 * Login throttling as an attacker meets it, on every engine: attempts arriving together
 * for one id, and password spraying from one address across many ids. Password
 * evaluations are counted by the hasher itself, not guessed from timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { PasswordHasher } from '../src/services/password-hasher.js';
import { GOOD_PASSWORD, buyerRegistration, enginesUnderTest, freshLoginId, startTestApp, type TestApp } from './helpers.js';

/** scrypt as in production, counting every evaluation, of a real hash or of none. */
class CountingHasher extends PasswordHasher {
  evaluations = 0;
  override async verify(password: string, stored: string): Promise<boolean> {
    this.evaluations += 1;
    return super.verify(password, stored);
  }
  override async verifyNothing(password: string): Promise<false> {
    this.evaluations += 1;
    return super.verifyNothing(password);
  }
}

let addressCounter = 0;
/** A client address no other test uses (TEST-NET-3). */
function freshAddress(): string {
  addressCounter += 1;
  return `203.0.113.${addressCounter}`;
}

function codesOf(responses: LightMyRequestResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of responses) {
    const key = `${r.statusCode} ${r.json().code ?? ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe.each(enginesUnderTest())('login throttling on $engine', (engine) => {
  let t: TestApp;
  const hasher = new CountingHasher(10);
  beforeAll(async () => {
    t = await startTestApp({ engine, passwordHasher: hasher });
  });
  afterAll(async () => t?.close());

  const login = (loginId: string, password: string, remoteAddress: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password }, remoteAddress, headers });

  async function registered(): Promise<string> {
    const reg = buyerRegistration();
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: reg });
    expect(res.statusCode).toBe(201);
    return reg.loginId;
  }

  it('evaluates at most 5 of 40 wrong passwords sent together for one id, existing or not, and refuses the rest', async () => {
    for (const loginId of [await registered(), freshLoginId('ghost')]) {
      const from = freshAddress();
      const before = hasher.evaluations;
      const answers = await Promise.all(Array.from({ length: 40 }, () => login(loginId, 'wrong password!', from)));
      expect(hasher.evaluations - before).toBe(5);
      expect(codesOf(answers)).toEqual({ '401 LOGIN_FAILED': 5, '429 LOGIN_THROTTLED': 35 });
      // Locked for the right password too, until the lock ends.
      expect((await login(loginId, GOOD_PASSWORD, freshAddress())).json().code).toBe('LOGIN_THROTTLED');
    }
  });

  it('refuses a spraying address after 20 failures across 10 ids; another address is unaffected', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => registered()));
    const sprayer = freshAddress();
    const codes: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const id of ids) codes.push((await login(id, `guess number ${round}!`, sprayer)).json().code);
    }
    expect(codes.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => 'LOGIN_FAILED'));
    expect(codes.slice(20)).toEqual(Array.from({ length: 10 }, () => 'LOGIN_ADDRESS_THROTTLED'));

    const refused = await login(ids[0]!, GOOD_PASSWORD, sprayer);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('LOGIN_ADDRESS_THROTTLED');
    // No id reached its own lock (2 failures each), so elsewhere every id still logs in.
    const elsewhere = freshAddress();
    expect((await login(ids[9]!, 'still wrong!!', elsewhere)).json().code).toBe('LOGIN_FAILED');
    for (const id of ids) expect((await login(id, GOOD_PASSWORD, elsewhere)).statusCode).toBe(200);

    t.clock.advance(15 * 60_000);
    expect((await login(ids[0]!, GOOD_PASSWORD, sprayer)).statusCode).toBe(200);
  });

  it('evaluates at most 20 of 30 failures sent together over 10 ids from one address', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, () => registered()));
    const sprayer = freshAddress();
    const before = hasher.evaluations;
    const answers = await Promise.all(ids.flatMap((id) => [1, 2, 3].map((n) => login(id, `guess number ${n}!`, sprayer))));
    expect(hasher.evaluations - before).toBe(20);
    expect(codesOf(answers)).toEqual({ '401 LOGIN_FAILED': 20, '429 LOGIN_ADDRESS_THROTTLED': 10 });
  });

  it('a success gives back only its own place: one good login does not clear a spray', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => registered()));
    const sprayer = freshAddress();
    for (const id of ids.slice(0, 19)) expect((await login(id, 'wrong password!', sprayer)).json().code).toBe('LOGIN_FAILED');
    expect((await login(ids[19]!, GOOD_PASSWORD, sprayer)).statusCode).toBe(200);
    expect((await login(ids[19]!, 'wrong password!', sprayer)).json().code).toBe('LOGIN_FAILED');
    expect((await login(ids[0]!, GOOD_PASSWORD, sprayer)).json().code).toBe('LOGIN_ADDRESS_THROTTLED');
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY says to believe it', async () => {
    const id = await registered();
    const sprayer = freshAddress();
    // Without TRUST_PROXY a forged header changes nothing: the socket's address counts.
    for (let i = 0; i < 20; i++) {
      await login(freshLoginId('spray'), 'wrong password!', sprayer, { 'x-forwarded-for': freshAddress() });
    }
    expect((await login(id, GOOD_PASSWORD, sprayer, { 'x-forwarded-for': freshAddress() })).json().code).toBe('LOGIN_ADDRESS_THROTTLED');
  });
});

describe('login throttling behind a trusted proxy', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: 'true' } });
  });
  afterAll(async () => t?.close());

  it('counts the client address the proxy reports, not the proxy’s own', async () => {
    const proxy = freshAddress();
    const sprayer = freshAddress();
    const login = (loginId: string, password: string, client: string) =>
      t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password }, remoteAddress: proxy, headers: { 'x-forwarded-for': client } });
    for (let i = 0; i < 20; i++) expect((await login(freshLoginId('spray'), 'wrong password!', sprayer)).json().code).toBe('LOGIN_FAILED');
    expect((await login(freshLoginId('spray'), 'wrong password!', sprayer)).json().code).toBe('LOGIN_ADDRESS_THROTTLED');
    expect((await login(freshLoginId('spray'), 'wrong password!', freshAddress())).json().code).toBe('LOGIN_FAILED');
  });
});
