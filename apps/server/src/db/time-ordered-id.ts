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

/**
 * Random bytes drawn from the CSPRNG a few kilobytes at a time and handed out ten at a
 * time (as node's randomUUID does with its own pool): one call into OpenSSL per 400 ids
 * instead of one per id. Each byte is used once.
 */
const POOL_BYTES = 4000;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** A version 7 UUID: 48 bits of Unix milliseconds, then 74 random bits. */
export function timeOrderedId(nowMs: number = Date.now()): string {
  if (poolOffset + 10 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  bytes.set(pool.subarray(poolOffset, poolOffset + 10), 6);
  poolOffset += 10;
  let ms = Math.floor(nowMs);
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const x = (i: number) => HEX[bytes[i]!]!;
  return `${x(0)}${x(1)}${x(2)}${x(3)}-${x(4)}${x(5)}-${x(6)}${x(7)}-${x(8)}${x(9)}-${x(10)}${x(11)}${x(12)}${x(13)}${x(14)}${x(15)}`;
}

/**
 * The smallest id `timeOrderedId` can make at or after `ms`: the 48-bit time, then zeros.
 * Ids compare as text in time order (fixed-width lower-case hex), so `id >= bound` selects
 * the ids made at `ms` or later, as an index range.
 */
export function timeOrderedIdLowerBound(ms: number): string {
  const h = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-0000-0000-000000000000`;
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
