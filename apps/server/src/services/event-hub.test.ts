import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { EventHub } from './event-hub.js';

describe('EventHub', () => {
  const rejections: unknown[] = [];
  const record = (reason: unknown) => rejections.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', record);
    rejections.length = 0;
  });

  it('delivers events to the listeners of their key only, in one process', () => {
    const hub = new EventHub<{ n: number }>('test');
    const heard: number[] = [];
    const off = hub.subscribe('a', (event) => heard.push(event.n));
    hub.subscribe('b', () => heard.push(-1));
    hub.publish('a', { n: 1 });
    off();
    hub.publish('a', { n: 2 });
    expect(heard).toEqual([1]);
  });

  it('survives a Redis that cannot be reached: a publish is lost, the process is not', async () => {
    process.on('unhandledRejection', record);
    // Nothing listens on port 1; no reconnects, so every command fails at once.
    const unreachable = () => new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 1, connectTimeout: 200, retryStrategy: () => null, lazyConnect: false });
    const publisher = unreachable();
    const subscriber = unreachable();
    publisher.on('error', () => undefined);
    subscriber.on('error', () => undefined);
    const hub = new EventHub<{ n: number }>('test', { publisher, subscriber });
    hub.publish('a', { n: 1 });
    hub.publish('a', { n: 2 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(rejections).toEqual([]);
    publisher.disconnect();
    subscriber.disconnect();
  });
});
