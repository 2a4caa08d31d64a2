/**
 * What the browser does in a direct payment, written for tests: seal a signed
 * request to A, open and check the command, sign the authorization as CMS
 * attributes. Uses only core and WebCrypto, like the web app.
 */
import { expect } from 'vitest';
import { canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';
import {
  authorizationContent, codeProof, REPLY_KEY_BYTES, replyKey, seal, signCanonical, unseal, verifyCommand,
  type PaymentAuthorization, type PaymentCommand, type PaymentRequest,
} from '@coconutpay/core/payment';
import { signedAttributes } from '@coconutpay/core/pki/cms';
import { fromPem } from '@coconutpay/core/pki/pem';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import { x509 } from '../src/services/pki/x509.js';
import type { SignedClient, TestApp } from './helpers.js';
import { newClient } from './helpers.js';

export interface Holder {
  client: SignedClient;
  certificateId: string;
  keys: CryptoKeyPair;
  certificatePem: string;
}

export async function deviceKeys(): Promise<{ keys: CryptoKeyPair; csrPem: string }> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=device', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  return { keys, csrPem: csr.toString('pem') };
}

/** A fresh buyer with a master certificate. */
export async function buyerWithCertificate(t: TestApp, client?: SignedClient): Promise<Holder> {
  const c = client ?? (await newClient(t, 'buyer'));
  const d = await deviceKeys();
  const res = await c.request('POST', '/api/certificates/master', { csrPem: d.csrPem });
  expect(res.statusCode, res.body).toBe(201);
  return { client: c, certificateId: res.json().certificate.id, keys: d.keys, certificatePem: res.json().certificatePem };
}

export interface OpenedCommand {
  comId: string;
  command: PaymentCommand;
  jws: string;
  codeRequired: boolean;
  request: PaymentRequest;
  sealedRequest: string;
}

export async function serverAgreementKey(t: TestApp): Promise<CryptoKey> {
  const key = (await t.app.inject({ method: 'GET', url: '/api/payments/server-key' })).json().agreementKey;
  return crypto.subtle.importKey('jwk', { ...key, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
}

export function rootDer(t: TestApp): Uint8Array {
  return new Uint8Array(t.app.internals.ca.root.certificate.rawData);
}

/** Builds, signs and seals a REQ; `edit` may change it after signing (to test tampering). */
export async function sealedRequest(
  t: TestApp,
  holder: Holder,
  orderId: string,
  options: { edit?: (r: PaymentRequest) => PaymentRequest; signer?: CryptoKey; certificateId?: string; nonce?: string; qrSessionId?: string } = {},
) {
  const reply = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
  const request: PaymentRequest = {
    v: 1, type: 'coconutpay-payment-request', orderId, payerUserId: holder.client.userId, certificateId: options.certificateId ?? holder.certificateId,
    nonce: options.nonce ?? Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url'), issuedAtMs: t.clock.nowMs, locale: 'ko', replyKey: reply.jwk,
    ...(options.qrSessionId === undefined ? {} : { qrSessionId: options.qrSessionId }),
  };
  const signature = await signCanonical(options.signer ?? holder.keys.privateKey, request);
  const sent = options.edit ? options.edit(request) : request;
  const sealed = await seal({ request: sent, signature }, await serverAgreementKey(t), 'coconutpay-payment-request');
  return { sealed, reply, request: sent };
}

/** Sends a REQ and opens the answer as the browser does, checking A's signature first. */
export async function requestCommand(t: TestApp, holder: Holder, orderId: string): Promise<OpenedCommand> {
  const { sealed, reply, request } = await sealedRequest(t, holder, orderId);
  const res = await holder.client.request('POST', '/api/payments/requests', { sealedRequest: sealed, locale: 'ko' });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json();
  const { jws } = await unseal<{ jws: string }>(body.sealedCommand, reply.key, 'coconutpay-payment-command');
  const check = await verifyCommand(jws, [rootDer(t)], new Date(t.clock.nowMs));
  expect(check.ok, JSON.stringify(check)).toBe(true);
  if (!check.ok) throw new Error('unreachable');
  return { comId: body.comId, command: check.command, jws, codeRequired: body.codeRequired, request, sealedRequest: sealed };
}

/** Signs the authorization of `opened` (with `code` when asked) as the device would. */
export async function authorizationBody(t: TestApp, holder: Holder, opened: OpenedCommand, options: { code?: string | null; command?: PaymentCommand; signer?: CryptoKey; signingTimeMs?: number; signingCertificate?: Uint8Array } = {}) {
  const authorization: PaymentAuthorization = {
    v: 1, type: 'coconutpay-payment-authorization', command: options.command ?? opened.command, commandJws: opened.jws,
    codeProof: options.code ? await codeProof(options.code, opened.comId) : null,
  };
  const content = authorizationContent(authorization);
  const attributes = await signedAttributes(content, new Date(options.signingTimeMs ?? t.clock.nowMs), options.signingCertificate ?? fromPem(holder.certificatePem, 'CERTIFICATE'));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, options.signer ?? holder.keys.privateKey, attributes));
  return {
    comId: opened.comId,
    content: Buffer.from(content).toString('base64url'),
    signedAttributes: Buffer.from(attributes).toString('base64url'),
    signature: Buffer.from(p1363ToDer(signature)).toString('base64url'),
  };
}

/** The plain code behind a command's picture (tests only: a person reads the picture). */
export async function codeOf(t: TestApp, comId: string): Promise<string> {
  const row = await t.app.internals.database.db.selectFrom('verificationCodes').select(['id', 'codeSealed']).where('comId', '=', comId).executeTakeFirstOrThrow();
  return t.app.internals.codeKey.open(row.id, row.codeSealed!);
}

export { canonicalJsonBytes };
