import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCsr, CSR_COMMON_NAME_LENGTH_MAX, verifyCsrSignature } from './csr.js';
import { exportPrivateKeyPkcs8, exportPublicKeySpki, generateSigningKeyPair } from './key-pair.js';
import { fromPem } from './pem.js';
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
});
