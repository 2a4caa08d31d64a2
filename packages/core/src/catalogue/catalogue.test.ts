import { describe, expect, it } from 'vitest';
import { IMAGE_TYPES, sniffImageType } from './index.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/** The start of a real PNG: signature, then the length and type of the IHDR chunk. */
const PNG_START = Uint8Array.from([...PNG_SIGNATURE, 0x00, 0x00, 0x00, 0x0d, ...ascii('IHDR')]);
/** A JFIF JPEG start: SOI then an APP0 marker. */
const JPEG_START = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, ...ascii('JFIF'), 0x00]);
/** A WebP start: RIFF, a little-endian size, WEBP, then a VP8 chunk header. */
const WEBP_START = Uint8Array.from([...ascii('RIFF'), 0x24, 0x00, 0x00, 0x00, ...ascii('WEBP'), ...ascii('VP8 ')]);

describe('sniffImageType', () => {
  it('recognises PNG, JPEG and WebP by their first bytes', () => {
    expect(sniffImageType(PNG_START)).toBe('image/png');
    expect(sniffImageType(JPEG_START)).toBe('image/jpeg');
    expect(sniffImageType(WEBP_START)).toBe('image/webp');
  });

  it('needs no more than the signature itself', () => {
    expect(sniffImageType(Uint8Array.from(PNG_SIGNATURE))).toBe('image/png');
    expect(sniffImageType(Uint8Array.of(0xff, 0xd8, 0xff))).toBe('image/jpeg');
    expect(sniffImageType(WEBP_START.slice(0, 12))).toBe('image/webp');
  });

  it('only ever answers one of the accepted image types', () => {
    for (const bytes of [PNG_START, JPEG_START, WEBP_START]) expect(IMAGE_TYPES).toContain(sniffImageType(bytes));
  });

  it.each([
    ['an empty file', new Uint8Array(0)],
    ['a GIF89a', Uint8Array.from([...ascii('GIF89a'), 0x01, 0x00, 0x01, 0x00])],
    ['a GIF87a', Uint8Array.from(ascii('GIF87a'))],
    ['a PNG signature cut after 7 bytes', Uint8Array.from(PNG_SIGNATURE.slice(0, 7))],
    ['a PNG signature with its last byte changed', Uint8Array.from([...PNG_SIGNATURE.slice(0, 7), 0x0b])],
    ['a PNG signature one byte in', Uint8Array.from([0x00, ...PNG_SIGNATURE])],
    ['a JPEG start cut after 2 bytes', Uint8Array.of(0xff, 0xd8)],
    ['a RIFF WAVE file', Uint8Array.from([...ascii('RIFF'), 0x24, 0x00, 0x00, 0x00, ...ascii('WAVE'), ...ascii('fmt ')])],
    ['a RIFF AVI file', Uint8Array.from([...ascii('RIFF'), 0x24, 0x00, 0x00, 0x00, ...ascii('AVI LIST')])],
    ['a RIFF header cut before the form type', Uint8Array.from([...ascii('RIFF'), 0x24, 0x00, 0x00, 0x00])],
    ['a RIFF header with the form type cut short', WEBP_START.slice(0, 11)],
    ['WEBP without RIFF in front', Uint8Array.from([...ascii('RIFX'), 0x24, 0x00, 0x00, 0x00, ...ascii('WEBP')])],
    ['a PDF', Uint8Array.from(ascii('%PDF-1.7'))],
    ['SVG text', Uint8Array.from(ascii('<svg xmlns="http://www.w3.org/2000/svg"/>'))],
  ])('refuses %s', (_label, bytes) => {
    expect(sniffImageType(bytes)).toBeUndefined();
  });
});
