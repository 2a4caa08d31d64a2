import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, toHex, utf8 } from './index.js';

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('toBase64Url and fromBase64Url', () => {
  it('round-trip any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(fromBase64Url(text)).toEqual(bytes);
      }),
    );
  });

  it('agree with Node’s own base64url encoder, unpadded and in the URL-safe alphabet', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(text).toHaveLength(Math.ceil((bytes.length * 4) / 3));
      }),
    );
  });

  it('encodes the bytes that standard base64 writes as + and / with - and _', () => {
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff, 0xbf))).toBe('-_-_');
    expect(fromBase64Url('-_-_')).toEqual(Uint8Array.of(0xfb, 0xff, 0xbf));
  });

  it('handles the empty input', () => {
    expect(toBase64Url(new Uint8Array(0))).toBe('');
    expect(fromBase64Url('')).toEqual(new Uint8Array(0));
  });

  it('decodes a canonical string back to the same text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(toBase64Url(fromBase64Url(text))).toBe(text);
      }),
    );
  });

  it.each([
    ['a plus sign', 'ab+d'],
    ['a slash', 'ab/d'],
    ['padding', 'AA=='],
    ['a space', 'AB CD'],
    ['a newline', 'ABCD\nABCD'],
    ['a dot', 'AB.D'],
    ['a non-ASCII letter', 'ABCé'],
    ['a full-width letter', 'ＡＢＣＤ'],
  ])('refuses %s with a TypeError', (_label, text) => {
    expect(() => fromBase64Url(text)).toThrow(TypeError);
  });

  it('refuses any string whose length leaves one character over (4n + 1), which no byte string encodes to', () => {
    expect(() => fromBase64Url('A')).toThrow(TypeError);
    expect(() => fromBase64Url('AAAAA')).toThrow(TypeError);
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...BASE64URL_ALPHABET), { maxLength: 40 }).map((chars) => chars.join('')),
        fc.constantFrom(...BASE64URL_ALPHABET),
        (body, extra) => {
          const aligned = body.slice(0, body.length - (body.length % 4));
          expect(() => fromBase64Url(aligned + extra)).toThrow(TypeError);
        },
      ),
    );
  });

  it('accepts every length the encoder can produce (4n, 4n + 2, 4n + 3)', () => {
    expect(fromBase64Url('AAAA')).toHaveLength(3);
    expect(fromBase64Url('AA')).toHaveLength(1);
    expect(fromBase64Url('AAA')).toHaveLength(2);
  });
});

describe('toHex', () => {
  it('writes two lower-case digits per byte, keeping leading zeros', () => {
    expect(toHex(Uint8Array.of(0x00, 0x01, 0x0f, 0x10, 0xab, 0xff))).toBe('00010f10abff');
    expect(toHex(new Uint8Array(0))).toBe('');
  });

  it('agrees with Node’s hex encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const hex = toHex(bytes);
        expect(hex).toBe(Buffer.from(bytes).toString('hex'));
        expect(hex).toMatch(/^(?:[0-9a-f]{2})*$/);
      }),
    );
  });
});

describe('utf8', () => {
  it('encodes Korean text as UTF-8', () => {
    expect(toHex(utf8('원'))).toBe('ec9b90');
    expect(utf8('')).toHaveLength(0);
  });
});
