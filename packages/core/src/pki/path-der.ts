/**
 * A small, strict DER reader for path validation. It slices tag-length-value
 * elements out of a byte array without copying and refuses anything that is not
 * DER (indefinite lengths, non-minimal lengths, elements running past their parent).
 * Certificates are read with it directly so that every decision about what a
 * certificate says is ours, not a lenient library's.
 */

/** The bytes are not the DER the reader expected. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Tag classes as they appear in the two top bits of the identifier octet. */
export const TAG_CLASS = { universal: 0, application: 1, contextSpecific: 2, private: 3 } as const;

/** Universal tag numbers the validator reads. */
export const TAG = {
  boolean: 1,
  integer: 2,
  bitString: 3,
  octetString: 4,
  null: 5,
  oid: 6,
  utf8String: 12,
  sequence: 16,
  set: 17,
  printableString: 19,
  teletexString: 20,
  ia5String: 22,
  utcTime: 23,
  generalizedTime: 24,
  universalString: 28,
  bmpString: 30,
} as const;

/** Nesting deeper than this is refused (certificates need about ten levels). */
const DEPTH_MAX = 64;

/** One DER element: its identifier, and where its header and content sit in `bytes`. */
export interface DerElement {
  /** The whole buffer the element was read from. */
  readonly bytes: Uint8Array;
  readonly tagClass: number;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

/**
 * Reads the element that starts at `offset`, not past `limit`.
 *
 * @example
 * const certificate = readElement(der, 0, der.length);
 */
export function readElement(bytes: Uint8Array, offset: number, limit: number): DerElement {
  if (offset >= limit) throw new DerError('an element is missing');
  const first = bytes[offset] as number;
  const tagClass = first >> 6;
  const constructed = (first & 0x20) !== 0;
  let tagNumber = first & 0x1f;
  let cursor = offset + 1;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let count = 0; ; count++) {
      if (cursor >= limit || count === 4) throw new DerError('a tag is too long');
      const octet = bytes[cursor++] as number;
      if (count === 0 && octet === 0x80) throw new DerError('a tag is not minimally encoded');
      tagNumber = tagNumber * 128 + (octet & 0x7f);
      if ((octet & 0x80) === 0) break;
    }
    if (tagNumber < 0x1f) throw new DerError('a tag is not minimally encoded');
  }
  if (cursor >= limit) throw new DerError('a length is missing');
  const lengthOctet = bytes[cursor++] as number;
  let length: number;
  if (lengthOctet < 0x80) {
    length = lengthOctet;
  } else {
    const count = lengthOctet & 0x7f;
    if (count === 0) throw new DerError('indefinite lengths are not DER');
    if (count > 4) throw new DerError('a length is too large');
    if (cursor + count > limit) throw new DerError('a length runs past its parent');
    if (bytes[cursor] === 0) throw new DerError('a length is not minimally encoded');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[cursor++] as number);
    if (length < 0x80) throw new DerError('a length is not minimally encoded');
  }
  const end = cursor + length;
  if (end > limit) throw new DerError('an element runs past its parent');
  return { bytes, tagClass, constructed, tagNumber, start: offset, contentStart: cursor, end };
}

/**
 * Reads a whole buffer that must hold exactly one element.
 *
 * @example
 * const root = readRoot(certificateDer);
 */
export function readRoot(bytes: Uint8Array): DerElement {
  const element = readElement(bytes, 0, bytes.length);
  if (element.end !== bytes.length) throw new DerError('bytes follow the outer element');
  return element;
}

/** The children of a constructed element, in order. */
export function children(element: DerElement, depth = 0): DerElement[] {
  if (!element.constructed) throw new DerError('expected a constructed element');
  if (depth > DEPTH_MAX) throw new DerError('nesting is too deep');
  const list: DerElement[] = [];
  let offset = element.contentStart;
  while (offset < element.end) {
    const child = readElement(element.bytes, offset, element.end);
    list.push(child);
    offset = child.end;
  }
  return list;
}

/** The content octets of an element (a view, not a copy). */
export function content(element: DerElement): Uint8Array {
  return element.bytes.subarray(element.contentStart, element.end);
}

/** The whole encoding of an element, header included (a view, not a copy). */
export function encoding(element: DerElement): Uint8Array {
  return element.bytes.subarray(element.start, element.end);
}

/** Whether the element is a universal element with this tag number. */
export function isUniversal(element: DerElement, tagNumber: number): boolean {
  return element.tagClass === TAG_CLASS.universal && element.tagNumber === tagNumber;
}

/** Whether the element is context-specific `[tagNumber]`. */
export function isContext(element: DerElement, tagNumber: number): boolean {
  return element.tagClass === TAG_CLASS.contextSpecific && element.tagNumber === tagNumber;
}

/** Throws unless the element is a universal element with this tag number. */
export function expectUniversal(element: DerElement | undefined, tagNumber: number, what: string): DerElement {
  if (!element || !isUniversal(element, tagNumber)) throw new DerError(`${what}: unexpected element`);
  const shouldBeConstructed = tagNumber === TAG.sequence || tagNumber === TAG.set;
  if (element.constructed !== shouldBeConstructed) throw new DerError(`${what}: wrong form`);
  return element;
}

/** The children of a SEQUENCE, checking that it is one. */
export function sequence(element: DerElement | undefined, what: string): DerElement[] {
  return children(expectUniversal(element, TAG.sequence, what));
}

/** Decodes an OBJECT IDENTIFIER into dotted form. */
export function readOid(element: DerElement | undefined, what = 'OID'): string {
  const bytes = content(expectUniversal(element, TAG.oid, what));
  if (bytes.length === 0) throw new DerError(`${what}: empty OID`);
  const arcs: string[] = [];
  // Arcs are added up in a plain number while that is exact (below 2^46, so ×128 stays
  // under 2^53), and in a BigInt beyond: same arcs, without BigInt work for the usual ones.
  let value = 0;
  let big: bigint | undefined;
  let started = false;
  for (let i = 0; i < bytes.length; i++) {
    const octet = bytes[i] as number;
    if (!started && octet === 0x80) throw new DerError(`${what}: OID arc not minimal`);
    started = true;
    if (big === undefined && value >= 2 ** 46) big = BigInt(value);
    if (big === undefined) value = value * 128 + (octet & 0x7f);
    else big = big * 128n + BigInt(octet & 0x7f);
    if ((octet & 0x80) === 0) {
      if (big !== undefined) {
        const first = big < 40n ? 0n : big < 80n ? 1n : 2n;
        if (arcs.length === 0) arcs.push(first.toString(), (big - first * 40n).toString());
        else arcs.push(big.toString());
      } else if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(String(first), String(value - first * 40));
      } else {
        arcs.push(String(value));
      }
      value = 0;
      big = undefined;
      started = false;
    } else if (i === bytes.length - 1) {
      throw new DerError(`${what}: OID ends inside an arc`);
    }
  }
  return arcs.join('.');
}

/** Decodes a DER BOOLEAN (only 0x00 and 0xff are DER). */
export function readBoolean(element: DerElement | undefined, what = 'BOOLEAN'): boolean {
  const bytes = content(expectUniversal(element, TAG.boolean, what));
  if (bytes.length !== 1 || (bytes[0] !== 0 && bytes[0] !== 0xff)) throw new DerError(`${what}: not a DER BOOLEAN`);
  return bytes[0] === 0xff;
}

/** The content octets of an INTEGER after checking minimal encoding. */
export function readIntegerBytes(element: DerElement | undefined, what = 'INTEGER'): Uint8Array {
  const bytes = content(expectUniversal(element, TAG.integer, what));
  if (bytes.length === 0) throw new DerError(`${what}: empty INTEGER`);
  if (bytes.length > 1) {
    const first = bytes[0] as number;
    const second = bytes[1] as number;
    if ((first === 0 && (second & 0x80) === 0) || (first === 0xff && (second & 0x80) !== 0)) throw new DerError(`${what}: INTEGER not minimal`);
  }
  return bytes;
}

/** Decodes a small non-negative INTEGER (path lengths, versions). */
export function readSmallInteger(element: DerElement | undefined, what = 'INTEGER'): number {
  const bytes = readIntegerBytes(element, what);
  if (((bytes[0] as number) & 0x80) !== 0) throw new DerError(`${what}: negative`);
  if (bytes.length > 4) throw new DerError(`${what}: too large`);
  let value = 0;
  for (const octet of bytes) value = value * 256 + octet;
  return value;
}

/** A BIT STRING's unused-bit count and its bytes (without the count octet). */
export function readBitString(element: DerElement | undefined, what = 'BIT STRING'): { unusedBits: number; bytes: Uint8Array } {
  const bytes = content(expectUniversal(element, TAG.bitString, what));
  if (bytes.length === 0) throw new DerError(`${what}: empty BIT STRING`);
  const unusedBits = bytes[0] as number;
  if (unusedBits > 7 || (bytes.length === 1 && unusedBits !== 0)) throw new DerError(`${what}: bad unused-bit count`);
  const body = bytes.subarray(1);
  if (unusedBits > 0 && (((body[body.length - 1] as number) & ((1 << unusedBits) - 1)) !== 0)) {
    throw new DerError(`${what}: unused bits are not zero`);
  }
  return { unusedBits, bytes: body };
}

function digits(text: string, from: number, count: number): number {
  const part = text.slice(from, from + count);
  if (!/^[0-9]+$/.test(part) || part.length !== count) throw new DerError('a time has a non-digit');
  return Number(part);
}

/**
 * Decodes UTCTime or GeneralizedTime in the RFC 5280 form (`Z`, whole seconds)
 * into seconds since the epoch.
 */
export function readTimeSeconds(element: DerElement | undefined, what = 'Time'): number {
  if (!element || element.tagClass !== TAG_CLASS.universal || element.constructed) throw new DerError(`${what}: not a time`);
  let text = '';
  for (const octet of content(element)) text += String.fromCharCode(octet);
  let year: number;
  let rest: string;
  if (element.tagNumber === TAG.utcTime) {
    if (!/^[0-9]{12}Z$/.test(text)) throw new DerError(`${what}: UTCTime must be YYMMDDHHMMSSZ`);
    const twoDigit = digits(text, 0, 2);
    year = twoDigit < 50 ? 2000 + twoDigit : 1900 + twoDigit;
    rest = text.slice(2);
  } else if (element.tagNumber === TAG.generalizedTime) {
    if (!/^[0-9]{14}Z$/.test(text)) throw new DerError(`${what}: GeneralizedTime must be YYYYMMDDHHMMSSZ`);
    year = digits(text, 0, 4);
    rest = text.slice(4);
  } else {
    throw new DerError(`${what}: not a time`);
  }
  const month = digits(rest, 0, 2);
  const day = digits(rest, 2, 2);
  const hour = digits(rest, 4, 2);
  const minute = digits(rest, 6, 2);
  const second = digits(rest, 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) throw new DerError(`${what}: out of range`);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  if (date.getUTCDate() !== day) throw new DerError(`${what}: no such day`);
  return Math.floor(date.getTime() / 1000);
}

/** Decodes the string types a distinguished name or general name may use. */
export function readString(element: DerElement): string {
  const bytes = content(element);
  switch (element.tagNumber) {
    case TAG.utf8String:
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case TAG.bmpString: {
      if (bytes.length % 2 !== 0) throw new DerError('BMPString has an odd length');
      let text = '';
      for (let i = 0; i < bytes.length; i += 2) text += String.fromCharCode(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
      return text;
    }
    case TAG.universalString: {
      if (bytes.length % 4 !== 0) throw new DerError('UniversalString length is not a multiple of 4');
      let text = '';
      for (let i = 0; i < bytes.length; i += 4) {
        text += String.fromCodePoint((((bytes[i] as number) << 24) >>> 0) + ((bytes[i + 1] as number) << 16) + ((bytes[i + 2] as number) << 8) + (bytes[i + 3] as number));
      }
      return text;
    }
    default: {
      let text = '';
      for (const octet of bytes) text += String.fromCharCode(octet);
      return text;
    }
  }
}

/** Lower-case hexadecimal of some bytes. */
const HEX_OCTETS = Array.from({ length: 256 }, (_, octet) => octet.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  // A table rather than toString(16) per octet: certificates are hex-encoded whole as ids.
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += HEX_OCTETS[bytes[i]!]!;
  return text;
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
