/**
 * The server key that keeps verification codes out of the database in readable form.
 * A code's row holds two values made from it, and neither reads as the code without
 * this key:
 *
 * - `codeDigest`: HMAC-SHA-256 of the proof the browser will send for this command
 *   (core's `codeProof`, an HMAC keyed by the code over the command id). The browser
 *   never sends the code, only that proof, so the expected proof is what is kept, keyed,
 *   and a presented proof is compared with it in constant time. Keyed, because a code
 *   has about 2^26 values: a plain hash would fall to trying them all against a copy
 *   of the database.
 * - `codeSealed`: the code under AES-256-GCM, bound to the row's id, only so that the
 *   picture can be drawn again when the payment page is reloaded. (The picture used to
 *   be stored as it was, which is the code for anyone who reads it.)
 *
 * The key is `<DATA_DIR>/keys/verification-code.key` (32 random bytes, base64url, mode
 * 0600), made at first start; HKDF-SHA-256 derives one key per purpose from it, so no
 * key serves two. Losing the file only invalidates codes in flight.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeSecretFile } from './write-secret-file.js';

/** Size of the stored secret. */
export const VERIFICATION_CODE_SECRET_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where the key lives inside the data folder. */
export function verificationCodeKeyFile(dataDir: string): string {
  return path.join(dataDir, 'keys', 'verification-code.key');
}

/** The purpose keys derived from the stored secret; see the file comment. */
export class VerificationCodeKey {
  private constructor(
    private readonly digestKey: Buffer,
    private readonly sealKey: Buffer,
    private readonly pictureKey: Buffer,
  ) {}

  /**
   * Reads the key from `dataDir`, creating it at first start.
   *
   * @example
   * const codeKey = VerificationCodeKey.open(config.dataDir);
   */
  static open(dataDir: string): VerificationCodeKey {
    const file = verificationCodeKeyFile(dataDir);
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeSecretFile(file, randomBytes(VERIFICATION_CODE_SECRET_BYTES).toString('base64url'));
    }
    return VerificationCodeKey.fromSecret(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url'));
  }

  /** The purpose keys of a secret of {@link VERIFICATION_CODE_SECRET_BYTES} bytes. */
  static fromSecret(secret: Uint8Array): VerificationCodeKey {
    // A truncated or edited file must stop the start, not leave codes under a weak key.
    if (secret.length !== VERIFICATION_CODE_SECRET_BYTES) throw new RangeError(`the verification code key is not ${VERIFICATION_CODE_SECRET_BYTES} bytes`);
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
    return new VerificationCodeKey(derive('coconutpay verification code digest v1'), derive('coconutpay verification code seal v1'), derive('coconutpay verification code picture v1'));
  }

  /** The keyed digest of a code's proof, base64url (43 characters), as stored. */
  digest(proof: string): string {
    return this.mac(proof).toString('base64url');
  }

  /**
   * Whether a presented proof is the one whose digest was stored, in time that does not
   * depend on where they differ. Digests have one length, so only their bytes are compared.
   */
  matches(presentedProof: string | null, storedDigest: string | null): boolean {
    if (presentedProof === null || storedDigest === null) return false;
    const expected = Buffer.from(storedDigest, 'base64url');
    const presented = this.mac(presentedProof);
    return expected.length === presented.length && timingSafeEqual(presented, expected);
  }

  /** The code under AES-256-GCM, bound to `codeId` (so a sealed code cannot be moved to another row), base64url. */
  seal(codeId: string, code: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(codeId, 'utf8'));
    return Buffer.concat([iv, cipher.update(code, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64url');
  }

  /** The code sealed by {@link seal} for `codeId`; throws when it was sealed for another row, under another key, or altered. */
  open(codeId: string, sealed: string): string {
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) throw new RangeError('sealed verification code too short');
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(codeId, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  }

  /**
   * The seed of a code's picture: the same sealed code (one code of one row) always gives
   * the same picture, so a reload shows no second view to compare; a new code, a new one.
   */
  pictureSeed(codeId: string, sealed: string): Buffer {
    return createHmac('sha256', this.pictureKey).update(`${codeId}\n${sealed}`, 'utf8').digest();
  }

  private mac(proof: string): Buffer {
    return createHmac('sha256', this.digestKey).update(proof, 'utf8').digest();
  }
}
