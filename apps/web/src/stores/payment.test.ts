/**
 * The browser's side of direct payment, against an "A" made here with core alone
 * (a root, A's command-issuing certificate, A's ECDH key): the request is signed
 * and sealed so that only A opens it; a command is shown only when A signed it
 * and it answers this very request; the authorization is a CMS signature that
 * verifies and binds the code's proof.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toHex } from '@coconutpay/core/encoding';
import { codeProof, REPLY_KEY_BYTES, replyKey, signCommand, unseal, verifyCanonical, seal, type PaymentCommand, type PaymentRequest } from '@coconutpay/core/payment';
import { createCertificate } from '@coconutpay/core/pki/certificate-builder';
import { assembleSignedData, checkSignedDataSignature, parseSignedData } from '@coconutpay/core/pki/cms';
import { EKU } from '@coconutpay/core/pki/oids';
import { derToP1363 } from '@coconutpay/core/pki/signature';
import { ApiError } from '../api/client.js';
import type { IssuedCommand, PaymentServerKey } from '../api/payments.js';
import {
  buildSealedRequest,
  importServerKey,
  isCompleteCode,
  normalizeCode,
  openCommand,
  PaymentFlowError,
  signatureDisplayHex,
  signAuthorization,
  triesLeft,
} from './payment.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOW_MS = Date.UTC(2026, 10, 30, 12);
const DAY_MS = 86_400_000;
const ecdsaKeys = async () => (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
const ecdhKeys = async () => (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
const der = (certificate: x509.X509Certificate) => new Uint8Array(certificate.rawData);
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

async function flowCode(action: Promise<unknown>): Promise<string> {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  return error instanceof PaymentFlowError ? error.code : `no flow error: ${String(error)}`;
}

describe('direct payment in the browser', () => {
  let rootKeys: CryptoKeyPair;
  let root: x509.X509Certificate;
  let aKeys: CryptoKeyPair;
  let aCert: x509.X509Certificate;
  let aAgreement: CryptoKeyPair;
  let device: CryptoKeyPair;
  let deviceCert: x509.X509Certificate;
  let serverKey: PaymentServerKey;

  async function leaf(publicKey: CryptoKey, ekus: string[], signer = rootKeys.privateKey, subject = 'CN=CoconutPay Payment Server (A)'): Promise<x509.X509Certificate> {
    return createCertificate({
      serialNumberHex: `01${toHex(crypto.getRandomValues(new Uint8Array(8)))}`,
      subject,
      issuer: root.subjectName,
      publicKey,
      signingKey: signer,
      notBefore: new Date(NOW_MS - DAY_MS),
      notAfter: new Date(NOW_MS + DAY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
        new x509.ExtendedKeyUsageExtension(ekus),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
  }

  beforeAll(async () => {
    rootKeys = await ecdsaKeys();
    root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Test Root',
      keys: rootKeys,
      signingAlgorithm: ALG,
      notBefore: new Date(NOW_MS - 10 * DAY_MS),
      notAfter: new Date(NOW_MS + 100 * DAY_MS),
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    aKeys = await ecdsaKeys();
    aCert = await leaf(aKeys.publicKey, [EKU.commandIssuing]);
    aAgreement = await ecdhKeys();
    device = await ecdsaKeys();
    deviceCert = await leaf(device.publicKey, [EKU.paymentSigning], rootKeys.privateKey, 'CN=buyer1');
    const jwk = await crypto.subtle.exportKey('jwk', aAgreement.publicKey);
    serverKey = { agreementKey: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! }, x5c: [base64(der(aCert))] };
  });

  const at = () => new Date(NOW_MS);

  async function request(orderId = 'order-1', qrSessionId?: string) {
    const agreementKey = await importServerKey(serverKey, der(root), at());
    return buildSealedRequest({
      ...(qrSessionId === undefined ? {} : { qrSessionId }),
      orderId,
      payerUserId: 'user-1',
      certificateId: 'cert-1',
      locale: 'ko',
      signingKey: device.privateKey,
      agreementKey,
      nowMs: NOW_MS,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
    });
  }

  /** What A answers to `req`, from its own records; `edit` changes the command before A signs it. */
  function commandFor(req: PaymentRequest, edit: (c: PaymentCommand) => PaymentCommand = (c) => c): PaymentCommand {
    return edit({
      v: 1,
      type: 'coconutpay-payment-command',
      comId: 'com-1',
      orderId: req.orderId,
      orderNumber: 'CP-20261130-ABC123',
      payer: { userId: req.payerUserId, loginId: 'buyer1', name: '홍길동' },
      payee: { sellerId: 's-1', storeName: '코코넛 마트', businessNumber: '123-45-67890' },
      items: [
        { productId: 'p-1', name: '노트북', quantity: 1, unitPriceWon: 800_000, lineTotalWon: 800_000 },
        { productId: 'p-2', name: '마우스', quantity: 2, unitPriceWon: 15_000, lineTotalWon: 30_000 },
      ],
      amountWon: 830_000,
      currency: 'KRW',
      issuedAtMs: NOW_MS,
      expiresAtMs: NOW_MS + 120_000,
      nonce: 'a-nonce',
      requestNonce: req.nonce,
      locale: req.locale,
      certificateId: req.certificateId,
      verification: { codeRequired: true, codeId: 'code-1', policyRule: 'first-payment-of-certificate' },
    });
  }

  async function answer(req: PaymentRequest, command: PaymentCommand, signer = aKeys.privateKey, chain = [der(aCert)]): Promise<IssuedCommand> {
    const jws = await signCommand(command, signer, chain);
    // A reads the reply key's bytes from REQ and seals under them (dir).
    const sealingKey = await crypto.subtle.importKey('raw', fromBase64Url(req.replyKey.k), 'AES-GCM', false, ['encrypt']);
    return { comId: 'com-1', sealedCommand: await seal({ jws }, sealingKey, 'coconutpay-payment-command'), codeRequired: true, expiresAtMs: command.expiresAtMs };
  }

  it('seals a request only A opens, signed by the device key over its canonical form', async () => {
    const built = await request();
    const opened = await unseal<{ request: PaymentRequest; signature: string }>(built.sealedRequest, aAgreement.privateKey, 'coconutpay-payment-request');
    expect(opened.request).toEqual(built.request);
    expect(opened.request).toMatchObject({ v: 1, type: 'coconutpay-payment-request', orderId: 'order-1', payerUserId: 'user-1', certificateId: 'cert-1', issuedAtMs: NOW_MS, locale: 'ko' });
    expect(opened.request.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(opened.request.replyKey).toEqual({ kty: 'oct', k: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(built.replyKey).toMatchObject({ extractable: false, usages: ['decrypt'] });
    const spki = new Uint8Array(deviceCert.publicKey.rawData);
    expect(await verifyCanonical(spki, opened.request, opened.signature)).toBe(true);
    expect(await verifyCanonical(spki, { ...opened.request, orderId: 'order-2' }, opened.signature)).toBe(false);
    await expect(unseal(built.sealedRequest, (await ecdhKeys()).privateKey, 'coconutpay-payment-request')).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
  });

  it('refuses to seal to a key whose certificate may not issue commands or is not under our root', async () => {
    const userCert = await leaf(aKeys.publicKey, [EKU.paymentSigning]);
    expect(await flowCode(importServerKey({ ...serverKey, x5c: [base64(der(userCert))] }, der(root), at()))).toBe('serverKeyInvalid');
    const strangerKeys = await ecdsaKeys();
    const stranger = await leaf(aKeys.publicKey, [EKU.commandIssuing], strangerKeys.privateKey);
    expect(await flowCode(importServerKey({ ...serverKey, x5c: [base64(der(stranger))] }, der(root), at()))).toBe('serverKeyInvalid');
    expect(await flowCode(importServerKey({ ...serverKey, x5c: ['not base64!'] }, der(root), at()))).toBe('serverKeyInvalid');
    expect(await flowCode(importServerKey({ ...serverKey, x5c: [] }, der(root), at()))).toBe('serverKeyInvalid');
    expect(await flowCode(importServerKey(serverKey, der(root), new Date(NOW_MS + 2 * DAY_MS)))).toBe('serverKeyInvalid');
  });

  it('opens a command A signed that answers this request', async () => {
    const built = await request();
    const command = commandFor(built.request);
    const opened = await openCommand({ issued: await answer(built.request, command), replyKey: built.replyKey, rootDer: der(root), request: built.request, at: at() });
    expect(opened.command).toEqual(command);
    expect(opened.jws.split('.')).toHaveLength(3);
  });

  it('shows nothing signed by another key, sealed to another key, or altered', async () => {
    const built = await request();
    const open = async (issued: IssuedCommand, key = built.replyKey) => flowCode(openCommand({ issued, replyKey: key, rootDer: der(root), request: built.request, at: at() }));
    const command = commandFor(built.request);
    const userKeys = await ecdsaKeys();
    const userCert = await leaf(userKeys.publicKey, [EKU.paymentSigning]);
    expect(await open(await answer(built.request, command, userKeys.privateKey, [der(userCert)]))).toBe('commandInvalid');
    expect(await open(await answer(built.request, command, userKeys.privateKey))).toBe('commandInvalid');
    expect(await open(await answer(built.request, command), (await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)))).key)).toBe('commandInvalid');
    const good = await answer(built.request, command);
    const [header, key, iv, ciphertext, tag] = good.sealedCommand.split('.');
    const flipped = `${ciphertext!.slice(0, -2)}${ciphertext!.endsWith('AA') ? 'BA' : 'AA'}`;
    expect(await open({ ...good, sealedCommand: [header, key, iv, flipped, tag].join('.') })).toBe('commandInvalid');
  });

  it('refuses a genuine command that does not answer this request', async () => {
    const built = await request();
    const open = async (edit: (c: PaymentCommand) => PaymentCommand, issuedEdit: (i: IssuedCommand) => IssuedCommand = (i) => i) =>
      flowCode(openCommand({ issued: issuedEdit(await answer(built.request, commandFor(built.request, edit))), replyKey: built.replyKey, rootDer: der(root), request: built.request, at: at() }));
    expect(await open((c) => ({ ...c, orderId: 'order-2' }))).toBe('commandMismatch');
    expect(await open((c) => ({ ...c, payer: { ...c.payer, userId: 'user-2' } }))).toBe('commandMismatch');
    expect(await open((c) => ({ ...c, requestNonce: 'an-earlier-request' }))).toBe('commandMismatch');
    expect(await open((c) => ({ ...c, certificateId: 'cert-2' }))).toBe('commandMismatch');
    expect(await open((c) => ({ ...c, locale: 'en' }))).toBe('commandMismatch');
    expect(await open((c) => ({ ...c, amountWon: 8_300 }))).toBe('commandMismatch');
    expect(await open((c) => ({ ...c, expiresAtMs: NOW_MS }))).toBe('commandMismatch');
    expect(await open((c) => c, (i) => ({ ...i, comId: 'com-2' }))).toBe('commandMismatch');
    expect(await open((c) => c, (i) => ({ ...i, codeRequired: false }))).toBe('commandMismatch');
  });

  it('pays for a QR code only with a command that names the very session and carries its confirmation code', async () => {
    const qr = await request('order-1', 'qr-session-1');
    expect(qr.request.qrSessionId).toBe('qr-session-1');
    const open = async (req: typeof qr, edit: (c: PaymentCommand) => PaymentCommand) =>
      flowCode(openCommand({ issued: await answer(req.request, commandFor(req.request, edit)), replyKey: req.replyKey, rootDer: der(root), request: req.request, at: at() }));
    const channel = { kind: 'qr' as const, qrSessionId: 'qr-session-1', confirmationCode: 'K7MX' };
    const opened = await openCommand({ issued: await answer(qr.request, commandFor(qr.request, (c) => ({ ...c, channel }))), replyKey: qr.replyKey, rootDer: der(root), request: qr.request, at: at() });
    expect(opened.command.channel).toEqual(channel);
    expect(await open(qr, (c) => c)).toBe('commandMismatch');
    expect(await open(qr, (c) => ({ ...c, channel: { ...channel, qrSessionId: 'qr-session-2' } }))).toBe('commandMismatch');
    expect(await open(qr, (c) => ({ ...c, channel: { ...channel, confirmationCode: '' } }))).toBe('commandMismatch');
    // A direct payment's command names no QR session.
    const direct = await request();
    expect(await open(direct, (c) => ({ ...c, channel }))).toBe('commandMismatch');
  });

  it('signs the authorization as CMS attributes that verify, with the code bound in as its proof', async () => {
    const built = await request();
    const opened = await openCommand({ issued: await answer(built.request, commandFor(built.request)), replyKey: built.replyKey, rootDer: der(root), request: built.request, at: at() });
    const body = await signAuthorization({ comId: 'com-1', command: opened.command, jws: opened.jws, code: 'K7M3XA', signingKey: device.privateKey, signingCertificate: der(deviceCert), signingTime: at() });
    expect(body.comId).toBe('com-1');
    const content = JSON.parse(new TextDecoder().decode(fromBase64Url(body.content)));
    expect(content).toEqual({ v: 1, type: 'coconutpay-payment-authorization', command: opened.command, commandJws: opened.jws, codeProof: await codeProof('K7M3XA', 'com-1') });
    expect(new TextDecoder().decode(fromBase64Url(body.content))).not.toContain('K7M3XA');

    const assemble = (content: Uint8Array) =>
      parseSignedData(assembleSignedData({ content, signedAttributesDer: fromBase64Url(body.signedAttributes), signatureDer: fromBase64Url(body.signature), signerCertificate: der(deviceCert), otherCertificates: [der(root)] }));
    const parsed = assemble(fromBase64Url(body.content));
    expect(parsed.signingTimeSeconds * 1000).toBe(NOW_MS);
    expect(await checkSignedDataSignature(parsed)).toMatchObject({ ok: true });
    // The signed attributes name the device's certificate (signing-certificate-v2).
    expect(toHex(parsed.signingCertificateHash!)).toBe(toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', der(deviceCert)))));
    // Another amount in the content no longer matches the signed digest.
    const changed = new TextEncoder().encode(new TextDecoder().decode(fromBase64Url(body.content)).replace('"amountWon":830000', '"amountWon":830001'));
    expect(await checkSignedDataSignature(assemble(changed))).toMatchObject({ ok: false });

    const withoutCode = await signAuthorization({ comId: 'com-1', command: opened.command, jws: opened.jws, code: null, signingKey: device.privateKey, signingCertificate: der(deviceCert), signingTime: at() });
    expect(JSON.parse(new TextDecoder().decode(fromBase64Url(withoutCode.content))).codeProof).toBeNull();
  });

  it('shows the signature as r‖s hex, the value the evidence verdict reports', async () => {
    const built = await request();
    const opened = await openCommand({ issued: await answer(built.request, commandFor(built.request)), replyKey: built.replyKey, rootDer: der(root), request: built.request, at: at() });
    const body = await signAuthorization({ comId: 'com-1', command: opened.command, jws: opened.jws, code: null, signingKey: device.privateKey, signingCertificate: der(deviceCert), signingTime: at() });
    const derHex = toHex(fromBase64Url(body.signature));
    expect(signatureDisplayHex(derHex)).toBe(toHex(derToP1363(fromBase64Url(body.signature))));
    expect(signatureDisplayHex(derHex)).toHaveLength(128);
    expect(signatureDisplayHex('ABCD')).toBe('abcd');
  });
});

describe('the code field and refusals', () => {
  it('keeps letters and digits in upper case, six at most', () => {
    expect(normalizeCode(' k7m-3xa ')).toBe('K7M3XA');
    expect(normalizeCode('abcdefgh')).toBe('ABCDEF');
    expect(normalizeCode('가나다')).toBe('');
    expect(isCompleteCode('K7M3XA')).toBe(true);
    expect(isCompleteCode('K7M3X')).toBe(false);
    expect(isCompleteCode('k7m3xa')).toBe(false);
  });

  it('reads the tries left from the server’s refusal, and nothing from other errors', () => {
    const failed = (detail?: string) => new ApiError({ status: 403, code: 'PAYMENT_AUTHORIZATION_FAILED', title: 't', ...(detail ? { detail } : {}) });
    expect(triesLeft(failed('3 tries left before payments are locked.'))).toBe(3);
    expect(triesLeft(failed('1 try left before payments are locked.'))).toBe(1);
    expect(triesLeft(failed())).toBeNull();
    expect(triesLeft(new ApiError({ status: 423, code: 'PAYMENT_LOCKED', title: 't', detail: '3 tries left' }))).toBeNull();
    expect(triesLeft(new Error('3 tries left'))).toBeNull();
  });
});
