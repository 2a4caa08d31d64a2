import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AMOUNT_MAX_WON, PRICE_MAX_WON, formatWon, lineTotalWon, toWon, wonToNumber } from './index.js';

const anyWon = fc.bigInt({ min: -AMOUNT_MAX_WON, max: AMOUNT_MAX_WON });

describe('formatWon', () => {
  it('writes Korean won with the unit after the figure', () => {
    expect(formatWon(800_000n, 'ko')).toBe('800,000원');
  });

  it('writes English won with the sign before the figure', () => {
    expect(formatWon(800_000n, 'en')).toBe('₩800,000');
  });

  it('uses Korean when no locale is given', () => {
    expect(formatWon(800_000n)).toBe('800,000원');
  });

  it('accepts a safe integer number as well as a bigint', () => {
    expect(formatWon(800_000, 'ko')).toBe('800,000원');
  });

  it('groups thousands only where they are', () => {
    expect(formatWon(0n, 'ko')).toBe('0원');
    expect(formatWon(0n, 'en')).toBe('₩0');
    expect(formatWon(999n, 'ko')).toBe('999원');
    expect(formatWon(1_000n, 'ko')).toBe('1,000원');
    expect(formatWon(1_234_567n, 'en')).toBe('₩1,234,567');
  });

  it('puts the minus sign first in both locales', () => {
    expect(formatWon(-1_234n, 'ko')).toBe('-1,234원');
    expect(formatWon(-1_234n, 'en')).toBe('-₩1,234');
    expect(formatWon(-1n, 'en')).toBe('-₩1');
  });

  it('formats the bounds and refuses one won past them', () => {
    expect(formatWon(AMOUNT_MAX_WON, 'ko')).toBe('1,000,000,000,000원');
    expect(formatWon(-AMOUNT_MAX_WON, 'en')).toBe('-₩1,000,000,000,000');
    expect(() => formatWon(AMOUNT_MAX_WON + 1n)).toThrow(RangeError);
    expect(() => formatWon(-AMOUNT_MAX_WON - 1n)).toThrow(RangeError);
  });

  it('refuses fractions and non-numbers', () => {
    expect(() => formatWon(12.5)).toThrow(RangeError);
    expect(() => formatWon(Number.NaN)).toThrow(RangeError);
  });

  it('reads back: the Korean text without commas and 원 is the same integer', () => {
    fc.assert(
      fc.property(anyWon, (won) => {
        const text = formatWon(won, 'ko');
        expect(text).toMatch(/^-?[0-9]{1,3}(,[0-9]{3})*원$/);
        expect(BigInt(text.replace(/[,원]/g, ''))).toBe(won);
      }),
    );
  });

  it('reads back: the English text without commas and ₩ is the same integer', () => {
    fc.assert(
      fc.property(anyWon, (won) => {
        const text = formatWon(won, 'en');
        expect(text).toMatch(/^-?₩[0-9]{1,3}(,[0-9]{3})*$/);
        expect(BigInt(text.replace(/[,₩]/g, ''))).toBe(won);
      }),
    );
  });
});

describe('toWon', () => {
  it('accepts integers as bigint, number or decimal string', () => {
    expect(toWon(800_000n)).toBe(800_000n);
    expect(toWon(800_000)).toBe(800_000n);
    expect(toWon('800000')).toBe(800_000n);
    expect(toWon('-5')).toBe(-5n);
    expect(toWon('0')).toBe(0n);
    expect(toWon(AMOUNT_MAX_WON)).toBe(AMOUNT_MAX_WON);
    expect(toWon(String(-AMOUNT_MAX_WON))).toBe(-AMOUNT_MAX_WON);
  });

  it.each([
    ['a float', 12.5],
    ['a tiny float', 0.1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['a string with a fraction', '12.5'],
    ['a string with a zero fraction', '12.0'],
    ['exponent notation', '1e3'],
    ['an empty string', ''],
    ['a string with spaces', ' 12'],
    ['a string with grouping', '1,000'],
    ['a plus sign', '+12'],
    ['hexadecimal', '0x10'],
    ['a formatted amount', '800,000원'],
    ['a 17-digit string', '12345678901234567'],
    ['one won above the maximum', AMOUNT_MAX_WON + 1n],
    ['one won below the minimum', -AMOUNT_MAX_WON - 1n],
    ['a string above the maximum', '1000000000001'],
  ] as [string, number | bigint | string][])('refuses %s', (_label, value) => {
    expect(() => toWon(value)).toThrow(RangeError);
  });
});

describe('wonToNumber', () => {
  it('converts within the bounds and refuses beyond them', () => {
    expect(wonToNumber(800_000n)).toBe(800_000);
    expect(wonToNumber(-AMOUNT_MAX_WON)).toBe(-1_000_000_000_000);
    expect(() => wonToNumber(AMOUNT_MAX_WON + 1n)).toThrow(RangeError);
    expect(() => wonToNumber(-AMOUNT_MAX_WON - 1n)).toThrow(RangeError);
  });
});

describe('lineTotalWon', () => {
  it('multiplies unit price by quantity', () => {
    expect(lineTotalWon(12_900n, 3)).toBe(38_700n);
    expect(lineTotalWon(12_900n, 0)).toBe(0n);
    expect(lineTotalWon(PRICE_MAX_WON, 1)).toBe(PRICE_MAX_WON);
  });

  it('allows a total of exactly the maximum and refuses one past it', () => {
    expect(lineTotalWon(PRICE_MAX_WON, 1_000)).toBe(AMOUNT_MAX_WON);
    expect(() => lineTotalWon(PRICE_MAX_WON, 1_001)).toThrow(RangeError);
    expect(() => lineTotalWon(AMOUNT_MAX_WON + 1n, 1)).toThrow(RangeError);
  });

  it.each([
    ['a negative quantity', -1],
    ['a fractional quantity', 1.5],
    ['NaN', Number.NaN],
    ['an unsafe quantity', 2 ** 53],
  ])('refuses %s', (_label, quantity) => {
    expect(() => lineTotalWon(1_000n, quantity)).toThrow(RangeError);
  });

  it('refuses a negative unit price, so no line can lower a total', () => {
    // Money rule: amounts are positive and below a maximum before any addition.
    expect(() => lineTotalWon(-1_000n, 2)).toThrow(RangeError);
    expect(() => lineTotalWon(-(AMOUNT_MAX_WON * 10n), 1)).toThrow(RangeError);
  });
});
