/**
 * The per-certificate facts the verifier keeps (public key, CMS signer identifier,
 * SHA-256) are keyed by the certificate's bytes read in place: a cached answer is the
 * answer a fresh reading gives, another certificate (even with one byte changed, or the
 * same bytes inside a larger buffer) never gets an entry that is not its own, and the
 * cache is bounded.
 */
import 'reflect-metadata';
import { createHash, sign, verify } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { signerIdentifier } from '@coconutpay/core/pki/cms';
import { createCertificate } from '@coconutpay/core/pki/certificate-builder';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import type { CertificateAuthority } from './certificate-authority.js';
import { certificateCacheKey, certificateListKey, CertificateVerifier, VERDICT_CACHE_MAX } from './certificate-verifier.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function certificate(serialNumberHex: string, signingKey: CryptoKey, issuer: string): Promise<{ der: Uint8Array; keys: CryptoKeyPair }> {
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const made = await createCertificate({
    serialNumberHex, subject: `CN=device ${serialNumberHex}`, issuer, publicKey: keys.publicKey, signingKey,
    notBefore: new Date('2026-01-01'), notAfter: new Date('2027-01-01'), extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return { der: new Uint8Array(made.rawData), keys };
}

describe('CertificateVerifier per-certificate cache', () => {
  let verifier: CertificateVerifier;
  let a: { der: Uint8Array; keys: CryptoKeyPair };
  let b: { der: Uint8Array; keys: CryptoKeyPair };
  const data = Buffer.from('REQ bytes');

  beforeAll(async () => {
    const caKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const root = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=Verifier Test Root', keys: caKeys, signingAlgorithm: ALG });
    // The verifier only reads the CA's two certificates here (for chain verdicts, not tested in this file).
    verifier = new CertificateVerifier({ root: { certificate: root }, issuing: { certificate: root } } as unknown as CertificateAuthority);
    a = await certificate('0a01', caKeys.privateKey, root.subject);
    b = await certificate('0a02', caKeys.privateKey, root.subject);
  });

  const signWith = async (keys: CryptoKeyPair) => sign('sha256', data, { key: (await import('node:crypto')).KeyObject.from(keys.privateKey), dsaEncoding: 'ieee-p1363' });

  it('gives the verdict a freshly imported key gives, on the first call and from the cache', async () => {
    const signature = await signWith(a.keys);
    const fresh = (der: Uint8Array) => verify('sha256', data, { key: Buffer.from(parseCertificate(der).spki), format: 'der', type: 'spki', dsaEncoding: 'ieee-p1363' }, signature);
    for (let i = 0; i < 2; i++) {
      expect(verifier.signatureValid(a.der, signature, data)).toBe(fresh(a.der));
      expect(verifier.signatureValid(a.der, signature, data)).toBe(true);
      expect(verifier.signatureValid(b.der, signature, data)).toBe(fresh(b.der));
      expect(verifier.signatureValid(b.der, signature, data)).toBe(false);
      expect(verifier.signatureValid(a.der, signature, Buffer.from('other bytes'))).toBe(false);
    }
    expect(verifier.signer(a.der)).toEqual(signerIdentifier(a.der));
    expect(verifier.signer(b.der)).toEqual(signerIdentifier(b.der));
    expect(verifier.sha256(a.der).equals(createHash('sha256').update(a.der).digest())).toBe(true);
    expect(verifier.sha256(b.der).equals(createHash('sha256').update(b.der).digest())).toBe(true);
  });

  it('serves a certificate with one byte changed from no cached entry of the original', async () => {
    const signature = await signWith(a.keys);
    expect(verifier.signatureValid(a.der, signature, data)).toBe(true);
    const hashOfA = verifier.sha256(a.der);
    // The last byte is inside the CA's signature: still a readable certificate with A's key, but other bytes.
    const changed = new Uint8Array(a.der);
    changed[changed.length - 1]! ^= 0x01;
    expect(certificateCacheKey(changed)).not.toBe(certificateCacheKey(a.der));
    expect(verifier.sha256(changed).equals(hashOfA)).toBe(false);
    expect(verifier.sha256(changed).equals(createHash('sha256').update(changed).digest())).toBe(true);
  });

  it('reads a certificate inside a larger buffer by its own bytes only', async () => {
    const signature = await signWith(a.keys);
    const pool = new Uint8Array(a.der.length + 20).fill(0xee);
    pool.set(a.der, 7);
    const view = pool.subarray(7, 7 + a.der.length);
    expect(certificateCacheKey(view)).toBe(certificateCacheKey(a.der));
    expect(verifier.signatureValid(view, signature, data)).toBe(true);
    expect(verifier.sha256(view).equals(createHash('sha256').update(a.der).digest())).toBe(true);
  });

  it(`keeps at most ${VERDICT_CACHE_MAX} certificates, dropping the oldest first`, () => {
    const many = new CertificateVerifier({ root: { certificate: { rawData: a.der.buffer } }, issuing: { certificate: { rawData: a.der.buffer } } } as unknown as CertificateAuthority);
    const first = new Uint8Array([0, 0, 0, 0]);
    many.sha256(first);
    for (let i = 1; i <= VERDICT_CACHE_MAX + 5; i++) many.sha256(new Uint8Array([i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]));
    expect(many.certificatesKnown()).toBe(VERDICT_CACHE_MAX);
    // The first one left, and is computed afresh (and right) when asked for again.
    expect(many.sha256(first).equals(createHash('sha256').update(first).digest())).toBe(true);
    expect(many.certificatesKnown()).toBe(VERDICT_CACHE_MAX);
  });

  it('keys chain verdicts by every certificate, unambiguously: a hit only for the very same leaf and intermediates', async () => {
    const joined = new Uint8Array([...a.der, ...b.der]);
    expect(certificateListKey([joined])).not.toBe(certificateListKey([a.der, b.der]));
    expect(certificateListKey([a.der, b.der])).not.toBe(certificateListKey([b.der, a.der]));
    expect(certificateListKey([a.der])).toBe(certificateListKey([new Uint8Array(a.der)]));
    const now = Date.parse('2026-06-01T00:00:00Z');
    const before = verifier.stats();
    const first = await verifier.verify(a.der, 'payment', now);
    expect(verifier.stats().misses).toBe(before.misses + 1);
    expect(await verifier.verify(new Uint8Array(a.der), 'payment', now)).toEqual(first);
    expect(verifier.stats().hits).toBe(before.hits + 1);
    // Another purpose, another list of intermediates, or other bytes: judged afresh.
    await verifier.verify(a.der, 'deviceApproval', now);
    await verifier.verify(a.der, 'payment', now, [b.der]);
    await verifier.verify(joined, 'payment', now);
    expect(verifier.stats().misses).toBe(before.misses + 4);
  });
});

