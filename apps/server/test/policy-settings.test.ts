/**
 * The settings of an authorization-policy version on every engine (docs/admin.md,
 * "Authorization policies"): attempts before lock, lock duration, code validity and the
 * daily payment limit per user, and the rule condition on a certificate's age. Each is
 * validated, decides the next payment, is recorded with the version the payment was
 * decided under, and comes back with a rollback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_TTL_MS } from '@coconutpay/core/payment';
import { koreanDayStartMs } from '@coconutpay/core/orders';
import { DEFAULT_POLICY_SETTINGS } from '../src/db/payment-auth-repository.js';
import { validatedSettings } from '../src/services/payment-policies.js';
import { buyerRegistration, enginesUnderTest, newClient, SignedClient, startTestApp, TestClock, type TestApp } from './helpers.js';
import { newOperator, type Operator } from './operator-client.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand, sealedRequest, type Holder, type OpenedCommand } from './payment-client.js';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** Settings as JSON (the API's shape). */
interface Settings {
  dailyLimitWon: number | null;
  failedAttemptsMax: number;
  lockDurationMs: number;
  codeValidityMs: number;
}
const SHIPPED: Settings = { ...DEFAULT_POLICY_SETTINGS, dailyLimitWon: null };

interface RuleJson {
  priority: number;
  rule: string;
  description: string;
  certificateKind: 'master' | 'additional' | null;
  minAmountWon: number | null;
  firstPaymentOfCertificate: boolean | null;
  certificateIssuedWithinDays?: number | null;
  requireCode: boolean;
  enabled: boolean;
}

describe('validatedSettings (the service behind the schema)', () => {
  it('takes each setting inside its range and refuses it outside', () => {
    expect(validatedSettings({ ...SHIPPED, dailyLimitWon: 1_000 })).toMatchObject({ dailyLimitWon: 1_000n });
    expect(validatedSettings({ dailyLimitWon: null, failedAttemptsMax: 20, lockDurationMs: DAY_MS, codeValidityMs: 30_000 })).toMatchObject({ failedAttemptsMax: 20 });
    for (const bad of [
      { dailyLimitWon: 999 }, { dailyLimitWon: 1_000_000_000_001 }, { dailyLimitWon: 1.5e3 + 0.5 },
      { failedAttemptsMax: 2 }, { failedAttemptsMax: 21 }, { failedAttemptsMax: 3.5 },
      { lockDurationMs: MINUTE_MS - 1 }, { lockDurationMs: DAY_MS + 1 },
      { codeValidityMs: 29_999 }, { codeValidityMs: COMMAND_TTL_MS + 1 },
    ]) {
      expect(() => validatedSettings({ ...SHIPPED, ...bad }), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });
});

for (const engine of enginesUnderTest()) {
  describe(`policy settings on ${engine.engine}`, () => {
    let t: TestApp;
    let operator: Operator;
    let seller: SignedClient;
    let shippedRules: RuleJson[];
    const products: Record<number, string> = {};

    beforeAll(async () => {
      // The day starts in the evening of a Seoul day, so the daily limit's test can cross a
      // Seoul midnight (15:00 UTC) without crossing a UTC one.
      t = await startTestApp({ engine, clock: new TestClock(koreanDayStartMs(Date.now()) - 3 * 3_600_000) });
      operator = await newOperator(t, `policyop${engine.engine}`);
      seller = await newClient(t, 'seller');
      for (const priceWon of [5_000, 30_000, 40_000, 50_000, 60_000, 150_000]) {
        const res = await seller.request('POST', '/api/seller/products', { name: `item ${priceWon}`, category: 'food', description: '', priceWon, stock: 1000 });
        expect(res.statusCode, res.body).toBe(201);
        products[priceWon] = res.json().id;
      }
      shippedRules = (await operator.client.get('/admin/api/policies')).json().current.rules.map(({ id: _id, ...rule }: RuleJson & { id: string }) => rule);
    });
    afterAll(async () => t?.close());

    /** Publishes a version as the console does; answers its number. */
    async function publish(settings: Settings, rules: RuleJson[] = shippedRules, reason = 'test'): Promise<number> {
      const res = await operator.client.request('PUT', '/admin/api/policies', { rules, settings, reason });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().settings).toEqual(settings);
      return res.json().version;
    }

    /** A buyer with a master certificate and 1,000,000 won, who can log in again after the clock moved. */
    async function buyer(): Promise<Holder & { relogin(): Promise<void> }> {
      const registration = buyerRegistration();
      expect((await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration })).statusCode).toBe(201);
      const holder = await buyerWithCertificate(t, await SignedClient.login(t, registration.loginId));
      expect((await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 1_000_000 })).statusCode).toBe(201);
      return Object.assign(holder, {
        async relogin() {
          holder.client = await SignedClient.login(t, registration.loginId);
        },
      });
    }

    async function order(holder: Holder, priceWon: number): Promise<string> {
      const res = await holder.client.request('POST', '/api/orders', { source: 'product', productId: products[priceWon], quantity: 1 });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id;
    }

    /** Signs the command (with its code when asked) and sends the authorization. */
    async function authorize(holder: Holder, opened: OpenedCommand) {
      const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
      return holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code }));
    }

    async function pay(holder: Holder, priceWon: number): Promise<OpenedCommand> {
      const opened = await requestCommand(t, holder, await order(holder, priceWon));
      const res = await authorize(holder, opened);
      expect(res.statusCode, res.body).toBe(200);
      return opened;
    }

    const versionOf = async (comId: string) =>
      Number((await t.app.internals.database.db.selectFrom('paymentCommands').select('policyVersion').where('comId', '=', comId).executeTakeFirstOrThrow()).policyVersion);
    const balance = async (holder: Holder) => (await holder.client.get('/api/me/wallet')).json().balanceWon as number;

    it('refuses settings and rule conditions out of range (VALIDATION_FAILED) and writes nothing', async () => {
      const before = (await operator.client.get('/admin/api/policies')).json().current.version;
      const bad: [string, unknown][] = [
        ['failedAttemptsMax', { ...SHIPPED, failedAttemptsMax: 2 }], ['failedAttemptsMax', { ...SHIPPED, failedAttemptsMax: 21 }],
        ['lockDurationMs', { ...SHIPPED, lockDurationMs: MINUTE_MS - 1 }], ['lockDurationMs', { ...SHIPPED, lockDurationMs: DAY_MS + 1 }],
        ['codeValidityMs', { ...SHIPPED, codeValidityMs: 29_999 }], ['codeValidityMs', { ...SHIPPED, codeValidityMs: COMMAND_TTL_MS + 1 }],
        ['dailyLimitWon', { ...SHIPPED, dailyLimitWon: 999 }], ['dailyLimitWon', { ...SHIPPED, dailyLimitWon: -1 }], ['dailyLimitWon', { ...SHIPPED, dailyLimitWon: 1.5 }],
      ];
      for (const [field, settings] of bad) {
        const res = await operator.client.request('PUT', '/admin/api/policies', { rules: shippedRules, settings, reason: 'out of range' });
        expect(res.statusCode, field).toBe(400);
        expect(res.json().code, field).toBe('VALIDATION_FAILED');
        expect(res.json().errors.map((e: { pointer: string }) => e.pointer), field).toContain(`/body/settings/${field}`);
        const previewed = await operator.client.request('POST', '/admin/api/policies/preview', { amountWon: 1_000, certificateKind: 'master', firstPayment: false, settings });
        expect(previewed.json().code, `preview ${field}`).toBe('VALIDATION_FAILED');
      }
      const withAge = (days: number | null, last = false): RuleJson[] => {
        const age: RuleJson = { priority: 5, rule: 'new-device', description: 'new devices', certificateKind: null, minAmountWon: null, firstPaymentOfCertificate: null, certificateIssuedWithinDays: days, requireCode: true, enabled: true };
        return last ? [...shippedRules.map((r) => (r.rule === 'default' ? { ...r, certificateIssuedWithinDays: days } : r))] : [age, ...shippedRules];
      };
      for (const rules of [withAge(0), withAge(3651), withAge(7, true)]) {
        expect((await operator.client.request('PUT', '/admin/api/policies', { rules, settings: SHIPPED, reason: 'bad rule' })).json().code).toBe('VALIDATION_FAILED');
      }
      expect((await operator.client.get('/admin/api/policies')).json().current.version).toBe(before);
    });

    it('attempts before lock and lock duration: 3 failures lock for 2 minutes, recorded with the version', async () => {
      await operator.login();
      const version = await publish({ ...SHIPPED, failedAttemptsMax: 3, lockDurationMs: 2 * MINUTE_MS });
      const b = await buyer();
      const opened = await requestCommand(t, b, await order(b, 5_000));
      expect(opened.codeRequired).toBe(true);
      expect(await versionOf(opened.comId)).toBe(version);
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await b.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, b, opened, { code: 'WWWWWW' }))).json());
      expect(answers.map((a) => a.code)).toEqual(['PAYMENT_AUTHORIZATION_FAILED', 'PAYMENT_AUTHORIZATION_FAILED', 'PAYMENT_LOCKED']);
      expect(answers[0].detail).toBe('2 tries left before payments are locked.');
      const lockedAtMs = t.clock.nowMs;
      expect(answers[2].lock).toMatchObject({ reason: 'payment-failures', failuresMax: 3, untilMs: lockedAtMs + 2 * MINUTE_MS });
      await t.app.internals.audit.settled();
      expect((await t.app.internals.audit.list({ kind: 'payment.locked', subject: b.client.userId })).at(-1)?.detail).toMatchObject({ consecutiveFailures: 3, policyVersion: version });

      t.clock.advance(2 * MINUTE_MS - 1);
      const still = await sealedRequest(t, b, await order(b, 5_000));
      expect((await b.client.request('POST', '/api/payments/requests', { sealedRequest: still.sealed, locale: 'ko' })).json().code).toBe('PAYMENT_LOCKED');
      t.clock.advance(1);
      await pay(b, 5_000);
    });

    it('code validity: a command that asks for the code lives that long; one that asks for none keeps the protocol TTL', async () => {
      await operator.login();
      const short = await publish({ ...SHIPPED, codeValidityMs: 45_000 });
      const b = await buyer();
      const late = await requestCommand(t, b, await order(b, 5_000));
      expect(late.codeRequired).toBe(true);
      expect(late.command.expiresAtMs).toBe(t.clock.nowMs + 45_000);
      expect(await versionOf(late.comId)).toBe(short);
      t.clock.advance(45_000);
      const expired = await authorize(b, late);
      expect(expired.json().code).toBe('PAYMENT_COMMAND_EXPIRED');

      const long = await publish({ ...SHIPPED, codeValidityMs: 90_000 });
      const slow = await requestCommand(t, b, await order(b, 5_000));
      expect(slow.command.expiresAtMs).toBe(t.clock.nowMs + 90_000);
      t.clock.advance(89_000);
      const paid = await authorize(b, slow);
      expect(paid.statusCode, paid.body).toBe(200);
      expect(await versionOf(slow.comId)).toBe(long);
      // A payment that asks for no code keeps the protocol's two minutes.
      const plain = await requestCommand(t, b, await order(b, 5_000));
      expect(plain.codeRequired).toBe(false);
      expect(plain.command.expiresAtMs).toBe(t.clock.nowMs + COMMAND_TTL_MS);
    });

    it('device age: a rule on certificates issued less than a day ago asks new devices for the code, and stops once the day is over', async () => {
      await operator.login();
      const newDevice: RuleJson = {
        priority: 15, rule: 'new-device', description: 'Certificates issued less than a day ago ask for the code', certificateKind: null, minAmountWon: null,
        firstPaymentOfCertificate: null, certificateIssuedWithinDays: 1, requireCode: true, enabled: true,
      };
      const rules = [...shippedRules.filter((r) => r.rule !== 'first-payment-of-certificate'), newDevice];
      const version = await publish(SHIPPED, rules);
      const previewOf = async (certificateAgeDays: number) =>
        (await operator.client.request('POST', '/admin/api/policies/preview', { amountWon: 5_000, certificateKind: 'master', firstPayment: false, certificateAgeDays })).json();
      expect(await previewOf(0)).toMatchObject({ rule: 'new-device', factors: ['password', 'device-key', 'code'] });
      expect(await previewOf(1)).toMatchObject({ rule: 'default', factors: ['password', 'device-key'] });

      const b = await buyer();
      const young = await requestCommand(t, b, await order(b, 5_000));
      expect(young).toMatchObject({ codeRequired: true, command: { verification: { policyRule: 'new-device' } } });
      expect(await versionOf(young.comId)).toBe(version);
      t.clock.advance(DAY_MS);
      await b.relogin();
      const grown = await requestCommand(t, b, await order(b, 5_000));
      expect(grown).toMatchObject({ codeRequired: false, command: { verification: { policyRule: 'default' } } });
    });

    it('daily limit: refuses the payment that crosses it (when asked and inside the payment), accepts after midnight in Seoul', async () => {
      const midnightMs = koreanDayStartMs(t.clock.nowMs) + DAY_MS;
      expect(midnightMs - 10 * MINUTE_MS).toBeGreaterThan(t.clock.nowMs);
      t.clock.nowMs = midnightMs - 10 * MINUTE_MS;
      await operator.login();
      const version = await publish({ ...SHIPPED, dailyLimitWon: 100_000 });
      const b = await buyer();
      await pay(b, 60_000);

      // 60,000 + 50,000 > 100,000: refused when the payment is asked for, before anything is signed.
      const over = await sealedRequest(t, b, await order(b, 50_000));
      const refused = await b.client.request('POST', '/api/payments/requests', { sealedRequest: over.sealed, locale: 'ko' });
      expect(refused.statusCode).toBe(409);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject({ code: 'PAYMENT_DAILY_LIMIT_EXCEEDED', detail: expect.stringContaining('40,000') });

      // Two commands that each fit, paid one after the other: the second crosses the limit
      // in the payment's transaction, and nothing of it is kept.
      const thirty = await requestCommand(t, b, await order(b, 30_000));
      const fortyOrder = await order(b, 40_000);
      const forty = await requestCommand(t, b, fortyOrder);
      expect((await authorize(b, thirty)).statusCode).toBe(200);
      const crossing = await authorize(b, forty);
      expect(crossing.statusCode).toBe(409);
      expect(crossing.json().code).toBe('PAYMENT_DAILY_LIMIT_EXCEEDED');
      expect(await balance(b)).toBe(1_000_000 - 90_000);
      expect((await b.client.get(`/api/orders/${fortyOrder}`)).json().status).toBe('awaiting_payment');
      const lockout = await t.app.internals.database.db.selectFrom('paymentLockouts').select('consecutiveFailures').where('userId', '=', b.client.userId).executeTakeFirst();
      expect(Number(lockout?.consecutiveFailures ?? 0)).toBe(0);

      const preview = await operator.client.request('POST', '/admin/api/policies/preview', { amountWon: 40_000, certificateKind: 'master', firstPayment: false, paidTodayWon: 90_000 });
      expect(preview.json()).toMatchObject({ refusal: 'PAYMENT_DAILY_LIMIT_EXCEEDED', dailyLimitRemainingWon: 10_000, factors: [], settings: { dailyLimitWon: 100_000 } });

      // Past midnight in Seoul (15:00 UTC, the same UTC day): a new day, the same order pays.
      const utcDayBefore = new Date(t.clock.nowMs).getUTCDate();
      t.clock.advance(11 * MINUTE_MS);
      expect(new Date(t.clock.nowMs).getUTCDate()).toBe(utcDayBefore);
      const nextDay = await requestCommand(t, b, fortyOrder);
      expect((await authorize(b, nextDay)).statusCode).toBe(200);
      expect(await versionOf(nextDay.comId)).toBe(version);
      expect(await balance(b)).toBe(1_000_000 - 130_000);
    });

    it('daily limit: two payments at once that fit only one at a time — exactly one is paid', async () => {
      await operator.login();
      await publish({ ...SHIPPED, dailyLimitWon: 100_000 });
      const b = await buyer();
      const both = [await requestCommand(t, b, await order(b, 60_000)), await requestCommand(t, b, await order(b, 60_000))];
      const bodies = await Promise.all(both.map(async (opened) => authorizationBody(t, b, opened, { code: await codeOf(t, opened.comId) })));
      const answers = await Promise.all(bodies.map((body) => b.client.request('POST', '/api/payments/authorizations', body)));
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
      expect(answers.find((a) => a.statusCode === 409)!.json().code).toBe('PAYMENT_DAILY_LIMIT_EXCEEDED');
      expect(await balance(b)).toBe(1_000_000 - 60_000);
    });

    it('rollback restores an earlier version’s settings; publishing rules alone carries the settings over', async () => {
      await operator.login();
      const history = (await operator.client.get('/admin/api/policies')).json();
      const limited = history.versions.find((v: { settings: Settings }) => v.settings.dailyLimitWon === 100_000).version as number;
      const kept = (await operator.client.request('PUT', '/admin/api/policies', { rules: shippedRules, reason: 'rules only' })).json();
      expect(kept.settings).toEqual({ ...SHIPPED, dailyLimitWon: 100_000 });

      const toShipped = (await operator.client.request('POST', '/admin/api/policies/rollback', { version: 1, reason: 'back to the start' })).json();
      expect(toShipped).toMatchObject({ restoredFrom: 1, settings: SHIPPED });
      const b = await buyer();
      const big = await pay(b, 150_000);
      expect(await versionOf(big.comId)).toBe(toShipped.version);

      const again = (await operator.client.request('POST', '/admin/api/policies/rollback', { version: limited, reason: 'limit again' })).json();
      expect(again).toMatchObject({ restoredFrom: limited, settings: { dailyLimitWon: 100_000 } });
      const refused = await sealedRequest(t, b, await order(b, 5_000));
      // 150,000 paid today already: over the restored limit.
      expect((await b.client.request('POST', '/api/payments/requests', { sealedRequest: refused.sealed, locale: 'ko' })).json().code).toBe('PAYMENT_DAILY_LIMIT_EXCEEDED');
      await t.app.internals.audit.settled();
      expect((await t.app.internals.audit.list({ kind: 'policy.rolled-back' })).at(-1)?.detail).toMatchObject({ restoredFrom: limited, settings: { dailyLimitWon: '100000' } });
    });
  });
}
