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
 * In-process cache, bounded twice. When full of unexpired entries it refuses new requests
 * (SERVICE_UNAVAILABLE) rather than forget a pair early, which would let a replay in; and
 * each session may hold at most `perSessionMax` of them (SESSION_REQUEST_RATE_EXCEEDED), so
 * one client sending as fast as it can fills its own quota, not everybody's cache.
 */
export class MemoryReplayCache implements ReplayCache {
  // A Map keeps insertion order; with one fixed TTL that is also expiry order.
  private readonly entries = new Map<string, { expiresAtMs: number; sessionId: string }>();
  private readonly perSession = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly entriesMax: number,
    private readonly perSessionMax: number = entriesMax,
  ) {}

  async remember(sessionId: string, nonce: string, nowMs: number): Promise<boolean> {
    this.evictExpired(nowMs);
    const key = `${sessionId}:${nonce}`;
    if (this.entries.has(key)) return false;
    const held = this.perSession.get(sessionId) ?? 0;
    if (held >= this.perSessionMax) throw new AppError('SESSION_REQUEST_RATE_EXCEEDED', { detail: `At most ${this.perSessionMax} requests per session in ${this.ttlMs / 1000} s.` });
    if (this.entries.size >= this.entriesMax) throw new AppError('SERVICE_UNAVAILABLE', { cause: new Error('replay cache full') });
    this.entries.set(key, { expiresAtMs: nowMs + this.ttlMs, sessionId });
    this.perSession.set(sessionId, held + 1);
    return true;
  }

  private evictExpired(nowMs: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs > nowMs) break;
      this.entries.delete(key);
      const held = (this.perSession.get(entry.sessionId) ?? 1) - 1;
      if (held <= 0) this.perSession.delete(entry.sessionId);
      else this.perSession.set(entry.sessionId, held);
    }
  }

  /** Number of remembered pairs (for metrics and tests). */
  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.perSession.clear();
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
