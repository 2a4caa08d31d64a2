/**
 * A PC may show its QR code for minutes while the person looks for their phone: its
 * event stream must stay open while idle (a heartbeat comment every 15 s keeps proxies
 * and the browser from dropping it) and still deliver `paid` at the end. Real time, over
 * a real connection: this test waits a minute on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qrTokenFromText } from '@coconutpay/core/payment/qr';
import { unseal, verifyCommand } from '@coconutpay/core/payment';
import { HEARTBEAT_MS } from '../src/http/event-stream.js';
import { newClient, SignedClient, startTestApp, TestClock, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, rootDer, sealedRequest } from './payment-client.js';

const IDLE_MS = 61_000;

/** A clock that follows real time, so the session's minutes pass as they would. */
function realTimeClock(): TestClock {
  const clock = new TestClock();
  Object.defineProperty(clock, 'nowMs', { get: () => Date.now(), set: () => undefined });
  return clock;
}

describe('an idle QR payment stream', () => {
  let t: TestApp;
  let baseUrl: string;

  beforeAll(async () => {
    t = await startTestApp({ clock: realTimeClock() });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => t.close());

  it(`stays open for ${IDLE_MS / 1000} s with heartbeats, then delivers paid`, { timeout: IDLE_MS + 30_000 }, async () => {
    const seller = await newClient(t, 'seller');
    const productId = (await seller.request('POST', '/api/seller/products', { name: '배', category: 'food', description: '', priceWon: 9_000, stock: 10 })).json().id;
    const phone = await buyerWithCertificate(t);
    expect((await phone.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 50_000 })).statusCode).toBe(201);
    const pc = await SignedClient.login(t, (await phone.client.get('/api/me')).json().user.loginId);
    const order = (await pc.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json();
    const qr = (await pc.request('POST', `/api/orders/${order.id}/qr-sessions`, { locale: 'ko' })).json();

    const path = `/api/qr-sessions/${qr.id}/events`;
    const response = await fetch(`${baseUrl}${path}`, { headers: await pc.signedHeaders('GET', path) });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let closed = false;
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      closed = true;
    })();

    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    expect(closed).toBe(false);
    expect(text).toMatch(/^id: 1\nevent: ready\n/);
    // A heartbeat for each 15 s of silence.
    expect(text.match(/^: keep-alive$/gm)?.length ?? 0).toBeGreaterThanOrEqual(Math.floor(IDLE_MS / HEARTBEAT_MS));

    // Now the phone scans and pays: the stream that waited a minute hears it.
    expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qrTokenFromText(qr.url, t.config.publicUrl) })).statusCode).toBe(200);
    const { sealed, reply, request } = await sealedRequest(t, phone, order.id, { qrSessionId: qr.id });
    const issued = (await phone.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' })).json();
    const { jws } = await unseal<{ jws: string }>(issued.sealedCommand, reply.key, 'coconutpay-payment-command');
    const check = await verifyCommand(jws, [rootDer(t)], new Date());
    if (!check.ok) throw new Error('command');
    const opened = { comId: issued.comId, command: check.command, jws, codeRequired: issued.codeRequired, request, sealedRequest: sealed };
    const paid = await phone.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, phone, opened, { code: issued.codeRequired ? await codeOf(t, issued.comId) : null }));
    expect(paid.statusCode, paid.body).toBe(200);
    await Promise.race([reading, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    expect(closed).toBe(true);
    expect(text).toMatch(/id: 2\nevent: scanned\n[\s\S]*id: 3\nevent: paid\n/);
  });
});
