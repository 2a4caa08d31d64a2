import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonBytes, CanonicalJsonError, jsonString } from './canonical-json.js';
import { sharedVectorPath } from '../../../../test-support/shared-vectors.js';

const VECTORS = `${sharedVectorPath('jcs')}/`;

describe('canonical JSON (RFC 8785)', () => {
  const names = readdirSync(`${VECTORS}input`).filter((n) => n.endsWith('.json'));

  it('has the RFC vectors to check against', () => {
    expect(names.length).toBeGreaterThanOrEqual(6);
  });

  for (const name of names) {
    it(`matches the RFC 8785 vector ${name} byte for byte`, () => {
      const input = JSON.parse(readFileSync(`${VECTORS}input/${name}`, 'utf8'));
      const expected = readFileSync(`${VECTORS}output/${name}`);
      expect(Buffer.from(canonicalJsonBytes(input)).equals(expected)).toBe(true);
    });
  }

  it('refuses what has no canonical form', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: 1n })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson('\ud800')).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ ['k\udfff']: 1 })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(['ok', 'x\udbff'])).toThrow(CanonicalJsonError);
    expect(canonicalJson({ a: '\ud83e\udd65' })).toBe('{"a":"🥥"}');
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/deep/);
  });

  it('leaves out undefined properties and sorts by UTF-16 code units', () => {
    expect(canonicalJson({ b: 1, a: undefined, '€': 2, '\u{1F600}': 3, c: [true, null] })).toBe('{"b":1,"c":[true,null],"€":2,"😀":3}');
  });

  it('writes long strings (the fast path past 64 characters) exactly as JSON.stringify does, and still refuses a lone surrogate', () => {
    const base = 'eyJhbGciOiJFUzI1NiJ9.abcDEF_-0123456789'.repeat(4);
    expect(jsonString(base)).toBe(JSON.stringify(base));
    // Every character JSON.stringify escapes, and some it does not, at the start, middle and end.
    const specials = ['"', '\\', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u001f', '\u007f', '\u2028', '\u2029', '/', '코', '\u{1F600}', '\ud800\udc00'];
    for (const c of specials) {
      for (const text of [c + base, base.slice(0, 70) + c + base.slice(70), base + c]) {
        expect(jsonString(text), JSON.stringify(c)).toBe(JSON.stringify(text));
        expect(canonicalJson({ jws: text })).toBe(`{"jws":${JSON.stringify(text)}}`);
      }
    }
    for (const lone of ['\ud800', '\udfff', '\udc00\ud800']) {
      for (const text of [lone + base, base + lone, base.slice(0, 70) + lone + base.slice(70)]) {
        expect(() => jsonString(text)).toThrow(CanonicalJsonError);
        expect(() => canonicalJson([text])).toThrow(CanonicalJsonError);
      }
    }
  });

  it('writes property names the same whether remembered or not (past the bound of remembered names, and long or unusual ones)', () => {
    const names = Array.from({ length: 2_500 }, (_, i) => `name${i}`).concat(['x'.repeat(100), 'quote"d', 'line\nbreak', '코코넛', '\u{1F600}']);
    const value = Object.fromEntries(names.map((n, i) => [n, i]));
    const expected = `{${[...names].sort().map((n) => `${JSON.stringify(n)}:${value[n]}`).join(',')}}`;
    expect(canonicalJson(value)).toBe(expected);
    expect(canonicalJson(value)).toBe(expected);
    expect(() => canonicalJson({ ['\ud800']: 1 })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ ['\ud800']: 1 })).toThrow(CanonicalJsonError);
  });
});

