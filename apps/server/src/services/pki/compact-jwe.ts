/**
 * The server's side of the payment messages' encryption, `K_X{m}` in
 * docs/protocol.md: JWE compact serialisation (RFC 7516) with `enc: A256GCM`
 * (RFC 7518 §5.3) and one of two key managements — the same formats core's
 * `seal`/`unseal` make and read with `jose` in the browser, here on `node:crypto`:
 *
 * - `alg: ECDH-ES` (direct key agreement on P-256, RFC 7518 §4.6) for the request C
 *   seals to A's key agreement key ({@link openCompactJwe}, {@link sealCompactJwe});
 * - `alg: dir` (RFC 7518 §4.5) for the command A seals under the reply key, 32 random
 *   bytes C sent inside that request ({@link sealDirectJwe}, {@link openDirectJwe}).
 *   The key reaches A only inside a REQ sealed to A and signed by the device, so only
 *   C and A hold it, and A spends no key generation or agreement on the answer; the
 *   command's authenticity comes from A's JWS inside it, not from this encryption.
 *   The price: the command is exactly as confidential as the request that carried its
 *   key — whoever later learns A's key agreement key can read both.
 *
 * Why a second implementation: on the server WebCrypto costs about twice as much per
 * payment (every call is a thread-pool job, and importing a key validates its point
 * through a slower path), and these calls are most of A's work per payment.
 * Interoperability with core's version, both ways, is tested.
 *
 * Opening refuses anything but exactly the expected algorithm pair, the expected
 * `cty`, an empty encrypted key, a 96-bit IV and a 128-bit tag (and for ECDH-ES, a
 * P-256 ephemeral key on the curve); `zip` and `crit` are refused (we understand no
 * extension).
 *
 * Keys are `ECDH` objects and uncompressed points, not KeyObjects: on Node 20,
 * exporting a KeyObject made by `generateKeyPairSync` can deadlock the thread when a
 * garbage collection in the middle of the export finalises the key's generation job,
 * which takes the same lock (seen under load in the benchmark).
 */
import { createCipheriv, createDecipheriv, createECDH, createHash, ECDH, randomBytes } from 'node:crypto';

/** Why a JWE could not be opened; one message for every cause would do for the client. */
export class JweError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JweError';
  }
}

const ALG = 'ECDH-ES';
const ALG_DIRECT = 'dir';
const ENC = 'A256GCM';
const KEY_BITS = 256;
/** An A256GCM key, and so a reply key: 32 bytes. */
const KEY_BYTES = KEY_BITS / 8;
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

const EMPTY = new Uint8Array(0);

/** The Concat KDF's round counter: one round (a 256-bit key from SHA-256). */
const KDF_ROUND_1 = Buffer.from([0, 0, 0, 1]);

/** The Concat KDF's OtherInfo after Z: AlgorithmID, PartyUInfo, PartyVInfo, SuppPubInfo (keydatalen). */
function otherInfo(apu: Uint8Array, apv: Uint8Array): Buffer {
  const suppPubInfo = Buffer.alloc(4);
  suppPubInfo.writeUInt32BE(KEY_BITS, 0);
  return Buffer.concat([lengthPrefixed(Buffer.from(ENC, 'ascii')), lengthPrefixed(apu), lengthPrefixed(apv), suppPubInfo]);
}

/**
 * OtherInfo with empty apu and apv, which is what every JWE we seal and every one core's
 * `seal` makes carries: built once rather than from five buffers per message.
 */
const OTHER_INFO_NO_PARTIES = otherInfo(new Uint8Array(0), new Uint8Array(0));

/** Concat KDF (NIST SP 800-56A, as RFC 7518 §4.6.2 uses it): one SHA-256 round gives the 256-bit key. */
function contentKey(sharedSecret: Uint8Array, apu: Uint8Array, apv: Uint8Array): Buffer {
  return createHash('sha256')
    .update(KDF_ROUND_1)
    .update(sharedSecret)
    .update(apu.length === 0 && apv.length === 0 ? OTHER_INFO_NO_PARTIES : otherInfo(apu, apv))
    .digest();
}

const P256_COORDINATE_BYTES = 32;

/**
 * The uncompressed point (0x04 ‖ x ‖ y) of a P-256 public key given as a JWK; throws
 * {@link JweError} unless it is exactly that and the point is on the curve.
 */
export function p256PublicPoint(jwk: unknown): Buffer {
  const point = p256PointBytes(jwk);
  try {
    // Decoding the point checks that it lies on the curve (P-256 has cofactor 1, so that suffices).
    ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'uncompressed');
  } catch {
    throw new JweError('not a P-256 public key');
  }
  return point;
}

/**
 * The uncompressed point of a P-256 JWK, its shape checked but not yet whether it lies on
 * the curve: for a key about to be used in a key agreement, which refuses a point off
 * the curve itself (checking twice cost a sixth of opening a request).
 */
function p256PointBytes(jwk: unknown): Buffer {
  const k = jwk as { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown } | null;
  if (!k || typeof k !== 'object' || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.x !== 'string' || typeof k.y !== 'string') throw new JweError('not a P-256 public key');
  const x = decodePart(k.x, 'x');
  const y = decodePart(k.y, 'y');
  if (x.length !== P256_COORDINATE_BYTES || y.length !== P256_COORDINATE_BYTES) throw new JweError('not a P-256 public key');
  return Buffer.concat([Buffer.from([0x04]), x, y]);
}

/** An ECDH P-256 key for {@link openCompactJwe} from the private key's JWK `d`. */
export function p256AgreementKey(privateJwk: { d?: string }): ECDH {
  if (typeof privateJwk.d !== 'string') throw new JweError('not a private key');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(decodePart(privateJwk.d, 'd'));
  return ecdh;
}

/**
 * The five parts of a compact JWE whose header names exactly `alg`, A256GCM and
 * `contentType`, with no `zip` or `crit`, an empty encrypted key, a 96-bit IV and a
 * 128-bit tag. The header is not yet authenticated: only the tag check makes it so.
 */
function parseCompactJwe(jwe: string, alg: string, contentType: string): { headerPart: string; header: Record<string, unknown>; iv: Buffer; ciphertext: Buffer; tag: Buffer } {
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
  if (header.alg !== alg || header.enc !== ENC) throw new JweError('unexpected algorithms');
  if (header.cty !== contentType) throw new JweError(`expected content type ${contentType}`);
  if ('zip' in header || 'crit' in header) throw new JweError('unsupported header parameter');
  if (encryptedKeyPart !== '') throw new JweError(`${alg} carries no encrypted key`);
  const iv = decodePart(ivPart, 'iv');
  const tag = decodePart(tagPart, 'tag');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new JweError('wrong IV or tag length');
  return { headerPart, header, iv, ciphertext: decodePart(ciphertextPart, 'ciphertext'), tag };
}

/** AES-256-GCM with the encoded header as additional data, as RFC 7516 §5.1 step 14 says. */
function decryptContent(key: Uint8Array, parsed: { headerPart: string; iv: Buffer; ciphertext: Buffer; tag: Buffer }): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, parsed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(parsed.headerPart, 'ascii'));
  decipher.setAuthTag(parsed.tag);
  try {
    return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
  } catch {
    throw new JweError('decryption failed');
  }
}

/** A protected header as its JWE part (BASE64URL(UTF8(JSON))). */
function encodeHeader(header: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
}

/** The compact JWE of `plaintext` under the content key `key`, with the encoded header given. */
function encryptContent(key: Uint8Array, headerPart: string, plaintext: Uint8Array): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(headerPart, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `${headerPart}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/**
 * Opens a compact JWE made for `privateKey` (an ECDH P-256 private key) and returns
 * the plaintext. Throws {@link JweError} when it is not for this key, not of the
 * expected content type, or was altered.
 */
export function openCompactJwe(jwe: string, privateKey: ECDH, contentType: string): Buffer {
  const parsed = parseCompactJwe(jwe, ALG, contentType);
  const { header } = parsed;
  const apu = header.apu === undefined ? EMPTY : typeof header.apu === 'string' ? decodePart(header.apu, 'apu') : undefined;
  const apv = header.apv === undefined ? EMPTY : typeof header.apv === 'string' ? decodePart(header.apv, 'apv') : undefined;
  if (!apu || !apv) throw new JweError('unreadable apu/apv');

  let sharedSecret: Buffer;
  try {
    sharedSecret = privateKey.computeSecret(p256PointBytes(header.epk));
  } catch (error) {
    if (error instanceof JweError) throw error;
    // OpenSSL refuses a point that is not on the curve here.
    throw new JweError('not a P-256 public key');
  }
  return decryptContent(contentKey(sharedSecret, apu, apv), parsed);
}

/**
 * Encrypts `plaintext` to `recipient` (a P-256 public key as an uncompressed point, see
 * {@link p256PublicPoint}) with a fresh ephemeral key: the compact JWE core's `unseal` opens.
 */
export function sealCompactJwe(plaintext: Uint8Array, recipient: Uint8Array, contentType: string): string {
  const ephemeral = createECDH('prime256v1');
  const point = ephemeral.generateKeys();
  const epk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
  let sharedSecret: Buffer;
  try {
    sharedSecret = ephemeral.computeSecret(recipient);
  } catch {
    throw new JweError('not a P-256 public key');
  }
  return encryptContent(contentKey(sharedSecret, EMPTY, EMPTY), encodeHeader({ alg: ALG, enc: ENC, cty: contentType, epk }), plaintext);
}

/**
 * The 32 bytes of a reply key given as a JWK (`{ kty: 'oct', k }`, see core's
 * `PaymentRequest.replyKey`); throws {@link JweError} unless `k` is the canonical
 * base64url of exactly 32 bytes.
 */
export function replyKeyFromJwk(jwk: unknown): Buffer {
  const k = jwk as { kty?: unknown; k?: unknown } | null;
  if (!k || typeof k !== 'object' || k.kty !== 'oct' || typeof k.k !== 'string') throw new JweError('not a 256-bit symmetric key');
  const key = decodePart(k.k, 'k');
  // Buffer's decoder ignores stray trailing bits; one key has one spelling.
  if (key.length !== KEY_BYTES || key.toString('base64url') !== k.k) throw new JweError('not a 256-bit symmetric key');
  return key;
}

/**
 * Encrypts `plaintext` under `key` (a reply key, see {@link replyKeyFromJwk}) with a
 * fresh IV: the compact JWE (`dir`, A256GCM) core's `unseal` opens with the same key.
 */
export function sealDirectJwe(plaintext: Uint8Array, key: Uint8Array, contentType: string): string {
  if (key.length !== KEY_BYTES) throw new JweError('not a 256-bit symmetric key');
  return encryptContent(key, directHeaderPart(contentType), plaintext);
}

/**
 * The encoded header of a `dir` JWE per content type: it has no per-message field, so it
 * is encoded once (a server seals one or two content types). Bounded all the same.
 */
const directHeaderParts = new Map<string, string>();
const DIRECT_HEADER_PARTS_MAX = 16;

function directHeaderPart(contentType: string): string {
  let part = directHeaderParts.get(contentType);
  if (part === undefined) {
    part = encodeHeader({ alg: ALG_DIRECT, enc: ENC, cty: contentType });
    if (directHeaderParts.size < DIRECT_HEADER_PARTS_MAX) directHeaderParts.set(contentType, part);
  }
  return part;
}

/**
 * Opens a compact JWE (`dir`, A256GCM) made under `key` and returns the plaintext.
 * Throws {@link JweError} when it was made under another key, is not of the expected
 * content type, or was altered.
 */
export function openDirectJwe(jwe: string, key: Uint8Array, contentType: string): Buffer {
  if (key.length !== KEY_BYTES) throw new JweError('not a 256-bit symmetric key');
  return decryptContent(key, parseCompactJwe(jwe, ALG_DIRECT, contentType));
}
