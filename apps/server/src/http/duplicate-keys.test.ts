import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { duplicateKey } from './duplicate-keys.js';

describe('duplicateKey', () => {
  it('finds a name repeated in one object, at any depth, however it is spelled', () => {
    expect(duplicateKey('{"amountWon":1000,"amountWon":100000}')).toBe('amountWon');
    expect(duplicateKey('{"a":{"b":1,"c":[{"d":1,"d":2}]}}')).toBe('d');
    expect(duplicateKey('{"a":1,"\\u0061":2}')).toBe('a');
    expect(duplicateKey('{"a\\"b":1,"a\\"b":2}')).toBe('a"b');
  });

  it('does not mistake values, names in sibling objects or strings with braces for repeats', () => {
    expect(duplicateKey('{"a":"a","b":"a"}')).toBeUndefined();
    expect(duplicateKey('[{"a":1},{"a":2}]')).toBeUndefined();
    expect(duplicateKey('{"a":{"a":{"a":1}}}')).toBeUndefined();
    expect(duplicateKey('{"x":"{\\"a\\":1,\\"a\\":2}","y":["a","a"]}')).toBeUndefined();
    expect(duplicateKey('"just a string"')).toBeUndefined();
  });

  it('agrees with a parse-based check on any JSON without repeats', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      // JSON.stringify of a parsed value never repeats a name.
      expect(duplicateKey(JSON.stringify(value))).toBeUndefined();
    }), { numRuns: 500 });
  });
});
