import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useStringLength } from './string-length.js';

const stock = new Ajv({ allErrors: true, strict: false });
const ours = new Ajv({ allErrors: true, strict: false });
useStringLength(ours);

/** Strings of UTF-16 units, astral pairs and lone surrogates included. */
const units = fc.oneof(
  fc.constantFrom('a', 'é', '한', '\ud83d\ude00', '\ud800', '\udc00'),
  fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
);
const compiled = new Map<string, [ReturnType<Ajv['compile']>, ReturnType<Ajv['compile']>]>();
function both(schema: object) {
  const key = JSON.stringify(schema);
  let pair = compiled.get(key);
  if (!pair) compiled.set(key, (pair = [stock.compile(schema), ours.compile(schema)]));
  return pair;
}
const text = fc.array(units, { maxLength: 40 }).map((parts) => parts.join(''));

describe('stringLength', () => {
  it('accepts and refuses exactly what ajv’s maxLength and minLength do, with the same errors', () => {
    fc.assert(fc.property(text, fc.integer({ min: 0, max: 45 }), fc.integer({ min: 0, max: 45 }), (value, max, min) => {
      for (const schema of [{ type: 'string', maxLength: max }, { type: 'string', minLength: min }, { type: 'string', minLength: min, maxLength: max, pattern: '^[a-z]*$' }]) {
        const [a, b] = both(schema);
        expect(b(value)).toBe(a(value));
        expect(b.errors ?? null).toEqual(a.errors ?? null);
      }
    }), { numRuns: 2000 });
  });

  it('counts a surrogate pair as one character, as ajv does', () => {
    const max2 = ours.compile({ type: 'string', maxLength: 2 });
    expect(max2('\ud83d\ude00\ud83d\ude00')).toBe(true);
    expect(max2('\ud83d\ude00\ud83d\ude00a')).toBe(false);
    const min2 = ours.compile({ type: 'string', minLength: 2 });
    expect(min2('\ud83d\ude00')).toBe(false);
    expect(min2('\ud83d\ude00a')).toBe(true);
  });

  it('applies inside objects and arrays, as the body schemas use it', () => {
    const validate = ours.compile({ type: 'object', properties: { pad: { type: 'string', maxLength: 3 }, list: { type: 'array', items: { type: 'string', minLength: 1 } } } });
    expect(validate({ pad: 'abc', list: ['x'] })).toBe(true);
    expect(validate({ pad: 'abcd', list: [''] })).toBe(false);
    expect(validate.errors?.map((e) => [e.instancePath, e.keyword, e.params])).toEqual([['/pad', 'maxLength', { limit: 3 }], ['/list/0', 'minLength', { limit: 1 }]]);
  });
});
