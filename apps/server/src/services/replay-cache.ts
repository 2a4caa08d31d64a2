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

/** How the in-process cache shares its room between sessions. */
export interface ReplayCacheShares {
  /** Most pairs one session may hold at any time (SESSION_REQUEST_RATE_EXCEEDED beyond). */
  perSessionMax: number;
  /** Once `entriesMax` is reached, sessions holding at least this many are refused (429)... */
  fairShareMax: number;
  /** ...while the others still get up to this many pairs more, past `entriesMax`. */
  reserve: number;
}

/**
 * In-process cache, bounded. It never forgets a pair early, which would let a replay in,
 * so room is what it rations: a session may hold at most `perSessionMax` pairs; when the
 * cache reaches `entriesMax`, sessions holding `fairShareMax` or more are told to slow
 * down (SESSION_REQUEST_RATE_EXCEEDED) while lighter sessions are served from a reserve —
 * so one client sending as fast as it can fills its own share, not everybody's cache.
 * Only when the reserve is gone too is everyone refused (SERVICE_UNAVAILABLE).
 */
export class MemoryReplayCache implements ReplayCache {
  // A Map keeps insertion order; with one fixed TTL that is also expiry order.
  private readonly entries = new Map<string, { expiresAtMs: number; sessionId: string }>();
  private readonly perSession = new Map<string, number>();

  private readonly shares: ReplayCacheShares;

  constructor(
    private readonly ttlMs: number,
    private readonly entriesMax: number,
    shares: Partial<ReplayCacheShares> = {},
  ) {
    this.shares = {
      perSessionMax: shares.perSessionMax ?? Math.max(1, Math.floor(entriesMax / 10)),
      fairShareMax: shares.fairShareMax ?? 1_000,
      reserve: shares.reserve ?? Math.max(1, Math.floor(entriesMax / 10)),
    };
  }

  async remember(sessionId: string, nonce: string, nowMs: number): Promise<boolean> {
    this.evictExpired(nowMs);
    const key = `${sessionId}:${nonce}`;
    if (this.entries.has(key)) return false;
    const held = this.perSession.get(sessionId) ?? 0;
    if (held >= this.shares.perSessionMax) throw this.slowDown(held);
    if (this.entries.size >= this.entriesMax) {
      if (held >= this.shares.fairShareMax) throw this.slowDown(held);
      if (this.entries.size >= this.entriesMax + this.shares.reserve) throw new AppError('SERVICE_UNAVAILABLE', { cause: new Error('replay cache full') });
    }
    this.entries.set(key, { expiresAtMs: nowMs + this.ttlMs, sessionId });
    this.perSession.set(sessionId, held + 1);
    return true;
  }

  /** A method, not a closure made on every call: the refusal is rare, the call is per request. */
  private slowDown(held: number): AppError {
    return new AppError('SESSION_REQUEST_RATE_EXCEEDED', { detail: `This session sent ${held} requests in the last ${this.ttlMs / 1000} s.` });
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
