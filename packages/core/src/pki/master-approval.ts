/**
 * The master device's approval of a new device, and its check.
 *
 * A new device makes its own key and asks for an additional certificate. The
 * master device approves by signing {@link approvalMessage} with the master key;
 * the service CA then issues the additional certificate and embeds the signed
 * approval in it (extension `masterApproval`). Anyone holding both certificates
 * can re-check offline that the master key approved exactly this key for exactly
 * this user — the property name constraints would give if masters were CAs
 * (docs/pki.md explains why they are not).
 *
 * Both screens show a 6-digit {@link deviceCode} derived from the new key and a
 * server nonce; each device computes it itself, so a key swapped in transit shows
 * a different code on the master device.
 *
 * Extension value (DER):
 *   MasterApproval ::= SEQUENCE {
 *     version        INTEGER (1),
 *     masterCertSha256 OCTET STRING (SIZE (32)),  -- SHA-256 of the master certificate's DER
 *     message        UTF8String,                 -- approvalMessage(...)
 *     signature      OCTET STRING (SIZE (64)) }  -- ECDSA P-256 SHA-256, IEEE P1363 r||s
 */
import { toHex, utf8, type Bytes } from '../encoding/index.js';
import { derOctetString, derSequence, derSmallInteger, derUtf8String } from './der-writer.js';
import { EKU, EXTENSION } from './oids.js';
import { content, DerError, expectUniversal, readRoot, readSmallInteger, sequence, TAG } from './path-der.js';
import { parseCertificate, type ParsedCertificate } from './path-certificate.js';
import { namesEqual } from './path-names.js';
import { importVerifyingKey, P1363_SIGNATURE_LENGTH, verifyP1363 } from './signature.js';

const MESSAGE_HEADER = 'coconutpay-device-approval-v1';
const REVOCATION_HEADER = 'coconutpay-device-revocation-v1';
const CODE_LABEL = 'coconutpay-device-code-v1';

/** What the master key signs to let a device in. Every field comes from the pending request. */
export interface ApprovalFields {
  requestId: string;
  userId: string;
  /** SHA-256 of the new device's SubjectPublicKeyInfo DER, lower-case hex. */
  spkiSha256Hex: string;
  nickname: string;
  /** The 6-digit code both screens showed. */
  code: string;
  /** When the request stops being approvable (ms since the epoch). */
  expiresAtMs: number;
}

function field(name: string, value: string): string {
  // A line break inside a value would let one field pose as another.
  if (/[\r\n]/.test(value)) throw new RangeError(`${name} must not contain a line break`);
  return `${name}=${value}`;
}

/** The canonical approval text, one `name=value` per line. */
export function approvalMessage(f: ApprovalFields): string {
  return [
    MESSAGE_HEADER,
    field('request', f.requestId),
    field('user', f.userId),
    field('spki-sha256', f.spkiSha256Hex.toLowerCase()),
    field('nickname', f.nickname),
    field('code', f.code),
    field('expires', String(f.expiresAtMs)),
  ].join('\n');
}

/** Reads an approval text back; undefined when it is not one. */
export function parseApprovalMessage(text: string): ApprovalFields | undefined {
  const lines = text.split('\n');
  if (lines.length !== 7 || lines[0] !== MESSAGE_HEADER) return undefined;
  const values = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const at = line.indexOf('=');
    if (at <= 0) return undefined;
    values.set(line.slice(0, at), line.slice(at + 1));
  }
  const get = (name: string) => values.get(name);
  const expires = Number(get('expires'));
  const fields = { requestId: get('request'), userId: get('user'), spkiSha256Hex: get('spki-sha256'), nickname: get('nickname'), code: get('code') };
  if (Object.values(fields).some((v) => v === undefined) || !Number.isSafeInteger(expires)) return undefined;
  return { ...(fields as Omit<ApprovalFields, 'expiresAtMs'>), expiresAtMs: expires };
}

/** What the master key signs to revoke one of the user's additional certificates. */
export interface RevocationFields {
  certificateId: string;
  serialHex: string;
  reason: string;
  challengeId: string;
  challenge: string;
}

/** The canonical revocation text; the one-time challenge makes each signature single-use. */
export function revocationMessage(f: RevocationFields): string {
  return [
    REVOCATION_HEADER,
    field('certificate', f.certificateId),
    field('serial', f.serialHex.toLowerCase()),
    field('reason', f.reason),
    field('challenge', `${f.challengeId}:${f.challenge}`),
  ].join('\n');
}

/**
 * The 6-digit code shown on both screens: SHA-256 over a label, the new key's SPKI
 * and the server's nonce, first 4 bytes as an unsigned integer, modulo 10^6.
 */
export async function deviceCode(spkiDer: Uint8Array, serverNonce: Uint8Array): Promise<string> {
  const label = utf8(CODE_LABEL);
  const input = new Uint8Array(label.length + 1 + spkiDer.length + serverNonce.length);
  input.set(label, 0);
  input.set(spkiDer, label.length + 1);
  input.set(serverNonce, label.length + 1 + spkiDer.length);
  const digest = new DataView(await crypto.subtle.digest('SHA-256', input));
  return String(digest.getUint32(0) % 1_000_000).padStart(6, '0');
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Bytes)));
}

// --- DER of the extension value -------------------------------------------------

/** A decoded `masterApproval` extension value. */
export interface MasterApproval {
  masterCertSha256: Uint8Array;
  message: string;
  signature: Uint8Array;
}

export function encodeMasterApproval(approval: MasterApproval): Bytes {
  if (approval.masterCertSha256.length !== 32) throw new RangeError('masterCertSha256 must be 32 bytes');
  if (approval.signature.length !== P1363_SIGNATURE_LENGTH) throw new RangeError('signature must be 64 bytes (P1363)');
  return derSequence(derSmallInteger(1), derOctetString(approval.masterCertSha256), derUtf8String(approval.message), derOctetString(approval.signature));
}

export function decodeMasterApproval(der: Uint8Array): MasterApproval {
  const items = sequence(readRoot(der), 'MasterApproval');
  if (items.length !== 4) throw new DerError('MasterApproval: four fields expected');
  if (readSmallInteger(items[0], 'version') !== 1) throw new DerError('MasterApproval: unknown version');
  const hash = content(expectUniversal(items[1], TAG.octetString, 'masterCertSha256'));
  const message = new TextDecoder('utf-8', { fatal: true }).decode(content(expectUniversal(items[2], TAG.utf8String, 'message')));
  const signature = content(expectUniversal(items[3], TAG.octetString, 'signature'));
  if (hash.length !== 32 || signature.length !== P1363_SIGNATURE_LENGTH) throw new DerError('MasterApproval: wrong field sizes');
  return { masterCertSha256: hash, message, signature };
}

// --- The check ------------------------------------------------------------------

/** Why an approval does not hold; `code` is a registry code. */
export interface ApprovalProblem {
  code: 'MASTER_APPROVAL_INVALID' | 'MASTER_CERTIFICATE_REQUIRED';
  message: string;
}

/** The subject's serialNumber attribute (2.5.4.5): the user id in our user certificates. */
export function serialNumberAttribute(certificate: ParsedCertificate): string | undefined {
  for (const rdn of certificate.subject.rdns) for (const a of rdn) if (a.type === '2.5.4.5') return a.text;
  return undefined;
}

/**
 * Checks that `masterDer` approved `additionalDer`: the extension is present and
 * names this master; the master is a master (deviceApproval EKU); both certificates
 * have the same subject (same user); the signed text names the additional
 * certificate's own key and its user; the master's signature verifies; and the
 * master was valid when the additional certificate began. Path validation and
 * revocation of both certificates are separate checks.
 */
export async function checkMasterApproval(additionalDer: Uint8Array, masterDer: Uint8Array): Promise<ApprovalProblem | undefined> {
  const bad = (message: string): ApprovalProblem => ({ code: 'MASTER_APPROVAL_INVALID', message });
  let additional: ParsedCertificate;
  let master: ParsedCertificate;
  try {
    additional = parseCertificate(additionalDer);
    master = parseCertificate(masterDer);
  } catch (error) {
    return bad(`unreadable certificate: ${error instanceof Error ? error.message : 'DER'}`);
  }
  const extension = additional.extensions.find((e) => e.oid === EXTENSION.masterApproval);
  if (!extension) return bad('the certificate carries no master approval');
  let approval: MasterApproval;
  try {
    approval = decodeMasterApproval(extension.value);
  } catch (error) {
    return bad(`approval unreadable: ${error instanceof Error ? error.message : 'DER'}`);
  }
  if ((await sha256Hex(masterDer)) !== toHex(approval.masterCertSha256)) return bad('the approval names another master certificate');
  if (!master.extendedKeyUsage?.includes(EKU.deviceApproval)) return { code: 'MASTER_CERTIFICATE_REQUIRED', message: 'the approving certificate may not approve devices' };
  if (!namesEqual(master.subject, additional.subject)) return bad('the approving master belongs to another subject');
  const fields = parseApprovalMessage(approval.message);
  if (!fields) return bad('the approval text is not an approval');
  if (fields.spkiSha256Hex !== (await sha256Hex(additional.spki))) return bad('the approval names another key');
  if (fields.userId !== serialNumberAttribute(additional)) return bad('the approval names another user');
  const startSeconds = additional.notBeforeSeconds;
  if (startSeconds < master.notBeforeSeconds || startSeconds > master.notAfterSeconds) return bad('the master was not valid when the device was approved');
  let key: CryptoKey;
  try {
    key = await importVerifyingKey(master.spki);
  } catch {
    return bad('the master key is not usable');
  }
  if (!(await verifyP1363(key, approval.signature, utf8(approval.message)))) return bad('the approval signature does not verify');
  return undefined;
}
