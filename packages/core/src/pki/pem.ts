/**
 * PEM armour (RFC 7468): base64 of DER between `-----BEGIN <label>-----` and
 * `-----END <label>-----` lines. Written against `btoa`/`atob`, so it behaves the
 * same in Node and in the browser.
 */
import type { Bytes } from '../encoding/index.js';

/** Longest PEM text we agree to read (a long certificate chain is a few kilobytes). */
export const PEM_TEXT_LENGTH_MAX = 1_000_000;

/** Most blocks {@link allPemBlocks} returns; a chain longer than this is refused. */
export const PEM_BLOCKS_MAX = 16;

const LABEL_PATTERN = /^[\x21-\x2c\x2e-\x7e]([\x21-\x2c\x2e-\x7e]|[ -](?=[\x21-\x2c\x2e-\x7e]))*$/;

/** The text is not PEM, has no block with the asked label, or its base64 is damaged. */
export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PemError';
  }
}

function assertLabel(label: string): void {
  // RFC 7468 §3: printable ASCII without '-', single inner spaces or hyphens.
  if (!LABEL_PATTERN.test(label)) throw new PemError(`not a PEM label: ${JSON.stringify(label)}`);
}

function escapeForPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function base64Decode(text: string): Bytes {
  const compact = text.replace(/[ \t\r\n]/g, '');
  // Strict alphabet and padding: `atob` alone is lenient about missing padding.
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new PemError('the PEM body is not valid base64');
  const binary = atob(compact);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function base64Encode(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Wraps DER bytes in PEM armour, 64 base64 characters a line, ending in a newline.
 *
 * @example
 * toPem(certificateDer, 'CERTIFICATE') // '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n'
 */
export function toPem(der: Uint8Array, label: string): string {
  assertLabel(label);
  if (der.length === 0) throw new PemError('nothing to armour');
  const body = base64Encode(der).replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/**
 * The DER bytes of every block with this label, in order. Blocks with other labels
 * (and any text between blocks) are skipped. Throws {@link PemError} on damaged
 * base64, an over-long text or more than {@link PEM_BLOCKS_MAX} matching blocks.
 *
 * @example
 * const [issuingCa, root] = allPemBlocks(chainPem, 'CERTIFICATE');
 */
export function allPemBlocks(text: string, label: string): Bytes[] {
  assertLabel(label);
  if (text.length > PEM_TEXT_LENGTH_MAX) throw new PemError('the PEM text is too long');
  const name = escapeForPattern(label);
  const pattern = new RegExp(`-----BEGIN ${name}-----\\r?\\n([A-Za-z0-9+/=\\s]*?)-----END ${name}-----`, 'g');
  const blocks: Bytes[] = [];
  for (const match of text.matchAll(pattern)) {
    if (blocks.length === PEM_BLOCKS_MAX) throw new PemError('too many PEM blocks');
    const der = base64Decode(match[1] ?? '');
    if (der.length === 0) throw new PemError('an empty PEM block');
    blocks.push(der);
  }
  return blocks;
}

/**
 * The DER bytes of the first block with this label. Throws {@link PemError} when
 * there is none.
 *
 * @example
 * const der = fromPem(keyFileText, 'ENCRYPTED PRIVATE KEY');
 */
export function fromPem(text: string, label: string): Bytes {
  const first = allPemBlocks(text, label)[0];
  if (!first) throw new PemError(`no "${label}" PEM block`);
  return first;
}
