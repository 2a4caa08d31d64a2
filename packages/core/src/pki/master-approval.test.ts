import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../encoding/index.js';
import {
  approvalMessage, checkMasterApproval, decodeMasterApproval, deviceCode, encodeMasterApproval, parseApprovalMessage,
  revocationMessage, sha256Hex, type ApprovalFields,
} from './master-approval.js';
import { createCertificate } from './certificate-builder.js';
import { EKU, EXTENSION } from './oids.js';
import { DerError } from './path-der.js';
import { signP1363 } from './signature.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOW = Date.UTC(2026, 10, 30, 12);
const keys = async () => (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
const subjectOf = (login: string, userId: string) => `C=KR, O=CoconutPay, OU=Users, CN=${login}, 2.5.4.5=${userId}`;

let caKeys: CryptoKeyPair;
let ca: x509.X509Certificate;

async function leaf(subject: string, publicKey: CryptoKey, ekus: string[], extra: x509.Extension[] = []): Promise<x509.X509Certificate> {
  // createCertificate keeps our private extension OIDs intact (see certificate-builder.ts).
  return createCertificate({
    serialNumberHex: `01${Array.from(crypto.getRandomValues(new Uint8Array(11)), (b) => b.toString(16).padStart(2, '0')).join('')}`,
    subject, issuer: ca.subjectName, publicKey, signingKey: caKeys.privateKey,
    notBefore: new Date(NOW - 60_000), notAfter: new Date(NOW + 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.ExtendedKeyUsageExtension(ekus), ...extra],
  });
}

/** An additional certificate approved by `master` (signed with `signer`), for `subject` and `deviceKey`. */
async function approved(options: { master: x509.X509Certificate; signer: CryptoKey; subject: string; deviceKey: CryptoKey; userId: string; spkiOf?: CryptoKey }) {
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', options.spkiOf ?? options.deviceKey));
  const fields: ApprovalFields = { requestId: crypto.randomUUID(), userId: options.userId, spkiSha256Hex: await sha256Hex(spki), nickname: 'phone', code: '042137', expiresAtMs: NOW + 600_000 };
  const message = approvalMessage(fields);
  const signature = await signP1363(options.signer, utf8(message));
  const value = encodeMasterApproval({ masterCertSha256: new Uint8Array(await crypto.subtle.digest('SHA-256', options.master.rawData)), message, signature });
  return leaf(options.subject, options.deviceKey, [EKU.paymentSigning], [new x509.Extension(EXTENSION.masterApproval, false, value)]);
}

describe('master approval', () => {
  const userId = '5b1d7a36-3c4e-4a0c-9a55-0f4f1c7d2e11';
  let masterKeys: CryptoKeyPair;
  let master: x509.X509Certificate;

  beforeAll(async () => {
    caKeys = await keys();
    ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: 'CN=Test CA', keys: caKeys, signingAlgorithm: ALG, notBefore: new Date(NOW - 86_400_000), notAfter: new Date(NOW + 10 * 86_400_000),
      extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
    });
    masterKeys = await keys();
    master = await leaf(subjectOf('buyer1', userId), masterKeys.publicKey, [EKU.paymentSigning, EKU.deviceApproval]);
  });

  it('writes the approval text canonically and reads it back; a line break cannot forge a field', () => {
    const fields: ApprovalFields = { requestId: 'r1', userId: 'u1', spkiSha256Hex: 'AB'.repeat(32), nickname: '내 폰', code: '000123', expiresAtMs: 1_700_000_000_000 };
    const text = approvalMessage(fields);
    expect(text.split('\n')[0]).toBe('coconutpay-device-approval-v1');
    expect(parseApprovalMessage(text)).toEqual({ ...fields, spkiSha256Hex: 'ab'.repeat(32) });
    expect(() => approvalMessage({ ...fields, nickname: 'x\nuser=someone' })).toThrow(RangeError);
    expect(parseApprovalMessage(`${text}\nextra=1`)).toBeUndefined();
    expect(revocationMessage({ certificateId: 'c', serialHex: 'AA', reason: 'keyCompromise', challengeId: 'i', challenge: 'x' })).toContain('serial=aa');
  });

  it('derives a 6-digit code from the key and the nonce: same inputs same code, another key another code', async () => {
    const a = new Uint8Array(await crypto.subtle.exportKey('spki', (await keys()).publicKey));
    const b = new Uint8Array(await crypto.subtle.exportKey('spki', (await keys()).publicKey));
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const code = await deviceCode(a, nonce);
    expect(code).toMatch(/^\d{6}$/);
    expect(await deviceCode(a, nonce)).toBe(code);
    // Two random keys collide with probability 10^-6; two draws make a false failure negligible.
    const other = [await deviceCode(b, nonce), await deviceCode(a, crypto.getRandomValues(new Uint8Array(16)))];
    expect(other.filter((c) => c === code).length).toBeLessThan(2);
  });

  it('encodes and decodes the extension value, refusing wrong sizes', () => {
    const value = { masterCertSha256: new Uint8Array(32).fill(7), message: approvalMessage({ requestId: 'r', userId: 'u', spkiSha256Hex: '00', nickname: 'n', code: '1', expiresAtMs: 1 }), signature: new Uint8Array(64).fill(9) };
    expect(decodeMasterApproval(encodeMasterApproval(value))).toEqual(value);
    expect(() => encodeMasterApproval({ ...value, signature: new Uint8Array(63) })).toThrow(RangeError);
    const der = encodeMasterApproval(value);
    der[der.length - 1] = 0x00;
    expect(decodeMasterApproval(der).signature[63]).toBe(0);
    expect(() => decodeMasterApproval(der.slice(0, der.length - 1))).toThrow(DerError);
  });

  it('accepts a device approved by the same user’s master', async () => {
    const device = await keys();
    const cert = await approved({ master, signer: masterKeys.privateKey, subject: subjectOf('buyer1', userId), deviceKey: device.publicKey, userId });
    await expect(checkMasterApproval(new Uint8Array(cert.rawData), new Uint8Array(master.rawData))).resolves.toBeUndefined();
  });

  it('refuses a certificate for another user’s subject approved by this master', async () => {
    const other = '0e8f7c55-1111-4222-8333-944455556666';
    const device = await keys();
    const cert = await approved({ master, signer: masterKeys.privateKey, subject: subjectOf('mallory', other), deviceKey: device.publicKey, userId: other });
    await expect(checkMasterApproval(new Uint8Array(cert.rawData), new Uint8Array(master.rawData))).resolves.toMatchObject({ code: 'MASTER_APPROVAL_INVALID', message: expect.stringContaining('another subject') });
  });

  it('refuses a forged signature, an approval of another key, another master, and an approver that is not a master', async () => {
    const device = await keys();
    const subject = subjectOf('buyer1', userId);
    const forged = await approved({ master, signer: (await keys()).privateKey, subject, deviceKey: device.publicKey, userId });
    await expect(checkMasterApproval(new Uint8Array(forged.rawData), new Uint8Array(master.rawData))).resolves.toMatchObject({ message: expect.stringContaining('signature') });

    const swapped = await approved({ master, signer: masterKeys.privateKey, subject, deviceKey: device.publicKey, userId, spkiOf: (await keys()).publicKey });
    await expect(checkMasterApproval(new Uint8Array(swapped.rawData), new Uint8Array(master.rawData))).resolves.toMatchObject({ message: expect.stringContaining('another key') });

    const secondMaster = await leaf(subject, masterKeys.publicKey, [EKU.paymentSigning, EKU.deviceApproval]);
    const good = await approved({ master, signer: masterKeys.privateKey, subject, deviceKey: device.publicKey, userId });
    await expect(checkMasterApproval(new Uint8Array(good.rawData), new Uint8Array(secondMaster.rawData))).resolves.toMatchObject({ message: expect.stringContaining('another master') });

    const notMasterKeys = await keys();
    const additionalAsApprover = await leaf(subject, notMasterKeys.publicKey, [EKU.paymentSigning]);
    const byAdditional = await approved({ master: additionalAsApprover, signer: notMasterKeys.privateKey, subject, deviceKey: device.publicKey, userId });
    await expect(checkMasterApproval(new Uint8Array(byAdditional.rawData), new Uint8Array(additionalAsApprover.rawData))).resolves.toMatchObject({ code: 'MASTER_CERTIFICATE_REQUIRED' });

    const plain = await leaf(subject, device.publicKey, [EKU.paymentSigning]);
    await expect(checkMasterApproval(new Uint8Array(plain.rawData), new Uint8Array(master.rawData))).resolves.toMatchObject({ message: expect.stringContaining('no master approval') });
  });
});
