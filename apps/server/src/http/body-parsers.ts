/**
 * Body parsers that keep the raw bytes: the dual-token proof covers the SHA-256 of
 * the body exactly as sent, so the server must hash what arrived, not a re-encoding.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '@coconutpay/core/errors';
import { IMAGE_SIZE_MAX_BYTES } from '@coconutpay/core/catalogue';
import { duplicateKey } from './duplicate-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes as received, for routes that have a body. */
    rawBody: Buffer | undefined;
  }
}

export function installBodyParsers(app: FastifyInstance, jsonBodyLimitBytes: number): void {
  app.decorateRequest('rawBody', undefined);
  // Fastify's own JSON parser, which also refuses __proto__ and constructor poisoning.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // No route takes plain text; without its parser such a body is refused with 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: jsonBodyLimitBytes }, (request, body, done) => {
    const bytes = body as Buffer;
    request.rawBody = bytes;
    if (bytes.length === 0) return done(new AppError('MALFORMED_JSON', { detail: 'The body is empty.' }), undefined);
    const text = bytes.toString('utf8');
    parseJson(request, text, (error, value) => {
      if (error) return done(new AppError('MALFORMED_JSON', { cause: error }), undefined);
      // A member named twice means two readers could act on two different values of one signed body.
      const repeated = duplicateKey(text);
      if (repeated !== undefined) return done(new AppError('MALFORMED_JSON', { detail: `The member "${repeated.slice(0, 64)}" appears twice in one object.` }), undefined);
      done(null, value);
    });
  });
  // Any image/* is read as bytes; the service decides by its magic number whether it is one we take.
  app.addContentTypeParser(/^image\/[a-z0-9.+-]+$/, { parseAs: 'buffer', bodyLimit: IMAGE_SIZE_MAX_BYTES + 1 }, (request, body, done) => {
    request.rawBody = body as Buffer;
    done(null, body);
  });
}
