/**
 * A minimal PNG encoder (8-bit RGB, no interlace) for the demo product pictures,
 * which the project draws itself rather than shipping downloaded files.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes `pixel(x, y) → [r, g, b]` over a width × height canvas as a PNG file. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const at = (y * width + x) * 3;
      rgb[at] = r;
      rgb[at + 1] = g;
      rgb[at + 2] = b;
    }
  }
  return encodePngRgb(width, height, rgb);
}

/**
 * Encodes a width × height canvas of packed RGB bytes (row by row) as a PNG file.
 * `level` is zlib's: 9 for pictures made once and kept, lower for ones made per request.
 */
export function encodePngRgb(width: number, height: number, rgb: Uint8Array, level = 9): Buffer {
  if (rgb.length !== width * height * 3) throw new RangeError(`expected ${width * height * 3} bytes of RGB, got ${rgb.length}`);
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    // Filter type 0 (none) leads each row.
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw, { level })), chunk('IEND', new Uint8Array(0))]);
}

type Shape = 'circle' | 'square' | 'diamond' | 'ring' | 'stripes' | 'triangle';

/**
 * A product picture: a soft two-colour gradient with one centred shape, distinct per
 * product through its colours and shape.
 */
export function drawProductPicture(hue: number, shape: Shape, size = 320): Buffer {
  const colour = (h: number, s: number, l: number): [number, number, number] => {
    const k = (n: number) => (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
    return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
  };
  const top = colour(hue, 0.55, 0.9);
  const bottom = colour((hue + 30) % 360, 0.6, 0.78);
  const ink = colour(hue, 0.65, 0.42);
  const c = size / 2;
  const inside = (x: number, y: number): boolean => {
    const dx = x - c;
    const dy = y - c;
    const r = size * 0.28;
    switch (shape) {
      case 'circle': return dx * dx + dy * dy < r * r;
      case 'square': return Math.abs(dx) < r * 0.85 && Math.abs(dy) < r * 0.85;
      case 'diamond': return Math.abs(dx) + Math.abs(dy) < r * 1.2;
      case 'ring': { const d = Math.sqrt(dx * dx + dy * dy); return d < r && d > r * 0.6; }
      case 'stripes': return Math.abs(dx) < r && Math.abs(dy) < r && Math.floor((x + y) / (size / 16)) % 2 === 0;
      case 'triangle': return dy < r * 0.8 && dy > -r && Math.abs(dx) < (dy + r) * 0.6;
    }
  };
  return encodePng(size, size, (x, y) => {
    if (inside(x, y)) return ink;
    const t = y / size;
    return [0, 1, 2].map((i) => Math.round(top[i]! * (1 - t) + bottom[i]! * t)) as [number, number, number];
  });
}

export type { Shape };
