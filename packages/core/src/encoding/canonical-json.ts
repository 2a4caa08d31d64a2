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

/** Most nesting accepted; deeper input is refused rather than risking the stack. */
const DEPTH_MAX = 64;

/** Whether a string is well-formed Unicode: the native check where the engine has it (ES2024). */
const wellFormed: (s: string) => boolean = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
  ? (s) => (s as string & { isWellFormed(): boolean }).isWellFormed()
  : (s) => !/\p{Cs}/u.test(s);

/** Property names sorted by UTF-16 code units (RFC 8785 §3.2.3), which is what `<` compares. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function write(value: unknown, depth: number): string {
  if (depth > DEPTH_MAX) throw new CanonicalJsonError('nesting too deep');
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CanonicalJsonError('numbers must be finite');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    // RFC 8785 §3.2.2.2: strings must be valid Unicode; a lone surrogate has no canonical form.
    if (!wellFormed(value)) throw new CanonicalJsonError('strings must be well-formed Unicode');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i], depth + 1);
    return `${out}]`;
  }
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).sort(byCodeUnits);
    let out = '{';
    let first = true;
    for (const k of keys) {
      const v = object[k];
      if (v === undefined) continue;
      out += `${first ? '' : ','}${write(k, depth + 1)}:${write(v, depth + 1)}`;
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
  return new TextEncoder().encode(canonicalJson(value));
}
