import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { duplicateKey } from './duplicate-keys.js';

describe('duplicateKey', () => {
  it('finds a name repeated in one object, at any depth, however it is spelled', () => {
    expect(duplicateKey('{"amountWon":1000,"amountWon":100000}')).toBe('amountWon');
    expect(duplicateKey('{"a":{"b":1,"c":[{"d":1,"d":2}]}}')).toBe('d');
    expect(duplicateKey('{"a":1,"\\u0061":2}')).toBe('a');
    expect(duplicateKey('{"a\\"b":1,"a\\"b":2}')).toBe('a"b');
    // A string ending in an escaped backslash ends at the quote after it.
    expect(duplicateKey('{"a":"x\\\\","a":1}')).toBe('a');
    expect(duplicateKey('{"a\\\\":"\\\\\\"","b":{"a\\\\":2},"b":3}')).toBe('b');
  });

  it('finds a repeat wherever fast-check puts one, in objects it generated', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), fc.jsonValue(), (object, value) => {
      const name = Object.keys(object)[0]!;
      const text = JSON.stringify(object);
      // The same name once more, at the end of the same object.
      const repeated = `${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(value)}}`;
      expect(duplicateKey(repeated)).toBe(name);
    }), { numRuns: 500 });
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
