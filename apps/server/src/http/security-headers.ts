/**
 * Security headers (helmet) computed once. `@fastify/helmet` runs `helmet(options)`
 * anew on every request — building each middleware and parsing the Content-Security-
 * Policy every time, some 30 µs per request — although with our options the headers
 * never change. So the plugin answers one request on a probe instance at start, and
 * one hook sets exactly those headers on every reply. The plugin stays the source of
 * truth for what the headers are.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';

/** Headers Fastify itself writes, not helmet. */
const FASTIFY_OWN = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/** The headers `@fastify/helmet` sends with these options. */
export async function staticSecurityHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  try {
    await probe.register(helmet, options);
    probe.get('/', async () => '');
    const response = await probe.inject({ method: 'GET', url: '/' });
    return Object.fromEntries(
      Object.entries(response.headers)
        .filter(([name, value]) => !FASTIFY_OWN.has(name) && typeof value === 'string')
        .map(([name, value]) => [name, value as string]),
    );
  } finally {
    await probe.close();
  }
}

/** Sets the security headers on every reply (errors and not-found answers included). */
export async function installSecurityHeaders(app: FastifyInstance, options: FastifyHelmetOptions): Promise<void> {
  const headers = await staticSecurityHeaders(options);
  if (!headers['content-security-policy']) throw new Error('helmet sent no Content-Security-Policy');
  // A callback hook, not an async one: nothing here waits, and an async hook costs every
  // request a promise and a turn of the microtask queue.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
