/**
 * The dual-token request proof (docs/protocol.md).
 *
 * At login the server hands out a public token `t_p` (a MACed statement of user
 * and session) and a secret token `t_s = HMAC(K, t_p)`. Afterwards the client
 * never sends `t_s`; it proves possession by MACing a canonical form of each
 * request with it. Binding method, path, body hash, time and a single-use nonce
 * closes the replay and tampering holes of the original scheme, where the proof
 * covered only the time.
 *
 * Isomorphic: WebCrypto only; callers pass the time and the nonce.
 */
import { toBase64Url, fromBase64Url, toHex, utf8, type Bytes } from '../encoding/index.js';

/** Version tag heading every canonical request; a new format gets a new tag. */
export const PROOF_VERSION = 'CPT1';

/** HTTP header names of the scheme. */
export const AUTH_SCHEME = 'CoconutPay-DualToken';
export const TIMESTAMP_HEADER = 'x-coconutpay-timestamp';
export const NONCE_HEADER = 'x-coconutpay-nonce';
export const PROOF_HEADER = 'x-coconutpay-proof';

/** How far a request's timestamp may be from the server's clock. */
export const TIMESTAMP_WINDOW_MS = 60_000;

/** A nonce is 16 to 64 base64url characters (the client sends 16 random bytes = 22 characters). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** SHA-256 of the empty body, in hex: the body hash of a request without a body. */
export const EMPTY_BODY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What a proof covers. */
export interface CanonicalRequestInput {
  /** HTTP method, any case; canonicalised to upper case. */
  method: string;
  /** The request target exactly as sent: path plus `?query` if any. */
  pathWithQuery: string;
  /** Client time in milliseconds since the Unix epoch. */
  timestampMs: number;
  /** Single-use value chosen by the client. */
  nonce: string;
  /** Lower-case hex SHA-256 of the raw body bytes (of the empty string when there is no body). */
  bodySha256Hex: string;
}

/**
 * The canonical request: six lines joined by `\n`, no trailing newline.
 *
 * @example
 * canonicalRequest({ method: 'get', pathWithQuery: '/api/me', timestampMs: 1767225600000,
 *   nonce: 'q1w2e3r4t5y6u7i8o9p0aa', bodySha256Hex: EMPTY_BODY_SHA256_HEX })
 * // 'CPT1\nGET\n/api/me\n1767225600000\nq1w2e3r4t5y6u7i8o9p0aa\ne3b0…b855'
 */
export function canonicalRequest(input: CanonicalRequestInput): string {
  if (!Number.isSafeInteger(input.timestampMs) || input.timestampMs < 0) throw new RangeError('timestampMs must be a non-negative integer');
  if (!NONCE_PATTERN.test(input.nonce)) throw new RangeError('nonce must be 16-64 base64url characters');
  if (!/^[0-9a-f]{64}$/.test(input.bodySha256Hex)) throw new RangeError('bodySha256Hex must be 64 lower-case hex digits');
  if (!input.pathWithQuery.startsWith('/') || /[\r\n]/.test(input.pathWithQuery)) throw new RangeError('pathWithQuery must start with / and hold no line break');
  return [PROOF_VERSION, input.method.toUpperCase(), input.pathWithQuery, String(input.timestampMs), input.nonce, input.bodySha256Hex].join('\n');
}

/** Lower-case hex SHA-256 of some bytes (a request body). */
export async function sha256Hex(bytes: Bytes): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/**
 * Imports the secret token as an HMAC-SHA-256 key. In the browser pass
 * `extractable = false` (the default) so page scripts can use it but never read it out.
 */
export async function importSecretToken(secretToken: string, extractable = false): Promise<CryptoKey> {
  const raw = fromBase64Url(secretToken);
  if (raw.length !== 32) throw new RangeError('secret token must be 32 bytes');
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, extractable, ['sign', 'verify']);
}

/** The proof of one request: base64url HMAC-SHA-256 of the canonical request under `t_s`. */
export async function computeProof(secretKey: CryptoKey, input: CanonicalRequestInput): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', secretKey, utf8(canonicalRequest(input)));
  return toBase64Url(new Uint8Array(mac));
}

/**
 * Checks a proof. WebCrypto's HMAC verify compares in constant time, so the
 * comparison leaks nothing about how much of the proof matched.
 */
export async function verifyProof(secretKey: CryptoKey, input: CanonicalRequestInput, proof: string): Promise<boolean> {
  let mac: Bytes;
  try {
    mac = fromBase64Url(proof);
  } catch {
    return false;
  }
  if (mac.length !== 32) return false;
  return crypto.subtle.verify('HMAC', secretKey, mac, utf8(canonicalRequest(input)));
}

/** Server side: `t_s = HMAC(K_ts, t_p)`, base64url. `tokenKey` is the HMAC key derived for this purpose. */
export async function deriveSecretToken(tokenKey: CryptoKey, publicToken: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', tokenKey, utf8(publicToken));
  return toBase64Url(new Uint8Array(mac));
}

/** The headers a client sends with a protected request. */
export interface DualTokenHeaders {
  authorization: string;
  [TIMESTAMP_HEADER]: string;
  [NONCE_HEADER]: string;
  [PROOF_HEADER]: string;
}

/**
 * Builds the four headers of a protected request.
 *
 * @example
 * const headers = await signRequest({ publicToken, secretKey, method: 'POST', pathWithQuery: '/api/cart/items/p1',
 *   body: utf8(json), timestampMs: Date.now(), nonce: randomNonce() });
 */
export async function signRequest(params: {
  publicToken: string;
  secretKey: CryptoKey;
  method: string;
  pathWithQuery: string;
  body?: Bytes;
  timestampMs: number;
  nonce: string;
}): Promise<DualTokenHeaders> {
  const bodySha256Hex = params.body && params.body.length > 0 ? await sha256Hex(params.body) : EMPTY_BODY_SHA256_HEX;
  const input: CanonicalRequestInput = {
    method: params.method,
    pathWithQuery: params.pathWithQuery,
    timestampMs: params.timestampMs,
    nonce: params.nonce,
    bodySha256Hex,
  };
  const proof = await computeProof(params.secretKey, input);
  return {
    authorization: `${AUTH_SCHEME} ${params.publicToken}`,
    [TIMESTAMP_HEADER]: String(params.timestampMs),
    [NONCE_HEADER]: params.nonce,
    [PROOF_HEADER]: proof,
  };
}

/** A fresh nonce from 16 bytes the caller's random source fills. */
export function nonceFromBytes(random16: Uint8Array): string {
  if (random16.length < 12) throw new RangeError('a nonce needs at least 12 random bytes');
  return toBase64Url(random16);
}
