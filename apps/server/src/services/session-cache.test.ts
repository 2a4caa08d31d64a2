import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../db/sessions-repository.js';
import { SESSION_CACHE_ENTRY_MAX_AGE_MS, SESSION_INVALIDATION_CHANNEL, SESSION_SUSPENSION_MS, SessionCache } from './session-cache.js';

function record(id: string, userId = 'u1', over: Partial<SessionRecord> = {}): SessionRecord {
  return { id, userId, keyId: 'k', createdAtMs: 0, lastSeenAtMs: 0, expiresAtMs: 10_000_000, revokedAtMs: null, revokedReason: null, ...over };
}

/**
 * Two connections as the cache uses them: a subscriber that emits ioredis's connection
 * events and delivers what any publisher on the same "server" publishes.
 */
class FakeRedisServer {
  readonly subscribers: FakeSubscriber[] = [];
  published: string[] = [];
  down = false;
  deliver(channel: string, message: string) {
    this.published.push(message);
    for (const s of this.subscribers) if (s.subscribed) s.emit('message', channel, message);
  }
  connections(): { publisher: Redis; subscriber: Redis; fake: FakeSubscriber } {
    const server = this;
    const subscriber = new FakeSubscriber(this);
    this.subscribers.push(subscriber);
    const publisher = {
      async publish(channel: string, message: string) {
        if (server.down) throw new Error('connection is closed');
        server.deliver(channel, message);
        return 1;
      },
      async quit() { return 'OK'; },
    };
    return { publisher: publisher as unknown as Redis, subscriber: subscriber as unknown as Redis, fake: subscriber };
  }
}

class FakeSubscriber extends EventEmitter {
  subscribed = false;
  constructor(private readonly server: FakeRedisServer) {
    super();
  }
  async subscribe(channel: string) {
    if (this.server.down) throw new Error('connection is closed');
    expect(channel).toBe(SESSION_INVALIDATION_CHANNEL);
    this.subscribed = true;
    return 1;
  }
  async quit() { return 'OK'; }
  /** The connection comes up (first time or after a break) and ioredis reports it ready. */
  async up() {
    this.emit('ready');
    await new Promise((r) => setImmediate(r));
  }
  drop() {
    this.subscribed = false;
    this.emit('close');
  }
}

describe('SessionCache in one process', () => {
  it('serves a filled copy, and forgets it when the session or its user is revoked here', async () => {
    let now = 1_000;
    const cache = new SessionCache(() => now);
    expect(cache.get('s1')).toBeUndefined();
    cache.fill(record('s1'), cache.epoch());
    cache.fill(record('s2'), cache.epoch());
    cache.fill(record('s3', 'u2'), cache.epoch());
    expect(cache.get('s1')?.id).toBe('s1');
    await cache.forgetSession('s1');
    expect(cache.get('s1')).toBeUndefined();
    expect(cache.get('s2')?.id).toBe('s2');
    await cache.forgetUser('u1');
    expect(cache.get('s2')).toBeUndefined();
    expect(cache.get('s3')?.id).toBe('s3');
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 3, entries: 1 });
  });

  it('does not store a read that an invalidation overtook', async () => {
    const cache = new SessionCache(() => 0);
    const before = cache.epoch();
    // The revocation commits and is announced while the read is on its way back.
    await cache.forgetUser('u1');
    cache.fill(record('s1'), before);
    expect(cache.get('s1')).toBeUndefined();
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeDefined();
  });

  it('never stores a revoked session, and serves a copy no longer than its maximum age', () => {
    let now = 0;
    const cache = new SessionCache(() => now);
    cache.fill(record('gone', 'u1', { revokedAtMs: 5, revokedReason: 'logout' }), cache.epoch());
    expect(cache.get('gone')).toBeUndefined();
    cache.fill(record('s1'), cache.epoch());
    now = SESSION_CACHE_ENTRY_MAX_AGE_MS;
    expect(cache.get('s1')).toBeDefined();
    now = SESSION_CACHE_ENTRY_MAX_AGE_MS + 1;
    expect(cache.get('s1')).toBeUndefined();
  });

  it('serves and stores no copy of a suspended user\'s sessions until the suspension lapses', async () => {
    let now = 0;
    const cache = new SessionCache(() => now);
    cache.fill(record('s1'), cache.epoch());
    cache.fill(record('s9', 'u2'), cache.epoch());
    // A certificate revocation is ending u1's sessions inside a transaction not yet committed.
    await cache.suspendUser('u1');
    expect(cache.get('s1')).toBeUndefined();
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeUndefined();
    expect(cache.get('s9')).toBeDefined();
    now = SESSION_SUSPENSION_MS + 1;
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeDefined();
  });

  it('keeps the idle clock of a copy in step with the touches it writes', () => {
    const cache = new SessionCache(() => 0);
    cache.fill(record('s1'), cache.epoch());
    cache.touched('s1', 777);
    expect(cache.get('s1')?.lastSeenAtMs).toBe(777);
  });
});

describe('SessionCache across processes (Redis pub/sub)', () => {
  it('serves nothing until its subscription is confirmed', async () => {
    const server = new FakeRedisServer();
    const { publisher, subscriber, fake } = server.connections();
    const cache = new SessionCache(() => 0, { publisher, subscriber });
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeUndefined();
    await fake.up();
    expect(cache.stats().live).toBe(true);
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeDefined();
  });

  it('hears another process revoke a session or a user', async () => {
    const server = new FakeRedisServer();
    const a = server.connections();
    const b = server.connections();
    const cacheA = new SessionCache(() => 0, a);
    const cacheB = new SessionCache(() => 0, b);
    await a.fake.up();
    await b.fake.up();
    for (const id of ['s1', 's2']) cacheB.fill(record(id), cacheB.epoch());
    await cacheA.forgetSession('s1');
    expect(cacheB.get('s1')).toBeUndefined();
    expect(cacheB.get('s2')).toBeDefined();
    await cacheA.forgetUser('u1');
    expect(cacheB.get('s2')).toBeUndefined();
    expect(server.published).toEqual([JSON.stringify({ s: 's1' }), JSON.stringify({ u: 'u1' })]);
    cacheB.fill(record('s3', 'u3'), cacheB.epoch());
    await cacheA.suspendUser('u3');
    await new Promise((r) => setImmediate(r));
    expect(cacheB.get('s3')).toBeUndefined();
    cacheB.fill(record('s3', 'u3'), cacheB.epoch());
    expect(cacheB.get('s3')).toBeUndefined();
  });

  it('fails closed while the subscription is broken, and starts empty when it is back', async () => {
    const server = new FakeRedisServer();
    const b = server.connections();
    const cache = new SessionCache(() => 0, b);
    await b.fake.up();
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeDefined();
    // The connection breaks: a revocation published now would never arrive.
    b.fake.drop();
    expect(cache.get('s1')).toBeUndefined();
    cache.fill(record('s1'), cache.epoch());
    expect(cache.get('s1')).toBeUndefined();
    // Redis refuses the subscription at first: still nothing is served.
    server.down = true;
    await b.fake.up();
    expect(cache.stats().live).toBe(false);
    server.down = false;
    await b.fake.up();
    expect(cache.stats()).toMatchObject({ live: true, entries: 0 });
  });

  it('treats a message it cannot read as "everything changed"', async () => {
    const server = new FakeRedisServer();
    const b = server.connections();
    const cache = new SessionCache(() => 0, b);
    await b.fake.up();
    cache.fill(record('s1'), cache.epoch());
    server.deliver(SESSION_INVALIDATION_CHANNEL, '{not json');
    expect(cache.get('s1')).toBeUndefined();
  });

  it('does not fail a revocation when the publish fails', async () => {
    const server = new FakeRedisServer();
    const b = server.connections();
    const cache = new SessionCache(() => 0, b);
    await b.fake.up();
    server.down = true;
    await expect(cache.forgetUser('u1')).resolves.toBeUndefined();
  });
});
