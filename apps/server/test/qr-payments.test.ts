/**
 * QR payment (docs/protocol.md, "QR payment"): the PC opens a session and watches it by
 * server-sent events; a phone of the same account takes it and pays with its own
 * certificate through the ordinary payment protocol. Every refusal has its code, the
 * stream tells `scanned` before `paid`, a reconnect with Last-Event-ID loses nothing, and
 * the order's history records it all. On every engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QR_NUMERIC_CODE_TRIES_MAX, QR_PAY_WINDOW_MS, QR_TOKEN_TTL_MS, qrTokenFromText } from '@coconutpay/core/payment/qr';
import { enginesUnderTest, newClient, SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand, sealedRequest, rootDer, type Holder, type OpenedCommand } from './payment-client.js';
import { unseal, verifyCommand } from '@coconutpay/core/payment';
import { randomUUID } from 'node:crypto';
import { QrSessionsRepository } from '../src/db/qr-sessions-repository.js';

/** An SSE reader over a real connection: the text so far, and a wait for a pattern in it. */
async function openStream(baseUrl: string, client: SignedClient, path: string, lastEventId?: string) {
  const headers: Record<string, string> = { ...(await client.signedHeaders('GET', path)) };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const response = await fetch(`${baseUrl}${path}`, { headers });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  // One read in flight at a time: a wait that times out leaves it pending for the next wait, so no chunk is lost.
  let pending: ReturnType<typeof reader.read> | null = null;
  const readUntil = async (pattern: RegExp, timeoutMs = 5_000): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(text) && !ended && Date.now() < deadline) {
      pending ??= reader.read();
      const chunk = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
      if (chunk === null) break;
      pending = null;
      if (chunk.done) ended = true;
      else text += decoder.decode(chunk.value, { stream: true });
    }
    return pattern.test(text);
  };
  return { status: response.status, readUntil, text: () => text, ended: () => ended, cancel: () => reader.cancel().catch(() => undefined) };
}

/** The events of a stream's text, in order, with their ids. */
function eventsIn(text: string): { id: string | null; type: string; data: Record<string, unknown> }[] {
  return text.split('\n\n').filter((block) => /^(id: |event: )/m.test(block)).map((block) => {
    const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? null;
    return { id: field('id'), type: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') };
  });
}

for (const engine of enginesUnderTest()) {
  describe(`QR payment (${engine.engine})`, () => {
    let t: TestApp;
    let baseUrl: string;
    let productId: string;

    beforeAll(async () => {
      t = await startTestApp({ engine });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const address = t.app.server.address();
      baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const seller = await newClient(t, 'seller');
      productId = (await seller.request('POST', '/api/seller/products', { name: '망고', category: 'food', description: '', priceWon: 15_000, stock: 1000 })).json().id;
    });
    afterAll(async () => t.close());

    /** A buyer whose phone holds the master certificate, and a PC logged in to the same account without one. */
    async function buyer(): Promise<{ phone: Holder; pc: SignedClient; loginId: string }> {
      const phone = await buyerWithCertificate(t);
      expect((await phone.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 200_000 })).statusCode).toBe(201);
      const loginId = (await phone.client.get('/api/me')).json().user.loginId as string;
      return { phone, pc: await SignedClient.login(t, loginId), loginId };
    }

    async function orderOf(client: SignedClient): Promise<{ id: string; orderNumber: string }> {
      const res = await client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    }

    async function openQr(pc: SignedClient, orderId: string) {
      const res = await pc.request('POST', `/api/orders/${orderId}/qr-sessions`, { locale: 'ko' });
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json();
      return { ...body, token: qrTokenFromText(body.url, t.config.publicUrl)! } as { id: string; url: string; qrSvg: string; confirmationCode: string; numericCode: string; expiresAtMs: number; token: string };
    }

    /** The phone's payment request for a QR session, opened and checked as the page does. */
    async function qrCommand(phone: Holder, orderId: string, qrSessionId: string): Promise<OpenedCommand> {
      const { sealed, reply, request } = await sealedRequest(t, phone, orderId, { qrSessionId });
      const res = await phone.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' });
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json();
      const { jws } = await unseal<{ jws: string }>(body.sealedCommand, reply.key, 'coconutpay-payment-command');
      const check = await verifyCommand(jws, [rootDer(t)], new Date(t.clock.nowMs));
      if (!check.ok) throw new Error(JSON.stringify(check));
      return { comId: body.comId, command: check.command, jws, codeRequired: body.codeRequired, request, sealedRequest: sealed };
    }

    async function pay(phone: Holder, opened: OpenedCommand) {
      return phone.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, phone, opened, { code: opened.codeRequired ? await codeOf(t, opened.comId) : null }));
    }

    it('the PC shows a QR code; the phone takes it and pays with its certificate; the PC hears scanned, then paid', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      expect(qr.url).toMatch(/^http:\/\/localhost:\d+\/qr#t=[A-Za-z0-9_-]{32}$/);
      expect(qr.token).toHaveLength(32);
      expect(qr.qrSvg).toMatch(/^<svg [^>]*viewBox="0 0 (\d+) \1"/);
      expect(qr.numericCode).toMatch(/^\d{6}$/);
      expect(qr.confirmationCode).toMatch(/^[34679ACDEFHJKMNPRTWXY]{4}$/);
      expect(qr.expiresAtMs).toBe(t.clock.nowMs + QR_TOKEN_TTL_MS);

      const stream = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`);
      expect(stream.status).toBe(200);
      expect(await stream.readUntil(/event: ready\n/)).toBe(true);

      const claimed = await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token });
      expect(claimed.statusCode, claimed.body).toBe(200);
      expect(claimed.json()).toEqual({ id: qr.id, orderId: order.id, orderNumber: order.orderNumber, expiresAtMs: t.clock.nowMs + QR_PAY_WINDOW_MS });
      expect(await stream.readUntil(/event: scanned\n/)).toBe(true);

      const opened = await qrCommand(phone, order.id, qr.id);
      // The phone shows the PC's confirmation code from A's signed command.
      expect(opened.command.channel).toEqual({ kind: 'qr', qrSessionId: qr.id, confirmationCode: qr.confirmationCode });
      const balanceBefore = (await phone.client.get('/api/me/wallet')).json().balanceWon;
      const paid = await pay(phone, opened);
      expect(paid.statusCode, paid.body).toBe(200);
      expect(await stream.readUntil(/event: paid\n/)).toBe(true);
      await stream.readUntil(/(?!)/, 1_000);
      expect(stream.ended()).toBe(true);
      const events = eventsIn(stream.text());
      expect(events.map((e) => [e.id, e.type])).toEqual([['1', 'ready'], ['2', 'scanned'], ['3', 'paid']]);
      expect(events[2]!.data).toMatchObject({ orderId: order.id });
      expect((await phone.client.get('/api/me/wallet')).json().balanceWon).toBe(balanceBefore - 15_000);

      // The same evidence as a direct payment: the server's verifier accepts it.
      const evidence = await pc.get(`/api/orders/${order.id}/evidence.p7s`);
      expect(evidence.statusCode).toBe(200);
      const verdict = await t.app.internals.paymentAuth.verifyEvidenceFile(new Uint8Array(evidence.rawPayload), order.orderNumber);
      expect(verdict.valid, JSON.stringify(verdict.reasons)).toBe(true);

      const history = (await pc.get(`/api/orders/${order.id}/history`)).json().items.map((e: { kind: string }) => e.kind);
      expect(history).toEqual(['qr.opened', 'qr.scanned', 'qr.paid']);
      // Used once: the token no longer takes anyone anywhere.
      const again = await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token });
      expect(again.json().code).toBe('QR_SESSION_USED');
    });

    it('refuses a token of another account, and records it in the order history', async () => {
      const { pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      const stranger = await buyerWithCertificate(t);
      const refused = await stranger.client.request('POST', '/api/qr-sessions/claim', { token: qr.token });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe('QR_SESSION_OTHER_ACCOUNT');
      // The stranger cannot watch or cancel it either.
      expect((await stranger.client.request('POST', `/api/qr-sessions/${qr.id}/cancel`)).json().code).toBe('QR_SESSION_NOT_FOUND');
      const history = (await pc.get(`/api/orders/${order.id}/history`)).json().items.map((e: { kind: string }) => e.kind);
      expect(history).toEqual(['qr.opened', 'qr.refused.other-account']);
      // The session is still there for its own account.
      const stream = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`);
      expect(await stream.readUntil(/event: ready\ndata: \{"type":"ready","status":"open"/)).toBe(true);
      await stream.cancel();
    });

    it('refuses a second phone after the first, an unknown token, and a payment request from a session that did not take the code', async () => {
      const { phone, pc, loginId } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      // The same phone again (a reload) is answered as before.
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      const secondPhone = await SignedClient.login(t, loginId);
      const second = await secondPhone.request('POST', '/api/qr-sessions/claim', { token: qr.token });
      expect(second.statusCode).toBe(409);
      expect(second.json().code).toBe('QR_SESSION_USED');
      const unknown = await phone.client.request('POST', '/api/qr-sessions/claim', { token: 'A'.repeat(32) });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().code).toBe('QR_SESSION_NOT_FOUND');

      // The master key held by another session of the account still cannot pay this session.
      const otherDevice: Holder = { ...phone, client: secondPhone };
      const { sealed } = await sealedRequest(t, otherDevice, order.id, { qrSessionId: qr.id });
      const res = await secondPhone.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' });
      expect(res.json().code).toBe('QR_SESSION_USED');
      // Nor can a QR session be used for another order.
      const otherOrder = await orderOf(pc);
      const { sealed: wrongOrder } = await sealedRequest(t, phone, otherOrder.id, { qrSessionId: qr.id });
      expect((await phone.client.request('POST', '/api/payments/requests', { sealedRequest: wrongOrder, locale: 'ko' })).json().code).toBe('QR_SESSION_NOT_FOUND');
    });

    it('an expired token is refused, and the PC hears expired within a second', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      const stream = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`);
      expect(await stream.readUntil(/event: ready\n/)).toBe(true);
      t.clock.advance(QR_TOKEN_TTL_MS);
      // Nobody touches the session: the stream's own timer notices.
      expect(await stream.readUntil(/event: expired\n/, 2_000)).toBe(true);
      const refused = await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token });
      expect(refused.statusCode).toBe(410);
      expect(refused.json().code).toBe('QR_SESSION_EXPIRED');
      const history = (await pc.get(`/api/orders/${order.id}/history`)).json().items.map((e: { kind: string }) => e.kind);
      expect(history).toEqual(['qr.opened', 'qr.expired', 'qr.refused.expired']);
    });

    it('a cancel on the PC ends the session for the phone at once, even with the command in hand: no money moves', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      const opened = await qrCommand(phone, order.id, qr.id);
      const phoneStream = await openStream(baseUrl, phone.client, `/api/qr-sessions/${qr.id}/events`);
      expect(await phoneStream.readUntil(/event: scanned\n/)).toBe(true);
      const balanceBefore = (await phone.client.get('/api/me/wallet')).json().balanceWon;

      expect((await pc.request('POST', `/api/qr-sessions/${qr.id}/cancel`)).statusCode).toBe(204);
      // The phone's page hears it at once.
      expect(await phoneStream.readUntil(/event: cancelled\n/, 1_000)).toBe(true);
      const refused = await pay(phone, opened);
      expect(refused.statusCode).toBe(410);
      expect(refused.json().code).toBe('QR_SESSION_CANCELLED');
      expect((await phone.client.get('/api/me/wallet')).json().balanceWon).toBe(balanceBefore);
      expect((await pc.get(`/api/orders/${order.id}`)).json().status).toBe('awaiting_payment');
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).json().code).toBe('QR_SESSION_CANCELLED');
    });

    it('a cancel that arrives after the payment is refused, so the PC learns it was paid', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      expect((await pay(phone, await qrCommand(phone, order.id, qr.id))).statusCode).toBe(200);
      const late = await pc.request('POST', `/api/qr-sessions/${qr.id}/cancel`);
      expect(late.statusCode).toBe(409);
      expect(late.json().code).toBe('QR_SESSION_USED');
    });

    it('an order paid directly while the PC shows its code (open or taken): each code ends and the PC hears paid, live or on reconnect', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const shown = await openQr(pc, order.id);
      // A second PC session of the account shows one too, and the phone has taken that one.
      const otherPc = await SignedClient.login(t, (await phone.client.get('/api/me')).json().user.loginId as string);
      const taken = await openQr(otherPc, order.id);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: taken.token })).statusCode).toBe(200);
      const stream = await openStream(baseUrl, pc, `/api/qr-sessions/${shown.id}/events`);
      expect(await stream.readUntil(/event: ready\n/)).toBe(true);

      // The phone pays the order directly, not through either code.
      const paid = await pay(phone, await requestCommand(t, phone, order.id));
      expect(paid.statusCode, paid.body).toBe(200);
      expect(await stream.readUntil(/event: paid\n/)).toBe(true);
      await stream.readUntil(/(?!)/, 500);
      expect(stream.ended()).toBe(true);
      const events = eventsIn(stream.text());
      expect(events.map((e) => [e.id, e.type])).toEqual([['1', 'ready'], ['3', 'paid']]);
      expect(events[1]!.data).toEqual({ type: 'paid', orderId: order.id, paidAtMs: paid.json().paidAtMs });

      // Both rows ended with the reason; a stream opened afterwards hears the same end.
      const rows = await t.app.internals.database.db.selectFrom('qrSessions').select(['id', 'status', 'endedBy']).where('orderId', '=', order.id).orderBy('createdAtMs').execute();
      expect(rows.map((r) => [r.status, r.endedBy])).toEqual([['cancelled', 'order-paid'], ['cancelled', 'order-paid']]);
      const later = await openStream(baseUrl, otherPc, `/api/qr-sessions/${taken.id}/events`, '2');
      await later.readUntil(/(?!)/, 500);
      expect(eventsIn(later.text()).map((e) => [e.id, e.type, e.data.orderId])).toEqual([['3', 'paid', order.id]]);
      const history = (await pc.get(`/api/orders/${order.id}/history`)).json().items as { kind: string; detail: string | null }[];
      expect(history.filter((e) => e.kind === 'qr.cancelled').map((e) => e.detail)).toEqual(['order-paid', 'order-paid']);
      // Neither code takes anyone anywhere now, and a late cancel on the PC learns the order was paid.
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: shown.token })).json().code).toBe('QR_SESSION_USED');
      const late = await pc.request('POST', `/api/qr-sessions/${shown.id}/cancel`);
      expect([late.statusCode, late.json().code]).toEqual([409, 'QR_SESSION_USED']);
    });

    it('paid through one code, the order ends its other live codes: another PC hears paid too', async () => {
      const { phone, pc, loginId } = await buyer();
      const order = await orderOf(pc);
      const otherPc = await SignedClient.login(t, loginId);
      const elsewhere = await openQr(otherPc, order.id);
      const qr = await openQr(pc, order.id);
      const stream = await openStream(baseUrl, otherPc, `/api/qr-sessions/${elsewhere.id}/events`);
      expect(await stream.readUntil(/event: ready\n/)).toBe(true);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      const paid = await pay(phone, await qrCommand(phone, order.id, qr.id));
      expect(paid.statusCode, paid.body).toBe(200);
      expect(await stream.readUntil(/event: paid\n/)).toBe(true);
      const rows = await t.app.internals.database.db.selectFrom('qrSessions').select(['id', 'status', 'endedBy']).where('orderId', '=', order.id).execute();
      expect(Object.fromEntries(rows.map((r) => [r.id, [r.status, r.endedBy]]))).toEqual({ [qr.id]: ['paid', null], [elsewhere.id]: ['cancelled', 'order-paid'] });
    });

    it('a code opened while its order was being paid ends as paid, not expired, when its time is up', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const paid = await pay(phone, await requestCommand(t, phone, order.id));
      expect(paid.statusCode, paid.body).toBe(200);
      // The row a QR code opened in the moment between the payment's first read and its commit leaves
      // (opening one for a paid order is refused; the race is made by writing the row as open() does).
      const id = randomUUID();
      const nowMs = t.clock.nowMs;
      await new QrSessionsRepository(t.app.internals.database.db, engine.engine).insert(
        {
          id, tokenDigest: randomUUID(), userId: phone.client.userId, orderId: order.id, pcSessionId: pc.sessionId, status: 'open', confirmationCode: 'ACDE',
          numericCodeDigest: null, numericTries: 0, phoneSessionId: null, createdAtMs: nowMs, expiresAtMs: nowMs + 1_000, scannedAtMs: null, endedAtMs: null, endedBy: null,
        },
        { id: randomUUID(), orderId: order.id, atMs: nowMs, kind: 'qr.opened', qrSessionId: id, detail: null },
      );
      t.clock.advance(2_000);
      const stream = await openStream(baseUrl, pc, `/api/qr-sessions/${id}/events`);
      expect(await stream.readUntil(/event: paid\n/)).toBe(true);
      expect(eventsIn(stream.text()).map((e) => [e.type, e.data.paidAtMs])).toEqual([['paid', paid.json().paidAtMs]]);
      const row = await t.app.internals.database.db.selectFrom('qrSessions').select(['status', 'endedBy']).where('id', '=', id).executeTakeFirstOrThrow();
      expect([row.status, row.endedBy]).toEqual(['cancelled', 'order-paid']);
    });

    it('a cancel on the PC is told apart from one on the phone after a reconnect', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      expect((await phone.client.request('POST', `/api/qr-sessions/${qr.id}/cancel`)).statusCode).toBe(204);
      const later = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`, '2');
      await later.readUntil(/(?!)/, 500);
      expect(eventsIn(later.text()).map((e) => [e.type, e.data.by])).toEqual([['cancelled', 'phone']]);
    });

    it('renewing replaces the code: the old token is cancelled, the new one works', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const first = await openQr(pc, order.id);
      const stream = await openStream(baseUrl, pc, `/api/qr-sessions/${first.id}/events`);
      expect(await stream.readUntil(/event: ready\n/)).toBe(true);
      const second = await openQr(pc, order.id);
      expect(await stream.readUntil(/event: cancelled\n/)).toBe(true);
      expect(eventsIn(stream.text()).at(-1)!.data).toMatchObject({ by: 'superseded' });
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: first.token })).json().code).toBe('QR_SESSION_CANCELLED');
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: second.token })).statusCode).toBe(200);
    });

    it('the numeric code takes the session for the same account only, and dies after five wrong tries', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      // Another account typing this number finds nothing of its own.
      const stranger = await buyerWithCertificate(t);
      expect((await stranger.client.request('POST', '/api/qr-sessions/claim', { numericCode: qr.numericCode })).json().code).toBe('QR_SESSION_NOT_FOUND');
      const wrong = qr.numericCode === '000000' ? '111111' : '000000';
      for (let i = 1; i < QR_NUMERIC_CODE_TRIES_MAX; i++) {
        const res = await phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: wrong });
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ code: 'QR_CODE_INVALID', detail: `${QR_NUMERIC_CODE_TRIES_MAX - i} ${QR_NUMERIC_CODE_TRIES_MAX - i === 1 ? 'try' : 'tries'} left.` });
      }
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: wrong })).json().code).toBe('QR_CODE_TRIES_EXHAUSTED');
      // The right number is no longer accepted; the QR code itself still is.
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: qr.numericCode })).json().code).toBe('QR_SESSION_NOT_FOUND');
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);

      // A fresh code: the right number takes the session once.
      const order2 = await orderOf(pc);
      const qr2 = await openQr(pc, order2.id);
      const byNumber = await phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: qr2.numericCode });
      expect(byNumber.statusCode, byNumber.body).toBe(200);
      expect(byNumber.json().id).toBe(qr2.id);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: qr2.numericCode })).json().code).toBe('QR_SESSION_NOT_FOUND');
    });

    it('wrong payment numbers sent together are counted one by one: at most five are ever compared', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      const wrong = qr.numericCode === '000000' ? '111111' : '000000';
      const answers = await Promise.all(Array.from({ length: 20 }, () => phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: wrong })));
      for (const a of answers) expect(a.statusCode, a.body).toBeLessThan(500);
      const codes = answers.map((a) => a.json().code as string);
      expect(codes.filter((c) => c === 'QR_CODE_INVALID').length).toBeLessThanOrEqual(QR_NUMERIC_CODE_TRIES_MAX);
      expect(codes.every((c) => ['QR_CODE_INVALID', 'QR_CODE_TRIES_EXHAUSTED', 'QR_SESSION_NOT_FOUND'].includes(c))).toBe(true);
      const row = await t.app.internals.database.db.selectFrom('qrSessions').select(['numericTries', 'numericCodeDigest']).where('id', '=', qr.id).executeTakeFirstOrThrow();
      expect(Number(row.numericTries)).toBe(QR_NUMERIC_CODE_TRIES_MAX);
      expect(row.numericCodeDigest).toBeNull();
      // The right number after that finds nothing; the QR code itself still works.
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { numericCode: qr.numericCode })).json().code).toBe('QR_SESSION_NOT_FOUND');
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
    });

    it('a reconnect with Last-Event-ID gets what it missed, paid included, and nothing twice', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      const first = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`);
      expect(await first.readUntil(/event: ready\n/)).toBe(true);
      await first.cancel();
      // While the PC is away, the phone takes the code and pays.
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).statusCode).toBe(200);
      expect((await pay(phone, await qrCommand(phone, order.id, qr.id))).statusCode).toBe(200);

      const resumed = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`, '1');
      expect(await resumed.readUntil(/event: paid\n/)).toBe(true);
      await resumed.readUntil(/(?!)/, 500);
      expect(eventsIn(resumed.text()).map((e) => [e.id, e.type])).toEqual([['2', 'scanned'], ['3', 'paid']]);
      expect(resumed.ended()).toBe(true);
      const done = await openStream(baseUrl, pc, `/api/qr-sessions/${qr.id}/events`, '3');
      await done.readUntil(/(?!)/, 500);
      expect(done.status).toBe(200);
      expect(done.text()).toBe('');
      expect(done.ended()).toBe(true);
    });

    it('refuses a QR code for an order that is paid, cancelled or not the account\'s', async () => {
      const { phone, pc } = await buyer();
      const order = await orderOf(pc);
      const qr = await openQr(pc, order.id);
      // The order is paid directly on the phone meanwhile: the code no longer pays anything.
      const direct = await sealedRequest(t, phone, order.id);
      const res = await phone.client.request('POST', '/api/payments/requests', { sealedRequest: direct.sealed, locale: 'ko' });
      const { jws } = await unseal<{ jws: string }>(res.json().sealedCommand, direct.reply.key, 'coconutpay-payment-command');
      const check = await verifyCommand(jws, [rootDer(t)], new Date(t.clock.nowMs));
      if (!check.ok) throw new Error('command');
      expect((await pay(phone, { comId: res.json().comId, command: check.command, jws, codeRequired: res.json().codeRequired, request: direct.request, sealedRequest: direct.sealed })).statusCode).toBe(200);
      expect((await phone.client.request('POST', '/api/qr-sessions/claim', { token: qr.token })).json().code).toBe('QR_SESSION_USED');
      expect((await pc.request('POST', `/api/orders/${order.id}/qr-sessions`, { locale: 'en' })).json().code).toBe('ORDER_ALREADY_PAID');
      const stranger = await newClient(t, 'buyer');
      expect((await stranger.request('POST', `/api/orders/${order.id}/qr-sessions`, { locale: 'en' })).json().code).toBe('ORDER_NOT_FOUND');
    });
  });
}
