/**
 * The new device's check of an issued additional certificate, before anything is
 * stored: chain valid for payments, our own key, the kind and serial the server
 * claimed. Certificates are made here with core's builder (a root, an issuing CA,
 * a leaf), shaped like the service CA's.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCertificate } from '@coconutpay/core/pki/certificate-builder';
import { EKU } from '@coconutpay/core/pki/oids';
import type { CertificateInfo, IssuedCertificate } from '../api/certificates.js';
import { CertificateFlowError, checkIssuedAdditional } from './certificates.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOW = Date.UTC(2026, 10, 30, 12);
const DAY_MS = 86_400_000;
const keys = async () => (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
const spkiOf = async (key: CryptoKey) => new Uint8Array(await crypto.subtle.exportKey('spki', key));

interface Ca {
  keys: CryptoKeyPair;
  certificate: x509.X509Certificate;
}

async function root(name: string): Promise<Ca> {
  const k = await keys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    keys: k,
    signingAlgorithm: ALG,
    notBefore: new Date(NOW - 10 * DAY_MS),
    notAfter: new Date(NOW + 100 * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
    ],
  });
  return { keys: k, certificate };
}

async function issuing(parent: Ca): Promise<Ca> {
  const k = await keys();
  const certificate = await createCertificate({
    serialNumberHex: '02',
    subject: 'CN=Test Issuing CA',
    issuer: parent.certificate.subjectName,
    notBefore: new Date(NOW - 5 * DAY_MS),
    notAfter: new Date(NOW + 50 * DAY_MS),
    publicKey: k.publicKey,
    signingKey: parent.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(parent.keys.publicKey),
    ],
  });
  return { keys: k, certificate };
}

async function leaf(issuer: Ca, publicKey: CryptoKey, ekus: string[] = [EKU.paymentSigning]): Promise<x509.X509Certificate> {
  return createCertificate({
    serialNumberHex: '0a1b2c3d',
    subject: 'C=KR, O=CoconutPay, OU=Users, CN=buyer1',
    issuer: issuer.certificate.subjectName,
    notBefore: new Date(NOW - DAY_MS),
    notAfter: new Date(NOW + 20 * DAY_MS),
    publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      new x509.ExtendedKeyUsageExtension(ekus),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
}

function issuedOf(certificate: x509.X509Certificate, chain: x509.X509Certificate[], info: Partial<CertificateInfo> = {}): IssuedCertificate {
  return {
    certificate: { id: 'c1', serialHex: '0a1b2c3d', kind: 'additional', ...info } as CertificateInfo,
    certificatePem: certificate.toString('pem'),
    chainPem: chain.map((c) => c.toString('pem')).join('\n'),
  };
}

async function flowCode(action: Promise<unknown>): Promise<string> {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  return error instanceof CertificateFlowError ? error.code : `no flow error: ${String(error)}`;
}

describe('checkIssuedAdditional', () => {
  let rootCa: Ca;
  let issuingCa: Ca;
  let device: CryptoKeyPair;
  let deviceSpki: Uint8Array;
  let good: x509.X509Certificate;
  const at = new Date(NOW);

  beforeAll(async () => {
    rootCa = await root('CN=Test Root CA');
    issuingCa = await issuing(rootCa);
    device = await keys();
    deviceSpki = await spkiOf(device.publicKey);
    good = await leaf(issuingCa, device.publicKey);
  });

  it('accepts a payment certificate for our key under the chain the server sent', async () => {
    await expect(checkIssuedAdditional(issuedOf(good, [issuingCa.certificate, rootCa.certificate]), deviceSpki, at)).resolves.toBeUndefined();
  });

  it('refuses a certificate for another key', async () => {
    const other = await spkiOf((await keys()).publicKey);
    expect(await flowCode(checkIssuedAdditional(issuedOf(good, [issuingCa.certificate, rootCa.certificate]), other, at))).toBe('keyMismatch');
  });

  it('refuses a chain that does not lead to the root it ends with', async () => {
    const strangerRoot = await root('CN=Test Root CA');
    expect(await flowCode(checkIssuedAdditional(issuedOf(good, [issuingCa.certificate, strangerRoot.certificate]), deviceSpki, at))).toBe('chainInvalid');
    expect(await flowCode(checkIssuedAdditional(issuedOf(good, [rootCa.certificate]), deviceSpki, at))).toBe('chainInvalid');
    expect(await flowCode(checkIssuedAdditional({ ...issuedOf(good, []), chainPem: 'not a chain' }, deviceSpki, at))).toBe('chainInvalid');
  });

  it('refuses a certificate not valid for payments, or outside its validity', async () => {
    const receiptOnly = await leaf(issuingCa, device.publicKey, [EKU.receiptSigning]);
    expect(await flowCode(checkIssuedAdditional(issuedOf(receiptOnly, [issuingCa.certificate, rootCa.certificate]), deviceSpki, at))).toBe('chainInvalid');
    expect(await flowCode(checkIssuedAdditional(issuedOf(good, [issuingCa.certificate, rootCa.certificate]), deviceSpki, new Date(NOW + 30 * DAY_MS)))).toBe('chainInvalid');
  });

  it('refuses when the server describes another kind or serial than the certificate holds', async () => {
    const chain = [issuingCa.certificate, rootCa.certificate];
    expect(await flowCode(checkIssuedAdditional(issuedOf(good, chain, { kind: 'master' }), deviceSpki, at))).toBe('chainInvalid');
    expect(await flowCode(checkIssuedAdditional(issuedOf(good, chain, { serialHex: 'ff' }), deviceSpki, at))).toBe('chainInvalid');
  });
});
