/**
 * QR payment across two real server processes (docs/protocol.md, "QR payment"): the PC's
 * event stream is held by process A while the phone takes the code and pays on process B,
 * as happens behind a load balancer. Both processes share one PostgreSQL database, one
 * Redis and one data folder (keys), as a deployment of several processes does; the events
 * can only reach the PC through Redis pub/sub, because the PC's stream is open before the
 * phone acts and B's in-process emitter has no listener of A's.
 *
 * Unlike device-decisions-redis.test.ts (two apps in one process), these are two OS
 * processes started from main.ts, spoken to over real HTTP only: nothing is shared but
 * what a deployment shares. Needs POSTGRES_URL and REDIS_URL.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizationContent, codeProof, REPLY_KEY_BYTES, replyKey, seal, signCanonical, unseal, verifyCommand,
  type PaymentAuthorization, type PaymentRequest,
} from '@coconutpay/core/payment';
import { qrTokenFromText } from '@coconutpay/core/payment/qr';
import { signedAttributes } from '@coconutpay/core/pki/cms';
import { allPemBlocks, fromPem } from '@coconutpay/core/pki/pem';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import { VerificationCodeKey } from '../src/services/verification-code-key.js';
import { announceSkip } from './announce-skip.js';
import { buyerRegistration, sellerRegistration } from './helpers.js';
import { deviceKeys } from './payment-client.js';
import { HttpSession, publicRequest, START_TIMEOUT_MS, twoServersOnPostgres, type ServerProcess } from './server-process.js';

/** How long a stream may take to hear an event published by the other process. */
const EVENT_TIMEOUT_MS = 5_000;

const postgresUrl = process.env.POSTGRES_URL;
const redisUrl = process.env.REDIS_URL;

/**
 * A server-sent-event stream read in the background as it arrives, so that waiting for
 * one event never swallows a chunk that holds the next.
 */
async function openEventStream(session: HttpSession, pathWithQuery: string) {
  const response = await fetch(`${session.baseUrl}${pathWithQuery}`, { headers: await session.signedHeaders('GET', pathWithQuery) });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  let wake: () => void = () => undefined;
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        wake();
      }
    } catch {
      // The connection broke (or was cancelled): the stream has ended either way.
    } finally {
      ended = true;
      wake();
    }
  })();
  /** Waits until `condition` holds or `timeoutMs` passes; answers whether it holds. */
  const until = async (condition: () => boolean, timeoutMs = EVENT_TIMEOUT_MS): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && !ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return condition();
  };
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: () => text,
    ended: () => ended,
    /** Waits for a pattern in the text received so far. */
    until: (pattern: RegExp, timeoutMs?: number) => until(() => pattern.test(text), timeoutMs),
    /** Waits for the server to end the stream. */
    untilEnded: (timeoutMs?: number) => until(() => ended, timeoutMs),
    cancel: () => reader.cancel().catch(() => undefined),
  };
}

/** The events of a stream's text, in order, with their ids. */
function eventsIn(text: string): { id: string | null; type: string; data: Record<string, unknown> }[] {
  return text.split('\n\n').filter((block) => /^(id: |event: )/m.test(block)).map((block) => {
    const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? null;
    return { id: field('id'), type: field('event') ?? 'message', data: JSON.parse(field('data') ?? 'null') };
  });
}

// ---------------------------------------------------------------------------------------

describe('QR payment across two server processes (PostgreSQL + Redis)', () => {
  if (!postgresUrl || !redisUrl) {
    announceSkip('QR payment across two server processes', `${[!postgresUrl && 'POSTGRES_URL', !redisUrl && 'REDIS_URL'].filter(Boolean).join(' and ')} not set`);
    it.skip('needs POSTGRES_URL and REDIS_URL', () => undefined);
    return;
  }

  // Both processes stand behind one address, as behind a load balancer: the QR code's link,
  // and the CRL and OCSP URLs the CA writes into certificates, name that address whichever
  // process made them (A's own address serves as it here).
  const pair = twoServersOnPostgres(postgresUrl, redisUrl);
  const servers = pair.servers;
  let a: ServerProcess;
  let b: ServerProcess;
  let databaseUrl: string;
  let dataDir: string;

  beforeAll(async () => {
    ({ a, b, databaseUrl, dataDir } = await pair.start());
  }, 2 * START_TIMEOUT_MS + 10_000);

  afterAll(() => pair.stop(), 30_000);

  it('the PC watches on A; the phone takes the QR code and pays on B; A\'s stream hears scanned, then paid', async ({ onTestFailed }) => {
    onTestFailed(() => {
      for (const s of servers) process.stderr.write(`\n--- server ${s.name} output ---\n${s.output()}\n`);
    });

    // Accounts, on A. The buyer logs in twice: the PC on A, the phone on B (sessions are
    // signed with the shared token keys, so either process accepts either).
    const buyer = buyerRegistration();
    expect((await publicRequest(a.url, 'POST', '/api/auth/register', buyer)).status).toBe(201);
    const sellerAccount = sellerRegistration();
    expect((await publicRequest(a.url, 'POST', '/api/auth/register', sellerAccount)).status).toBe(201);
    const pc = await HttpSession.login(a.url, buyer.loginId);
    const phone = await HttpSession.login(b.url, buyer.loginId);
    expect(phone.sessionId).not.toBe(pc.sessionId);
    const seller = await HttpSession.login(a.url, sellerAccount.loginId);
    const product = await seller.request('POST', '/api/seller/products', { name: '망고', category: 'food', description: '', priceWon: 15_000, stock: 10 });
    expect(product.status, product.text).toBe(201);

    // The phone, on B: its master certificate and money in the wallet.
    const device = await deviceKeys();
    const master = await phone.request('POST', '/api/certificates/master', { csrPem: device.csrPem });
    expect(master.status, master.text).toBe(201);
    const certificateId: string = master.body.certificate.id;
    const certificatePem: string = master.body.certificatePem;
    const topUp = await phone.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 });
    expect(topUp.status, topUp.text).toBe(201);

    // The PC, on A: an order, its QR code, and the event stream.
    const order = await pc.request('POST', '/api/orders', { source: 'product', productId: product.body.id, quantity: 1 });
    expect(order.status, order.text).toBe(201);
    const orderId: string = order.body.id;
    const qr = await pc.request('POST', `/api/orders/${orderId}/qr-sessions`, { locale: 'ko' });
    expect(qr.status, qr.text).toBe(201);
    const qrSessionId: string = qr.body.id;
    const confirmationCode: string = qr.body.confirmationCode;
    // What the phone's camera reads: the link to the shared address, the token in its fragment.
    const token = qrTokenFromText(qr.body.url, a.url);
    expect(token, qr.body.url).not.toBeNull();

    const stream = await openEventStream(pc, `/api/qr-sessions/${qrSessionId}/events`);
    try {
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      expect(await stream.until(/event: ready\n/), stream.text()).toBe(true);

      // From here the phone speaks to B only. Taking the code on B must reach A's stream:
      // B publishes `scanned` to Redis, A's subscription hears it.
      const claimed = await phone.request('POST', '/api/qr-sessions/claim', { token });
      expect(claimed.status, claimed.text).toBe(200);
      expect(claimed.body).toMatchObject({ id: qrSessionId, orderId });
      expect(await stream.until(/event: scanned\n/), stream.text()).toBe(true);

      // The ordinary payment protocol, on B, with the QR session in the request. Both
      // processes must hold the same payment key and CA (the shared data folder): a phone
      // that sealed to one may be answered by the other.
      const serverKey = await publicRequest(b.url, 'GET', '/api/payments/server-key');
      expect(serverKey.status).toBe(200);
      expect((await publicRequest(a.url, 'GET', '/api/payments/server-key')).body.agreementKey).toEqual(serverKey.body.agreementKey);
      const agreementKey = await crypto.subtle.importKey('jwk', { ...serverKey.body.agreementKey, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
      const chain = await publicRequest(b.url, 'GET', '/pki/ca.pem');
      expect(chain.status).toBe(200);
      // The chain is the issuing CA, then the root: the root is the trust anchor.
      const root = allPemBlocks(chain.text, 'CERTIFICATE').at(-1)!;

      const reply = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
      const request: PaymentRequest = {
        v: 1, type: 'coconutpay-payment-request', orderId, payerUserId: phone.userId, certificateId,
        nonce: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url'), issuedAtMs: Date.now(), locale: 'ko',
        replyKey: reply.jwk, qrSessionId,
      };
      const signature = await signCanonical(device.keys.privateKey, request);
      const sealedRequest = await seal({ request, signature }, agreementKey, 'coconutpay-payment-request');
      const issued = await phone.request('POST', '/api/payments/requests', { sealedRequest, locale: 'ko' });
      expect(issued.status, issued.text).toBe(201);
      const comId: string = issued.body.comId;
      const { jws } = await unseal<{ jws: string }>(issued.body.sealedCommand, reply.key, 'coconutpay-payment-command');
      const check = await verifyCommand(jws, [root], new Date());
      if (!check.ok) throw new Error(`the command does not verify: ${JSON.stringify(check)}`);
      const command = check.command;
      // The phone shows the confirmation code from A's signed command; it is the one the PC shows.
      expect(command.channel).toEqual({ kind: 'qr', qrSessionId, confirmationCode });
      expect(command.amountWon).toBe(15_000);

      // The first payment of a certificate asks for the verification code. A person reads it
      // from the picture; the test reads its row and opens it with the key in the data folder.
      expect(issued.body.codeRequired).toBe(true);
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      let code: string;
      try {
        const rows = (await db.query<{ id: string; code_sealed: string }>('select id, code_sealed from verification_codes where com_id = $1', [comId])).rows;
        expect(rows).toHaveLength(1);
        code = VerificationCodeKey.open(dataDir).open(rows[0]!.id, rows[0]!.code_sealed);
      } finally {
        await db.end();
      }

      const authorization: PaymentAuthorization = {
        v: 1, type: 'coconutpay-payment-authorization', command, commandJws: jws, codeProof: await codeProof(code, comId),
      };
      const content = authorizationContent(authorization);
      const attributes = await signedAttributes(content, new Date(), fromPem(certificatePem, 'CERTIFICATE'));
      const deviceSignature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, device.keys.privateKey, attributes));
      const paid = await phone.request('POST', '/api/payments/authorizations', {
        comId,
        content: Buffer.from(content).toString('base64url'),
        signedAttributes: Buffer.from(attributes).toString('base64url'),
        signature: Buffer.from(p1363ToDer(deviceSignature)).toString('base64url'),
      });
      expect(paid.status, paid.text).toBe(200);

      // A's stream hears the payment B made, within seconds, and then ends: `paid` is final.
      expect(await stream.until(/event: paid\n/), stream.text()).toBe(true);
      expect(await stream.untilEnded(2_000), stream.text()).toBe(true);
      const events = eventsIn(stream.text());
      expect(events.map((e) => [e.id, e.type])).toEqual([['1', 'ready'], ['2', 'scanned'], ['3', 'paid']]);
      expect(events[2]!.data).toMatchObject({ type: 'paid', orderId });
    } finally {
      await stream.cancel();
    }

    // A reads the order B paid from the shared database.
    const after = await pc.get(`/api/orders/${orderId}`);
    expect(after.status, after.text).toBe(200);
    expect(after.body.status).toBe('paid');
  }, 120_000);
});
