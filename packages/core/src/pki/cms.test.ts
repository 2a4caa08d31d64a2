import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJsonBytes } from '../encoding/canonical-json.js';
import { createCertificate } from './certificate-builder.js';
import { assembleSignedData, checkSignedDataSignature, OID_CMS, type SignedDataParts, parseSignedAttributes, parseSignedData, signedAttributes, signerIdentifier } from './cms.js';
import { derOctetString, derOid, derSequence, derSetOf, derSmallInteger, tlv } from './der-writer.js';
import { DerError } from './path-der.js';
import { EKU } from './oids.js';
import { toPem } from './pem.js';
import { p1363ToDer } from './signature.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const work = mkdtempSync(path.join(tmpdir(), 'cp-cms-'));
const write = (name: string, data: string | Uint8Array) => {
  const p = path.join(work, name);
  writeFileSync(p, data);
  return p;
};


/**
 * The evidence encoded level by level with `tlv`, as assembleSignedData did before it
 * wrote everything into one buffer: the reference its bytes are held to.
 */
function assembleLevelByLevel(parts: SignedDataParts & { signer: NonNullable<SignedDataParts['signer']> }): Uint8Array {
  const retag = (set: Uint8Array, tag: number) => {
    set[0] = tag;
    return set;
  };
  const sha256Algorithm = derSequence(derOid(OID_CMS.sha256));
  const attributes = new Uint8Array(parts.signedAttributesDer);
  attributes[0] = 0xa0;
  const unsigned = parts.unsignedAttributes ?? [];
  const signerInfo = derSequence(
    derSmallInteger(1),
    derSequence(parts.signer.issuerDer, tlv(0x02, parts.signer.serial)),
    sha256Algorithm,
    attributes,
    derSequence(derOid(OID_CMS.ecdsaWithSha256)),
    derOctetString(parts.signatureDer),
    ...(unsigned.length > 0 ? [retag(derSetOf(unsigned.map((a) => derSequence(derOid(a.oid), derSetOf(a.values)))), 0xa1)] : []),
  );
  const signedData = derSequence(
    derSmallInteger(1),
    derSetOf([sha256Algorithm]),
    derSequence(derOid(OID_CMS.data), tlv(0xa0, derOctetString(parts.content))),
    tlv(0xa0, parts.signerCertificate, ...parts.otherCertificates),
    ...(parts.crls && parts.crls.length > 0 ? [retag(derSetOf(parts.crls), 0xa1)] : []),
    derSetOf([signerInfo]),
  );
  return derSequence(derOid(OID_CMS.signedData), tlv(0xa0, signedData));
}

describe('CMS SignedData evidence', () => {
  let rootPem: string;
  let signerDer: Uint8Array;
  let signerKeys: CryptoKeyPair;
  let caKeys: CryptoKeyPair;
  let ca: x509.X509Certificate;
  let evidence: Uint8Array;
  const content = canonicalJsonBytes({ type: 'coconutpay-test', amountWon: 800000, payee: '코코넛 마트' });
  const signingTime = new Date('2026-11-30T12:34:56.789Z');

  beforeAll(async () => {
    caKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: 'CN=CMS Test Root', keys: caKeys, signingAlgorithm: ALG,
      notBefore: new Date('2026-01-01'), notAfter: new Date('2036-01-01'),
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    });
    rootPem = ca.toString('pem');
    signerKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const signer = await createCertificate({
      serialNumberHex: '0a1b2c3d4e5f60718293', subject: 'CN=buyer1', issuer: ca.subjectName, publicKey: signerKeys.publicKey, signingKey: caKeys.privateKey,
      notBefore: new Date('2026-06-01'), notAfter: new Date('2027-06-01'),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
        new x509.ExtendedKeyUsageExtension([EKU.paymentSigning]),
      ],
    });
    signerDer = new Uint8Array(signer.rawData);
    const attributes = await signedAttributes(content, signingTime, signerDer);
    const signature = new Uint8Array(await crypto.subtle.sign(ALG, signerKeys.privateKey, attributes));
    evidence = assembleSignedData({ content, signedAttributesDer: attributes, signatureDer: p1363ToDer(signature), signerCertificate: signerDer, otherCertificates: [] });
  });

  it('is accepted by OpenSSL, which gives back the signed content', () => {
    const file = write('good.p7s', evidence);
    const result = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', file, '-CAfile', write('root.pem', rootPem), '-purpose', 'any'], { encoding: 'buffer' });
    expect(result.stderr.toString()).toMatch(/Verification successful/);
    expect(result.status).toBe(0);
    expect(Buffer.from(result.stdout).equals(Buffer.from(content))).toBe(true);
  });

  it('reads back what it holds and checks its signature', async () => {
    const parsed = parseSignedData(evidence);
    expect(Buffer.from(parsed.content).equals(Buffer.from(content))).toBe(true);
    expect(parsed.signingTimeSeconds).toBe(Math.floor(signingTime.getTime() / 1000));
    expect(parsed.certificates).toHaveLength(1);
    await expect(checkSignedDataSignature(parsed)).resolves.toMatchObject({ ok: true });
  });

  it('flipping any one byte of the content or the signature makes OpenSSL and our check refuse it', async () => {
    const contentAt = Buffer.from(evidence).indexOf(Buffer.from(content));
    for (const at of [contentAt + 5, evidence.length - 3]) {
      const broken = new Uint8Array(evidence);
      broken[at] = broken[at]! ^ 0x01;
      const file = write(`broken-${at}.p7s`, broken);
      const result = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', file, '-CAfile', path.join(work, 'root.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
      expect(result.status, `byte ${at}`).not.toBe(0);
      let ours: { ok: boolean };
      try {
        ours = await checkSignedDataSignature(parseSignedData(broken));
      } catch {
        ours = { ok: false };
      }
      expect(ours.ok, `byte ${at}`).toBe(false);
    }
  });

  it('reads the signed attributes alone as the file holds them, and refuses them in any other shape', async () => {
    const attributes = await signedAttributes(content, signingTime, signerDer);
    const parsed = parseSignedData(evidence);
    expect(parseSignedAttributes(attributes)).toEqual({ messageDigest: parsed.messageDigest, signingTimeSeconds: parsed.signingTimeSeconds, contentTypeOid: OID_CMS.data, signingCertificateHash: parsed.signingCertificateHash });
    // As tagged inside SignerInfo ([0] IMPLICIT) they are not what was signed.
    const implicit = new Uint8Array(attributes);
    implicit[0] = 0xa0;
    expect(() => parseSignedAttributes(implicit)).toThrow(DerError);
    expect(() => parseSignedAttributes(attributes.subarray(0, attributes.length - 1))).toThrow(DerError);
    expect(() => parseSignedAttributes(new Uint8Array([0x31, 0x00]))).toThrow(/required/);
  });

  it('with the signer named up front, assembles the same bytes as when it reads the certificate itself', async () => {
    const parsed = parseSignedData(evidence);
    const again = assembleSignedData({ content, signedAttributesDer: parsed.signedAttributesDer, signatureDer: parsed.signatureDer, signerCertificate: signerDer, otherCertificates: [], signer: signerIdentifier(signerDer) });
    expect(Buffer.from(again).equals(Buffer.from(evidence))).toBe(true);
  });

  it('names the signer certificate in signing-certificate-v2 (its SHA-256 hash and issuer/serial), and refuses a file whose attribute names another', async () => {
    const parsed = parseSignedData(evidence);
    expect(Buffer.from(parsed.signingCertificateHash!).equals(Buffer.from(await crypto.subtle.digest('SHA-256', signerDer)))).toBe(true);
    const printed = spawnSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', write('print.p7s', evidence)], { encoding: 'utf8' });
    expect(printed.stdout).toMatch(/id-smime-aa-signingCertificateV2/);
    // The same signature over attributes naming another certificate: the signer no longer matches.
    const other = await createCertificate({
      serialNumberHex: '0a1b2c3d4e5f60718294', subject: 'CN=buyer2', issuer: ca.subjectName, publicKey: signerKeys.publicKey, signingKey: caKeys.privateKey,
      notBefore: new Date('2026-06-01'), notAfter: new Date('2027-06-01'),
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true)],
    });
    const attributes = await signedAttributes(content, signingTime, new Uint8Array(other.rawData));
    const signature = new Uint8Array(await crypto.subtle.sign(ALG, signerKeys.privateKey, attributes));
    const mismatched = assembleSignedData({ content, signedAttributesDer: attributes, signatureDer: p1363ToDer(signature), signerCertificate: signerDer, otherCertificates: [] });
    await expect(checkSignedDataSignature(parseSignedData(mismatched))).resolves.toMatchObject({ ok: false, reason: expect.stringMatching(/signing-certificate/) });
    // OpenSSL 3.0's cms -verify does not compare the attribute with the signer (it checks it for
    // time-stamp tokens only), so this is ours to refuse; see docs/pki.md.
  });

  it('carries CRLs and unsigned attributes that OpenSSL reads and uses (-crl_check), and reads them back', async () => {
    const crl = await x509.X509CrlGenerator.create({
      issuer: ca.subject, thisUpdate: new Date('2026-11-30T00:00:00Z'), nextUpdate: new Date('2026-12-01T00:00:00Z'), signingAlgorithm: ALG, signingKey: caKeys.privateKey,
      entries: [], extensions: [new x509.Extension('2.5.29.20', false, new Uint8Array([0x02, 0x01, 0x01]))],
    });
    const crlDer = new Uint8Array(crl.rawData);
    const parsed = parseSignedData(evidence);
    const token = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x07]);
    const withData = assembleSignedData({
      content, signedAttributesDer: parsed.signedAttributesDer, signatureDer: parsed.signatureDer, signerCertificate: signerDer, otherCertificates: [],
      crls: [crlDer], unsignedAttributes: [{ oid: OID_CMS.signatureTimeStampToken, values: [token] }],
    });
    const again = parseSignedData(withData);
    expect(again.crls.map((c) => Buffer.from(c).toString('hex'))).toEqual([Buffer.from(crlDer).toString('hex')]);
    expect(again.unsignedAttributes).toEqual([{ oid: OID_CMS.signatureTimeStampToken, values: [token] }]);
    await expect(checkSignedDataSignature(again)).resolves.toMatchObject({ ok: true });
    const file = write('with-crl.p7s', withData);
    const verify = (extra: string[]) =>
      spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', file, '-CAfile', path.join(work, 'root.pem'), '-purpose', 'any', '-out', '/dev/null', ...extra], { encoding: 'utf8' });
    expect(verify(['-crl_check', '-attime', String(Date.parse('2026-11-30T12:00:00Z') / 1000)]).stderr).toMatch(/Verification successful/);
    // Outside the CRL's validity OpenSSL has no current CRL and refuses: it does use the one carried.
    expect(verify(['-crl_check', '-attime', String(Date.parse('2026-12-02T12:00:00Z') / 1000)]).status).not.toBe(0);
  });

  it('writes exactly the bytes of the level-by-level encoding, for every shape of evidence (one buffer, same DER)', () => {
    const parsed = parseSignedData(evidence);
    const signer = signerIdentifier(signerDer);
    const fakeCrl = (n: number, size: number) => derSequence(new Uint8Array(size).fill(n));
    const shapes: Partial<SignedDataParts>[] = [
      {},
      { crls: [fakeCrl(7, 300)] },
      // Two CRLs given out of DER order, certificates of every length form, and content past 64 KiB.
      { crls: [fakeCrl(9, 70_000), fakeCrl(3, 100)], otherCertificates: [new Uint8Array(5).fill(1), new Uint8Array(300).fill(2)], content: new Uint8Array(70_000).fill(0x41) },
      { unsignedAttributes: [{ oid: OID_CMS.signatureTimeStampToken, values: [derSequence(new Uint8Array(2000).fill(5))] }] },
      // Several attributes and values, each needing its place in DER order.
      {
        crls: [fakeCrl(4, 10)],
        unsignedAttributes: [
          { oid: OID_CMS.signatureTimeStampToken, values: [derSequence(new Uint8Array(3).fill(9)), derSequence(new Uint8Array(3).fill(2))] },
          { oid: OID_CMS.contentType, values: [derOid(OID_CMS.data)] },
        ],
      },
    ];
    for (const [i, shape] of shapes.entries()) {
      const parts = { content, signedAttributesDer: parsed.signedAttributesDer, signatureDer: parsed.signatureDer, signerCertificate: signerDer, otherCertificates: [], signer, ...shape };
      const before = new Uint8Array(parts.signedAttributesDer);
      expect(Buffer.from(assembleSignedData(parts)).equals(Buffer.from(assembleLevelByLevel(parts))), `shape ${i}`).toBe(true);
      // The caller's signed attributes are read in place, never re-tagged in its buffer.
      expect(Buffer.from(parts.signedAttributesDer).equals(Buffer.from(before))).toBe(true);
    }
  });

  it('PEM form is what openssl cms -inform PEM reads too', () => {
    const file = write('good.pem', toPem(evidence, 'CMS'));
    const result = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'PEM', '-in', file, '-CAfile', path.join(work, 'root.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
    expect(result.stderr).toMatch(/Verification successful/);
  });
});
