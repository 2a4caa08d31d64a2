import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CompactSign } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonBytes } from '../encoding/canonical-json.js';
import { fromBase64Url } from '../encoding/index.js';
import { createCertificate } from '../pki/certificate-builder.js';
import { EKU } from '../pki/oids.js';
import {
  authorizationContent, authorizationContentOf, codeProof, REPLY_KEY_BYTES, replyKey, seal, signCanonical, signCommand, unseal, verifyCanonical, verifyCommand, type PaymentCommand, type PaymentRequest,
} from './index.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOW = new Date('2026-11-30T12:00:00Z');
const keys = async () => (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
const agreementKeys = async () => (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
const freshReplyKey = () => replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
/** The reply key as A holds it after reading REQ: the same bytes, for encrypting. */
const sealingKey = (jwk: PaymentRequest['replyKey']) => crypto.subtle.importKey('raw', fromBase64Url(jwk.k), 'AES-GCM', false, ['encrypt']);
const flipFirstByte = (jwe: string, part: number) => {
  const parts = jwe.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0] = bytes[0]! ^ 1;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
};
const headerOf = (jwe: string) => JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;

const command: PaymentCommand = {
  v: 1, type: 'coconutpay-payment-command', comId: 'c0m-1', orderId: 'o-1', orderNumber: 'CP-20261130-ABC123',
  payer: { userId: 'u-1', loginId: 'buyer1', name: '홍길동' }, payee: { sellerId: 's-1', storeName: '코코넛 마트', businessNumber: '123-45-67890' },
  items: [{ productId: 'p-1', name: '노트북', quantity: 1, unitPriceWon: 800000, lineTotalWon: 800000 }],
  amountWon: 800000, currency: 'KRW', issuedAtMs: NOW.getTime(), expiresAtMs: NOW.getTime() + 120_000, nonce: 'n', requestNonce: 'rn', locale: 'ko',
  certificateId: 'cert-1', verification: { codeRequired: true, codeId: 'code-1', policyRule: 'default' },
};

describe('the authorization content from a stored canonical command', () => {
  it('is byte for byte what canonicalizing the whole authorization gives', () => {
    const variants: PaymentCommand[] = [
      command,
      { ...command, payer: { ...command.payer, name: 'Zoë "Q" \\ 𝄞\n' }, items: [...command.items, { productId: 'p-2', name: '바나나\u2028', quantity: 3, unitPriceWon: 1_500, lineTotalWon: 4_500 }] },
      { ...command, verification: { codeRequired: false, codeId: null, policyRule: 'default' }, amountWon: 1, locale: 'en' },
    ];
    for (const c of variants) {
      for (const proof of [null, 'AbC_-9'.repeat(7).slice(0, 43)]) {
        const jws = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(canonicalJson(c)).toString('base64url')}.sig-_`;
        const expected = authorizationContent({ v: 1, type: 'coconutpay-payment-authorization', command: c, commandJws: jws, codeProof: proof });
        expect(Buffer.from(authorizationContentOf(canonicalJson(c), jws, proof)).equals(Buffer.from(expected))).toBe(true);
      }
    }
  });
});

describe('payment protocol messages', () => {
  let root: x509.X509Certificate;
  let aKeys: CryptoKeyPair;
  let aCert: x509.X509Certificate;
  let rootKeys: CryptoKeyPair;

  const leaf = async (publicKey: CryptoKey, ekus: string[], signer = rootKeys.privateKey, issuer = root) =>
    createCertificate({
      serialNumberHex: `01${Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => b.toString(16).padStart(2, '0')).join('')}`,
      subject: 'CN=CoconutPay Payment Server A', issuer: issuer.subjectName, publicKey, signingKey: signer,
      notBefore: new Date(NOW.getTime() - 86_400_000), notAfter: new Date(NOW.getTime() + 86_400_000),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension(ekus),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      ],
    });

  beforeAll(async () => {
    rootKeys = await keys();
    root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: 'CN=Test Root', keys: rootKeys, signingAlgorithm: ALG, notBefore: new Date('2026-01-01'), notAfter: new Date('2030-01-01'),
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    aKeys = await keys();
    aCert = await leaf(aKeys.publicKey, [EKU.commandIssuing]);
  });

  const anchors = () => [new Uint8Array(root.rawData)];

  it('C accepts a command A signed, and gets back exactly what A signed', async () => {
    const jws = await signCommand(command, aKeys.privateKey, [new Uint8Array(aCert.rawData)]);
    const check = await verifyCommand(jws, anchors(), NOW);
    expect(check, JSON.stringify(check)).toMatchObject({ ok: true, command });
  });

  it('refuses a command whose amount, payee or items changed after signing', async () => {
    const jws = await signCommand(command, aKeys.privateKey, [new Uint8Array(aCert.rawData)]);
    const [header, , signature] = jws.split('.');
    for (const changed of [
      { ...command, amountWon: 8000 },
      { ...command, payee: { ...command.payee, storeName: 'Mallory' } },
      { ...command, items: [{ ...command.items[0]!, quantity: 2 }] },
    ]) {
      const payload = Buffer.from(canonicalJsonBytes(changed)).toString('base64url');
      expect(await verifyCommand(`${header}.${payload}.${signature}`, anchors(), NOW)).toMatchObject({ ok: false });
    }
  });

  it('refuses a command signed by a key other than A’s: a user certificate, a foreign CA, or another key under A’s certificate', async () => {
    const user = await keys();
    const userCert = await leaf(user.publicKey, [EKU.paymentSigning]);
    expect(await verifyCommand(await signCommand(command, user.privateKey, [new Uint8Array(userCert.rawData)]), anchors(), NOW)).toMatchObject({ ok: false });
    const foreignRoot = await keys();
    const foreignCert = await leaf(aKeys.publicKey, [EKU.commandIssuing], foreignRoot.privateKey);
    expect(await verifyCommand(await signCommand(command, aKeys.privateKey, [new Uint8Array(foreignCert.rawData)]), anchors(), NOW)).toMatchObject({ ok: false });
    const other = await keys();
    const check = await verifyCommand(await signCommand(command, other.privateKey, [new Uint8Array(aCert.rawData)]), anchors(), NOW);
    expect(check).toMatchObject({ ok: false, reasons: [{ code: 'COMMAND_SIGNATURE_INVALID' }] });
    // A's certificate outside its validity.
    expect(await verifyCommand(await signCommand(command, aKeys.privateKey, [new Uint8Array(aCert.rawData)]), anchors(), new Date(NOW.getTime() + 3 * 86_400_000))).toMatchObject({ ok: false });
  });

  it('refuses a correctly signed payload that is not canonical', async () => {
    const text = JSON.stringify(command, null, 1);
    const jws = await new CompactSign(new TextEncoder().encode(text))
      .setProtectedHeader({ alg: 'ES256', x5c: [Buffer.from(aCert.rawData).toString('base64')] })
      .sign(aKeys.privateKey);
    expect(await verifyCommand(jws, anchors(), NOW)).toMatchObject({ ok: false, reasons: [{ message: expect.stringContaining('canonical') }] });
  });

  it('seals to the recipient only; a changed ciphertext or another key cannot open it', async () => {
    const recipient = await agreementKeys();
    const jwe = await seal(command, recipient.publicKey, 'coconutpay-com');
    expect(headerOf(jwe)).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', cty: 'coconutpay-com' });
    await expect(unseal(jwe, recipient.privateKey, 'coconutpay-com')).resolves.toEqual(command);
    await expect(unseal(jwe, (await agreementKeys()).privateKey, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(flipFirstByte(jwe, 3), recipient.privateKey, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(jwe, recipient.privateKey, 'coconutpay-req')).rejects.toThrow(/content type/);
  });

  it('seals under a reply key (dir) that opens only with the same 32 bytes, and only as dir', async () => {
    const reply = await freshReplyKey();
    expect(reply.jwk.kty).toBe('oct');
    expect(fromBase64Url(reply.jwk.k)).toHaveLength(REPLY_KEY_BYTES);
    expect(reply.key.extractable).toBe(false);
    expect(reply.key.usages).toEqual(['decrypt']);
    const jwe = await seal(command, await sealingKey(reply.jwk), 'coconutpay-com');
    expect(headerOf(jwe)).toEqual({ alg: 'dir', enc: 'A256GCM', cty: 'coconutpay-com' });
    expect(jwe.split('.')[1]).toBe('');
    await expect(unseal(jwe, reply.key, 'coconutpay-com')).resolves.toEqual(command);

    await expect(unseal(jwe, (await freshReplyKey()).key, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(flipFirstByte(jwe, 3), reply.key, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(flipFirstByte(jwe, 4), reply.key, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(jwe, reply.key, 'coconutpay-req')).rejects.toThrow(/content type/);
    // The key, not the message, says how a message is opened: each key refuses the other kind.
    const recipient = await agreementKeys();
    await expect(unseal(await seal(command, recipient.publicKey, 'coconutpay-com'), reply.key, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    await expect(unseal(jwe, recipient.privateKey, 'coconutpay-com')).rejects.toMatchObject({ code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });

  it('makes a reply key from exactly 32 bytes', async () => {
    const bytes = crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES));
    expect(fromBase64Url((await replyKey(bytes)).jwk.k)).toEqual(bytes);
    await expect(replyKey(new Uint8Array(31))).rejects.toThrow(RangeError);
    await expect(replyKey(new Uint8Array(33))).rejects.toThrow(RangeError);
  });

  it('a request signature covers every field', async () => {
    const device = await keys();
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', device.publicKey));
    const req: PaymentRequest = {
      v: 1, type: 'coconutpay-payment-request', orderId: 'o-1', payerUserId: 'u-1', certificateId: 'cert-1', nonce: 'abc', issuedAtMs: NOW.getTime(), locale: 'ko',
      replyKey: (await freshReplyKey()).jwk,
    };
    const signature = await signCanonical(device.privateKey, req);
    expect(await verifyCanonical(spki, req, signature)).toBe(true);
    expect(await verifyCanonical(spki, { ...req, orderId: 'o-2' }, signature)).toBe(false);
    expect(await verifyCanonical(spki, { ...req, payerUserId: 'u-2' }, signature)).toBe(false);
    expect(await verifyCanonical(spki, req, 'not base64!')).toBe(false);
  });

  it('binds the code to one command; case and spaces do not matter, the code does', async () => {
    expect(await codeProof(' ab12cd ', 'c0m-1')).toBe(await codeProof('AB12CD', 'c0m-1'));
    expect(await codeProof('AB12CD', 'c0m-2')).not.toBe(await codeProof('AB12CD', 'c0m-1'));
    expect(await codeProof('AB12CE', 'c0m-1')).not.toBe(await codeProof('AB12CD', 'c0m-1'));
  });
});
