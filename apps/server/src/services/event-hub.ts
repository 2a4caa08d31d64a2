/**
 * Events for open server-sent-event streams, by key (a device request, a user). In one
 * process an event emitter suffices; with `REDIS_URL` set, events travel over one Redis
 * pub/sub channel per hub, so a stream may be held by another server process than the
 * one where the event happened. Nothing is stored: a listener that is not connected
 * when an event is published never hears it.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/** The two Redis connections a hub needs: a subscribed connection can do nothing else. */
export interface HubRedis {
  publisher: Redis;
  subscriber: Redis;
}

export class EventHub<T> {
  private readonly emitter = new EventEmitter();

  /**
   * @param channel the Redis channel, one per kind of event
   * @param redis both connections, owned by the hub from now on (it closes them)
   */
  constructor(private readonly channel: string, private readonly redis?: HubRedis) {
    // One listener per open stream; a busy server has many.
    this.emitter.setMaxListeners(0);
    if (redis) {
      // A Redis that is down must not end the process (an unhandled rejection would):
      // ioredis subscribes again when it reconnects, and streams that missed an event
      // read the record when they reconnect.
      redis.subscriber.subscribe(channel).catch(() => undefined);
      redis.subscriber.on('message', (from: string, message: string) => {
        if (from !== channel) return;
        try {
          const { key, event } = JSON.parse(message) as { key: string; event: T };
          if (typeof key === 'string') this.emitter.emit(key, event);
        } catch {
          // A message we cannot read is not ours to act on.
        }
      });
    }
  }

  publish(key: string, event: T): void {
    // Through Redis every process (this one included) hears it once, from the subscription.
    // A lost publish costs a live update, never data: the record is in the database, and a
    // failed publish (Redis down) must not become an unhandled rejection that ends the process.
    if (this.redis) this.redis.publisher.publish(this.channel, JSON.stringify({ key, event })).catch(() => undefined);
    else this.emitter.emit(key, event);
  }

  /** Calls `listener` with each event for `key`; answers the unsubscribe function. */
  subscribe(key: string, listener: (event: T) => void): () => void {
    this.emitter.on(key, listener);
    return () => this.emitter.off(key, listener);
  }

  async close(): Promise<void> {
    if (!this.redis) return;
    await this.redis.subscriber.quit();
    await this.redis.publisher.quit();
  }
}
