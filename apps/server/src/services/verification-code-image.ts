/**
 * The verification code (the third factor) as a picture: six characters of a 5×7 bitmap
 * font drawn large (35 × 63 px), each slightly rotated and shifted, the whole picture
 * gently warped, over faint clutter, with thin background-coloured scratches through the
 * strokes. The code is never sent as text: a person reads it off the screen and types it,
 * which is the point of the factor (seed 004).
 *
 * Readable by people first: dark ink on a light ground at 7:1 contrast or more, clutter
 * below 3:1 so it never reads as a stroke, a clear gap between characters, and no look-alike
 * characters (`VERIFICATION_CODE_ALPHABET`). `verification-code-image.test.ts` measures
 * these on the pixels. What makes a machine work is the rotation, warp and scratches, and
 * that each picture is drawn afresh; the factor's strength is the five-try limit, not the
 * picture alone.
 *
 * Drawn forward into one RGB buffer (each glyph over its own box only, sines tabulated per
 * row and column), so a picture costs well under a millisecond of drawing.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { VERIFICATION_CODE_ALPHABET, VERIFICATION_CODE_LENGTH } from '@coconutpay/core/payment';
import { encodePngRgb } from './png-image.js';

export const CODE_ALPHABET = VERIFICATION_CODE_ALPHABET;
export const CODE_LENGTH = VERIFICATION_CODE_LENGTH;

// 5×7 glyphs, one string of five characters per row, '#' = ink.
const FONT: Record<string, readonly string[]> = {
  '3': ['#### ', '    #', '    #', ' ### ', '    #', '    #', '#### '],
  '4': ['   # ', '  ## ', ' # # ', '#  # ', '#####', '   # ', '   # '],
  '6': [' ### ', '#    ', '#    ', '#### ', '#   #', '#   #', ' ### '],
  '7': ['#####', '    #', '   # ', '  #  ', ' #   ', ' #   ', ' #   '],
  '9': [' ### ', '#   #', '#   #', ' ####', '    #', '    #', ' ### '],
  A: [' ### ', '#   #', '#   #', '#####', '#   #', '#   #', '#   #'],
  C: [' ####', '#    ', '#    ', '#    ', '#    ', '#    ', ' ####'],
  D: ['#### ', '#   #', '#   #', '#   #', '#   #', '#   #', '#### '],
  E: ['#####', '#    ', '#    ', '#### ', '#    ', '#    ', '#####'],
  F: ['#####', '#    ', '#    ', '#### ', '#    ', '#    ', '#    '],
  H: ['#   #', '#   #', '#   #', '#####', '#   #', '#   #', '#   #'],
  J: ['  ###', '   # ', '   # ', '   # ', '   # ', '#  # ', ' ##  '],
  K: ['#   #', '#  # ', '# #  ', '##   ', '# #  ', '#  # ', '#   #'],
  M: ['#   #', '## ##', '# # #', '# # #', '#   #', '#   #', '#   #'],
  N: ['#   #', '##  #', '# # #', '#  ##', '#   #', '#   #', '#   #'],
  P: ['#### ', '#   #', '#   #', '#### ', '#    ', '#    ', '#    '],
  R: ['#### ', '#   #', '#   #', '#### ', '# #  ', '#  # ', '#   #'],
  T: ['#####', '  #  ', '  #  ', '  #  ', '  #  ', '  #  ', '  #  '],
  W: ['#   #', '#   #', '#   #', '# # #', '# # #', '## ##', '#   #'],
  X: ['#   #', '#   #', ' # # ', '  #  ', ' # # ', '#   #', '#   #'],
  Y: ['#   #', '#   #', ' # # ', '  #  ', '  #  ', '  #  ', '  #  '],
};

/** The picture's size in pixels; the page shows it at this size (1 CSS px per pixel) or larger. */
export const CODE_PICTURE_WIDTH = 360;
export const CODE_PICTURE_HEIGHT = 100;

/** Pixels per font cell: glyphs are 35 px wide and 63 px tall before rotation. */
const CELL_WIDTH_PX = 7;
const CELL_HEIGHT_PX = 9;
const GLYPH_WIDTH_PX = 5 * CELL_WIDTH_PX;
const GLYPH_HEIGHT_PX = 7 * CELL_HEIGHT_PX;
/** Each character's slot: with the rotation, jitter and warp below, about 11 px or more stay clear between characters. */
const SLOT_WIDTH_PX = 58;
const SIDE_MARGIN_PX = (CODE_PICTURE_WIDTH - VERIFICATION_CODE_LENGTH * SLOT_WIDTH_PX) / 2;
const ROTATION_MAX_RAD = 0.1;
const JITTER_X_PX = 2;
const JITTER_Y_PX = 4;
const WARP_PX = 2;

/**
 * Random numbers for one picture, made in one step: a picture needs a few thousand, and
 * one call per number would cost more than the drawing. With a seed the numbers are the
 * AES-256-CTR key stream of that seed, so the same seed draws the same picture: fetching
 * a picture again must not hand a machine a second, differently distorted view of the
 * same code to compare.
 */
class PictureRandom {
  private readonly bytes: Buffer;
  private at = 0;
  private readonly stream: ((into: Buffer) => void);
  constructor(count: number, seed: Uint8Array | undefined) {
    if (seed) {
      if (seed.length !== 32) throw new RangeError('a picture seed has 32 bytes');
      const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
      this.stream = (into) => cipher.update(Buffer.alloc(into.length)).copy(into);
    } else {
      this.stream = (into) => randomBytes(into.length).copy(into);
    }
    this.bytes = Buffer.alloc(count * 2);
    this.stream(this.bytes);
  }
  /** Uniform in [0, 1) with 16 bits. */
  unit(): number {
    if (this.at + 2 > this.bytes.length) {
      this.stream(this.bytes);
      this.at = 0;
    }
    const value = this.bytes.readUInt16LE(this.at) / 65_536;
    this.at += 2;
    return value;
  }
  between(min: number, max: number): number {
    return min + this.unit() * (max - min);
  }
  int(below: number): number {
    return Math.floor(this.unit() * below);
  }
}

/** A fresh random code from the code alphabet. */
export function newVerificationCode(): string {
  // Rejection sampling over bytes keeps every character equally likely.
  const limit = 256 - (256 % CODE_ALPHABET.length);
  let code = '';
  while (code.length < CODE_LENGTH) {
    for (const byte of randomBytes(CODE_LENGTH * 2)) {
      if (byte < limit && code.length < CODE_LENGTH) code += CODE_ALPHABET[byte % CODE_ALPHABET.length];
    }
  }
  return code;
}

type Rgb = [number, number, number];

/**
 * Renders `code` as a PNG. Without a seed every call draws it differently; with a
 * 32-byte seed (kept secret, like the code) the same seed always draws the same picture.
 */
export function renderVerificationCode(code: string, seed?: Uint8Array): Buffer {
  const W = CODE_PICTURE_WIDTH;
  const H = CODE_PICTURE_HEIGHT;
  const random = new PictureRandom(4_096, seed);
  const rgb = Buffer.alloc(W * H * 3);
  const put = (x: number, y: number, c: Rgb) => {
    if (x < 0 || x >= W || y < 0 || y >= H) return;
    const at = (y * W + x) * 3;
    rgb[at] = c[0];
    rgb[at + 1] = c[1];
    rgb[at + 2] = c[2];
  };

  // A light ground (relative luminance ≥ 0.85), one colour per picture.
  const ground: Rgb = [Math.round(random.between(238, 252)), Math.round(random.between(238, 252)), Math.round(random.between(238, 252))];
  rgb.set(ground, 0);
  for (let filled = 3; filled < rgb.length; filled *= 2) rgb.copyWithin(filled, 0, Math.min(filled, rgb.length - filled));

  // Clutter behind the text: mid-light curves and speckles, below 3:1 against the ground.
  const clutter = (): Rgb => {
    const base = random.between(172, 200);
    return [Math.round(base + random.between(-8, 8)), Math.round(base + random.between(-8, 8)), Math.round(base + random.between(-8, 8))];
  };
  for (let n = 0; n < 4; n++) {
    const c = clutter();
    const y0 = random.between(10, H - 10);
    const slope = random.between(-0.12, 0.12);
    const bend = random.between(4, 12);
    const period = random.between(50, 120);
    const phase = random.between(0, Math.PI * 2);
    for (let x = 0; x < W; x++) put(x, Math.round(y0 + slope * x + bend * Math.sin((x / period) * Math.PI * 2 + phase)), c);
  }
  const speckle = clutter();
  for (let n = 0; n < W * H * 0.03; n++) put(random.int(W), random.int(H), speckle);

  // The warp, tabulated: a row shifts sideways, a column up or down.
  const warpPeriod = random.between(40, 70);
  const warpPhase = random.between(0, Math.PI * 2);
  const warpX = Float64Array.from({ length: H }, (_, y) => WARP_PX * Math.sin((y / warpPeriod) * Math.PI * 2 + warpPhase));
  const warpY = Float64Array.from({ length: W }, (_, x) => WARP_PX * 0.6 * Math.sin((x / warpPeriod) * Math.PI * 2));

  // The characters: dark ink (each channel ≤ 64, so ≥ 7:1 against any ground above).
  const reach = Math.ceil(Math.hypot(GLYPH_WIDTH_PX, GLYPH_HEIGHT_PX) / 2 + WARP_PX);
  [...code].forEach((ch, i) => {
    const rows = FONT[ch];
    if (!rows) throw new RangeError(`no glyph for ${JSON.stringify(ch)}`);
    const angle = random.between(-ROTATION_MAX_RAD, ROTATION_MAX_RAD);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const cx = SIDE_MARGIN_PX + SLOT_WIDTH_PX * (i + 0.5) + random.between(-JITTER_X_PX, JITTER_X_PX);
    const cy = H / 2 + random.between(-JITTER_Y_PX, JITTER_Y_PX);
    const ink: Rgb = [Math.round(random.between(8, 56)), Math.round(random.between(12, 60)), Math.round(random.between(24, 64))];
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(H, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(W, Math.ceil(cx + reach)); x++) {
        const dx = x + warpX[y]! - cx;
        const dy = y + warpY[x]! - cy;
        // Back into the glyph's own grid, turned the other way.
        const gx = (dx * cos + dy * sin) / CELL_WIDTH_PX + 2.5;
        const gy = (-dx * sin + dy * cos) / CELL_HEIGHT_PX + 3.5;
        if (gx >= 0 && gx < 5 && gy >= 0 && gy < 7 && rows[gy | 0]!.charCodeAt(gx | 0) === 35 /* '#' */) put(x, y, ink);
      }
    }
  });

  // Two thin scratches in the ground's colour across the text: they cut strokes a person
  // reads across and a template matcher trips on.
  for (let n = 0; n < 2; n++) {
    const y0 = random.between(H * 0.3, H * 0.7);
    const slope = random.between(-0.08, 0.08);
    const bend = random.between(6, 14);
    const period = random.between(60, 140);
    const phase = random.between(0, Math.PI * 2);
    for (let x = 0; x < W; x++) put(x, Math.round(y0 + slope * x + bend * Math.sin((x / period) * Math.PI * 2 + phase)), ground);
  }

  // Level 6: a picture is made per payment and shown once; level 9 would cost more than the drawing.
  return encodePngRgb(W, H, rgb, 6);
}
