/**
 * Rate limits per client address, with @fastify/rate-limit: counted in Redis when the
 * app has one (so every instance behind a load balancer shares each count), in this
 * process otherwise (a bounded LRU map).
 *
 * Each route of a kind that invites abuse names its policy in its config
 * (`config: { rateLimitPolicy: 'login' }`); every other route that does not require a
 * session gets the `public` policy without saying so, so a new unauthenticated route
 * cannot be left unlimited by accident. Each route keeps its own count per address.
 * Refusals are CLIENT_REQUEST_RATE_EXCEEDED problems with Retry-After.
 *
 * These limits sit in front of, not instead of, the login throttles (per login id and
 * per address, in the database) and the replay cache's per-session share.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { AppError } from '@coconutpay/core/errors';
import type { Config, RateLimitPolicy } from '../config.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The rate limit this route answers to; unauthenticated routes without one get `public`. */
    rateLimitPolicy?: RateLimitPolicy;
  }
}

/** Most addresses the in-process store remembers; the least recently seen leave first. */
export const RATE_LIMIT_ADDRESSES_MAX = 100_000;

/** Whether a route runs the session check (`app.authenticate`) before its handler. */
function requiresSession(app: FastifyInstance, route: RouteOptions): boolean {
  const hooks = route.preValidation;
  return Array.isArray(hooks) ? hooks.includes(app.authenticate) : hooks === app.authenticate;
}

/**
 * Installs the limits. Call before any route is added: routes added earlier are not
 * limited. `redis` is the shared store, or undefined for the in-process one.
 */
export async function installRateLimits(
  app: FastifyInstance,
  config: Pick<Config, 'rateLimits' | 'rateLimitWindowMs' | 'rateLimitRedisPrefix'>,
  redis: Redis | undefined,
): Promise<void> {
  const { rateLimits, rateLimitWindowMs } = config;
  for (const [policy, max] of Object.entries(rateLimits)) {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`rate limit ${policy} must be a positive integer`);
  }
  // Runs before the plugin's own onRoute hook (added when it registers below), which reads `config.rateLimit`.
  app.addHook('onRoute', (route) => {
    const policy = route.config?.rateLimitPolicy ?? (requiresSession(app, route) ? undefined : 'public');
    if (policy === undefined) return;
    route.config = { ...route.config, rateLimit: { max: rateLimits[policy], timeWindow: rateLimitWindowMs } };
  });
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { redis, nameSpace: config.rateLimitRedisPrefix } : { cache: RATE_LIMIT_ADDRESSES_MAX }),
    // A Redis outage must not take logins and the PKI down with it: the limits are a
    // first line, and the database's login throttles still hold without them.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new AppError('CLIENT_REQUEST_RATE_EXCEEDED', { detail: `Try again in ${context.after}.` }),
  });
}
