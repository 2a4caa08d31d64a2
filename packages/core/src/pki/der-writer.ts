/**
 * A minimal DER writer for the few structures we assemble by hand (the
 * master-approval extension, CMS SignedData): exact bytes matter there, since
 * they are what signatures cover, so nothing re-encodes them behind our back.
 */
import { utf8 } from '../encoding/index.js';

function lengthOctets(length: number): number[] {
  if (length < 0x80) return [length];
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return [0x80 | octets.length, ...octets];
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One element: identifier octet `tag` (low-tag-number form), definite length, content. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array<ArrayBuffer> {
  // One allocation and one copy of the content: evidence nests kilobytes five levels deep.
  const length = content.reduce((n, p) => n + p.length, 0);
  const head = [tag, ...lengthOctets(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  let at = head.length;
  for (const p of content) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const derSequence = (...items: Uint8Array[]) => tlv(0x30, ...items);
export const derOctetString = (bytes: Uint8Array) => tlv(0x04, bytes);
export const derUtf8String = (text: string) => tlv(0x0c, utf8(text));

/** SET OF: DER sorts the encodings of the elements (X.690 §11.6). */
export function derSetOf(items: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(0x31, ...derSetOrder(items));
}

/** The encodings of a SET OF's elements in DER order (X.690 §11.6), as a new array. */
export function derSetOrder(items: readonly Uint8Array[]): Uint8Array[] {
  if (items.length < 2) return [...items];
  return [...items].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
    return a.length - b.length;
  });
}

/** A small non-negative INTEGER. */
export function derSmallInteger(value: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('a small non-negative integer expected');
  const octets: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  if (octets.length === 0 || (octets[0] as number) & 0x80) octets.unshift(0);
  return tlv(0x02, new Uint8Array(octets));
}

const encodedOids = new Map<string, Uint8Array<ArrayBuffer>>();

/**
 * An OBJECT IDENTIFIER from its dotted text (arcs of any size). The few OIDs we write are
 * encoded once and the same bytes are returned after (callers copy them into larger
 * elements and never change them).
 */
export function derOid(dotted: string): Uint8Array<ArrayBuffer> {
  let encoded = encodedOids.get(dotted);
  if (!encoded) {
    encoded = encodeOid(dotted);
    if (encodedOids.size < 1_000) encodedOids.set(dotted, encoded);
  }
  return encoded;
}

function encodeOid(dotted: string): Uint8Array<ArrayBuffer> {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! >= 40n)) throw new RangeError(`not an OID: ${dotted}`);
  const values = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (const value of values) {
    const group: number[] = [Number(value & 0x7fn)];
    for (let v = value >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** UTCTime (years 1950–2049) at whole seconds, as RFC 5280 and RFC 5652 ask. */
export function derUtcTime(date: Date): Uint8Array<ArrayBuffer> {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new RangeError('UTCTime covers 1950 to 2049');
  const two = (n: number) => String(n).padStart(2, '0');
  const text = `${two(year % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return tlv(0x17, utf8(text));
}

/**
 * An element not yet written: its parts and their total length. A time-stamp token
 * nests six levels around two kilobytes of certificates, payment evidence five around
 * five kilobytes; writing the whole tree once into one buffer ({@link flatten}) avoids
 * a copy of everything below at each level, which {@link tlv} makes.
 */
export interface Pending {
  readonly tag: number;
  readonly parts: readonly (Uint8Array | Pending)[];
  readonly contentLength: number;
  readonly size: number;
}

function lengthOctetCount(length: number): number {
  return length < 0x80 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : length < 0x1000000 ? 4 : 5;
}

/** An element of `tag` around `parts` (bytes, or elements not yet written), to be written by {@link flatten}. */
export function pending(tag: number, ...parts: (Uint8Array | Pending)[]): Pending {
  let contentLength = 0;
  for (const part of parts) contentLength += part instanceof Uint8Array ? part.length : part.size;
  return { tag, parts, contentLength, size: 1 + lengthOctetCount(contentLength) + contentLength };
}

function writePending(element: Pending, out: Uint8Array, offset: number): number {
  let at = offset;
  out[at++] = element.tag;
  const length = element.contentLength;
  const count = lengthOctetCount(length);
  if (count === 1) out[at++] = length;
  else {
    out[at++] = 0x80 | (count - 1);
    for (let shift = (count - 2) * 8; shift >= 0; shift -= 8) out[at++] = Math.floor(length / 2 ** shift) % 256;
  }
  for (const part of element.parts) {
    if (part instanceof Uint8Array) {
      out.set(part, at);
      at += part.length;
    } else at = writePending(part, out, at);
  }
  return at;
}

/** The DER of `element`, written into one buffer of its exact size. */
export function flatten(element: Pending): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(element.size);
  writePending(element, out, 0);
  return out;
}
