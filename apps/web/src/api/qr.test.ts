import { describe, expect, it } from 'vitest';
import { ApiError } from './client.js';
import { parseQrEvent, watchQrSession, type QrSessionEvent, type QrStreamTransport } from './qr.js';

/** A response whose body is `text`, then (unless `open`) its end. */
function streamOf(text: string): Response {
  return new Response(new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  }));
}

const frame = (id: number, event: QrSessionEvent) => `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

describe('watchQrSession', () => {
  it('reconnects with Last-Event-ID and hears each event once, the end included', async () => {
    const asked: Record<string, string>[] = [];
    const answers = [
      // The first connection breaks after `ready`.
      frame(1, { type: 'ready', status: 'open', expiresAtMs: 1 }),
      // The server sends only what came after; a repeated event is not heard twice.
      frame(1, { type: 'ready', status: 'open', expiresAtMs: 1 }) + frame(2, { type: 'scanned', scannedAtMs: 2, expiresAtMs: 3 }) + frame(3, { type: 'paid', orderId: 'o-1', paidAtMs: 4 }),
    ];
    const transport: QrStreamTransport = {
      openStream: async (_path, _signal, headers) => {
        asked.push(headers);
        return streamOf(answers.shift() ?? '');
      },
      sleep: async () => undefined,
    };
    const heard: string[] = [];
    const end = await watchQrSession('s-1', { signal: new AbortController().signal, onEvent: (e) => heard.push(e.type), transport });
    expect(end).toEqual({ type: 'paid', orderId: 'o-1', paidAtMs: 4 });
    expect(heard).toEqual(['ready', 'scanned', 'paid']);
    expect(asked).toEqual([{}, { 'last-event-id': '1' }]);
  });

  it('gives up on a refusal, and keeps trying through network failures', async () => {
    let calls = 0;
    const transport: QrStreamTransport = {
      openStream: async () => {
        calls += 1;
        if (calls < 3) throw new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'offline' });
        throw new ApiError({ status: 404, code: 'QR_SESSION_NOT_FOUND', title: 'No such QR payment' });
      },
      sleep: async () => undefined,
    };
    await expect(watchQrSession('s-1', { signal: new AbortController().signal, onEvent: () => undefined, transport })).rejects.toMatchObject({ code: 'QR_SESSION_NOT_FOUND' });
    expect(calls).toBe(3);
  });

  it('reads only events whose data names the type of their event line', () => {
    expect(parseQrEvent('paid', JSON.stringify({ type: 'paid', orderId: 'o', paidAtMs: 1 }))).toMatchObject({ type: 'paid' });
    expect(parseQrEvent('paid', JSON.stringify({ type: 'cancelled', atMs: 1, by: 'pc' }))).toBeUndefined();
    expect(parseQrEvent('code', JSON.stringify({ type: 'code' }))).toBeUndefined();
    expect(parseQrEvent('paid', 'not json')).toBeUndefined();
  });
});
