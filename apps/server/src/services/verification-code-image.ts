/**
 * The verification code (the third factor) as a distorted picture: six characters
 * drawn from a 5×7 bitmap font, each rotated, shifted and warped, over noise lines
 * and speckles. The code is never sent as text: a person reads it off the screen
 * and types it, which is the point of the factor (seed 004).
 */
import { randomInt } from 'node:crypto';
import { encodePng } from './png-image.js';

/** Characters that survive distortion without look-alikes (no 0/O, 1/I/L, 5/S, 8/B, 2/Z, G/6, Q, U/V). */
export const CODE_ALPHABET = '34679ACDEFHJKMNPRTWXY';
export const CODE_LENGTH = 6;

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

/** A fresh random code from {@link CODE_ALPHABET}. */
export function newVerificationCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

const WIDTH = 240;
const HEIGHT = 80;
const SCALE = 5;

interface PlacedGlyph {
  rows: readonly string[];
  cx: number;
  cy: number;
  cos: number;
  sin: number;
  color: [number, number, number];
}

/** Renders `code` as a PNG; every call draws it differently. */
export function renderVerificationCode(code: string): Buffer {
  const rand = (min: number, max: number) => min + (randomInt(1_000_000) / 1_000_000) * (max - min);
  const glyphs: PlacedGlyph[] = [...code].map((ch, i) => {
    const rows = FONT[ch];
    if (!rows) throw new RangeError(`no glyph for ${JSON.stringify(ch)}`);
    const angle = rand(-0.35, 0.35);
    return {
      rows,
      cx: 26 + i * 37 + rand(-4, 4),
      cy: HEIGHT / 2 + rand(-8, 8),
      cos: Math.cos(angle),
      sin: Math.sin(angle),
      color: [Math.round(rand(10, 90)), Math.round(rand(20, 90)), Math.round(rand(60, 140))],
    };
  });
  const waveAmplitude = rand(2, 4);
  const wavePeriod = rand(28, 46);
  const wavePhase = rand(0, Math.PI * 2);
  const lines = Array.from({ length: 5 }, () => ({ y0: rand(5, HEIGHT - 5), slope: rand(-0.25, 0.25), bend: rand(4, 10), period: rand(40, 90), color: [Math.round(rand(60, 160)), Math.round(rand(60, 160)), Math.round(rand(60, 160))] as [number, number, number] }));
  const speckle = new Uint8Array(WIDTH * HEIGHT);
  for (let i = 0; i < WIDTH * HEIGHT * 0.06; i++) speckle[randomInt(WIDTH * HEIGHT)] = 1;

  return encodePng(WIDTH, HEIGHT, (x, y) => {
    // Warp the whole picture with a sine wave, so glyph edges are not straight.
    const wx = x + waveAmplitude * Math.sin((y / wavePeriod) * Math.PI * 2 + wavePhase);
    const wy = y + waveAmplitude * 0.6 * Math.sin((x / wavePeriod) * Math.PI * 2);
    for (const g of glyphs) {
      const dx = wx - g.cx;
      const dy = wy - g.cy;
      // Inverse rotation into the glyph's own grid.
      const gx = (dx * g.cos + dy * g.sin) / SCALE + 2.5;
      const gy = (-dx * g.sin + dy * g.cos) / SCALE + 3.5;
      if (gx >= 0 && gx < 5 && gy >= 0 && gy < 7 && g.rows[Math.floor(gy)]![Math.floor(gx)] === '#') return g.color;
    }
    for (const l of lines) {
      const ly = l.y0 + l.slope * x + l.bend * Math.sin((x / l.period) * Math.PI * 2);
      if (Math.abs(y - ly) < 0.9) return l.color;
    }
    if (speckle[y * WIDTH + x]) return [120, 120, 140];
    return [244, 246, 250];
  });
}
