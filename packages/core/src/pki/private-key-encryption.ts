/**
 * Password-encrypted private keys: PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958 §3)
 * with PBES2 (RFC 8018 §6.2) = PBKDF2-HMAC-SHA256 + AES-256-CBC. This is the
 * scheme `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256` writes, so
 * a key exported here opens with OpenSSL and the other way round.
 *
 * WebCrypto only. The caller supplies salt and IV (core reads no randomness).
 */
import { AsnConvert, AsnIntegerBigIntConverter, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { EncryptedData, EncryptedPrivateKeyInfo, PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { utf8, type Bytes } from '../encoding/index.js';

/** PBKDF2 iterations of keys encrypted here (OWASP's 2023 figure for PBKDF2-HMAC-SHA256). */
export const KEY_ENCRYPTION_ITERATIONS_DEFAULT = 600_000;
/** Fewest iterations {@link encryptPrivateKey} agrees to use. */
export const KEY_ENCRYPTION_ITERATIONS_MIN = 100_000;
/** Most iterations {@link decryptPrivateKey} runs unless told otherwise; more is a denial of service, not security. */
export const KEY_DECRYPTION_ITERATIONS_MAX = 5_000_000;
/** Salt length of keys encrypted here, in bytes. */
export const KEY_ENCRYPTION_SALT_LENGTH = 16;
/** Shortest salt accepted when decrypting, in bytes (RFC 8018 asks for at least 8). */
export const KEY_DECRYPTION_SALT_LENGTH_MIN = 8;
/** Longest salt accepted when decrypting, in bytes. */
export const KEY_DECRYPTION_SALT_LENGTH_MAX = 64;
/** AES block size = IV length, in bytes. */
export const AES_CBC_IV_LENGTH = 16;
/** Largest encrypted key we read, in bytes (a P-256 key is about 250). */
export const ENCRYPTED_KEY_LENGTH_MAX = 16_384;
/** Longest password, in UTF-16 code units. */
export const KEY_PASSWORD_LENGTH_MAX = 1024;

const AES_256_KEY_LENGTH = 32;

/** Object identifiers of the scheme. */
export const PBES2_OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSha256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

const DER_NULL = new Uint8Array([0x05, 0x00]);

/**
 * The password is wrong, or the encrypted bytes were altered: the two cannot be
 * told apart, and the message says nothing more on purpose.
 */
export class KeyDecryptionError extends Error {
  constructor() {
    super('The key could not be decrypted: wrong password or damaged data');
    this.name = 'KeyDecryptionError';
  }
}

/** The bytes are not an encrypted key we read: malformed, another scheme, or parameters out of bounds. */
export class KeyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFormatError';
  }
}

// The ASN.1 schemas of RFC 8018 appendix A.2 and A.4. No @peculiar package ships
// them. The decorators are applied as plain calls because the project compiles
// with standard (TC39) decorators, and asn1-schema expects the legacy signature.

/**
 * ```asn1
 * PBKDF2-params ::= SEQUENCE {
 *   salt CHOICE { specified OCTET STRING, otherSource AlgorithmIdentifier },
 *   iterationCount INTEGER (1..MAX),
 *   keyLength INTEGER (1..MAX) OPTIONAL,
 *   prf AlgorithmIdentifier DEFAULT algid-hmacWithSHA1 }
 * ```
 * Only the `specified` salt is modelled; `otherSource` fails to parse, as it should.
 */
class Pbkdf2Params {
  salt = new OctetString();
  iterationCount = 0n;
  keyLength?: bigint;
  prf?: AlgorithmIdentifier;
}
AsnType({ type: AsnTypeTypes.Sequence })(Pbkdf2Params);
AsnProp({ type: OctetString })(Pbkdf2Params.prototype, 'salt');
AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerBigIntConverter })(Pbkdf2Params.prototype, 'iterationCount');
AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerBigIntConverter, optional: true })(Pbkdf2Params.prototype, 'keyLength');
AsnProp({ type: AlgorithmIdentifier, optional: true })(Pbkdf2Params.prototype, 'prf');

/**
 * ```asn1
 * PBES2-params ::= SEQUENCE {
 *   keyDerivationFunc AlgorithmIdentifier {{PBES2-KDFs}},
 *   encryptionScheme AlgorithmIdentifier {{PBES2-Encs}} }
 * ```
 */
class Pbes2Params {
  keyDerivationFunc = new AlgorithmIdentifier();
  encryptionScheme = new AlgorithmIdentifier();
}
AsnType({ type: AsnTypeTypes.Sequence })(Pbes2Params);
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'keyDerivationFunc');
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'encryptionScheme');

/** PBES2 parameters as numbers and bytes. */
export interface Pbes2Parameters {
  salt: Uint8Array;
  iterations: number;
  iv: Uint8Array;
}

function copy(bytes: Uint8Array | ArrayBuffer): Bytes {
  // A fresh ArrayBuffer-backed copy: what WebCrypto accepts, and the caller's bytes stay untouched.
  return new Uint8Array(bytes instanceof ArrayBuffer ? bytes.slice(0) : bytes);
}

/**
 * Length of the DER element at the start of `bytes` (header and content), or -1
 * when the header is malformed. Used to refuse trailing bytes, which the ASN.1
 * parser would silently ignore.
 */
function derElementLength(bytes: Uint8Array): number {
  if (bytes.length < 2 || (bytes[0]! & 0x1f) === 0x1f) return -1;
  const first = bytes[1]!;
  if (first < 0x80) return 2 + first;
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0 || lengthBytes > 3 || bytes.length < 2 + lengthBytes) return -1;
  let length = 0;
  for (let i = 0; i < lengthBytes; i++) length = length * 256 + bytes[2 + i]!;
  return 2 + lengthBytes + length;
}

function parseWhole<T>(bytes: Uint8Array, target: new () => T): T {
  if (derElementLength(bytes) !== bytes.length) throw new Error('not exactly one DER element');
  return AsnConvert.parse(bytes, target);
}

/**
 * The password as PBKDF2 input: UTF-8 of its NFC form, so that the same password
 * typed on different systems (composed or decomposed Hangul) gives the same key.
 */
export function passwordBytes(password: string): Bytes {
  if (password.length === 0) throw new RangeError('the password is empty');
  if (password.length > KEY_PASSWORD_LENGTH_MAX) throw new RangeError('the password is too long');
  return utf8(password.normalize('NFC'));
}

/**
 * PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) of raw password bytes.
 *
 * @example
 * const dk = await pbkdf2HmacSha256(utf8('passwd'), utf8('salt'), 1, 64);
 */
export async function pbkdf2HmacSha256(password: Uint8Array, salt: Uint8Array, iterations: number, lengthBytes: number): Promise<Bytes> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer');
  if (!Number.isSafeInteger(lengthBytes) || lengthBytes < 1 || lengthBytes > 1024) throw new RangeError('lengthBytes out of range');
  const baseKey = await crypto.subtle.importKey('raw', copy(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: copy(salt), iterations }, baseKey, lengthBytes * 8);
  return new Uint8Array(bits);
}

async function aesKeyFromPassword(password: Uint8Array, salt: Uint8Array, iterations: number, usage: KeyUsage): Promise<CryptoKey> {
  const baseKey = await crypto.subtle.importKey('raw', copy(password), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: copy(salt), iterations },
    baseKey,
    { name: 'AES-CBC', length: AES_256_KEY_LENGTH * 8 },
    false,
    [usage],
  );
}

function assertIv(iv: Uint8Array): void {
  if (iv.length !== AES_CBC_IV_LENGTH) throw new RangeError(`the IV must be ${AES_CBC_IV_LENGTH} bytes`);
}

/**
 * PBES2 encryption of arbitrary bytes with PBKDF2-HMAC-SHA256 and AES-256-CBC
 * (PKCS#7 padding). The building block of {@link encryptPrivateKey}; exposed for
 * test vectors.
 */
export async function pbes2Encrypt(plaintext: Uint8Array, password: Uint8Array, parameters: Pbes2Parameters): Promise<Bytes> {
  assertIv(parameters.iv);
  const key = await aesKeyFromPassword(password, parameters.salt, parameters.iterations, 'encrypt');
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv: copy(parameters.iv) }, key, copy(plaintext)));
}

/**
 * PBES2 decryption, the inverse of {@link pbes2Encrypt}. Throws
 * {@link KeyDecryptionError} when the padding is wrong (a wrong password, nearly always).
 */
export async function pbes2Decrypt(ciphertext: Uint8Array, password: Uint8Array, parameters: Pbes2Parameters): Promise<Bytes> {
  assertIv(parameters.iv);
  if (ciphertext.length === 0 || ciphertext.length % AES_CBC_IV_LENGTH !== 0) throw new KeyDecryptionError();
  const key = await aesKeyFromPassword(password, parameters.salt, parameters.iterations, 'decrypt');
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-CBC', iv: copy(parameters.iv) }, key, copy(ciphertext)));
  } catch {
    throw new KeyDecryptionError();
  }
}

/** Options of {@link encryptPrivateKey}. */
export interface EncryptPrivateKeyOptions {
  /** {@link KEY_ENCRYPTION_SALT_LENGTH} random bytes. */
  salt: Uint8Array;
  /** {@link AES_CBC_IV_LENGTH} random bytes. */
  iv: Uint8Array;
  /** Defaults to {@link KEY_ENCRYPTION_ITERATIONS_DEFAULT}. */
  iterations?: number;
}

/**
 * Encrypts a PKCS#8 `PrivateKeyInfo` under a password and returns the DER of the
 * `EncryptedPrivateKeyInfo`. The input is checked to be a PrivateKeyInfo first.
 *
 * @example
 * const encrypted = await encryptPrivateKey(pkcs8, password, {
 *   salt: crypto.getRandomValues(new Uint8Array(16)),
 *   iv: crypto.getRandomValues(new Uint8Array(16)),
 * });
 * const pem = toPem(encrypted, 'ENCRYPTED PRIVATE KEY');
 */
export async function encryptPrivateKey(pkcs8Der: Uint8Array, password: string, options: EncryptPrivateKeyOptions): Promise<Bytes> {
  const iterations = options.iterations ?? KEY_ENCRYPTION_ITERATIONS_DEFAULT;
  if (!Number.isSafeInteger(iterations) || iterations < KEY_ENCRYPTION_ITERATIONS_MIN || iterations > KEY_DECRYPTION_ITERATIONS_MAX) {
    throw new RangeError(`iterations must be from ${KEY_ENCRYPTION_ITERATIONS_MIN} to ${KEY_DECRYPTION_ITERATIONS_MAX}`);
  }
  if (options.salt.length !== KEY_ENCRYPTION_SALT_LENGTH) throw new RangeError(`the salt must be ${KEY_ENCRYPTION_SALT_LENGTH} bytes`);
  assertIv(options.iv);
  if (!isPrivateKeyInfo(pkcs8Der)) throw new KeyFormatError('the input is not a PKCS#8 PrivateKeyInfo');

  const ciphertext = await pbes2Encrypt(pkcs8Der, passwordBytes(password), { salt: options.salt, iv: options.iv, iterations });

  const kdf = new Pbkdf2Params();
  kdf.salt = new OctetString(copy(options.salt));
  kdf.iterationCount = BigInt(iterations);
  kdf.prf = new AlgorithmIdentifier({ algorithm: PBES2_OID.hmacWithSha256, parameters: copy(DER_NULL).buffer });
  const scheme = new Pbes2Params();
  scheme.keyDerivationFunc = new AlgorithmIdentifier({ algorithm: PBES2_OID.pbkdf2, parameters: AsnConvert.serialize(kdf) });
  scheme.encryptionScheme = new AlgorithmIdentifier({
    algorithm: PBES2_OID.aes256Cbc,
    parameters: AsnConvert.serialize(new OctetString(copy(options.iv))),
  });
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: PBES2_OID.pbes2, parameters: AsnConvert.serialize(scheme) }),
    encryptedData: new EncryptedData(ciphertext),
  });
  return new Uint8Array(AsnConvert.serialize(info));
}

/** What an `EncryptedPrivateKeyInfo` says about how it was encrypted. */
export interface EncryptedPrivateKeyParameters extends Pbes2Parameters {
  ciphertext: Uint8Array;
}

function isNullOrAbsent(parameters: ArrayBuffer | undefined | null): boolean {
  if (!parameters) return true;
  const bytes = new Uint8Array(parameters);
  return bytes.length === 2 && bytes[0] === 0x05 && bytes[1] === 0x00;
}

/**
 * Reads the PBES2 parameters of an encrypted key, refusing anything but
 * PBKDF2-HMAC-SHA256 + AES-256-CBC within the limits. Throws {@link KeyFormatError}.
 */
export function readEncryptedPrivateKey(encryptedDer: Uint8Array, limits: { iterationsMax?: number } = {}): EncryptedPrivateKeyParameters {
  const iterationsMax = limits.iterationsMax ?? KEY_DECRYPTION_ITERATIONS_MAX;
  if (encryptedDer.length > ENCRYPTED_KEY_LENGTH_MAX) throw new KeyFormatError('the encrypted key is too large');
  let info: EncryptedPrivateKeyInfo;
  let scheme: Pbes2Params;
  let kdf: Pbkdf2Params;
  let iv: Uint8Array;
  try {
    info = parseWhole(encryptedDer, EncryptedPrivateKeyInfo);
  } catch {
    throw new KeyFormatError('not a PKCS#8 EncryptedPrivateKeyInfo');
  }
  if (info.encryptionAlgorithm.algorithm !== PBES2_OID.pbes2 || !info.encryptionAlgorithm.parameters) {
    throw new KeyFormatError(`unsupported key encryption scheme ${info.encryptionAlgorithm.algorithm}`);
  }
  try {
    scheme = parseWhole(new Uint8Array(info.encryptionAlgorithm.parameters), Pbes2Params);
  } catch {
    throw new KeyFormatError('malformed PBES2 parameters');
  }
  if (scheme.keyDerivationFunc.algorithm !== PBES2_OID.pbkdf2 || !scheme.keyDerivationFunc.parameters) {
    throw new KeyFormatError(`unsupported key derivation ${scheme.keyDerivationFunc.algorithm}`);
  }
  if (scheme.encryptionScheme.algorithm !== PBES2_OID.aes256Cbc || !scheme.encryptionScheme.parameters) {
    throw new KeyFormatError(`unsupported cipher ${scheme.encryptionScheme.algorithm}`);
  }
  try {
    kdf = parseWhole(new Uint8Array(scheme.keyDerivationFunc.parameters), Pbkdf2Params);
    iv = new Uint8Array(AsnConvert.parse(new Uint8Array(scheme.encryptionScheme.parameters), OctetString).buffer);
  } catch {
    throw new KeyFormatError('malformed PBKDF2 or cipher parameters');
  }
  // An absent prf means HMAC-SHA1, which we do not accept.
  if (!kdf.prf || kdf.prf.algorithm !== PBES2_OID.hmacWithSha256 || !isNullOrAbsent(kdf.prf.parameters)) {
    throw new KeyFormatError('unsupported PBKDF2 pseudo-random function');
  }
  if (kdf.keyLength !== undefined && kdf.keyLength !== BigInt(AES_256_KEY_LENGTH)) throw new KeyFormatError('PBKDF2 key length does not fit AES-256');
  if (kdf.iterationCount < 1n || kdf.iterationCount > BigInt(iterationsMax)) throw new KeyFormatError('PBKDF2 iteration count out of bounds');
  const salt = new Uint8Array(kdf.salt.buffer);
  if (salt.length < KEY_DECRYPTION_SALT_LENGTH_MIN || salt.length > KEY_DECRYPTION_SALT_LENGTH_MAX) throw new KeyFormatError('PBKDF2 salt length out of bounds');
  if (iv.length !== AES_CBC_IV_LENGTH) throw new KeyFormatError('the AES-CBC IV must be 16 bytes');
  const ciphertext = new Uint8Array(info.encryptedData.buffer);
  if (ciphertext.length === 0 || ciphertext.length % AES_CBC_IV_LENGTH !== 0) throw new KeyFormatError('the ciphertext length is not a whole number of blocks');
  return { salt, iterations: Number(kdf.iterationCount), iv, ciphertext };
}

function isPrivateKeyInfo(bytes: Uint8Array): boolean {
  try {
    const info = parseWhole(bytes, PrivateKeyInfo);
    // Version 1 is RFC 5958's OneAsymmetricKey, which keeps the same first fields.
    return (info.version === 0 || (info.version as number) === 1) && info.privateKeyAlgorithm.algorithm !== '' && info.privateKey.byteLength > 0;
  } catch {
    return false;
  }
}

/**
 * Decrypts an `EncryptedPrivateKeyInfo` (DER) and returns the PKCS#8
 * `PrivateKeyInfo` DER. Throws {@link KeyDecryptionError} for a wrong password
 * (caught by the padding check and, when the padding happens to pass, by parsing
 * the result) and {@link KeyFormatError} for unsupported or out-of-bounds input.
 * The input bytes are never modified.
 *
 * @example
 * const pkcs8 = await decryptPrivateKey(fromPem(text, 'ENCRYPTED PRIVATE KEY'), password);
 */
export async function decryptPrivateKey(encryptedDer: Uint8Array, password: string, options: { iterationsMax?: number } = {}): Promise<Bytes> {
  const parameters = readEncryptedPrivateKey(encryptedDer, options);
  const plaintext = await pbes2Decrypt(parameters.ciphertext, passwordBytes(password), parameters);
  if (!isPrivateKeyInfo(plaintext)) {
    plaintext.fill(0);
    throw new KeyDecryptionError();
  }
  return plaintext;
}
