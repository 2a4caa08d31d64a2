import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonBytes, CanonicalJsonError } from './canonical-json.js';
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
});
