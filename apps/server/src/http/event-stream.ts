/**
 * Server-sent event streams (the HTML standard's `text/event-stream`) on a hijacked reply:
 * the headers that keep proxies from buffering, a heartbeat comment so idle connections
 * stay open, and one `finish` that ends the stream whichever side goes first — the
 * client, the stream's own logic, or the server closing.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** How often an open event stream gets a comment line, so proxies keep it open. */
export const HEARTBEAT_MS = 15_000;

export interface EventStream {
  /** Sends one event; `id` becomes the stream's last event id, which a reconnecting client sends back as `Last-Event-ID`. */
  send(event: string, data: unknown, id?: number): void;
  /** Ends the stream (once); later calls do nothing. */
  finish(): void;
  /** Runs `cleanup` when the stream ends, for whatever reason. */
  onFinish(cleanup: () => void): void;
}

/**
 * Makes the set of open streams of one group of routes end when the server closes, or
 * `close()` would wait for them. Returns the opener for those routes.
 */
export function eventStreams(app: FastifyInstance): (request: FastifyRequest, reply: FastifyReply) => EventStream {
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const finish of [...open]) finish();
  });
  return (request, reply) => {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Proxies must pass events through at once.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    const cleanups: (() => void)[] = [];
    let closed = false;
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const finish = () => {
      if (closed) return;
      closed = true;
      open.delete(finish);
      clearInterval(heartbeat);
      for (const cleanup of cleanups) cleanup();
      raw.end();
    };
    open.add(finish);
    request.raw.on('close', finish);
    reply.raw.on('close', finish);
    // A client that left while the route was still awaiting (its checks before opening the
    // stream) sent its 'close' before anyone listened: end at once rather than hold timers.
    if (request.raw.destroyed || reply.raw.destroyed) queueMicrotask(finish);
    return {
      send: (event, data, id) => {
        if (!closed) raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      },
      finish,
      onFinish: (cleanup) => {
        if (closed) cleanup();
        else cleanups.push(cleanup);
      },
    };
  };
}
