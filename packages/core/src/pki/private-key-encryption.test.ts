import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, exportPrivateKeyPkcs8 } from './key-pair.js';
import { fromPem, toPem } from './pem.js';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  KEY_DECRYPTION_ITERATIONS_MAX,
  KEY_ENCRYPTION_ITERATIONS_DEFAULT,
  KeyDecryptionError,
  KeyFormatError,
  pbes2Decrypt,
  pbes2Encrypt,
  pbkdf2HmacSha256,
  readEncryptedPrivateKey,
} from './private-key-encryption.js';
import { sharedVectorPath } from '../../../../test-support/shared-vectors.js';

interface WycheproofFile<T> {
  numberOfTests: number;
  testGroups: { tests: (T & { tcId: number; comment: string; result: 'valid' | 'invalid' | 'acceptable' })[] }[];
}

function loadWycheproof<T>(name: string): WycheproofFile<T> {
  const file = sharedVectorPath(`wycheproof/${name}`);
  return JSON.parse(readFileSync(file, 'utf8')) as WycheproofFile<T>;
}

const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const FAST = 100_000;
const salt = (fill: number) => new Uint8Array(16).fill(fill);

const opensslAvailable = spawnSync('openssl', ['version']).status === 0;
if (!opensslAvailable) process.stderr.write('\n*** SKIPPED: OpenSSL cross-checks — no `openssl` on PATH ***\n\n');

describe('Wycheproof', () => {
  it('pbkdf2_hmacsha256_test.json through pbkdf2HmacSha256', async () => {
    const file = loadWycheproof<{ password: string; salt: string; iterationCount: number; dkLen: number; dk: string }>('pbkdf2_hmacsha256_test.json');
    const counts = { valid: 0, invalid: 0, acceptable: 0 };
    const failures: number[] = [];
    for (const group of file.testGroups) {
      for (const v of group.tests) {
        counts[v.result]++;
        let matches: boolean;
        try {
          const dk = await pbkdf2HmacSha256(hex(v.password), hex(v.salt), v.iterationCount, v.dkLen);
          matches = Buffer.from(dk).toString('hex') === v.dk;
        } catch {
          matches = false;
        }
        if (matches !== (v.result !== 'invalid') && v.result !== 'acceptable') failures.push(v.tcId);
      }
    }
    console.log(`[wycheproof] pbkdf2_hmacsha256_test.json: valid ${counts.valid}, invalid ${counts.invalid}, acceptable ${counts.acceptable}; failures ${failures.length}`);
    expect(counts.valid + counts.invalid + counts.acceptable).toBe(file.numberOfTests);
    expect(failures).toEqual([]);
  });

  it('pbes2_hmacsha256_aes_256_test.json through pbes2Decrypt and pbes2Encrypt', async () => {
    const file = loadWycheproof<{ password: string; salt: string; iterationCount: number; iv: string; msg: string; ct: string }>(
      'pbes2_hmacsha256_aes_256_test.json',
    );
    const counts = { valid: 0, invalid: 0, acceptable: 0 };
    const failures: string[] = [];
    for (const group of file.testGroups) {
      for (const v of group.tests) {
        counts[v.result]++;
        const parameters = { salt: hex(v.salt), iterations: v.iterationCount, iv: hex(v.iv) };
        // The vectors' passwords include non-UTF-8 and BMPString bytes, so they go in as raw bytes.
        let decrypted: string | null;
        try {
          decrypted = Buffer.from(await pbes2Decrypt(hex(v.ct), hex(v.password), parameters)).toString('hex');
        } catch (error) {
          expect(error).toBeInstanceOf(KeyDecryptionError);
          decrypted = null;
        }
        const encrypted = Buffer.from(await pbes2Encrypt(hex(v.msg), hex(v.password), parameters)).toString('hex');
        if (v.result === 'valid' && (decrypted !== v.msg || encrypted !== v.ct)) failures.push(`tcId ${v.tcId} ${v.comment}`);
        if (v.result === 'invalid' && decrypted === v.msg) failures.push(`tcId ${v.tcId} decrypted although invalid`);
      }
    }
    console.log(`[wycheproof] pbes2_hmacsha256_aes_256_test.json: valid ${counts.valid}, invalid ${counts.invalid}, acceptable ${counts.acceptable}; failures ${failures.length}`);
    expect(counts.valid + counts.invalid + counts.acceptable).toBe(file.numberOfTests);
    expect(failures).toEqual([]);
  });
});

describe('encryptPrivateKey / decryptPrivateKey', () => {
  async function freshPkcs8(): Promise<Uint8Array> {
    return exportPrivateKeyPkcs8((await generateSigningKeyPair()).privateKey);
  }

  it('round-trips with the default 600,000 iterations and writes them into the key', async () => {
    const pkcs8 = await freshPkcs8();
    const encrypted = await encryptPrivateKey(pkcs8, 'correct horse battery', { salt: salt(1), iv: salt(2) });
    expect(readEncryptedPrivateKey(encrypted).iterations).toBe(KEY_ENCRYPTION_ITERATIONS_DEFAULT);
    expect(await decryptPrivateKey(encrypted, 'correct horse battery')).toEqual(pkcs8);
  });

  it('is deterministic for a given salt and IV, and different salts give different keys', async () => {
    const pkcs8 = await freshPkcs8();
    const a = await encryptPrivateKey(pkcs8, 'password 1234', { salt: salt(3), iv: salt(4), iterations: FAST });
    const b = await encryptPrivateKey(pkcs8, 'password 1234', { salt: salt(3), iv: salt(4), iterations: FAST });
    const c = await encryptPrivateKey(pkcs8, 'password 1234', { salt: salt(5), iv: salt(4), iterations: FAST });
    expect(a).toEqual(b);
    expect(readEncryptedPrivateKey(a).ciphertext).not.toEqual(readEncryptedPrivateKey(c).ciphertext);
  });

  it('treats composed and decomposed forms of a password alike (NFC)', async () => {
    const pkcs8 = await freshPkcs8();
    const composed = '인증서 비밀번호 é';
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const encrypted = await encryptPrivateKey(pkcs8, composed, { salt: salt(6), iv: salt(7), iterations: FAST });
    expect(await decryptPrivateKey(encrypted, decomposed)).toEqual(pkcs8);
  });

  it('throws KeyDecryptionError for a wrong password and leaves the input untouched', async () => {
    const pkcs8 = await freshPkcs8();
    const encrypted = await encryptPrivateKey(pkcs8, 'the right password', { salt: salt(8), iv: salt(9), iterations: FAST });
    const before = new Uint8Array(encrypted);
    for (const wrong of ['the wrong password', 'the right passwor', 'The right password']) {
      await expect(decryptPrivateKey(encrypted, wrong)).rejects.toBeInstanceOf(KeyDecryptionError);
    }
    expect(encrypted).toEqual(before);
    // And the record still opens with the right one afterwards.
    expect(await decryptPrivateKey(encrypted, 'the right password')).toEqual(pkcs8);
  });

  it('detects tampering both by padding and by parsing the decrypted key', async () => {
    const pkcs8 = await freshPkcs8();
    const encrypted = await encryptPrivateKey(pkcs8, 'tamper password', { salt: salt(10), iv: salt(11), iterations: FAST });
    const flipped = (index: number) => {
      const copy = new Uint8Array(encrypted);
      copy[index] = copy[index]! ^ 0x01;
      return copy;
    };
    // A flipped bit in the first block garbles the key's ASN.1 header but keeps the padding valid.
    const firstBlock = flipped(encrypted.length - readEncryptedPrivateKey(encrypted).ciphertext.length);
    await expect(decryptPrivateKey(firstBlock, 'tamper password')).rejects.toBeInstanceOf(KeyDecryptionError);
    // A flipped bit in the last block garbles the padding (and, should it still pass, the key's last bytes).
    const lastBlock = flipped(encrypted.length - 1);
    await expect(decryptPrivateKey(lastBlock, 'tamper password')).rejects.toBeInstanceOf(KeyDecryptionError);
  });

  it('refuses what it does not support before deriving anything', async () => {
    const pkcs8 = await freshPkcs8();
    const encrypted = await encryptPrivateKey(pkcs8, 'format password', { salt: salt(12), iv: salt(13), iterations: FAST });
    await expect(decryptPrivateKey(encrypted, 'format password', { iterationsMax: FAST - 1 })).rejects.toBeInstanceOf(KeyFormatError);
    await expect(decryptPrivateKey(new Uint8Array([...encrypted, 0]), 'format password')).rejects.toBeInstanceOf(KeyFormatError);
    await expect(decryptPrivateKey(pkcs8, 'format password')).rejects.toBeInstanceOf(KeyFormatError);
    await expect(decryptPrivateKey(new Uint8Array([0x30, 0x00]), 'format password')).rejects.toBeInstanceOf(KeyFormatError);
    await expect(decryptPrivateKey(new Uint8Array(20_000), 'format password')).rejects.toBeInstanceOf(KeyFormatError);
  });

  it('refuses weak or out-of-range encryption settings and inputs that are not PKCS#8', async () => {
    const pkcs8 = await freshPkcs8();
    await expect(encryptPrivateKey(pkcs8, 'pw pw pw pw', { salt: salt(1), iv: salt(2), iterations: 2048 })).rejects.toThrow(RangeError);
    await expect(encryptPrivateKey(pkcs8, 'pw pw pw pw', { salt: salt(1), iv: salt(2), iterations: KEY_DECRYPTION_ITERATIONS_MAX + 1 })).rejects.toThrow(RangeError);
    await expect(encryptPrivateKey(pkcs8, 'pw pw pw pw', { salt: new Uint8Array(8), iv: salt(2) })).rejects.toThrow(RangeError);
    await expect(encryptPrivateKey(pkcs8, 'pw pw pw pw', { salt: salt(1), iv: new Uint8Array(12) })).rejects.toThrow(RangeError);
    await expect(encryptPrivateKey(pkcs8, '', { salt: salt(1), iv: salt(2), iterations: FAST })).rejects.toThrow(RangeError);
    await expect(encryptPrivateKey(new Uint8Array([1, 2, 3]), 'pw pw pw pw', { salt: salt(1), iv: salt(2), iterations: FAST })).rejects.toBeInstanceOf(KeyFormatError);
  });
});

describe.skipIf(!opensslAvailable)('OpenSSL as judge', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-pkcs8-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Passwords go through the environment: no shell, and the bytes arrive as UTF-8.
  const password = '코코넛 인증서 password';
  const env = { ...process.env, KEY_PASSWORD: password.normalize('NFC') };
  const openssl = (args: string[]) => execFileSync('openssl', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });

  it('opens a key we encrypted (600,000 iterations)', async () => {
    const pkcs8 = await exportPrivateKeyPkcs8((await generateSigningKeyPair()).privateKey);
    const encrypted = await encryptPrivateKey(pkcs8, password, { salt: crypto.getRandomValues(new Uint8Array(16)), iv: crypto.getRandomValues(new Uint8Array(16)) });
    const file = path.join(dir, 'ours.p8');
    writeFileSync(file, toPem(encrypted, 'ENCRYPTED PRIVATE KEY'));
    const plainFile = path.join(dir, 'ours-plain.der');
    writeFileSync(plainFile, pkcs8);
    // OpenSSL re-encodes what it reads (it drops the optional curve parameters inside
    // the EC key), so both sides go through the same `openssl pkcs8 -topk8 -nocrypt`.
    const opened = openssl(['pkcs8', '-topk8', '-nocrypt', '-in', file, '-passin', 'env:KEY_PASSWORD', '-outform', 'DER']);
    const reference = openssl(['pkcs8', '-topk8', '-nocrypt', '-inform', 'DER', '-in', plainFile, '-outform', 'DER']);
    expect(opened.length).toBeGreaterThan(100);
    expect(opened).toEqual(reference);
    expect(openssl(['pkey', '-in', file, '-passin', 'env:KEY_PASSWORD', '-noout', '-text']).toString()).toContain('NIST CURVE: P-256');
    // And OpenSSL refuses it with a wrong password.
    const wrong = spawnSync('openssl', ['pkcs8', '-in', file, '-passin', 'pass:not the password', '-outform', 'DER']);
    expect(wrong.status).not.toBe(0);
  });

  it('decrypts a key OpenSSL encrypted with -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 600000', async () => {
    const plainFile = path.join(dir, 'plain.pem');
    const encryptedFile = path.join(dir, 'theirs.p8');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', plainFile]);
    openssl(['pkcs8', '-topk8', '-in', plainFile, '-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256', '-iter', '600000', '-passout', 'env:KEY_PASSWORD', '-out', encryptedFile]);
    const expected = new Uint8Array(openssl(['pkcs8', '-topk8', '-nocrypt', '-in', plainFile, '-outform', 'DER']));
    const encrypted = fromPem(readFileSync(encryptedFile, 'utf8'), 'ENCRYPTED PRIVATE KEY');
    expect(readEncryptedPrivateKey(encrypted).iterations).toBe(600_000);
    expect(await decryptPrivateKey(encrypted, password)).toEqual(expected);
    await expect(decryptPrivateKey(encrypted, 'not the password')).rejects.toBeInstanceOf(KeyDecryptionError);
  });

  it('refuses keys OpenSSL encrypted with schemes we do not accept', async () => {
    const plainFile = path.join(dir, 'plain2.pem');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', plainFile]);
    const variants: [string, string[]][] = [
      ['sha1 prf', ['-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA1']],
      ['aes-128', ['-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA256']],
      ['scrypt', ['-scrypt']],
    ];
    for (const [name, args] of variants) {
      const file = path.join(dir, `${name.replace(/\W/g, '')}.p8`);
      openssl(['pkcs8', '-topk8', '-in', plainFile, ...args, '-passout', 'env:KEY_PASSWORD', '-out', file]);
      await expect(decryptPrivateKey(fromPem(readFileSync(file, 'utf8'), 'ENCRYPTED PRIVATE KEY'), password), name).rejects.toBeInstanceOf(KeyFormatError);
    }
  });
});
