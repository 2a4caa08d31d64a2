/**
 * `Idempotency-Key` for every authenticated state-changing API request (POST, PUT,
 * PATCH, DELETE under /api). A retry with the same key gets the stored status and body
 * (marked `idempotent-replayed: true`) without running again; the same key with another
 * method, path or body is `IDEMPOTENCY_KEY_REUSED`; while the first request runs, a
 * second one is `IDEMPOTENCY_REQUEST_IN_PROGRESS`. Keys are scoped per user and kept
 * 24 hours (docs/idempotency.md).
 *
 * The key is claimed after authentication and schema validation (so a refused request
 * spends no key) and before the handler. Routes with an effect (money moved, stock held,
 * a payment command issued) answer through `reply.sendEffect`: their answer is stored
 * inside the effect's own transaction, so it commits with the effect or not at all, and a
 * failure after the commit leaves the stored answer for the retry. Every other answer is
 * stored on its way out: final answers, errors included; answers that may change on a
 * retry (5xx, transient codes) release the key instead. Storing and releasing on the way
 * out act only on a key still in progress, so neither can touch an answer stored with
 * its effect.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AppError, ERRORS, isErrorCode } from '@coconutpay/core/errors';
import type { IdempotencyClaim, StoredResponse } from '../db/idempotency-repository.js';
import type { Db } from '../db/write-transaction.js';
import type { CommitWith, EffectOptions } from '../services/commit-with.js';

/** The request header, as Node presents it (lower case). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** 1 to 128 visible ASCII characters: room for a UUID or a client's own scheme. */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7e]{1,128}$';
const KEY_REGEXP = new RegExp(IDEMPOTENCY_KEY_PATTERN);

/** The response header that marks a replayed answer. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

const STATE_CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A claim held by a request: the key, and the claim's time, which storing and releasing must name. */
interface IdempotencyClaimOfRequest {
  userId: string;
  key: string;
  claimedAtMs: number;
}

/** What Fastify's JSON serializer answers with; stored with the body so a replay carries the same type. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Where claims are kept: the idempotency repository. */
export interface IdempotencyStore {
  claim(userId: string, key: string, requestSha256Hex: string, nowMs: number, ttlMs: number): Promise<IdempotencyClaim>;
  complete(userId: string, key: string, claimedAtMs: number, response: StoredResponse): Promise<void>;
  completeWithin(trx: Db, userId: string, key: string, claimedAtMs: number, response: StoredResponse): Promise<void>;
  release(userId: string, key: string, claimedAtMs: number): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The key this request claimed (and when, which tells its claim from a later one), until its response is stored. */
    idempotencyClaim: IdempotencyClaimOfRequest | null;
  }
  interface FastifyReply {
    /**
     * Answers `status` with `map(result)` for a use case with an effect. `run` calls the
     * use case with the options to pass on: when the request claimed an `Idempotency-Key`,
     * they hold a `commitWith` that stores this very answer (serialized by the route's
     * response schema) in the effect's transaction. Errors propagate as from any handler.
     *
     * @example
     * async (request, reply) => reply.sendEffect(201, orderJson, (effect) => orders.create(actorOf(request), input, effect))
     */
    sendEffect<T>(status: number, map: (result: T) => unknown, run: (effect: EffectOptions<T>) => Promise<T>): Promise<FastifyReply>;
  }
}

/**
 * SHA-256 over method, path with query and the body bytes as received: what makes two
 * requests "the same request" for a key.
 */
export function requestFingerprint(method: string, url: string, body: Uint8Array | undefined): string {
  const hash = createHash('sha256');
  hash.update(`${method.toUpperCase()} ${url}\n`);
  if (body) hash.update(body);
  return hash.digest('hex');
}

/** True when a stored answer would be wrong for a later retry: server errors and transient codes. */
function mayChangeOnRetry(status: number, contentType: string | null, body: string): boolean {
  if (status >= 500) return true;
  if (!contentType?.startsWith('application/problem+json')) return false;
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    return isErrorCode(code) && ERRORS[code].transient;
  } catch {
    return true;
  }
}

function isTextual(contentType: string | null): boolean {
  return contentType === null || /^(application\/(problem\+)?json|text\/)/.test(contentType);
}

function isAuthenticatedRoute(app: FastifyInstance, route: RouteOptions): boolean {
  const hooks = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
  return hooks.includes(app.authenticate);
}

/**
 * Installs the idempotency hooks. Call after `installAuthentication` and before any
 * route is added, so every route gets the header in its schema and documentation.
 */
export function installIdempotency(app: FastifyInstance, store: IdempotencyStore, options: { clock: () => number; ttlMs: number }): void {
  app.decorateRequest('idempotencyClaim', null);

  app.decorateReply('sendEffect', async function sendEffect<T>(this: FastifyReply, status: number, map: (result: T) => unknown, run: (effect: EffectOptions<T>) => Promise<T>): Promise<FastifyReply> {
    const claim = this.request.idempotencyClaim;
    // The route's serializer picks its schema by the reply's status.
    this.code(status);
    if (claim === null) return this.send(map(await run({})));
    const serialize = (result: T): string => {
      const body = this.serialize(map(result));
      if (typeof body !== 'string') throw new TypeError('an effect answers JSON: its serializer must give text');
      return body;
    };
    let stored: string | undefined;
    let storedResult: T | undefined;
    const commitWith: CommitWith<T> = async (trx, result) => {
      const body = serialize(result);
      await store.completeWithin(trx, claim.userId, claim.key, claim.claimedAtMs, { status, contentType: JSON_CONTENT_TYPE, body });
      // A transaction attempt that rolls back may have set them; the attempt that commits sets them last.
      stored = body;
      storedResult = result;
    };
    const result = await run({ commitWith });
    // The very result whose answer was stored is answered with the stored text: serialized once.
    const body = stored !== undefined && result === storedResult ? stored : serialize(result);
    this.type(JSON_CONTENT_TYPE);
    // Stored and committed: the onSend hook has nothing left to do, and the client gets the
    // very bytes a retry will. Otherwise (a use case that ended without storing its answer)
    // the answer is stored on its way out like any other.
    if (body === stored) this.request.idempotencyClaim = null;
    return this.send(body);
  });

  // Documents (and validates) the optional header on the routes it applies to.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!route.url.startsWith('/api/') || !methods.some((m) => STATE_CHANGING_METHODS.has(m)) || !isAuthenticatedRoute(app, route)) return;
    const schema = (route.schema ??= {});
    if (schema.headers !== undefined) return;
    schema.headers = Type.Object({
      [IDEMPOTENCY_KEY_HEADER]: Type.Optional(Type.String({
        pattern: IDEMPOTENCY_KEY_PATTERN,
        description: 'Makes a retry safe: the same key and request within 24 hours returns the stored result instead of running again (docs/idempotency.md).',
      })),
    });
  });

  const claimKey = async (request: FastifyRequest, reply: FastifyReply, key: string | string[]): Promise<void> => {
    if (typeof key !== 'string' || !KEY_REGEXP.test(key)) throw new AppError('VALIDATION_FAILED', { detail: 'Idempotency-Key must be 1 to 128 visible ASCII characters.' });
    const userId = request.actor!.userId;
    const claim = await store.claim(userId, key, requestFingerprint(request.method, request.url, request.rawBody), options.clock(), options.ttlMs);
    switch (claim.state) {
      case 'claimed':
        request.idempotencyClaim = { userId, key, claimedAtMs: claim.claimedAtMs };
        return;
      case 'completed':
        reply.code(claim.status).header(IDEMPOTENT_REPLAYED_HEADER, 'true');
        if (claim.contentType) reply.type(claim.contentType);
        reply.send(claim.body === '' ? undefined : claim.body);
        return;
      case 'in_progress':
        reply.header('retry-after', '1');
        throw new AppError('IDEMPOTENCY_REQUEST_IN_PROGRESS');
      case 'reused':
        throw new AppError('IDEMPOTENCY_KEY_REUSED');
    }
  };

  // Callback hooks that return at once when there is no key or no claim (most requests):
  // an async hook would cost each of them a promise and a turn of the microtask queue.
  // With a key, `done` is called as Fastify calls it for an async hook: after the claim
  // settles, with its error if any (a reply sent by the hook ends the chain there).
  app.addHook('preHandler', (request, reply, done) => {
    if (!STATE_CHANGING_METHODS.has(request.method) || request.actor === null || !request.url.startsWith('/api/')) return done();
    const key = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (key === undefined) return done();
    claimKey(request, reply, key).then(() => done(), (error: Error) => done(error));
  });

  // Answers not stored with an effect. After a failure, `complete` and `release` act only
  // on a key still in progress: for a route that answers through `sendEffect` that means its
  // effect did not commit, so the retry may run; a committed answer stays for the retry.
  const storeAnswer = async (request: FastifyRequest, reply: FastifyReply, claim: IdempotencyClaimOfRequest, payload: unknown): Promise<void> => {
    const status = reply.statusCode;
    const header = reply.getHeader('content-type');
    const contentType = typeof header === 'string' ? header : null;
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) && isTextual(contentType) ? payload.toString('utf8') : payload == null ? '' : undefined;
    try {
      if (body === undefined || mayChangeOnRetry(status, contentType, body)) await store.release(claim.userId, claim.key, claim.claimedAtMs);
      else await store.complete(claim.userId, claim.key, claim.claimedAtMs, { status, contentType, body });
    } catch (error) {
      // The key then stays claimed until it expires: a retry is told "in progress" rather
      // than running the request a second time.
      request.log.error({ err: error }, 'idempotency result not stored');
    }
  };
  app.addHook('onSend', (request: FastifyRequest, reply, payload, done) => {
    const claim = request.idempotencyClaim;
    if (!claim) return done(null, payload);
    request.idempotencyClaim = null;
    // storeAnswer catches the store's failures: the answer leaves either way.
    storeAnswer(request, reply, claim, payload).then(() => done(null, payload), (error: Error) => done(error));
  });
}
