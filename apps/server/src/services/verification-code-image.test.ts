/**
 * The code picture is measured the way a legibility review would, from its pixels alone
 * and without reading the characters (no OCR):
 *
 * - contrast: every pixel is either ink, at 7:1 or more against the ground (WCAG 2.2
 *   SC 1.4.6, enhanced contrast for text), or clutter, below 3:1 (under SC 1.4.11's
 *   threshold for anything meant to be seen), so no noise can pass for a stroke;
 * - glyph height: every character's ink is at least 48 px tall at the picture's own size,
 *   twice WCAG's "large scale" text (18 pt = 24 CSS px);
 * - spacing: the ink falls into exactly six groups of columns, one per character, when
 *   columns are grouped across clear gaps narrower than 0.12 × the glyph height (SC 1.4.12's
 *   letter spacing): so every gap between two characters is at least that wide.
 */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { VERIFICATION_CODE_ALPHABET, VERIFICATION_CODE_LENGTH } from '@coconutpay/core/payment';
import { CODE_PICTURE_HEIGHT, CODE_PICTURE_WIDTH, newVerificationCode, renderVerificationCode } from './verification-code-image.js';

/** Decodes the 8-bit RGB, unfiltered PNGs our encoder writes. */
function decodePng(png: Buffer): { width: number; height: number; rgb: Buffer } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 2]);
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 3 + 1)]).toBe(0);
    raw.copy(rgb, y * width * 3, y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1));
  }
  return { width, height, rgb };
}

/** WCAG 2.2 relative luminance of an sRGB colour. */
function luminance(r: number, g: number, b: number): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);

interface Measures {
  ambiguousPixels: number;
  runs: { from: number; to: number; heightPx: number }[];
  gapsPx: number[];
}

/** The least letter spacing: 0.12 × the 64 px a character stands at most (SC 1.4.12). */
const SPACING_MIN_PX = Math.ceil(0.12 * 64);

function measure(png: Buffer): Measures {
  const { width, height, rgb } = decodePng(png);
  expect([width, height]).toEqual([CODE_PICTURE_WIDTH, CODE_PICTURE_HEIGHT]);
  // The ground is the picture's most common colour.
  const counts = new Map<number, number>();
  for (let i = 0; i < width * height; i++) {
    const key = rgb.readUIntBE(i * 3, 3);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const groundKey = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const ground = luminance(groundKey >> 16, (groundKey >> 8) & 255, groundKey & 255);
  let ambiguousPixels = 0;
  const inkTop = new Array<number>(width).fill(height);
  const inkBottom = new Array<number>(width).fill(-1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      const ratio = contrast(luminance(rgb[at]!, rgb[at + 1]!, rgb[at + 2]!), ground);
      if (ratio >= 7) {
        inkTop[x] = Math.min(inkTop[x]!, y);
        inkBottom[x] = Math.max(inkBottom[x]!, y);
      } else if (ratio >= 3) {
        ambiguousPixels += 1;
      }
    }
  }
  const runs: Measures['runs'] = [];
  for (let x = 0; x < width; x++) {
    if (inkBottom[x]! < 0) continue;
    const last = runs.at(-1);
    if (last && x - last.to - 1 < SPACING_MIN_PX) last.to = x;
    else runs.push({ from: x, to: x, heightPx: 0 });
  }
  for (const run of runs) {
    let top = height;
    let bottom = -1;
    for (let x = run.from; x <= run.to; x++) {
      top = Math.min(top, inkTop[x]!);
      bottom = Math.max(bottom, inkBottom[x]!);
    }
    run.heightPx = bottom - top + 1;
  }
  const gapsPx = runs.slice(1).map((run, i) => run.from - runs[i]!.to - 1);
  return { ambiguousPixels, runs, gapsPx };
}

describe('verification code picture', () => {
  it('codes use only the stated alphabet, at the stated length, and every character occurs', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const code = newVerificationCode();
      expect(code).toMatch(new RegExp(`^[${VERIFICATION_CODE_ALPHABET}]{${VERIFICATION_CODE_LENGTH}}$`));
      for (const ch of code) seen.add(ch);
    }
    expect([...seen].sort().join('')).toBe([...VERIFICATION_CODE_ALPHABET].sort().join(''));
    expect(VERIFICATION_CODE_ALPHABET).not.toMatch(/[0125 8BGILOQSUVZ]/);
  });

  it('is legible by contrast, glyph height and spacing, for every character, over many pictures', () => {
    const codes = [...Array.from({ length: Math.ceil(VERIFICATION_CODE_ALPHABET.length / VERIFICATION_CODE_LENGTH) }, (_, i) =>
      VERIFICATION_CODE_ALPHABET.slice(i * VERIFICATION_CODE_LENGTH, (i + 1) * VERIFICATION_CODE_LENGTH).padEnd(VERIFICATION_CODE_LENGTH, 'M')),
      ...Array.from({ length: 150 }, () => newVerificationCode())];
    let smallestGapPx = Infinity;
    let shortestGlyphPx = Infinity;
    for (const code of codes) {
      const m = measure(renderVerificationCode(code));
      expect(m.ambiguousPixels, `pixels between 3:1 and 7:1 in ${code}`).toBe(0);
      expect(m.runs.length, `ink runs in ${code}: ${JSON.stringify(m.runs)}`).toBe(VERIFICATION_CODE_LENGTH);
      for (const run of m.runs) shortestGlyphPx = Math.min(shortestGlyphPx, run.heightPx);
      for (const gap of m.gapsPx) smallestGapPx = Math.min(smallestGapPx, gap);
    }
    expect(shortestGlyphPx).toBeGreaterThanOrEqual(48);
    expect(smallestGapPx).toBeGreaterThanOrEqual(SPACING_MIN_PX);
  });

  it('draws the same code differently every time', () => {
    const code = newVerificationCode();
    expect(renderVerificationCode(code).equals(renderVerificationCode(code))).toBe(false);
  });

  it('draws the same picture again from the same seed, and another from another seed', () => {
    const code = newVerificationCode();
    const seed = new Uint8Array(32).fill(7);
    expect(renderVerificationCode(code, seed).equals(renderVerificationCode(code, seed))).toBe(true);
    expect(renderVerificationCode(code, seed).equals(renderVerificationCode(code, new Uint8Array(32).fill(8)))).toBe(false);
    expect(() => renderVerificationCode(code, new Uint8Array(16))).toThrow(RangeError);
  });

  it('refuses a character outside the font', () => {
    expect(() => renderVerificationCode('ABC0EF')).toThrow(RangeError);
  });
});
