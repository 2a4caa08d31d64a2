/**
 * Password hashing with scrypt (memory-hard; RFC 7914). Stored as
 * `scrypt$<logN>$<r>$<p>$<salt>$<hash>` (base64url), so the cost can rise later
 * without breaking stored hashes.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH_BYTES = 32;
const SALT_LENGTH_BYTES = 16;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password.normalize('NFC'), salt, KEY_LENGTH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function optionsFor(logN: number, r: number, p: number): ScryptOptions {
  // scrypt needs 128·N·r bytes; allow twice that so Node does not refuse the cost.
  return { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
}

/** Hashes and verifies passwords at a fixed cost N = 2^logN. */
export class PasswordHasher {
  constructor(private readonly logN: number) {
    if (!Number.isInteger(logN) || logN < 10 || logN > 20) throw new RangeError('logN must be 10..20');
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_LENGTH_BYTES);
    const key = await scrypt(password, salt, optionsFor(this.logN, BLOCK_SIZE, PARALLELISM));
    return ['scrypt', this.logN, BLOCK_SIZE, PARALLELISM, salt.toString('base64url'), key.toString('base64url')].join('$');
  }

  /** True when `password` matches `stored`; a malformed `stored` never matches. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
    if (![logN, r, p].every(Number.isInteger) || logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
    const salt = Buffer.from(parts[4]!, 'base64url');
    const expected = Buffer.from(parts[5]!, 'base64url');
    if (expected.length !== KEY_LENGTH_BYTES) return false;
    const actual = await scrypt(password, salt, optionsFor(logN, r, p));
    return timingSafeEqual(actual, expected);
  }

  /**
   * Spends the same time as a real verification. Used when the login id is unknown,
   * so response time does not reveal which ids exist.
   */
  async verifyNothing(password: string): Promise<false> {
    await scrypt(password, Buffer.alloc(SALT_LENGTH_BYTES), optionsFor(this.logN, BLOCK_SIZE, PARALLELISM));
    return false;
  }
}

/** Password policy: at least 10 characters, at most 128, and not the login id. */
export const PASSWORD_LENGTH_MIN = 10;
export const PASSWORD_LENGTH_MAX = 128;

/** The reasons a password breaks the policy (empty when it complies). */
export function passwordPolicyViolations(password: string, loginId: string): string[] {
  const reasons: string[] = [];
  if ([...password].length < PASSWORD_LENGTH_MIN) reasons.push('too_short');
  if ([...password].length > PASSWORD_LENGTH_MAX) reasons.push('too_long');
  if (password.toLowerCase() === loginId.toLowerCase()) reasons.push('equals_login_id');
  return reasons;
}
