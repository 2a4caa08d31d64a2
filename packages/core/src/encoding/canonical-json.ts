/**
 * JSON Canonicalization Scheme (RFC 8785): the bytes we sign when we sign JSON.
 *
 * Property names sorted by UTF-16 code units, no whitespace, strings and numbers
 * serialised as ECMAScript's JSON.stringify does (RFC 8785 §3.2.2 defines them by
 * exactly that algorithm). Checked byte for byte against the RFC's vectors.
 * Written here rather than taken from a package: it is twenty lines, and core
 * takes no dependencies beyond the ASN.1/X.509 libraries.
 */

/** Values that have a canonical form (no undefined, functions, bigint, NaN or Infinity). */
export type CanonicalValue = null | boolean | number | string | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

const utf8Encoder = new TextEncoder();

/** Most nesting accepted; deeper input is refused rather than risking the stack. */
const DEPTH_MAX = 64;

/** Whether a string is well-formed Unicode: the native check where the engine has it (ES2024). */
const wellFormed: (s: string) => boolean = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
  ? (s) => (s as string & { isWellFormed(): boolean }).isWellFormed()
  : (s) => !/\p{Cs}/u.test(s);

/**
 * What JSON.stringify escapes in a string (quote, backslash, controls) and what has no
 * canonical form at all (surrogates, paired or not, are sent to the exact path).
 */
const NEEDS_ESCAPE_OR_CHECK = /["\\\u0000-\u001f\ud800-\udfff]/;

/** From this length on, one regular-expression scan beats JSON.stringify's escaping loop. */
const PLAIN_STRING_SCAN_MIN = 64;

/**
 * A string as canonical JSON (RFC 8785 §3.2.2.2: as JSON.stringify writes it; a lone
 * surrogate has no canonical form and throws). A long string with nothing to escape and
 * no surrogate is written between quotes as it is: the same bytes, at half the cost
 * on Node 20 of JSON.stringify, whose loop over a signed message's 4 KB of base64 cost
 * more than the AES-GCM that seals it.
 */
export function jsonString(value: string): string {
  if (value.length >= PLAIN_STRING_SCAN_MIN && !NEEDS_ESCAPE_OR_CHECK.test(value)) return `"${value}"`;
  if (!wellFormed(value)) throw new CanonicalJsonError('strings must be well-formed Unicode');
  return JSON.stringify(value);
}

/**
 * Property names written as canonical JSON strings, remembered: a message kind has a
 * few dozen names, written on every message, and quoting each anew was a third of
 * writing a payment command. Bounded, since any JSON's names come through here.
 */
const quotedNames = new Map<string, string>();
const QUOTED_NAMES_MAX = 2_000;
/** Longer names are not remembered (they are not a message kind's fixed names). */
const QUOTED_NAME_LENGTH_MAX = 64;

function quotedName(name: string): string {
  let quoted = quotedNames.get(name);
  if (quoted === undefined) {
    quoted = jsonString(name);
    if (name.length <= QUOTED_NAME_LENGTH_MAX && quotedNames.size < QUOTED_NAMES_MAX) quotedNames.set(name, quoted);
  }
  return quoted;
}

function write(value: unknown, depth: number): string {
  if (depth > DEPTH_MAX) throw new CanonicalJsonError('nesting too deep');
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CanonicalJsonError('numbers must be finite');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return jsonString(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i], depth + 1);
    return `${out}]`;
  }
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    // Property names sorted by UTF-16 code units (RFC 8785 §3.2.3): what the default sort
    // compares strings by (ECMA-262 IsLessThan on strings), without a comparator call per pair.
    const keys = Object.keys(object).sort();
    let out = '{';
    let first = true;
    for (const k of keys) {
      const v = object[k];
      if (v === undefined) continue;
      // A name is one level below the object, as its value is: the depth check is the value's.
      out += `${first ? '' : ','}${quotedName(k)}:${write(v, depth + 1)}`;
      first = false;
    }
    return `${out}}`;
  }
  throw new CanonicalJsonError(`cannot canonicalise a ${typeof value}`);
}

/** The canonical JSON text of `value` (RFC 8785). Properties whose value is undefined are left out. */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

/** The canonical JSON as UTF-8 bytes: what a signature covers. */
export function canonicalJsonBytes(value: unknown): Uint8Array<ArrayBuffer> {
  return utf8Encoder.encode(canonicalJson(value));
}
