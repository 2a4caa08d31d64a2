/**
 * The payment authentication phase (seed 004 §3.3, hardened) as data and
 * signatures, shared by the browser (C) and the application server (A):
 *
 *   C → A  K_A{ REQ, Sig_device(REQ) }             payment request for an order
 *   A → C  K_C{ COM as JWS by A (x5c chain) }       payment command from A's records only
 *   C → A  AUTH = { COM, JWS, codeProof }           signed by the device key as CMS SignedData
 *
 * `K_A{…}` is a JWE (ECDH-ES, A256GCM) to A's key agreement key, which A publishes
 * with its certificates. `K_C{…}` is a JWE (dir, A256GCM) under the reply key: 32
 * random bytes C makes for this payment only and sends inside REQ, so A spends no
 * key agreement on the answer. Every signature covers RFC 8785 canonical JSON.
 * docs/protocol.md has the details.
 */
import { CompactEncrypt, compactDecrypt, type CryptoKey as JoseKey } from 'jose';
import { canonicalJsonBytes, jsonString } from '../encoding/canonical-json.js';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding/index.js';
import { importVerifyingKey, verifyP1363 } from '../pki/signature.js';
import { signJson, verifySignedJson } from '../pki/signed-json.js';

/**
 * The characters of a verification code: digits and capitals without look-alikes. Each of
 * 0 1 2 5 8 B G I L O Q S U V Z is left out because it has a twin in some hand or font
 * (0/O/Q, 1/I/L, 2/Z, 5/S, 8/B, 6/G, U/V). The payment page states the set, and input is
 * matched case-insensitively.
 */
export const VERIFICATION_CODE_ALPHABET = '34679ACDEFHJKMNPRTWXY';
/** Characters in a verification code: 21^6 ≈ 86 million codes against five tries. */
export const VERIFICATION_CODE_LENGTH = 6;

/**
 * A verification code sent as text to another signed-in device of the same account, for a
 * person who cannot read the picture (server: `shareCode`; web: the payment-code page).
 */
export interface SharedCode {
  comId: string;
  code: string;
  orderNumber: string;
  storeName: string;
  amountWon: number;
  expiresAtMs: number;
}

/**
 * How long a payment command may be signed after A issued it. One that asks for the code
 * lives as long as the policy's code validity, which is at most this long.
 */
export const COMMAND_TTL_MS = 2 * 60_000;

/**
 * The ranges of an authorization-policy version's settings and of a rule's
 * certificate-age condition, inclusive (docs/admin.md, "Authorization policies"): the
 * server refuses anything outside, the console says them beside the fields. A daily limit
 * below 1,000 won refuses nearly everything; more than 20 attempts or a lock shorter than a
 * minute is barely a lock, one longer than a day locks the owner out; a code shorter than
 * 30 s cannot be typed, and none outlives its command ({@link COMMAND_TTL_MS}, which is also
 * how long the browser keeps the opened device key).
 */
export const POLICY_SETTINGS_RANGES = {
  dailyLimitWon: { min: 1_000, max: 1_000_000_000_000 },
  failedAttemptsMax: { min: 3, max: 20 },
  lockDurationMs: { min: 60_000, max: 24 * 3_600_000 },
  codeValidityMs: { min: 30_000, max: COMMAND_TTL_MS },
  certificateIssuedWithinDays: { min: 1, max: 3650 },
} as const;
/** How far a REQ's time may be from A's clock. */
export const REQUEST_CLOCK_SKEW_MS = 60_000;

export interface PaymentRequest {
  v: 1;
  type: 'coconutpay-payment-request';
  orderId: string;
  payerUserId: string;
  certificateId: string;
  /** 16 random bytes, base64url: with the session, makes the request single-use. */
  nonce: string;
  issuedAtMs: number;
  locale: 'ko' | 'en';
  /**
   * C's one-payment AES-256-GCM key (JWK, `k` = base64url of 32 random bytes): A
   * encrypts the COM under it. Only C and A know it, since it travels inside this
   * REQ, sealed to A and signed by the device.
   */
  replyKey: { kty: 'oct'; k: string };
  /**
   * Set when this device pays for a QR code another device of the account shows
   * (`./qr.ts`): the session it took. A then builds the command for that session only.
   */
  qrSessionId?: string;
}

export interface CommandItem {
  productId: string;
  name: string;
  quantity: number;
  unitPriceWon: number;
  lineTotalWon: number;
}

export interface PaymentCommand {
  v: 1;
  type: 'coconutpay-payment-command';
  comId: string;
  orderId: string;
  orderNumber: string;
  payer: { userId: string; loginId: string; name: string };
  payee: { sellerId: string; storeName: string; businessNumber: string };
  items: CommandItem[];
  amountWon: number;
  currency: 'KRW';
  issuedAtMs: number;
  expiresAtMs: number;
  /** A's nonce for this command, and the REQ's nonce it answers. */
  nonce: string;
  requestNonce: string;
  /** The language the person saw the command in. */
  locale: 'ko' | 'en';
  certificateId: string;
  /** Whether the policy asks for the typed verification code, and which one. */
  verification: { codeRequired: boolean; codeId: string | null; policyRule: string };
  /**
   * Present when the payment answers a QR code: the session, and the confirmation code
   * the PC shows beside the QR code. The phone shows it from this signed command, so the
   * person can see that what the phone signs is what the PC asked for.
   */
  channel?: { kind: 'qr'; qrSessionId: string; confirmationCode: string };
}

/** What the device signs (as CMS SignedData content): the command, A's signature, and the code's proof. */
export interface PaymentAuthorization {
  v: 1;
  type: 'coconutpay-payment-authorization';
  command: PaymentCommand;
  commandJws: string;
  /** HMAC-SHA256(code, "coconutpay-code-v1\n" + comId), base64url; null when no code was asked. */
  codeProof: string | null;
}

/** A signature by a device key over the canonical form of `value`, base64url P1363. */
export async function signCanonical(privateKey: CryptoKey, value: unknown): Promise<string> {
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, canonicalJsonBytes(value));
  return toBase64Url(new Uint8Array(signature));
}

export async function verifyCanonical(spkiDer: Uint8Array, value: unknown, signatureB64u: string): Promise<boolean> {
  let signature: Uint8Array;
  try {
    signature = fromBase64Url(signatureB64u);
  } catch {
    return false;
  }
  return verifyP1363(await importVerifyingKey(spkiDer), signature, canonicalJsonBytes(value));
}

/** The JWE key management a key stands for: ECDH-ES to a key agreement key, `dir` under a reply key. */
function keyManagementOf(key: CryptoKey | JoseKey): 'ECDH-ES' | 'dir' {
  if (key.algorithm.name === 'ECDH') return 'ECDH-ES';
  if (key.algorithm.name === 'AES-GCM') return 'dir';
  throw new TypeError(`no JWE key management for a ${key.algorithm.name} key`);
}

/**
 * JWE (compact, A256GCM) of the canonical JSON of `value`: ECDH-ES to `recipient`
 * when it is an ECDH public key (a request to A), `dir` when it is an AES-GCM key
 * (a command under a reply key, see {@link replyKey}).
 */
export async function seal(value: unknown, recipient: CryptoKey | JoseKey, contentType: string): Promise<string> {
  return new CompactEncrypt(canonicalJsonBytes(value)).setProtectedHeader({ alg: keyManagementOf(recipient), enc: 'A256GCM', cty: contentType }).encrypt(recipient);
}

/**
 * Opens a JWE made by {@link seal}; throws when it is not for this key, not of
 * `contentType`, or was altered. The key decides the one key management accepted
 * (an ECDH private key: ECDH-ES; an AES-GCM key: dir), so a message can never
 * choose how it is opened.
 */
export async function unseal<T>(jwe: string, key: CryptoKey, contentType: string): Promise<T> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, { keyManagementAlgorithms: [keyManagementOf(key)], contentEncryptionAlgorithms: ['A256GCM'] });
  if (protectedHeader.cty !== contentType) throw new Error(`expected content type ${contentType}`);
  return JSON.parse(new TextDecoder().decode(plaintext)) as T;
}

/**
 * A's signature of a command: JWS compact, ES256, payload = canonical JSON,
 * header x5c = [A's certificate, issuing CA] so C can check A against the root.
 */
export async function signCommand(command: PaymentCommand, privateKey: CryptoKey, x5c: readonly Uint8Array[]): Promise<string> {
  return signJson(command, privateKey, x5c, 'coconutpay-com+jws');
}

export type CommandCheck = { ok: true; command: PaymentCommand; signerCertificate: Uint8Array } | { ok: false; reasons: { code: string; message: string }[] };

/**
 * What the browser does before showing anything: A's certificate chains to the
 * root we trust, is valid now and may issue commands; A's signature verifies; the
 * payload is canonical (so what is shown is exactly what was signed).
 */
export async function verifyCommand(jws: string, trustAnchors: Uint8Array[], at: Date): Promise<CommandCheck> {
  const check = await verifySignedJson<PaymentCommand>(jws, trustAnchors, at, 'command', 'COMMAND_SIGNATURE_INVALID');
  if (!check.ok) return check;
  const command = check.value;
  if (command?.type !== 'coconutpay-payment-command' || command.v !== 1) return { ok: false, reasons: [{ code: 'COMMAND_SIGNATURE_INVALID', message: 'not a payment command' }] };
  return { ok: true, command, signerCertificate: check.signerCertificate };
}

/** The code's proof bound into the signed authorization; the code itself never leaves the page. */
export async function codeProof(code: string, comId: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', utf8(code.trim().toUpperCase()), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(`coconutpay-code-v1\n${comId}`))));
}

/** The exact bytes the device signs (inside CMS): canonical JSON of the authorization. */
export function authorizationContent(authorization: PaymentAuthorization): Uint8Array<ArrayBuffer> {
  return canonicalJsonBytes(authorization);
}

/**
 * The same bytes as {@link authorizationContent}, from a command already in canonical
 * form (as A stores it): RFC 8785 orders the members codeProof, command, commandJws,
 * type, v, and writes strings as `JSON.stringify` does, so the canonical command is
 * placed as it is instead of being read back and written again on every payment.
 */
export function authorizationContentOf(canonicalCommand: string, commandJws: string, codeProof: string | null): Uint8Array<ArrayBuffer> {
  return utf8(authorizationContentTextOf(canonicalCommand, commandJws, codeProof));
}

/**
 * {@link authorizationContentOf} as text, for a caller that compares it with bytes it
 * holds (the server encodes it straight into a Buffer). The JWS, four kilobytes, is
 * quoted by canonical JSON's own string writer ({@link jsonString}).
 */
export function authorizationContentTextOf(canonicalCommand: string, commandJws: string, codeProof: string | null): string {
  return `{"codeProof":${codeProof === null ? 'null' : jsonString(codeProof)},"command":${canonicalCommand},"commandJws":${jsonString(commandJws)},"type":"coconutpay-payment-authorization","v":1}`;
}

/** How many random bytes make a reply key (AES-256). */
export const REPLY_KEY_BYTES = 32;

/**
 * This payment's reply key (C side) from `random`, 32 bytes the caller draws fresh for
 * this payment only: a non-extractable AES-256-GCM key that can only decrypt (for
 * {@link unseal}), and the JWK that carries the bytes inside REQ. The caller draws the
 * bytes, as for every random value core uses, so that core stays deterministic in tests.
 *
 * @example
 * const reply = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
 * const request = { ...rest, replyKey: reply.jwk };
 * const { jws } = await unseal<{ jws: string }>(sealedCommand, reply.key, 'coconutpay-payment-command');
 */
export async function replyKey(random: Uint8Array): Promise<{ key: CryptoKey; jwk: PaymentRequest['replyKey'] }> {
  if (random.length !== REPLY_KEY_BYTES) throw new RangeError(`a reply key is ${REPLY_KEY_BYTES} bytes`);
  const bytes = new Uint8Array(random);
  const key = await crypto.subtle.importKey('raw', bytes, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
  return { key, jwk: { kty: 'oct', k: toBase64Url(bytes) } };
}
