/**
 * Time-ordered UUIDs (version 7, RFC 9562 §5.7) for the rows every payment inserts.
 *
 * A random (version 4) key lands on a random leaf of the primary-key index, so each
 * insert dirties its own page and the engine writes that whole page again (in SQLite's
 * WAL, a 4 KiB frame per page per commit). Keys that grow with time fill the index from
 * its right edge instead: the inserts of a group share a few pages. The millisecond
 * timestamp they begin with says no more than the rows' own `created_at_ms` columns.
 */
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const bytes = new Uint8Array(16);

/** A version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits. */
export function timeOrderedId(nowMs: number = Date.now()): string {
  randomFillSync(bytes, 6, 10);
  let ms = Math.floor(nowMs);
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const h = Array.from(bytes, (b) => HEX[b]!).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

let lastMs = -1;
let sequence = 0;

/**
 * A version 7 UUID that sorts after every one this process made before, even within one
 * millisecond (RFC 9562 §6.2, method 1: the 12 bits after the version hold a counter that
 * starts at a random point each millisecond). For rows read back in the order they were
 * written, such as an order's history.
 */
export function monotonicTimeOrderedId(nowMs: number = Date.now()): string {
  let ms = Math.floor(nowMs);
  if (ms > lastMs) {
    lastMs = ms;
    // Start low in the counter's range, so many ids in one millisecond still fit.
    sequence = Math.floor(Math.random() * 0x400);
  } else {
    ms = lastMs;
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      ms = lastMs;
      sequence = 0;
    }
  }
  const id = timeOrderedId(ms);
  const counter = (0x7000 | sequence).toString(16);
  return `${id.slice(0, 14)}${counter}${id.slice(18)}`;
}
