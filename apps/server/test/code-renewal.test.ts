/**
 * A code people can read: a new picture is a new code that costs one of the code's tries
 * (and never gives one back); a reload shows the very same picture; a code shared with
 * the account's other devices arrives there as text, never at the device that asked; and
 * every lock refusal says until when, why, and whom to contact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_TRIES_MAX, PAYMENT_FAILURES_MAX, PAYMENT_LOCK_MS } from '../src/services/payment-auth.js';
import { newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand, type Holder } from './payment-client.js';

describe('code renewal, shared codes and lock explanations', () => {
  let t: TestApp;
  let baseUrl: string;
  let productId: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { SUPPORT_CONTACT: 'help desk 02-000-0000' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const seller = await newClient(t, 'seller');
    const res = await seller.request('POST', '/api/seller/products', { name: '바나나', category: 'food', description: '', priceWon: 12_000, stock: 1000 });
    productId = res.json().id;
  });
  afterAll(async () => t.close());

  async function commandFor(holder: Holder) {
    expect((await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
    const order = (await holder.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
    const opened = await requestCommand(t, holder, order.id);
    expect(opened.codeRequired).toBe(true);
    return { order, opened };
  }

  const picture = async (holder: Holder, comId: string) => (await holder.client.get(`/api/payments/commands/${comId}/code.png`)).rawPayload;

  it('a reload shows the same picture; a new picture is a new code, costs a try, and the old code no longer pays', async () => {
    const holder = await buyerWithCertificate(t);
    const { opened } = await commandFor(holder);
    const first = await codeOf(t, opened.comId);
    const shown = await picture(holder, opened.comId);
    expect((await picture(holder, opened.comId)).equals(shown)).toBe(true);

    const renewed = await holder.client.request('POST', `/api/payments/commands/${opened.comId}/code`);
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect(renewed.json()).toMatchObject({ triesLeft: CODE_TRIES_MAX - 1 });
    const second = await codeOf(t, opened.comId);
    expect((await picture(holder, opened.comId)).equals(shown)).toBe(false);
    if (second !== first) {
      const stale = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: first }));
      expect(stale.json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
    }
    const paid = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: second }));
    expect(paid.statusCode, paid.body).toBe(200);
  });

  it('a new picture never resets the tries: wrong codes and new pictures share one count, then the code is spent', async () => {
    const holder = await buyerWithCertificate(t);
    const { opened } = await commandFor(holder);
    const wrong = async () => {
      const code = await codeOf(t, opened.comId);
      const res = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: code === 'AAAAAA' ? 'CCCCCC' : 'AAAAAA' }));
      expect(res.json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
    };
    await wrong();
    await wrong();
    expect((await holder.client.request('POST', `/api/payments/commands/${opened.comId}/code`)).json()).toMatchObject({ triesLeft: CODE_TRIES_MAX - 3 });
    expect((await holder.client.request('POST', `/api/payments/commands/${opened.comId}/code`)).json()).toMatchObject({ triesLeft: CODE_TRIES_MAX - 4 });
    expect((await holder.client.request('POST', `/api/payments/commands/${opened.comId}/code`)).json()).toMatchObject({ triesLeft: 0 });
    const spent = await holder.client.request('POST', `/api/payments/commands/${opened.comId}/code`);
    expect(spent.statusCode).toBe(409);
    expect(spent.json().code).toBe('VERIFICATION_CODE_TRIES_EXHAUSTED');
    // New pictures are no failed authorizations: the account is not locked by them.
    const lockout = await t.app.internals.database.db.selectFrom('paymentLockouts').select(['consecutiveFailures']).where('userId', '=', holder.client.userId).executeTakeFirst();
    expect(Number(lockout?.consecutiveFailures)).toBe(2);
  });

  it("a shared code reaches the account's other signed-in device as text, and not the device that asked", async () => {
    const holder = await buyerWithCertificate(t);
    const { opened, order } = await commandFor(holder);
    const loginId = (await holder.client.get('/api/me')).json().user.loginId as string;
    const phone = await SignedClient.login(t, loginId);
    const stranger = await newClient(t, 'buyer');

    const open = async (client: SignedClient) => {
      const streamPath = '/api/payments/shared-codes/events';
      const response = await fetch(`${baseUrl}${streamPath}`, { headers: await client.signedHeaders('GET', streamPath) });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const readUntil = async (pattern: RegExp, timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        while (!pattern.test(text) && Date.now() < deadline) {
          const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
          if (chunk === null || chunk.done) break;
          text += decoder.decode(chunk.value, { stream: true });
        }
        return pattern.test(text);
      };
      expect(await readUntil(/event: ready\n/, 5_000)).toBe(true);
      return { readUntil, text: () => text, cancel: () => reader.cancel() };
    };
    const onPhone = await open(phone);
    const onPc = await open(holder.client);
    const onStranger = await open(stranger);

    const shared = await holder.client.request('POST', `/api/payments/commands/${opened.comId}/code/share`);
    expect(shared.statusCode, shared.body).toBe(200);
    expect(shared.json()).toMatchObject({ triesLeft: CODE_TRIES_MAX - 1 });
    expect(await onPhone.readUntil(/event: code\ndata: .*\n\n/, 5_000)).toBe(true);
    const event = JSON.parse(onPhone.text().split('event: code\ndata: ')[1]!.split('\n')[0]!);
    expect(event).toMatchObject({ comId: opened.comId, code: await codeOf(t, opened.comId), orderNumber: order.orderNumber, amountWon: 12_000 });
    expect(event.fromSessionId).toBeUndefined();
    expect(await onPc.readUntil(/event: code/, 500)).toBe(false);
    expect(await onStranger.readUntil(/event: code/, 200)).toBe(false);
    await Promise.all([onPhone.cancel(), onPc.cancel(), onStranger.cancel()]);

    // The code that arrived pays.
    const paid = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: event.code }));
    expect(paid.statusCode, paid.body).toBe(200);
  });

  it('a payment lock says until when, why, and whom to contact, on every device of the account', async () => {
    const holder = await buyerWithCertificate(t);
    const { opened } = await commandFor(holder);
    const startMs = t.clock.nowMs;
    let last;
    for (let i = 0; i < PAYMENT_FAILURES_MAX; i++) {
      last = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code: 'WWWWWW' }));
    }
    expect(last!.json()).toMatchObject({
      code: 'PAYMENT_LOCKED',
      lock: { reason: 'payment-failures', untilMs: startMs + PAYMENT_LOCK_MS, failuresMax: PAYMENT_FAILURES_MAX, certificatePasses: false, contact: 'help desk 02-000-0000' },
    });
    // Another device of the same account is told the same, before it signs anything.
    const loginId = (await holder.client.get('/api/me')).json().user.loginId as string;
    const other = await SignedClient.login(t, loginId);
    const refused = await other.request('POST', `/api/payments/commands/${opened.comId}/code`);
    expect(refused.json()).toMatchObject({ code: 'PAYMENT_LOCKED', lock: { reason: 'payment-failures', untilMs: startMs + PAYMENT_LOCK_MS } });
  });

  it('a login lock says until when and that a device with a certificate of the account may pass it', async () => {
    const client = await newClient(t, 'buyer');
    const loginId = (await client.get('/api/me')).json().user.loginId as string;
    let res;
    for (let i = 0; i < 6; i++) res = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password: 'wrong password here' } });
    expect(res!.json()).toMatchObject({ code: 'LOGIN_THROTTLED', lock: { reason: 'login-failures', certificatePasses: true, contact: 'help desk 02-000-0000' } });
    expect(res!.json().lock.untilMs).toBeGreaterThan(t.clock.nowMs);
  });
});
