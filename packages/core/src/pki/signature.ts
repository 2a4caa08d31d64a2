/**
 * ECDSA P-256 with SHA-256. Signatures travel in IEEE P1363 form (r‖s, 32 bytes
 * each), which is what WebCrypto and JOSE use; X.509, CMS and OpenSSL use the DER
 * `ECDSA-Sig-Value`, so both conversions are here. The DER reader is strict: one
 * encoding per signature, so nobody can produce a second valid byte string for
 * the same signature.
 */
import type { Bytes } from '../encoding/index.js';

/** Length of one P-256 scalar, in bytes. */
export const P256_SCALAR_LENGTH = 32;
/** Length of a P1363 P-256 signature, in bytes. */
export const P1363_SIGNATURE_LENGTH = 2 * P256_SCALAR_LENGTH;

const ECDSA_P256: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** The bytes are not a strict DER `ECDSA-Sig-Value` of P-256 size. */
export class SignatureEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignatureEncodingError';
  }
}

function copy(bytes: Uint8Array): Bytes {
  return new Uint8Array(bytes);
}

/**
 * Signs `data` with an ECDSA P-256 private key; returns the 64-byte P1363 signature.
 *
 * @example
 * const signature = await signP1363(privateKey, utf8('message'));
 */
export async function signP1363(privateKey: CryptoKey, data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, privateKey, copy(data)));
}

/**
 * Verifies a P1363 signature. Anything that is not exactly 64 bytes is simply
 * invalid; an error from WebCrypto (a key of the wrong kind) propagates.
 */
export async function verifyP1363(publicKey: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  if (signature.length !== P1363_SIGNATURE_LENGTH) return false;
  return crypto.subtle.verify(ECDSA_SHA256, publicKey, copy(signature), copy(data));
}

/**
 * Imports a DER SubjectPublicKeyInfo as a P-256 ECDSA verification key.
 *
 * @example
 * const key = await importVerifyingKey(certificateSpki);
 */
export function importVerifyingKey(spkiDer: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('spki', copy(spkiDer), ECDSA_P256, true, ['verify']);
}

/** Reads one DER INTEGER at `offset`; returns its unsigned big-endian magnitude, left-padded to 32 bytes. */
function readScalar(der: Uint8Array, offset: number, out: Uint8Array, outOffset: number): number {
  if (der[offset] !== 0x02) throw new SignatureEncodingError('expected an INTEGER');
  const length = der[offset + 1];
  // Content of at most 33 bytes always fits the short length form; anything else is oversized or non-minimal.
  if (length === undefined || length === 0 || length > P256_SCALAR_LENGTH + 1) throw new SignatureEncodingError('INTEGER length out of range');
  const start = offset + 2;
  const end = start + length;
  if (end > der.length) throw new SignatureEncodingError('INTEGER runs past the end');
  const lead = der[start]!;
  if (lead & 0x80) throw new SignatureEncodingError('negative INTEGER');
  if (lead === 0x00 && length > 1 && (der[start + 1]! & 0x80) === 0) throw new SignatureEncodingError('INTEGER with a superfluous leading zero');
  const magnitude = lead === 0x00 && length > 1 ? der.subarray(start + 1, end) : der.subarray(start, end);
  if (magnitude.length > P256_SCALAR_LENGTH) throw new SignatureEncodingError('INTEGER larger than the curve order allows');
  out.set(magnitude, outOffset + P256_SCALAR_LENGTH - magnitude.length);
  return end;
}

/**
 * Converts a DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` to P1363.
 * Throws {@link SignatureEncodingError} on BER forms (long or indefinite lengths
 * where short ones fit), non-minimal or negative integers, integers wider than 32
 * bytes, other types, or trailing bytes. Range checks against the curve order are
 * left to the verification itself.
 *
 * @example
 * const p1363 = derToP1363(signatureFromOpenssl);
 */
export function derToP1363(der: Uint8Array): Bytes {
  // The largest valid value is 2 + 2 × (2 + 33) = 72 bytes, so the outer length is always short-form.
  if (der.length < 8 || der.length > 72) throw new SignatureEncodingError('wrong length for a P-256 signature');
  if (der[0] !== 0x30) throw new SignatureEncodingError('expected a SEQUENCE');
  if (der[1] !== der.length - 2) throw new SignatureEncodingError('SEQUENCE length does not match');
  const out = new Uint8Array(P1363_SIGNATURE_LENGTH);
  let offset = readScalar(der, 2, out, 0);
  offset = readScalar(der, offset, out, P256_SCALAR_LENGTH);
  if (offset !== der.length) throw new SignatureEncodingError('trailing bytes after s');
  return out;
}

function encodeScalar(scalar: Uint8Array): number[] {
  let start = 0;
  while (start < scalar.length - 1 && scalar[start] === 0) start++;
  const magnitude = [...scalar.subarray(start)];
  if (magnitude[0]! & 0x80) magnitude.unshift(0);
  return [0x02, magnitude.length, ...magnitude];
}

/**
 * Converts a 64-byte P1363 signature to DER, the inverse of {@link derToP1363}.
 *
 * @example
 * const der = p1363ToDer(await signP1363(key, data)); // for X.509, CMS or OpenSSL
 */
export function p1363ToDer(signature: Uint8Array): Bytes {
  if (signature.length !== P1363_SIGNATURE_LENGTH) throw new SignatureEncodingError('a P1363 P-256 signature is 64 bytes');
  const body = [...encodeScalar(signature.subarray(0, P256_SCALAR_LENGTH)), ...encodeScalar(signature.subarray(P256_SCALAR_LENGTH))];
  return new Uint8Array([0x30, body.length, ...body]);
}

/**
 * Verifies a DER signature: strict conversion, then {@link verifyP1363}. A
 * malformed encoding is an invalid signature, not an error.
 */
export async function verifyDer(publicKey: CryptoKey, signatureDer: Uint8Array, data: Uint8Array): Promise<boolean> {
  let p1363: Bytes;
  try {
    p1363 = derToP1363(signatureDer);
  } catch (error) {
    if (error instanceof SignatureEncodingError) return false;
    throw error;
  }
  return verifyP1363(publicKey, p1363, data);
}
