import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { codeProof } from '@coconutpay/core/payment';
import { VerificationCodeKey, verificationCodeKeyFile } from './verification-code-key.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-code-key-'));
  dirs.push(dir);
  return dir;
}

describe('verification code key', () => {
  it('is made once at first start, 0600, and read back the same', async () => {
    const dir = dataDir();
    const first = VerificationCodeKey.open(dir);
    const file = verificationCodeKeyFile(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8');
    const again = VerificationCodeKey.open(dir);
    expect(readFileSync(file, 'utf8')).toBe(secret);
    const proof = await codeProof('7KX3PA', 'com-1');
    expect(again.digest(proof)).toBe(first.digest(proof));
  });

  it('refuses a secret of the wrong size', () => {
    expect(() => VerificationCodeKey.fromSecret(new Uint8Array(16))).toThrow(RangeError);
  });

  it('matches only the proof whose digest was stored, and nothing for none', async () => {
    const key = VerificationCodeKey.fromSecret(new Uint8Array(32).fill(7));
    const stored = key.digest(await codeProof('7KX3PA', 'com-1'));
    expect(stored).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key.matches(await codeProof('7KX3PA', 'com-1'), stored)).toBe(true);
    // Typed in lower case with spaces: core's proof normalizes the code first.
    expect(key.matches(await codeProof(' 7kx3pa ', 'com-1'), stored)).toBe(true);
    expect(key.matches(await codeProof('7KX3PC', 'com-1'), stored)).toBe(false);
    expect(key.matches(await codeProof('7KX3PA', 'com-2'), stored)).toBe(false);
    expect(key.matches('short', stored)).toBe(false);
    expect(key.matches(null, stored)).toBe(false);
    expect(key.matches(await codeProof('7KX3PA', 'com-1'), null)).toBe(false);
  });

  it('digests under another key differ, so a copy of the database alone cannot test codes', async () => {
    const proof = await codeProof('7KX3PA', 'com-1');
    const ours = VerificationCodeKey.fromSecret(new Uint8Array(32).fill(7));
    const other = VerificationCodeKey.fromSecret(new Uint8Array(32).fill(8));
    expect(other.digest(proof)).not.toBe(ours.digest(proof));
    expect(other.matches(proof, ours.digest(proof))).toBe(false);
  });

  it('opens a sealed code only for its own row, under its own key, unaltered', () => {
    const key = VerificationCodeKey.fromSecret(new Uint8Array(32).fill(7));
    const sealed = key.seal('code-1', '7KX3PA');
    expect(sealed).not.toContain('7KX3PA');
    expect(sealed.length).toBeLessThanOrEqual(64);
    expect(key.open('code-1', sealed)).toBe('7KX3PA');
    expect(() => key.open('code-2', sealed)).toThrow(/unable to authenticate/);
    expect(() => VerificationCodeKey.fromSecret(new Uint8Array(32).fill(8)).open('code-1', sealed)).toThrow(/unable to authenticate/);
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[14] = bytes[14]! ^ 1;
    expect(() => key.open('code-1', bytes.toString('base64url'))).toThrow(/unable to authenticate/);
    expect(() => key.open('code-1', 'AAAA')).toThrow(RangeError);
  });
});
