/**
 * The operators' API on every engine (docs/admin.md): the first operator from the command
 * line's one-time password, the operator's login (certificate login, then the account
 * password again), every admin route refused to buyers, sellers, logged-out clients and
 * half-logged-in operators, a locked user who can neither log in nor pay, forced logout,
 * revocation with an RFC 5280 reason, the shorter idle timeout, and each action audited.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditExport, verifyAuditChain } from '@coconutpay/core/audit';
import { enginesUnderTest, GOOD_PASSWORD, newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';
import { certificateLogin, clientOf } from './operator-client.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand, rootDer, sealedRequest } from './payment-client.js';

const OPERATOR_PASSWORD = 'operator password 2026';
const SOME_ID = '00000000-0000-4000-8000-000000000000';

/** Every admin route with a body it accepts: each must refuse whoever is not a confirmed operator. */
const ADMIN_ROUTES: [string, string, unknown?][] = [
  ['POST', '/admin/api/session/confirm', { password: 'whatever it is' }],
  ['GET', '/admin/api/users'],
  ['GET', `/admin/api/users/${SOME_ID}`],
  ['POST', `/admin/api/users/${SOME_ID}/lock`, { reason: 'test' }],
  ['POST', `/admin/api/users/${SOME_ID}/unlock`, { reason: 'test' }],
  ['POST', `/admin/api/users/${SOME_ID}/logout`, { reason: 'test' }],
  ['POST', `/admin/api/certificates/${SOME_ID}/revoke`, { reason: 'keyCompromise' }],
  ['GET', '/admin/api/audit'],
  ['GET', '/admin/api/audit/export'],
  ['GET', '/admin/api/dashboard'],
  ['GET', '/admin/api/policies'],
  ['PUT', '/admin/api/policies', { rules: [{ priority: 1, rule: 'default', description: 'all', certificateKind: null, minAmountWon: null, firstPaymentOfCertificate: null, requireCode: true, enabled: true }], reason: 'test' }],
  ['POST', '/admin/api/policies/preview', { amountWon: 1000, certificateKind: 'master', firstPayment: false }],
  ['POST', '/admin/api/policies/rollback', { version: 1, reason: 'test' }],
];

function expectRefused(res: { statusCode: number; json(): { code?: string } }, code: string, what: string): void {
  expect(res.json().code, what).toBe(code);
  expect([401, 403], what).toContain(res.statusCode);
}

for (const engine of enginesUnderTest()) {
  describe(`admin API on ${engine.engine}`, () => {
    let t: TestApp;
    let operator: SignedClient;
    let operatorLoginId: string;
    /** The operator logged in with password only (no certificate). */
    let passwordOnly: SignedClient;
    /** The operator after certificate login, before the password confirmation. */
    let unconfirmed: SignedClient;

    beforeAll(async () => {
      t = await startTestApp({ engine });
      operatorLoginId = `operator${engine.engine}`;
      const { oneTimePassword } = await t.app.internals.accounts.createAdmin(operatorLoginId);
      expect(oneTimePassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
      // The one-time password logs in, but no admin route answers until it is changed.
      const first = await SignedClient.login(t, operatorLoginId, oneTimePassword);
      const holder = await buyerWithCertificate(t, first);
      const early = await certificateLogin(t, holder, operatorLoginId);
      expect(early.statusCode, early.body).toBe(200);
      const earlyClient = await clientOf(t, early.json());
      expect((await earlyClient.request('POST', '/admin/api/session/confirm', { password: oneTimePassword })).statusCode).toBe(204);
      expectRefused(await earlyClient.get('/admin/api/users'), 'ADMIN_PASSWORD_CHANGE_REQUIRED', 'one-time password unchanged');
      expect((await first.request('POST', '/api/me/password', { currentPassword: oneTimePassword, newPassword: OPERATOR_PASSWORD })).statusCode).toBe(204);

      passwordOnly = await SignedClient.login(t, operatorLoginId, OPERATOR_PASSWORD);
      const session = await certificateLogin(t, { ...holder, client: passwordOnly }, operatorLoginId);
      expect(session.statusCode, session.body).toBe(200);
      expect(session.json().idleTimeoutMs).toBe(5 * 60_000);
      unconfirmed = await clientOf(t, session.json());
      const again = await certificateLogin(t, { ...holder, client: passwordOnly }, operatorLoginId);
      operator = await clientOf(t, again.json());
      expectRefused(await operator.request('POST', '/admin/api/session/confirm', { password: 'not the password' }), 'CURRENT_PASSWORD_WRONG', 'wrong confirmation');
      expect((await operator.request('POST', '/admin/api/session/confirm', { password: OPERATOR_PASSWORD })).statusCode).toBe(204);
    });
    afterAll(async () => t.close());

    it('refuses every admin route to logged-out clients, buyers, sellers and operators not fully logged in', async () => {
      const buyer = await newClient(t, 'buyer');
      const seller = await newClient(t, 'seller');
      for (const [method, url, body] of ADMIN_ROUTES) {
        const anonymous = await t.app.inject({ method: method as 'GET' | 'POST' | 'PUT', url, ...(body === undefined ? {} : { payload: body as object }) });
        expectRefused(anonymous, 'AUTH_REQUIRED', `${method} ${url} logged out`);
        expectRefused(await buyer.request(method, url, body), 'ADMIN_ONLY', `${method} ${url} as a buyer`);
        expectRefused(await seller.request(method, url, body), 'ADMIN_ONLY', `${method} ${url} as a seller`);
        expectRefused(await passwordOnly.request(method, url, body), 'ADMIN_CERTIFICATE_REQUIRED', `${method} ${url} without a certificate`);
        if (url !== '/admin/api/session/confirm') expectRefused(await unconfirmed.request(method, url, body), 'ADMIN_PASSWORD_CONFIRMATION_REQUIRED', `${method} ${url} unconfirmed`);
      }
      // The confirmed operator passes the same gate (a missing user is what it finds).
      expect((await operator.get(`/admin/api/users/${SOME_ID}`)).json().code).toBe('USER_NOT_FOUND');
    });

    it('lists and searches users and shows one with certificates and recent logins', async () => {
      const buyer = await buyerWithCertificate(t);
      const loginId = (await buyer.client.get('/api/me')).json().user.loginId as string;
      await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password: 'a wrong password' } });
      const found = await operator.get(`/admin/api/users?query=${loginId.slice(0, -2)}&role=buyer`);
      expect(found.statusCode, found.body).toBe(200);
      expect(found.json().items.map((u: { loginId: string }) => u.loginId)).toContain(loginId);
      // A LIKE wildcard in the query is taken literally.
      expect((await operator.get('/admin/api/users?query=%25')).json().items).toEqual([]);
      const detail = (await operator.get(`/admin/api/users/${buyer.client.userId}`)).json();
      expect(detail.certificates.map((c: { id: string }) => c.id)).toEqual([buyer.certificateId]);
      expect(detail.recentLogins.map((e: { kind: string }) => e.kind)).toEqual(['login.failed', 'login.succeeded']);
      expect(detail.control.lockedAtMs).toBeNull();
    });

    it('a locked user can neither log in nor pay; unlocked, logs in again; each step audited', async () => {
      const buyer = await buyerWithCertificate(t);
      const loginId = (await buyer.client.get('/api/me')).json().user.loginId as string;
      expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
      const seller = await newClient(t, 'seller');
      const product = (await seller.request('POST', '/api/seller/products', { name: '배', category: 'food', description: '', priceWon: 9_000, stock: 10 })).json().id;
      const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId: product, quantity: 1 })).json();
      await requestCommand(t, buyer, order.id);

      const locked = await operator.request('POST', `/admin/api/users/${buyer.client.userId}/lock`, { reason: 'reported stolen phone' });
      expect(locked.statusCode, locked.body).toBe(200);
      expect(locked.json().sessionsRevoked).toBeGreaterThanOrEqual(1);
      // Its open session is over: no payment from it.
      const { sealed } = await sealedRequest(t, buyer, order.id);
      expect((await buyer.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' })).json().code).toBe('SESSION_REVOKED');
      // No new session: the right password meets the lock; a wrong one learns nothing of it.
      const refused = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password: GOOD_PASSWORD } });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'ACCOUNT_LOCKED', detail: expect.stringContaining('reported stolen phone') });
      expect((await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password: 'a wrong password' } })).json().code).toBe('LOGIN_FAILED');
      const listed = (await operator.get(`/admin/api/users?query=${loginId}`)).json().items[0];
      expect(listed).toMatchObject({ loginId, lockReason: 'reported stolen phone' });

      expect((await operator.request('POST', `/admin/api/users/${buyer.client.userId}/unlock`, { reason: 'phone found' })).statusCode).toBe(204);
      const back = await SignedClient.login(t, loginId);
      const opened = await requestCommand(t, { ...buyer, client: back }, order.id);
      expect(opened.comId).toBeTruthy();

      const kinds = (await t.app.internals.audit.list({ subject: buyer.client.userId })).map((e) => e.kind);
      expect(kinds).toEqual(['admin.user-locked', 'admin.user-unlocked']);
      const lockEntry = (await t.app.internals.audit.list({ kind: 'admin.user-locked', subject: buyer.client.userId }))[0]!;
      expect(lockEntry).toMatchObject({ actor: operator.userId, detail: { reason: 'reported stolen phone' } });
      expect((await t.app.internals.audit.list({ subject: loginId, kind: 'login.failed' })).map((e) => e.detail.code)).toEqual(['ACCOUNT_LOCKED', 'LOGIN_FAILED']);
    });

    it('forces a logout, and revokes a certificate with an RFC 5280 reason', async () => {
      const buyer = await buyerWithCertificate(t);
      const out = await operator.request('POST', `/admin/api/users/${buyer.client.userId}/logout`, { reason: 'suspicious sessions' });
      expect(out.json().sessionsRevoked).toBe(1);
      expect((await buyer.client.get('/api/me')).json().code).toBe('SESSION_REVOKED');
      // The account itself is not locked: it logs in again.
      const loginId = (await t.app.internals.audit.list({ kind: 'admin.sessions-revoked', subject: buyer.client.userId }))[0]!.detail.loginId as string;
      await SignedClient.login(t, loginId);

      expect((await operator.request('POST', `/admin/api/certificates/${buyer.certificateId}/revoke`, { reason: 'privilegeWithdrawn' })).json().code).toBe('VALIDATION_FAILED');
      const revoked = await operator.request('POST', `/admin/api/certificates/${buyer.certificateId}/revoke`, { reason: 'keyCompromise', note: 'ticket 42' });
      expect(revoked.statusCode, revoked.body).toBe(200);
      expect(revoked.json()).toMatchObject({ status: 'revoked', revocationReason: 'keyCompromise' });
      expect((await operator.request('POST', `/admin/api/certificates/${buyer.certificateId}/revoke`, { reason: 'keyCompromise' })).json().code).toBe('CERTIFICATE_REVOKED');
      const entry = (await t.app.internals.audit.list({ kind: 'certificate.revoked', subject: buyer.certificateId }))[0]!;
      expect(entry).toMatchObject({ actor: operator.userId, detail: { by: 'operator', reason: 'keyCompromise', note: 'ticket 42' } });
      // An operator cannot lock themself out of the console.
      expect((await operator.request('POST', `/admin/api/users/${operator.userId}/lock`, { reason: 'oops' })).json().code).toBe('VALIDATION_FAILED');
    });

    it('lists the audit log newest first, filtered', async () => {
      const res = await operator.get('/admin/api/audit?kind=admin.session-confirmed&limit=5');
      expect(res.statusCode, res.body).toBe(200);
      const items = res.json().items as { sequence: number; actor: string; kind: string }[];
      expect(items.length).toBeGreaterThanOrEqual(2);
      expect(items.every((e) => e.kind === 'admin.session-confirmed')).toBe(true);
      expect(items[0]!.sequence).toBeGreaterThan(items[1]!.sequence);
      const failed = (await operator.get('/admin/api/audit?kind=admin.confirmation-failed')).json().items;
      expect(failed).toHaveLength(1);
      // The whole log, as the console exports it, verifies with its signed head.
      await t.app.internals.audit.signHead();
      const exported = await operator.get('/admin/api/audit/export?limit=5000');
      expect(exported.statusCode, exported.body).toBe(200);
      const { entries, heads } = parseAuditExport(exported.body);
      expect(entries[0]!.sequence).toBe(1);
      expect(heads.length).toBeGreaterThanOrEqual(1);
      expect(await verifyAuditChain(entries, heads, { trustAnchors: [rootDer(t)] })).toMatchObject({ valid: true, headSignaturesChecked: true });
      expect((await t.app.internals.audit.list({ kind: 'audit.exported' })).at(-1)).toMatchObject({ actor: operator.userId, detail: { by: 'operator' } });
    });

    it('a policy change decides the next payment and is recorded with its version; rollback restores the earlier behaviour', async () => {
      const { db } = t.app.internals.database;
      const start = (await operator.get('/admin/api/policies')).json();
      expect(start.current.version).toBe(1);
      const preview = await operator.request('POST', '/admin/api/policies/preview', { amountWon: 300_000, certificateKind: 'additional', firstPayment: false });
      expect(preview.json()).toMatchObject({ rule: 'amount-at-least-50000', requireCode: true, factors: ['password', 'device-key', 'code'] });

      const seller = await newClient(t, 'seller');
      const price = async (priceWon: number) => (await seller.request('POST', '/api/seller/products', { name: `item ${priceWon}`, category: 'food', description: '', priceWon, stock: 50 })).json().id as string;
      const [small, hundredThousand] = [await price(5_000), await price(100_000)];
      const buyer = await buyerWithCertificate(t);
      expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 1_000_000 })).statusCode).toBe(201);
      const orderOf = async (productId: string) => (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json().id as string;
      // A first payment, so the first-payment rule stops applying to this certificate.
      const first = await requestCommand(t, buyer, await orderOf(small));
      const paid = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, first, { code: await codeOf(t, first.comId) }));
      expect(paid.statusCode, paid.body).toBe(200);
      const versionOf = async (comId: string) => Number((await db.selectFrom('paymentCommands').select('policyVersion').where('comId', '=', comId).executeTakeFirstOrThrow()).policyVersion);

      const before = await requestCommand(t, buyer, await orderOf(hundredThousand));
      expect(before.codeRequired).toBe(true);
      expect(await versionOf(before.comId)).toBe(1);

      const raised = start.current.rules.map((r: Record<string, unknown>) => {
        const { id: _id, ...rule } = r;
        return r.rule === 'amount-at-least-50000' ? { ...rule, rule: 'amount-at-least-500000', description: 'Payments of 500,000 won or more ask for the code', minAmountWon: 500_000 } : rule;
      });
      // Invalid versions are refused before anything is written.
      const noCatchAll = raised.filter((r: { rule: string }) => r.rule !== 'default');
      expect((await operator.request('PUT', '/admin/api/policies', { rules: noCatchAll, reason: 'broken' })).json().code).toBe('VALIDATION_FAILED');
      expect((await operator.request('PUT', '/admin/api/policies', { rules: [...raised, raised[0]], reason: 'twice' })).json().code).toBe('VALIDATION_FAILED');
      const candidate = await operator.request('POST', '/admin/api/policies/preview', { amountWon: 100_000, certificateKind: 'master', firstPayment: false, rules: raised });
      expect(candidate.json()).toMatchObject({ rule: 'default', requireCode: false, factors: ['password', 'device-key'] });

      const published = await operator.request('PUT', '/admin/api/policies', { rules: raised, reason: 'fewer codes for mid-size payments' });
      expect(published.statusCode, published.body).toBe(200);
      expect(published.json()).toMatchObject({ version: 2, author: operator.userId, reason: 'fewer codes for mid-size payments', restoredFrom: null });
      const after = await requestCommand(t, buyer, await orderOf(hundredThousand));
      expect(after.codeRequired).toBe(false);
      expect(after.command.verification.policyRule).toBe('default');
      expect(await versionOf(after.comId)).toBe(2);

      expect((await operator.request('POST', '/admin/api/policies/rollback', { version: 99, reason: 'no such' })).json().code).toBe('POLICY_VERSION_NOT_FOUND');
      const rolledBack = await operator.request('POST', '/admin/api/policies/rollback', { version: 1, reason: 'too many disputes' });
      expect(rolledBack.json()).toMatchObject({ version: 3, restoredFrom: 1 });
      const again = await requestCommand(t, buyer, await orderOf(hundredThousand));
      expect(again.codeRequired).toBe(true);
      expect(await versionOf(again.comId)).toBe(3);

      const history = (await operator.get('/admin/api/policies')).json();
      expect(history.versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
      expect((await t.app.internals.audit.list({ kinds: ['policy.changed', 'policy.rolled-back'] })).map((e) => [e.kind, e.detail.version])).toEqual([['policy.changed', 2], ['policy.rolled-back', 3]]);
    });

    it('shows live figures: payments and amount per hour, active sessions, database latency and event-loop lag', async () => {
      await t.app.internals.audit.settled();
      const res = await operator.get('/admin/api/dashboard');
      expect(res.statusCode, res.body).toBe(200);
      const figures = res.json();
      expect(figures.paymentsPerHour).toHaveLength(24);
      // This app saw one authorized payment so far: the 5,000 won first payment of the policy test.
      const hours = figures.paymentsPerHour as { count: number; amountWon: number }[];
      expect(hours.reduce((n, h) => n + h.count, 0)).toBe(1);
      expect(hours.reduce((n, h) => n + h.amountWon, 0)).toBe(5_000);
      expect(hours.at(-1)!.count).toBe(1);
      expect(figures.activeSessions).toBeGreaterThanOrEqual(2);
      expect(figures.databaseLatencyMs).toBeGreaterThanOrEqual(0);
      expect(typeof figures.eventLoopLagMs).toBe('number');
    });

    it("an operator's session idles out after 5 minutes, a buyer's does not", async () => {
      const buyer = await newClient(t, 'buyer');
      expect((await operator.get('/admin/api/audit?limit=1')).statusCode).toBe(200);
      expect((await buyer.get('/api/me')).statusCode).toBe(200);
      t.clock.advance(5 * 60_000 + 1_000);
      expect((await operator.get('/admin/api/audit?limit=1')).json().code).toBe('SESSION_IDLE_TIMEOUT');
      expect((await buyer.get('/api/me')).statusCode).toBe(200);
    });
  });
}

describe('npm run admin -- create', () => {
  it('creates an operator in the database the environment names and prints its one-time password once', async () => {
    const t = await startTestApp();
    try {
      const command = fileURLToPath(new URL('../src/commands/admin.ts', import.meta.url));
      const env = { ...process.env, DATA_DIR: t.config.dataDir, DATABASE_URL: t.config.databaseUrl, DEMO: 'off', PASSWORD_HASH_LOG_N: '10', LOG_LEVEL: 'silent' };
      const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', command, 'create', 'firstop'], { encoding: 'utf8', env });
      expect(run.status, run.stderr).toBe(0);
      const password = /one-time password: (\S+)/.exec(run.stdout)?.[1];
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect((await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: 'firstop', password } })).json().user.role).toBe('admin');
      // The same id again is refused, and nothing is printed as a password.
      const again = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', command, 'create', 'firstop'], { encoding: 'utf8', env });
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('LOGIN_ID_TAKEN');
      expect(again.stdout).not.toContain('one-time password');
      expect((await t.app.internals.audit.list({ kind: 'admin.created' })).length).toBe(1);
    } finally {
      await t.close();
    }
  });
});
