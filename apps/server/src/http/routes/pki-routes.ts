/**
 * Public PKI endpoints: the CA chain, CA certificates, CRLs, the OCSP responder and
 * the time-stamp authority. Anyone may use these: they are what lets a third party
 * check our certificates and evidence.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@coconutpay/core/errors';
import { TIME_STAMP_REQUEST_LENGTH_MAX } from '@coconutpay/core/pki/time-stamp';
import type { CertificateAuthority } from '../../services/pki/certificate-authority.js';
import type { CrlPublisher } from '../../services/pki/crl-publisher.js';
import type { OcspResponder } from '../../services/pki/ocsp-responder.js';
import type { TimeStampAuthority } from '../../services/pki/time-stamp-authority.js';
import { RawBytesBody, responses } from '../schemas.js';

const Binary = (description: string) => Type.Unsafe({ type: 'string', format: 'binary', description });
const CrlParams = Type.Object({ file: Type.String({ pattern: '^[0-9a-f]{16}\\.crl$' }) }, { additionalProperties: false });
const CaParams = Type.Object({ file: Type.String({ pattern: '^[0-9a-f]{16}\\.cer$' }) }, { additionalProperties: false });
const OcspGetParams = Type.Object({ request: Type.String({ minLength: 4, maxLength: 2048 }) }, { additionalProperties: false });

/** The media type of an RFC 3161 query (§3.4); replies are `application/timestamp-reply`. */
const TIME_STAMP_QUERY = 'application/timestamp-query';

export function pkiRoutes(app: FastifyInstance, ca: CertificateAuthority, crls: CrlPublisher, ocsp: OcspResponder, tsa: TimeStampAuthority): void {
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: 16 * 1024 }, (request, body, done) => {
    request.rawBody = body as Buffer;
    done(null, body);
  });
  app.addContentTypeParser(TIME_STAMP_QUERY, { parseAs: 'buffer', bodyLimit: TIME_STAMP_REQUEST_LENGTH_MAX }, (request, body, done) => {
    request.rawBody = body as Buffer;
    done(null, body);
  });

  app.get('/pki/ca.pem', { schema: { tags: ['pki'], summary: 'The CA chain in PEM: issuing CA, then root', response: responses({ 200: Type.String() }) } }, async (_request, reply) =>
    reply.type('application/pem-certificate-chain').header('cache-control', 'public, max-age=3600').send(ca.chainPem()),
  );

  app.get('/pki/root.pem', { schema: { tags: ['pki'], summary: 'The root certificate alone, PEM: the trust anchor a verifier keeps (its SHA-256 fingerprint in x-certificate-sha256)', response: responses({ 200: Type.String() }) } }, async (_request, reply) =>
    reply
      .type('application/x-pem-file')
      .header('cache-control', 'public, max-age=3600')
      .header('x-certificate-sha256', createHash('sha256').update(Buffer.from(ca.root.certificate.rawData)).digest('hex'))
      .send(ca.root.certificate.toString('pem')),
  );

  app.get<{ Params: Static<typeof CaParams> }>(
    '/pki/ca/:file',
    { schema: { tags: ['pki'], summary: 'One CA certificate, DER (the caIssuers URL of our certificates)', params: CaParams, response: responses({ 200: Binary('DER certificate') }) } },
    async (request, reply) => {
      const issuer = ca.issuer(request.params.file.slice(0, 16));
      if (!issuer) throw new AppError('ISSUER_NOT_FOUND');
      return reply.type('application/pkix-cert').header('cache-control', 'public, max-age=3600').send(Buffer.from(issuer.certificate.rawData));
    },
  );

  app.get<{ Params: Static<typeof CrlParams> }>(
    '/pki/crl/:file',
    { schema: { tags: ['pki'], summary: 'The current CRL of an issuer, DER', params: CrlParams, response: responses({ 200: Binary('DER CRL') }) } },
    async (request, reply) => {
      const issuer = ca.issuer(request.params.file.slice(0, 16));
      if (!issuer) throw new AppError('ISSUER_NOT_FOUND');
      const der = await crls.current(issuer);
      return reply.type('application/pkix-crl').header('cache-control', 'public, max-age=60').send(Buffer.from(der));
    },
  );

  app.post(
    '/pki/ocsp',
    { schema: { tags: ['pki'], summary: 'OCSP (RFC 6960), DER request in the body', consumes: ['application/ocsp-request'], body: RawBytesBody, response: responses({ 200: Binary('DER OCSPResponse') }) } },
    async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      return reply.type('application/ocsp-response').header('cache-control', 'no-store').send(Buffer.from(await ocsp.respond(new Uint8Array(body))));
    },
  );

  app.post(
    '/pki/tsa',
    {
      schema: {
        tags: ['pki'],
        summary: 'Time-stamp authority (RFC 3161 §3.4): DER TimeStampReq in, DER TimeStampResp out; refusals are PKIStatus rejections',
        consumes: [TIME_STAMP_QUERY],
        body: RawBytesBody,
        response: responses({ 200: Binary('DER TimeStampResp') }),
      },
      // Before any parser runs: a JSON or form body must not be parsed (or refused as bad JSON) here.
      onRequest: async (request) => {
        const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (mediaType !== TIME_STAMP_QUERY) throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: `Send the DER TimeStampReq as ${TIME_STAMP_QUERY}.` });
      },
    },
    async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      return reply.type('application/timestamp-reply').header('cache-control', 'no-store').send(Buffer.from(await tsa.respond(new Uint8Array(body))));
    },
  );

  app.get<{ Params: Static<typeof OcspGetParams> }>(
    '/pki/ocsp/:request',
    { schema: { tags: ['pki'], summary: 'OCSP (RFC 6960 appendix A.1): base64 DER request in the path', params: OcspGetParams, response: responses({ 200: Binary('DER OCSPResponse') }) } },
    async (request, reply) => {
      let text: string;
      try {
        // Clients differ in how much of the base64 they percent-encode; what the router left encoded is decoded here.
        text = decodeURIComponent(request.params.request);
      } catch (cause) {
        throw new AppError('OCSP_REQUEST_MALFORMED', { detail: 'The request in the path is not valid percent-encoding.', cause });
      }
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new AppError('OCSP_REQUEST_MALFORMED');
      const der = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      return reply.type('application/ocsp-response').header('cache-control', 'public, max-age=60').send(Buffer.from(await ocsp.respond(new Uint8Array(der))));
    },
  );
}
