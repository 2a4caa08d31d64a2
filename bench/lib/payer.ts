/**
 * What the browser does in a direct payment (docs/protocol.md, "Payment
 * authentication"), over real HTTP: order, seal a device-signed REQ to A, open A's
 * sealed command and check A's signature before trusting it, sign the authorization
 * as CMS signed attributes, send it. The same messages as apps/server/test/payment-client.ts
 * and the web app make with core's WebCrypto code, here with node:crypto (the server's
 * compact-jwe.ts, tested against core's `seal`/`unseal`) so that the one load core can
 * keep the server busy; the server checks every byte either way.
 */
import { createPublicKey, KeyObject, randomBytes, randomUUID, sign, verify } from 'node:crypto';
import { canonicalJson, canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';
import { fromBase64Url } from '@coconutpay/core/encoding';
import { authorizationContent, codeProof, REPLY_KEY_BYTES, verifyCommand, type PaymentAuthorization, type PaymentCommand, type PaymentRequest } from '@coconutpay/core/payment';
import { signedAttributes } from '@coconutpay/core/pki/cms';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import { openDirectJwe, p256PublicPoint, sealCompactJwe } from '../../apps/server/src/services/pki/compact-jwe.js';
import { expectStatus, type SignedClient } from './signed-client.js';

/** A buyer with a master certificate on this "device". */
export interface Holder {
  client: SignedClient;
  certificateId: string;
  /** The device key (WebCrypto, as made for the CSR) and the same key for node:crypto. */
  keys: CryptoKeyPair;
  signingKey: KeyObject;
  /** The certificate's DER, named in the signed attributes. */
  certificateDer: Uint8Array;
}

/** Times of one payment, in milliseconds. Steps are HTTP round trips; `totalMs` adds the client's own work. */
export interface PaymentTiming {
  orderMs: number;
  requestMs: number;
  codeImageMs: number | null;
  authorizeMs: number;
  totalMs: number;
  /** Sizes of the three bodies sent (order, sealed request, authorization). */
  bodyBytes: [number, number, number];
}

/**
 * Checks A's signed commands as the browser must before showing one. The chain
 * verdict of A's certificates (the JWS header, x5c included) is remembered by its exact
 * bytes for as long as every certificate in it is valid, like the server's verdict
 * cache; A's signature and the canonical form are checked on every command.
 */
export class CommandVerifier {
  private readonly chains = new Map<string, { key: KeyObject; fromMs: number; untilMs: number }>();
  fullChecks = 0;

  constructor(private readonly trustAnchors: Uint8Array[]) {}

  async verify(jws: string, nowMs: number): Promise<PaymentCommand> {
    const [headerPart, payloadPart, signaturePart] = jws.split('.') as [string, string?, string?];
    const known = this.chains.get(headerPart);
    if (!known || nowMs < known.fromMs || nowMs >= known.untilMs) {
      this.fullChecks += 1;
      const check = await verifyCommand(jws, this.trustAnchors, new Date(nowMs));
      if (!check.ok) throw new Error(`the command does not verify: ${JSON.stringify(check.reasons)}`);
      const header = JSON.parse(new TextDecoder().decode(fromBase64Url(headerPart))) as { x5c: string[] };
      let fromMs = Number.NEGATIVE_INFINITY;
      let untilMs = Number.POSITIVE_INFINITY;
      for (const c of header.x5c) {
        const parsed = parseCertificate(new Uint8Array(Buffer.from(c, 'base64')));
        fromMs = Math.max(fromMs, parsed.notBeforeSeconds * 1000);
        untilMs = Math.min(untilMs, parsed.notAfterSeconds * 1000);
      }
      const key = createPublicKey({ key: Buffer.from(parseCertificate(check.signerCertificate).spki), format: 'der', type: 'spki' });
      this.chains.set(headerPart, { key, fromMs, untilMs });
      return check.command;
    }
    if (payloadPart === undefined || signaturePart === undefined) throw new Error('not a compact JWS');
    const signature = fromBase64Url(signaturePart);
    if (signature.length !== 64 || !verify('sha256', Buffer.from(`${headerPart}.${payloadPart}`, 'ascii'), { key: known.key, dsaEncoding: 'ieee-p1363' }, signature)) {
      throw new Error('the command signature does not verify');
    }
    const text = new TextDecoder().decode(fromBase64Url(payloadPart));
    const command = JSON.parse(text) as PaymentCommand;
    if (canonicalJson(command) !== text) throw new Error('the command is not in canonical form');
    if (command.type !== 'coconutpay-payment-command' || command.v !== 1) throw new Error('not a payment command');
    return command;
  }
}

/** What every payer shares: A's key agreement key and the command checker. */
export interface PaymentContext {
  /** A's key agreement key, as an uncompressed P-256 point. */
  serverAgreementKey: Buffer;
  commands: CommandVerifier;
  /** Reads the plain code behind a command's picture (setup only: the bench is not a person). */
  codeOf?: (comId: string) => Promise<string>;
}

/** Fetches A's public key agreement key and sets up the command checker. */
export async function paymentContext(client: SignedClient, rootDer: Uint8Array): Promise<PaymentContext> {
  const answer = await client.connection.send('GET', '/api/payments/server-key', {});
  const key = expectStatus<{ agreementKey: { kty: 'EC'; crv: 'P-256'; x: string; y: string } }>('server key', answer, 200).agreementKey;
  const serverAgreementKey = p256PublicPoint(key);
  return { serverAgreementKey, commands: new CommandVerifier([rootDer]) };
}

/**
 * One complete payment of one product: order → REQ → COM → AUTH → paid. With
 * `withCode` the command must ask for the code, which is read through `codeOf`.
 */
export async function payOnce(context: PaymentContext, holder: Holder, productId: string, options: { withCode?: boolean } = {}): Promise<PaymentTiming> {
  const started = performance.now();
  const client = holder.client;

  let t = performance.now();
  const orderBody = { source: 'product', productId, quantity: 1 };
  // With an Idempotency-Key, as the web app's checkout sends every order: the key's claim and
  // its answer stored in the order's transaction are part of what a buyer's payment costs.
  const order = expectStatus<{ id: string; totalWon: number; orderNumber: string }>('order', await client.request('POST', '/api/orders', orderBody, { 'idempotency-key': randomUUID() }), 201);
  const orderMs = performance.now() - t;

  const { sealedRequest, reply } = sealPaymentRequest(context, holder, order.id, Date.now());
  t = performance.now();
  const issued = expectStatus<{ comId: string; sealedCommand: string; codeRequired: boolean }>('request', await client.request('POST', '/api/payments/requests', { sealedRequest, locale: 'ko' }), 201);
  const requestMs = performance.now() - t;
  if (issued.codeRequired !== (options.withCode === true)) throw new Error(`the command ${issued.codeRequired ? 'asks' : 'does not ask'} for the code`);

  let codeImageMs: number | null = null;
  let code: string | null = null;
  if (issued.codeRequired) {
    if (!context.codeOf) throw new Error('a code is asked and nobody can read it');
    t = performance.now();
    const picture = await client.request('GET', `/api/payments/commands/${issued.comId}/code.png`);
    if (picture.status !== 200) throw new Error(`code picture: HTTP ${picture.status}`);
    codeImageMs = performance.now() - t;
    code = await context.codeOf(issued.comId);
  }
  const body = await signAuthorization(context, holder, issued, reply, { orderId: order.id, amountWon: order.totalWon }, code, Date.now());
  t = performance.now();
  const receipt = expectStatus<{ orderId: string; amountWon: number }>('authorize', await client.request('POST', '/api/payments/authorizations', body), 200);
  const authorizeMs = performance.now() - t;
  if (receipt.orderId !== order.id || receipt.amountWon !== order.totalWon) throw new Error('the receipt is not for this order');
  // Body sizes without serialising again: every field is ASCII, and the JSON punctuation is fixed.
  const authorizationBytes = body.comId.length + body.content.length + body.signedAttributes.length + body.signature.length + 64;
  return {
    orderMs, requestMs, codeImageMs, authorizeMs, totalMs: performance.now() - started,
    bodyBytes: [JSON.stringify(orderBody).length, sealedRequest.length + 33, authorizationBytes],
  };
}

/** What signs on the payer's side: the device's key and certificate, for its account. */
export type PayingDevice = Pick<Holder, 'certificateId' | 'signingKey' | 'certificateDer'> & { userId: string };

/** REQ for `orderId`, signed by the device and sealed to A, with the reply key A answers to. */
export function sealPaymentRequest(context: Pick<PaymentContext, 'serverAgreementKey'>, device: PayingDevice | Holder, orderId: string, nowMs: number): { sealedRequest: string; reply: Buffer } {
  const userId = 'client' in device ? device.client.userId : device.userId;
  // A fresh reply key for this payment only.
  const reply = randomBytes(REPLY_KEY_BYTES);
  const request: PaymentRequest = {
    v: 1, type: 'coconutpay-payment-request', orderId, payerUserId: userId, certificateId: device.certificateId,
    nonce: randomBytes(16).toString('base64url'), issuedAtMs: nowMs, locale: 'ko',
    replyKey: { kty: 'oct', k: reply.toString('base64url') },
  };
  const signature = sign('sha256', canonicalJsonBytes(request), { key: device.signingKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return { sealedRequest: sealCompactJwe(canonicalJsonBytes({ request, signature }), context.serverAgreementKey, 'coconutpay-payment-request'), reply };
}

/**
 * Opens A's sealed command, checks A's signature and that it is for `expected` (what the
 * person would be shown: this order, at the server's total), and signs the authorization
 * as CMS signed attributes: the body of `POST /api/payments/authorizations`.
 */
export async function signAuthorization(
  context: Pick<PaymentContext, 'commands'>, device: PayingDevice | Holder, issued: { comId: string; sealedCommand: string }, reply: Buffer,
  expected: { orderId: string; amountWon: number }, code: string | null, nowMs: number,
): Promise<{ comId: string; content: string; signedAttributes: string; signature: string }> {
  const { jws } = JSON.parse(openDirectJwe(issued.sealedCommand, reply, 'coconutpay-payment-command').toString('utf8')) as { jws: string };
  const command = await context.commands.verify(jws, nowMs);
  if (command.comId !== issued.comId || command.orderId !== expected.orderId || command.amountWon !== expected.amountWon) throw new Error('the command is not for this order');
  const authorization: PaymentAuthorization = {
    v: 1, type: 'coconutpay-payment-authorization', command, commandJws: jws, codeProof: code ? await codeProof(code, issued.comId) : null,
  };
  const content = authorizationContent(authorization);
  const attributes = await signedAttributes(content, new Date(nowMs), device.certificateDer);
  const deviceSignature = sign('sha256', attributes, { key: device.signingKey, dsaEncoding: 'ieee-p1363' });
  return {
    comId: issued.comId,
    content: Buffer.from(content).toString('base64url'),
    signedAttributes: Buffer.from(attributes).toString('base64url'),
    signature: Buffer.from(p1363ToDer(deviceSignature)).toString('base64url'),
  };
}
