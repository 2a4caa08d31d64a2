/**
 * Remembers (session, nonce) pairs so each signed request is accepted once. A pair
 * only needs remembering while its timestamp could still pass the ±window check,
 * so entries expire after twice the window.
 */
import type { Redis } from 'ioredis';
import { AppError } from '@coconutpay/core/errors';

/** Records a pair; answers `true` when it is new, `false` when it was seen before. */
export interface ReplayCache {
  remember(sessionId: string, nonce: string, nowMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * In-process cache, bounded. When full of unexpired entries it refuses new requests
 * (SERVICE_UNAVAILABLE) rather than forget a pair early, which would let a replay in.
 */
export class MemoryReplayCache implements ReplayCache {
  // A Map keeps insertion order; with one fixed TTL that is also expiry order.
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly entriesMax: number,
  ) {}

  async remember(sessionId: string, nonce: string, nowMs: number): Promise<boolean> {
    this.evictExpired(nowMs);
    const key = `${sessionId}:${nonce}`;
    if (this.entries.has(key)) return false;
    if (this.entries.size >= this.entriesMax) throw new AppError('SERVICE_UNAVAILABLE', { cause: new Error('replay cache full') });
    this.entries.set(key, nowMs + this.ttlMs);
    return true;
  }

  private evictExpired(nowMs: number): void {
    for (const [key, expiresAtMs] of this.entries) {
      if (expiresAtMs > nowMs) break;
      this.entries.delete(key);
    }
  }

  /** Number of remembered pairs (for metrics and tests). */
  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

/**
 * Cache shared by every server process through Redis: one `SET key 1 PX ttl NX`
 * per request, atomic on the Redis side.
 */
export class RedisReplayCache implements ReplayCache {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly prefix = 'coconutpay:nonce:',
  ) {}

  async remember(sessionId: string, nonce: string): Promise<boolean> {
    try {
      const answer = await this.redis.set(`${this.prefix}${sessionId}:${nonce}`, '1', 'PX', this.ttlMs, 'NX');
      return answer === 'OK';
    } catch (cause) {
      // Fail closed: without the shared cache we cannot tell a replay from a new request.
      throw new AppError('SERVICE_UNAVAILABLE', { cause });
    }
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
