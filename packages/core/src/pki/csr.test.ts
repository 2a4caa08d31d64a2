import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// csr.js first: it loads the reflect-metadata polyfill that @peculiar/x509 needs.
import { buildCsr, CSR_COMMON_NAME_LENGTH_MAX, verifyCsrSignature, weakCsrSignatureAlgorithm } from './csr.js';
import { Pkcs10CertificateRequestGenerator } from '@peculiar/x509';
import { exportPrivateKeyPkcs8, exportPublicKeySpki, generateSigningKeyPair } from './key-pair.js';
import { DerError } from './path-der.js';
import { fromPem, PemError } from './pem.js';
import { encryptPrivateKey } from './private-key-encryption.js';

const opensslAvailable = spawnSync('openssl', ['version']).status === 0;
if (!opensslAvailable) process.stderr.write('\n*** SKIPPED: OpenSSL CSR checks — no `openssl` on PATH ***\n\n');

describe('buildCsr', () => {
  it('makes a PEM CSR whose self-signature verifies and which carries our public key', async () => {
    const keys = await generateSigningKeyPair();
    const pem = await buildCsr(keys, 'buyer1');
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/);
    expect(await verifyCsrSignature(pem)).toBe(true);
    const der = fromPem(pem, 'CERTIFICATE REQUEST');
    const spki = await exportPublicKeySpki(keys.publicKey);
    expect(Buffer.from(der).includes(Buffer.from(spki))).toBe(true);
  });

  it('a CSR altered after signing no longer verifies', async () => {
    const keys = await generateSigningKeyPair();
    const der = fromPem(await buildCsr(keys, 'buyer1'), 'CERTIFICATE REQUEST');
    // The CN value sits inside the signed part; change one letter of it.
    const index = Buffer.from(der).indexOf('buyer1');
    der[index] = 'c'.charCodeAt(0);
    expect(await verifyCsrSignature(der)).toBe(false);
  });

  it('refuses an empty or over-long common name', async () => {
    const keys = await generateSigningKeyPair();
    await expect(buildCsr(keys, '')).rejects.toThrow(RangeError);
    await expect(buildCsr(keys, 'x'.repeat(CSR_COMMON_NAME_LENGTH_MAX + 1))).rejects.toThrow(RangeError);
  });

  it('times key generation, CSR building and 600k-iteration key encryption in Node', async () => {
    const t0 = performance.now();
    const keys = await generateSigningKeyPair();
    const t1 = performance.now();
    await buildCsr(keys, 'timing');
    const t2 = performance.now();
    const pkcs8 = await exportPrivateKeyPkcs8(keys.privateKey);
    await encryptPrivateKey(pkcs8, 'timing password', { salt: new Uint8Array(16), iv: new Uint8Array(16) });
    const t3 = performance.now();
    console.log(
      `[timing] Node ${process.version}: key generation ${(t1 - t0).toFixed(1)} ms, CSR ${(t2 - t1).toFixed(1)} ms, PKCS#8 encryption (600,000 iterations) ${(t3 - t2).toFixed(1)} ms`,
    );
    expect(t3 - t2).toBeGreaterThan(0);
  });
});

describe('weakCsrSignatureAlgorithm', () => {
  const csrSignedWith = async (keys: CryptoKeyPair, signingAlgorithm: Algorithm) =>
    (await Pkcs10CertificateRequestGenerator.create({ name: [{ CN: ['x'] }], keys, signingAlgorithm }, crypto)).toString('pem');

  it('finds nothing weak in our own CSRs, or in ECDSA with SHA-256 to SHA-512', async () => {
    const keys = await generateSigningKeyPair();
    expect(weakCsrSignatureAlgorithm(await buildCsr(keys, 'buyer1'))).toBeUndefined();
    expect(weakCsrSignatureAlgorithm(fromPem(await buildCsr(keys, 'buyer1'), 'CERTIFICATE REQUEST'))).toBeUndefined();
    for (const hash of ['SHA-256', 'SHA-384', 'SHA-512']) {
      expect(weakCsrSignatureAlgorithm(await csrSignedWith(keys, { name: 'ECDSA', hash } as EcdsaParams)), hash).toBeUndefined();
    }
  });

  it('names an ECDSA-with-SHA-1 CSR made here, though its self-signature verifies', async () => {
    const keys = await generateSigningKeyPair();
    const pem = await csrSignedWith(keys, { name: 'ECDSA', hash: 'SHA-1' } as EcdsaParams);
    expect(await verifyCsrSignature(pem)).toBe(true);
    expect(weakCsrSignatureAlgorithm(pem)).toBe('ecdsa-with-SHA1');
  });

  it('names RSA with SHA-1 in PKCS#1 v1.5 and in PSS (whose default digest is SHA-1)', async () => {
    const rsa = (hash: string, name: string) =>
      crypto.subtle.generateKey({ name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash }, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
    expect(weakCsrSignatureAlgorithm(await csrSignedWith(await rsa('SHA-1', 'RSASSA-PKCS1-v1_5'), { name: 'RSASSA-PKCS1-v1_5' }))).toBe('sha1WithRSAEncryption');
    expect(weakCsrSignatureAlgorithm(await csrSignedWith(await rsa('SHA-256', 'RSASSA-PKCS1-v1_5'), { name: 'RSASSA-PKCS1-v1_5' }))).toBeUndefined();
    expect(weakCsrSignatureAlgorithm(await csrSignedWith(await rsa('SHA-1', 'RSA-PSS'), { name: 'RSA-PSS', saltLength: 20 } as RsaPssParams))).toBe('RSASSA-PSS with SHA-1');
    expect(weakCsrSignatureAlgorithm(await csrSignedWith(await rsa('SHA-256', 'RSA-PSS'), { name: 'RSA-PSS', saltLength: 32 } as RsaPssParams))).toBeUndefined();
  });

  it('throws on what is not a CSR', () => {
    expect(() => weakCsrSignatureAlgorithm('not a PEM block')).toThrow(PemError);
    expect(() => weakCsrSignatureAlgorithm(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(new DerError('signatureAlgorithm: unexpected element'));
    expect(() => weakCsrSignatureAlgorithm(new Uint8Array([0x30, 0x80, 0x00, 0x00]))).toThrow(new DerError('indefinite lengths are not DER'));
  });
});

describe.skipIf(!opensslAvailable)('OpenSSL as judge of the CSR', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-csr-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('openssl req -verify accepts it, and reads the subject and key', async () => {
    const keys = await generateSigningKeyPair();
    const file = path.join(dir, 'csr.pem');
    writeFileSync(file, await buildCsr(keys, '김구매 buyer1'));
    const result = spawnSync('openssl', ['req', '-verify', '-in', file, '-noout', '-text', '-nameopt', 'utf8'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/verify OK/);
    expect(result.stdout + result.stderr).not.toMatch(/verify failure/);
    expect(result.stdout).toContain('Subject: CN=김구매 buyer1');
    expect(result.stdout).toContain('ecdsa-with-SHA256');
    expect(result.stdout).toContain('P-256');
  });

  it('openssl req -verify rejects a tampered CSR', async () => {
    const keys = await generateSigningKeyPair();
    const der = fromPem(await buildCsr(keys, 'buyer1'), 'CERTIFICATE REQUEST');
    der[Buffer.from(der).indexOf('buyer1')] = 'c'.charCodeAt(0);
    const file = path.join(dir, 'tampered.der');
    writeFileSync(file, der);
    const result = spawnSync('openssl', ['req', '-verify', '-inform', 'DER', '-in', file, '-noout'], { encoding: 'utf8' });
    // OpenSSL 3.0 exits 0 even when the self-signature fails, so its message is the verdict.
    expect(result.stdout + result.stderr).toMatch(/verify failure|did not match/);
    expect(result.stdout + result.stderr).not.toMatch(/verify OK/);
  });

  it('openssl req -new -sha1 and -md5 make CSRs named weak; -sha256 and PSS with SHA-256 do not', () => {
    const run = (args: string[]) => {
      const result = spawnSync('openssl', args, { encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
    };
    const ecKey = path.join(dir, 'ec.pem');
    const rsaKey = path.join(dir, 'rsa.pem');
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ecKey]);
    run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', rsaKey]);
    const made = (name: string, key: string, extra: string[]) => {
      const out = path.join(dir, name);
      run(['req', '-new', '-key', key, '-subj', '/CN=x', '-out', out, ...extra]);
      return readFileSync(out, 'utf8');
    };
    expect(weakCsrSignatureAlgorithm(made('ec-sha1.csr', ecKey, ['-sha1']))).toBe('ecdsa-with-SHA1');
    expect(weakCsrSignatureAlgorithm(made('ec-sha256.csr', ecKey, ['-sha256']))).toBeUndefined();
    expect(weakCsrSignatureAlgorithm(made('rsa-sha1.csr', rsaKey, ['-sha1']))).toBe('sha1WithRSAEncryption');
    expect(weakCsrSignatureAlgorithm(made('rsa-md5.csr', rsaKey, ['-md5']))).toBe('md5WithRSAEncryption');
    expect(weakCsrSignatureAlgorithm(made('pss-sha1.csr', rsaKey, ['-sha1', '-sigopt', 'rsa_padding_mode:pss']))).toBe('RSASSA-PSS with SHA-1');
    expect(weakCsrSignatureAlgorithm(made('pss-sha256.csr', rsaKey, ['-sha256', '-sigopt', 'rsa_padding_mode:pss']))).toBeUndefined();
  });
});
