/** Registration, login and its throttling, profile, logout, password change. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, SignedClient, buyerRegistration, freshLoginId, newClient, sellerRegistration, startTestApp, type TestApp } from './helpers.js';

describe('accounts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const register = (payload: unknown) => t.app.inject({ method: 'POST', url: '/api/auth/register', payload: payload as object });
  const login = (loginId: string, password: string) => t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password } });

  describe('register', () => {
    it('registers a buyer with a wallet and no store', async () => {
      const reg = buyerRegistration();
      const res = await register(reg);
      expect(res.statusCode).toBe(201);
      const { user } = res.json();
      expect(user).toMatchObject({ loginId: reg.loginId, role: 'buyer', name: reg.name, store: null });
      expect(JSON.stringify(res.json())).not.toMatch(/password|scrypt/);
      const client = await SignedClient.login(t, reg.loginId);
      expect((await client.get('/api/me')).json()).toMatchObject({ walletBalanceWon: 0, user: { id: user.id } });
    });

    it('registers a seller with the store profile', async () => {
      const reg = sellerRegistration();
      const res = await register(reg);
      expect(res.statusCode).toBe(201);
      expect(res.json().user.store).toEqual(reg.store);
    });

    it('refuses a seller without a store and a buyer with one', async () => {
      const { store: _s, ...noStore } = sellerRegistration();
      expect((await register(noStore)).json().code).toBe('VALIDATION_FAILED');
      expect((await register({ ...buyerRegistration(), store: sellerRegistration().store })).json().code).toBe('VALIDATION_FAILED');
    });

    it('refuses a taken login id', async () => {
      const reg = buyerRegistration();
      expect((await register(reg)).statusCode).toBe(201);
      const again = await register({ ...buyerRegistration(), loginId: reg.loginId });
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('LOGIN_ID_TAKEN');
    });

    it('enforces the password policy: at least 10 characters, not the login id', async () => {
      const short = await register({ ...buyerRegistration(), password: 'short-pw' });
      expect(short.json().code).toBe('PASSWORD_POLICY_VIOLATED');
      const id = freshLoginId('same');
      const same = await register({ ...buyerRegistration(id), password: id });
      expect(same.json().code).toBe('PASSWORD_POLICY_VIOLATED');
    });

    it('lists every invalid field with a JSON pointer', async () => {
      const res = await register({ role: 'admin', loginId: 'A', password: GOOD_PASSWORD, name: '', phone: 'x', address: 'a', email: 'not-an-email', extra: 1 });
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body.code).toBe('VALIDATION_FAILED');
      const pointers = body.errors.map((e: { pointer: string }) => e.pointer);
      for (const p of ['/body/role', '/body/loginId', '/body/name', '/body/phone', '/body/email', '/body/extra']) expect(pointers).toContain(p);
    });

    it('refuses wrong types instead of coercing them', async () => {
      const res = await register({ ...buyerRegistration(), phone: 1012345678 });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors).toContainEqual({ pointer: '/body/phone', code: 'type' });
    });

    it('refuses an admin role: only buyers and sellers register', async () => {
      const res = await register({ ...buyerRegistration(), role: 'admin' });
      expect(res.json().code).toBe('VALIDATION_FAILED');
    });
  });

  describe('login', () => {
    it('returns the public token (a JWT with kid) and the secret token', async () => {
      const reg = buyerRegistration();
      await register(reg);
      const res = await login(reg.loginId, reg.password);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.publicToken.split('.')).toHaveLength(3);
      expect(JSON.parse(Buffer.from(body.publicToken.split('.')[0], 'base64url').toString())).toMatchObject({ alg: 'HS256', kid: expect.any(String) });
      expect(Buffer.from(body.secretToken, 'base64url')).toHaveLength(32);
      expect(body.idleTimeoutMs).toBe(15 * 60_000);
      expect(body.expiresAtMs - t.clock.nowMs).toBe(12 * 3_600_000);
    });

    it('gives the same answer for a wrong password and an unknown id', async () => {
      const reg = buyerRegistration();
      await register(reg);
      const wrong = await login(reg.loginId, 'wrong password!');
      const unknown = await login(freshLoginId('ghost'), 'wrong password!');
      expect(wrong.statusCode).toBe(401);
      expect(unknown.statusCode).toBe(401);
      expect(wrong.json().code).toBe('LOGIN_FAILED');
      expect(unknown.json().code).toBe('LOGIN_FAILED');
      expect(wrong.json().title).toBe(unknown.json().title);
    });

    it('locks an id for 15 minutes after 5 consecutive failures, existing or not', async () => {
      const reg = buyerRegistration();
      await register(reg);
      const ghost = freshLoginId('ghost');
      for (const id of [reg.loginId, ghost]) {
        for (let i = 0; i < 5; i++) expect((await login(id, 'wrong password!')).json().code).toBe('LOGIN_FAILED');
        const locked = await login(id, id === reg.loginId ? reg.password : 'anything at all');
        expect(locked.statusCode).toBe(429);
        expect(locked.json().code).toBe('LOGIN_THROTTLED');
      }
      t.clock.advance(15 * 60_000 + 1);
      expect((await login(reg.loginId, reg.password)).statusCode).toBe(200);
    });

    it('a success resets the failure count', async () => {
      const reg = buyerRegistration();
      await register(reg);
      for (let i = 0; i < 4; i++) await login(reg.loginId, 'wrong password!');
      expect((await login(reg.loginId, reg.password)).statusCode).toBe(200);
      for (let i = 0; i < 4; i++) await login(reg.loginId, 'wrong password!');
      expect((await login(reg.loginId, reg.password)).statusCode).toBe(200);
    });
  });

  describe('my page and sessions', () => {
    it('shows my profile with my wallet balance, never someone else’s', async () => {
      const a = await newClient(t, 'buyer');
      const b = await newClient(t, 'seller');
      const me = (await a.get('/api/me')).json();
      expect(me.user.id).toBe(a.userId);
      expect(me.walletBalanceWon).toBe(0);
      expect((await b.get('/api/me')).json().user.store).not.toBeNull();
    });

    it('logout revokes the session on the server', async () => {
      const c = await newClient(t, 'buyer');
      expect((await c.request('POST', '/api/auth/logout')).statusCode).toBe(204);
      expect((await c.get('/api/me')).json().code).toBe('SESSION_REVOKED');
    });

    it('changing the password keeps this session, revokes the others, and the new password works', async () => {
      const reg = buyerRegistration();
      await register(reg);
      const here = await SignedClient.login(t, reg.loginId);
      const elsewhere = await SignedClient.login(t, reg.loginId);
      const newPassword = 'a brand new passphrase';
      const res = await here.request('POST', '/api/me/password', { currentPassword: reg.password, newPassword });
      expect(res.statusCode).toBe(204);
      expect((await here.get('/api/me')).statusCode).toBe(200);
      expect((await elsewhere.get('/api/me')).json().code).toBe('SESSION_REVOKED');
      expect((await login(reg.loginId, reg.password)).json().code).toBe('LOGIN_FAILED');
      expect((await login(reg.loginId, newPassword)).statusCode).toBe(200);
    });

    it('refuses a wrong current password and a new password against the policy', async () => {
      const reg = buyerRegistration();
      await register(reg);
      const c = await SignedClient.login(t, reg.loginId);
      expect((await c.request('POST', '/api/me/password', { currentPassword: 'not the password', newPassword: 'another good one' })).json().code).toBe('CURRENT_PASSWORD_WRONG');
      expect((await c.request('POST', '/api/me/password', { currentPassword: reg.password, newPassword: 'short' })).json().code).toBe('PASSWORD_POLICY_VIOLATED');
      expect((await c.request('POST', '/api/me/password', { currentPassword: reg.password, newPassword: reg.loginId })).json().code).toBe('PASSWORD_POLICY_VIOLATED');
    });
  });
});
