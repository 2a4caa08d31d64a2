/**
 * Sessions as every authenticated request reads them, kept in memory so that a request
 * does not pay a database round trip before any work (docs/performance.md). The
 * database stays the record: an entry is only a copy, and a copy is dropped
 *
 * - at once, in this process, when a session or a user's sessions are revoked here;
 * - within a Redis round trip in every other process, when `REDIS_URL` is set (one
 *   pub/sub channel carries every invalidation);
 * - after {@link SESSION_CACHE_ENTRY_MAX_AGE_MS} in any case, so that a lost message
 *   cannot keep a revoked session alive longer than that.
 *
 * A revocation made inside a larger transaction (a certificate's, which ends the sessions
 * opened with it) cannot announce itself after its commit from where it is written, so it
 * *suspends* the user instead: for {@link SESSION_SUSPENSION_MS} no process serves or
 * stores a copy of that user's sessions, which outlasts the transaction; the service that
 * committed also forgets the user afterwards.
 *
 * It fails closed: while the subscription is not known to be live (before it is made,
 * while Redis is down, while it reconnects) nothing is served from memory and every
 * request reads the database, as it did before the cache. A read that raced an
 * invalidation is not stored (the epoch check in `fill`), so a copy taken just before a
 * revocation committed cannot outlive the revocation's message.
 */
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../db/sessions-repository.js';

/** Longest a copy is served without reading the database again. */
export const SESSION_CACHE_ENTRY_MAX_AGE_MS = 10_000;

/** How long a user's sessions are read from the database only, after a revocation inside a transaction began. */
export const SESSION_SUSPENSION_MS = 15_000;

/** Most sessions held; the oldest entry leaves first. */
export const SESSION_CACHE_ENTRIES_MAX = 50_000;

/** The Redis channel every process's cache listens on. */
export const SESSION_INVALIDATION_CHANNEL = 'coconutpay:session-invalidations';

interface Entry {
  record: SessionRecord;
  cachedAtMs: number;
}

/** A message on the channel: one session, every session of one user, or a user suspended. */
type Invalidation = { s: string } | { u: string } | { x: string };

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Users whose sessions are not served from memory until the time given. */
  private readonly suspended = new Map<string, number>();
  /** Moves on every invalidation; a read that saw it move while in flight is not stored. */
  private epochValue = 0;
  /** Whether copies may be served: always in one process, only with a live subscription across processes. */
  private live: boolean;
  private hits = 0;
  private misses = 0;

  /**
   * @param redis the publisher and a subscriber connection (owned by the cache from now on);
   *   without them the cache serves one process, which is the whole deployment then
   */
  constructor(private readonly clock: () => number, private readonly redis?: { publisher: Redis; subscriber: Redis }) {
    this.live = redis === undefined;
    if (redis) {
      const { subscriber } = redis;
      const down = () => this.goDark();
      subscriber.on('close', down);
      subscriber.on('reconnecting', down);
      subscriber.on('end', down);
      subscriber.on('error', down);
      // ioredis subscribes again after a reconnect and then emits 'ready'; only a confirmed
      // subscription makes copies servable again, and never copies from before the gap.
      const subscribe = () => {
        subscriber.subscribe(SESSION_INVALIDATION_CHANNEL).then(() => {
          this.clear();
          this.live = true;
        }, down);
      };
      subscriber.on('ready', subscribe);
      subscriber.on('message', (channel: string, message: string) => {
        if (channel !== SESSION_INVALIDATION_CHANNEL) return;
        try {
          const m = JSON.parse(message) as Partial<{ s: unknown; u: unknown; x: unknown }>;
          if (typeof m.s === 'string') this.dropSession(m.s);
          else if (typeof m.u === 'string') this.dropUser(m.u);
          else if (typeof m.x === 'string') this.suspendLocal(m.x);
          else this.clear();
        } catch {
          // Unreadable: the safe reading is "something changed".
          this.clear();
        }
      });
    }
  }

  /** The epoch to hand back to `fill` after a database read. */
  epoch(): number {
    return this.epochValue;
  }

  /** A copy young enough to serve, or undefined (then read the database). */
  get(id: string): SessionRecord | undefined {
    const entry = this.live ? this.entries.get(id) : undefined;
    if (!entry || this.clock() - entry.cachedAtMs > SESSION_CACHE_ENTRY_MAX_AGE_MS || this.isSuspended(entry.record.userId)) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.record;
  }

  /** Stores what the database answered, unless an invalidation arrived since `epochBeforeRead`. */
  fill(record: SessionRecord, epochBeforeRead: number): void {
    if (!this.live || epochBeforeRead !== this.epochValue || record.revokedAtMs !== null || this.isSuspended(record.userId)) return;
    if (this.entries.size >= SESSION_CACHE_ENTRIES_MAX && !this.entries.has(record.id)) {
      const oldest = this.entries.keys().next().value as string;
      this.dropLocal(oldest);
    }
    this.entries.delete(record.id);
    this.entries.set(record.id, { record, cachedAtMs: this.clock() });
    let ids = this.byUser.get(record.userId);
    if (!ids) this.byUser.set(record.userId, (ids = new Set()));
    ids.add(record.id);
  }

  /** Records a touch this process wrote, so the copy's idle clock matches the row. */
  touched(id: string, lastSeenAtMs: number): void {
    const entry = this.entries.get(id);
    if (entry) entry.record = { ...entry.record, lastSeenAtMs };
  }

  /** After a revocation of one session committed: every process forgets it. */
  async forgetSession(id: string): Promise<void> {
    this.dropSession(id);
    await this.announce({ s: id });
  }

  /** After a revocation of a user's sessions committed: every process forgets them all. */
  async forgetUser(userId: string): Promise<void> {
    this.dropUser(userId);
    await this.announce({ u: userId });
  }

  /**
   * Inside a transaction that ends a user's sessions (it has not committed yet): every
   * process reads that user's sessions from the database for a while.
   */
  async suspendUser(userId: string): Promise<void> {
    this.suspendLocal(userId);
    // Not awaited: the caller holds a transaction open, and a Redis that is slow or down must
    // not hold it longer (the service that commits forgets the user again afterwards).
    void this.announce({ x: userId });
  }

  stats(): { entries: number; hits: number; misses: number; live: boolean } {
    return { entries: this.entries.size, hits: this.hits, misses: this.misses, live: this.live };
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    this.live = false;
    await this.redis.subscriber.quit().catch(() => undefined);
    await this.redis.publisher.quit().catch(() => undefined);
  }

  private async announce(message: Invalidation): Promise<void> {
    if (!this.redis) return;
    try {
      await this.redis.publisher.publish(SESSION_INVALIDATION_CHANNEL, JSON.stringify(message));
    } catch {
      // The revocation is committed; a process that misses this message serves its copy at
      // most SESSION_CACHE_ENTRY_MAX_AGE_MS longer, and one whose subscription broke has
      // stopped serving copies already.
    }
  }

  private dropSession(id: string): void {
    this.epochValue++;
    this.dropLocal(id);
  }

  private dropUser(userId: string): void {
    this.epochValue++;
    for (const id of this.byUser.get(userId) ?? []) this.entries.delete(id);
    this.byUser.delete(userId);
  }

  private dropLocal(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    const ids = this.byUser.get(entry.record.userId);
    ids?.delete(id);
    if (ids && ids.size === 0) this.byUser.delete(entry.record.userId);
  }

  private suspendLocal(userId: string): void {
    const nowMs = this.clock();
    // Lapsed suspensions go here, where new ones are made, so the map stays small.
    for (const [user, untilMs] of this.suspended) if (untilMs <= nowMs) this.suspended.delete(user);
    this.suspended.set(userId, nowMs + SESSION_SUSPENSION_MS);
    this.dropUser(userId);
  }

  private isSuspended(userId: string): boolean {
    if (this.suspended.size === 0) return false;
    const untilMs = this.suspended.get(userId);
    return untilMs !== undefined && untilMs > this.clock();
  }

  private goDark(): void {
    this.live = false;
    this.clear();
  }

  private clear(): void {
    this.epochValue++;
    this.entries.clear();
    this.byUser.clear();
  }
}
