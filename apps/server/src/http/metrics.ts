/**
 * Request metrics in a registry of the app's own (tests build many apps in one process),
 * and the `/metrics` route, which is never open to anyone who can reach the API: it is
 * served on the main listener only to a scraper presenting METRICS_TOKEN, and on a
 * listener of its own at METRICS_ADDRESS (an address the operator chose, e.g. loopback
 * or a monitoring network). With neither configured it is not served at all. Metrics
 * name routes, counts and timings an attacker should not get for free.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Type } from '@sinclair/typebox';
import { AppError } from '@coconutpay/core/errors';
import { installProblemHandlers } from './problem.js';

export function installMetrics(app: FastifyInstance): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'coconutpay_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'coconutpay_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, not the URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });
  return registry;
}

/** Whether an Authorization header carries `Bearer <token>`, compared in constant time. */
export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header ?? '');
  // Digests first: equal lengths for timingSafeEqual, and the token's length is not revealed.
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

/**
 * Adds `GET /metrics` to `app`; with a `token`, only requests presenting it as a bearer
 * token are answered (others get METRICS_TOKEN_INVALID).
 */
export function serveMetrics(app: FastifyInstance, registry: Registry, options: { token: string | undefined }): void {
  const { token } = options;
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format); needs the metrics bearer token when one is configured',
        response: { 200: Type.String({ description: 'text/plain; version=0.0.4' }) },
      },
      onRequest: async (request) => {
        if (token !== undefined && !bearerTokenMatches(request.headers.authorization, token)) throw new AppError('METRICS_TOKEN_INVALID');
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}

/**
 * The listener of its own for METRICS_ADDRESS: only `/metrics` (and the token check, when
 * a token is configured), nothing of the API. `main.ts` calls its `listen`.
 */
export function buildMetricsApp(registry: Registry, options: { token: string | undefined; logger: boolean }): FastifyInstance {
  const metricsApp = Fastify({ logger: options.logger }) as unknown as FastifyInstance;
  installProblemHandlers(metricsApp);
  serveMetrics(metricsApp, registry, options);
  return metricsApp;
}
