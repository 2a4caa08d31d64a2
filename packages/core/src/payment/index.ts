/**
 * The payment authentication phase (seed 004 §3.3, hardened) as data and
 * signatures, shared by the browser (C) and the application server (A):
 *
 *   C → A  K_A{ REQ, Sig_device(REQ) }             payment request for an order
 *   A → C  K_C{ COM as JWS by A (x5c chain) }       payment command from A's records only
 *   C → A  AUTH = { COM, JWS, codeProof }           signed by the device key as CMS SignedData
 *
 * `K_X{…}` is a JWE (ECDH-ES, A256GCM) to X's key agreement key: A publishes one
 * with its certificates; C sends a fresh one inside REQ for this payment only.
 * Every signature covers RFC 8785 canonical JSON. docs/protocol.md has the details.
 */
import { CompactEncrypt, compactDecrypt, type CryptoKey as JoseKey } from 'jose';
import { canonicalJsonBytes } from '../encoding/canonical-json.js';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding/index.js';
import { importVerifyingKey, verifyP1363 } from '../pki/signature.js';
import { signJson, verifySignedJson } from '../pki/signed-json.js';

/** How long a payment command may be signed after A issued it. */
export const COMMAND_TTL_MS = 2 * 60_000;
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
  /** C's one-payment ECDH P-256 public key (JWK): A encrypts the COM to it. */
  replyKey: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
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

/** JWE (compact, ECDH-ES + A256GCM) of the canonical JSON of `value` to `recipient`. */
export async function seal(value: unknown, recipient: CryptoKey | JoseKey, contentType: string): Promise<string> {
  return new CompactEncrypt(canonicalJsonBytes(value)).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', cty: contentType }).encrypt(recipient);
}

/** Opens a JWE made by {@link seal}; throws when it is not for this key or was altered. */
export async function unseal<T>(jwe: string, privateKey: CryptoKey, contentType: string): Promise<T> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, privateKey, { keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: ['A256GCM'] });
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

/** A fresh reply key pair for one payment (C side). */
export async function replyKeyPair(): Promise<{ keys: CryptoKeyPair; jwk: PaymentRequest['replyKey'] }> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey('jwk', keys.publicKey);
  return { keys, jwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! } };
}
