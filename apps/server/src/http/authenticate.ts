/**
 * Authentication as a route hook. Runs after the body is read (the proof covers
 * it) and before the schema check, so an unauthenticated caller learns nothing
 * about the shape a protected route expects.
 */
import type { FastifyInstance, FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import { AppError } from '@coconutpay/core/errors';
import type { Actor } from '../services/actor.js';
import type { RequestAuthenticator } from '../services/request-authenticator.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyInstance {
    /** Requires a valid dual-token proof. */
    authenticate: preValidationAsyncHookHandler;
    /** Authenticates when authentication headers are present; anonymous otherwise. */
    authenticateOptional: preValidationAsyncHookHandler;
  }
}

/** The actor of an authenticated request (the hook guarantees one). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new AppError('AUTH_REQUIRED');
  return request.actor;
}

export function installAuthentication(app: FastifyInstance, authenticator: RequestAuthenticator): void {
  app.decorateRequest('actor', null);
  // The hook itself, not a wrapper around it: one promise per request, not two.
  const authenticate = async function (request: FastifyRequest) {
    request.actor = await authenticator.authenticate({
      method: request.method,
      url: request.url,
      headers: request.headers,
      // Node's Buffer is a Uint8Array over an ArrayBuffer; only its static type is wider.
      rawBody: request.rawBody as Uint8Array<ArrayBuffer> | undefined,
    });
  };
  app.decorate('authenticate', authenticate as preValidationAsyncHookHandler);
  app.decorate('authenticateOptional', async function (request: FastifyRequest) {
    if (request.headers.authorization !== undefined) await authenticate(request);
  } as preValidationAsyncHookHandler);
}
