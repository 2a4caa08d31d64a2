import 'reflect-metadata';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509CertificateGenerator } from '@peculiar/x509';
import { afterAll, describe, expect, it } from 'vitest';
import { utf8 } from '../encoding/index.js';
import {
  assertP256PrivateKeyInfo,
  bytesEqual,
  exportPrivateKeyPkcs8,
  exportPublicKeySpki,
  generateSigningKeyPair,
  importSigningKey,
  KeyMismatchError,
  keyMatchesPublicKey,
  readCertificate,
} from './key-pair.js';
import { fromPem } from './pem.js';
import { p1363ToDer, signP1363 } from './signature.js';

const opensslAvailable = spawnSync('openssl', ['version']).status === 0;
if (!opensslAvailable) process.stderr.write('\n*** SKIPPED: OpenSSL key checks — no `openssl` on PATH ***\n\n');

describe('device key pair', () => {
  it('re-imports the exported PKCS#8 as a signing key that cannot be read out', async () => {
    const keys = await generateSigningKeyPair();
    const pkcs8 = await exportPrivateKeyPkcs8(keys.privateKey);
    const signingKey = await importSigningKey(pkcs8);
    expect(signingKey.extractable).toBe(false);
    expect(signingKey.usages).toEqual(['sign']);
    await expect(crypto.subtle.exportKey('pkcs8', signingKey)).rejects.toMatchObject({ name: expect.stringMatching(/^InvalidAccess/) });
    const spki = await exportPublicKeySpki(keys.publicKey);
    expect(await keyMatchesPublicKey(signingKey, spki)).toBe(true);
    const other = await generateSigningKeyPair();
    expect(await keyMatchesPublicKey(signingKey, await exportPublicKeySpki(other.publicKey))).toBe(false);
  });

  it('refuses keys that are not ECDSA P-256', async () => {
    const p384 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign']);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', p384.privateKey));
    expect(() => assertP256PrivateKeyInfo(pkcs8)).toThrow(KeyMismatchError);
    await expect(importSigningKey(pkcs8)).rejects.toBeInstanceOf(KeyMismatchError);
    const ed = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    await expect(importSigningKey(new Uint8Array(await crypto.subtle.exportKey('pkcs8', ed.privateKey)))).rejects.toBeInstanceOf(KeyMismatchError);
    await expect(importSigningKey(new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(KeyMismatchError);
  });

  it('reads the public key, serial and validity of a certificate', async () => {
    const keys = await generateSigningKeyPair();
    const certificate = await X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: '00c0ffee01',
        name: 'CN=read test',
        notBefore: new Date('2026-01-01T00:00:00Z'),
        notAfter: new Date('2027-01-01T00:00:00Z'),
        keys,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      },
      crypto,
    );
    const facts = readCertificate(new Uint8Array(certificate.rawData));
    expect(bytesEqual(facts.spkiDer, await exportPublicKeySpki(keys.publicKey))).toBe(true);
    expect(facts.serialHex).toBe('c0ffee01');
    expect(facts.notBefore.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(facts.notAfter.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(facts.subjectCommonName).toBe('read test');
    expect(() => readCertificate(new Uint8Array([0x30, 0x00]))).toThrow(KeyMismatchError);
  });

  it("reads the subject's common name among other attributes, or null without one", async () => {
    const keys = await generateSigningKeyPair();
    const make = (name: string) =>
      X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name, notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z'), keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams }, crypto);
    expect(readCertificate(new Uint8Array((await make('C=KR, O=CoconutPay, OU=Users, CN=buyer1')).rawData)).subjectCommonName).toBe('buyer1');
    expect(readCertificate(new Uint8Array((await make('O=CoconutPay')).rawData)).subjectCommonName).toBeNull();
  });

  it('compares bytes', () => {
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1]))).toBe(false);
  });
});

describe.skipIf(!opensslAvailable)('OpenSSL as judge of keys and signatures', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

  it('imports an OpenSSL-made key, and OpenSSL verifies what it signs', async () => {
    const keyFile = path.join(dir, 'key.pem');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    const pkcs8 = new Uint8Array(openssl(['pkcs8', '-topk8', '-nocrypt', '-in', keyFile, '-outform', 'DER']));
    const spki = fromPem(openssl(['pkey', '-in', keyFile, '-pubout']).toString(), 'PUBLIC KEY');
    const signingKey = await importSigningKey(pkcs8);
    expect(await keyMatchesPublicKey(signingKey, spki)).toBe(true);

    const message = utf8('coconutpay-certificate-test\nchallenge-id\nchallenge');
    writeFileSync(path.join(dir, 'msg'), message);
    writeFileSync(path.join(dir, 'sig.der'), p1363ToDer(await signP1363(signingKey, message)));
    writeFileSync(path.join(dir, 'pub.der'), spki);
    const verdict = spawnSync('openssl', ['dgst', '-sha256', '-verify', path.join(dir, 'pub.der'), '-keyform', 'DER', '-signature', path.join(dir, 'sig.der'), path.join(dir, 'msg')], {
      encoding: 'utf8',
    });
    expect(verdict.stdout).toContain('Verified OK');
  });
});
