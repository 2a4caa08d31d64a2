/**
 * The server's side of the payment messages' encryption, `K_X{m}` in
 * docs/protocol.md: JWE compact serialisation (RFC 7516) with `alg: ECDH-ES` (direct
 * key agreement on P-256) and `enc: A256GCM` (RFC 7518 §4.6, §5.3) — the same format
 * core's `seal`/`unseal` make and read with `jose` in the browser, here on
 * `node:crypto`. Why a second implementation: on the server WebCrypto costs about twice
 * as much per payment (every call is a thread-pool job, and importing a key validates
 * its point through a slower path), and these two calls are most of A's work per
 * payment. Interoperability with core's version, both ways, is tested.
 *
 * Opening refuses anything but exactly that algorithm pair, the expected `cty`, an
 * empty encrypted key, a P-256 ephemeral key on the curve, a 96-bit IV and a
 * 128-bit tag; `zip` and `crit` are refused (we understand no extension).
 */
import { createCipheriv, createDecipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

/** Why a JWE could not be opened; one message for every cause would do for the client. */
export class JweError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JweError';
  }
}

const ALG = 'ECDH-ES';
const ENC = 'A256GCM';
const KEY_BITS = 256;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodePart(text: string, what: string): Buffer {
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw new JweError(`${what} is not base64url`);
  return Buffer.from(text, 'base64url');
}

function lengthPrefixed(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  out.set(bytes, 4);
  return out;
}

/** Concat KDF (NIST SP 800-56A, as RFC 7518 §4.6.2 uses it): one SHA-256 round gives the 256-bit key. */
function contentKey(sharedSecret: Uint8Array, apu: Uint8Array, apv: Uint8Array): Buffer {
  const suppPubInfo = Buffer.alloc(4);
  suppPubInfo.writeUInt32BE(KEY_BITS, 0);
  return createHash('sha256')
    .update(Buffer.from([0, 0, 0, 1]))
    .update(sharedSecret)
    .update(lengthPrefixed(Buffer.from(ENC, 'ascii')))
    .update(lengthPrefixed(apu))
    .update(lengthPrefixed(apv))
    .update(suppPubInfo)
    .digest();
}

/** A P-256 public key from a JWK; throws unless it is exactly that and its point is on the curve. */
export function p256PublicKeyFromJwk(jwk: unknown): KeyObject {
  const k = jwk as { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown } | null;
  if (!k || typeof k !== 'object' || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.x !== 'string' || typeof k.y !== 'string') throw new JweError('not a P-256 public key');
  if (!BASE64URL.test(k.x) || !BASE64URL.test(k.y)) throw new JweError('not a P-256 public key');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' });
  } catch {
    throw new JweError('not a P-256 public key');
  }
}

/**
 * Opens a compact JWE made for `privateKey` (an ECDH P-256 private key) and returns
 * the plaintext. Throws {@link JweError} when it is not for this key, not of the
 * expected content type, or was altered.
 */
export function openCompactJwe(jwe: string, privateKey: KeyObject, contentType: string): Buffer {
  const parts = jwe.split('.');
  if (parts.length !== 5) throw new JweError('not a compact JWE');
  const [headerPart, encryptedKeyPart, ivPart, ciphertextPart, tagPart] = parts as [string, string, string, string, string];
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(decodePart(headerPart, 'header').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new JweError('unreadable header');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new JweError('unreadable header');
  if (header.alg !== ALG || header.enc !== ENC) throw new JweError('unexpected algorithms');
  if (header.cty !== contentType) throw new JweError(`expected content type ${contentType}`);
  if ('zip' in header || 'crit' in header) throw new JweError('unsupported header parameter');
  if (encryptedKeyPart !== '') throw new JweError('direct key agreement carries no encrypted key');
  const apu = header.apu === undefined ? Buffer.alloc(0) : typeof header.apu === 'string' ? decodePart(header.apu, 'apu') : undefined;
  const apv = header.apv === undefined ? Buffer.alloc(0) : typeof header.apv === 'string' ? decodePart(header.apv, 'apv') : undefined;
  if (!apu || !apv) throw new JweError('unreadable apu/apv');
  const iv = decodePart(ivPart, 'iv');
  const tag = decodePart(tagPart, 'tag');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new JweError('wrong IV or tag length');
  const ciphertext = decodePart(ciphertextPart, 'ciphertext');

  let sharedSecret: Buffer;
  try {
    sharedSecret = diffieHellman({ privateKey, publicKey: p256PublicKeyFromJwk(header.epk) });
  } catch (error) {
    if (error instanceof JweError) throw error;
    throw new JweError('key agreement failed');
  }
  const decipher = createDecipheriv('aes-256-gcm', contentKey(sharedSecret, apu, apv), iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(headerPart, 'ascii'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new JweError('decryption failed');
  }
}

/**
 * Encrypts `plaintext` to `recipient` (a P-256 public key) with a fresh ephemeral key:
 * the compact JWE core's `unseal` opens.
 */
export function sealCompactJwe(plaintext: Uint8Array, recipient: KeyObject, contentType: string): string {
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y } = ephemeral.publicKey.export({ format: 'jwk' });
  const headerPart = Buffer.from(JSON.stringify({ alg: ALG, enc: ENC, cty: contentType, epk: { kty: 'EC', crv: 'P-256', x, y } }), 'utf8').toString('base64url');
  const sharedSecret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', contentKey(sharedSecret, Buffer.alloc(0), Buffer.alloc(0)), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(headerPart, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${headerPart}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}
