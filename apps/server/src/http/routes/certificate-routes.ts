/** The certificate center: issue the master certificate, list, revoke, test. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { CertificatesService } from '../../services/certificates.js';
import { actorOf } from '../authenticate.js';
import { IdParams, responses } from '../schemas.js';

const CertificateInfo = Type.Object(
  {
    id: Type.String(),
    serialHex: Type.String(),
    kind: Type.Union([Type.Literal('master'), Type.Literal('additional')]),
    subject: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]),
    notBeforeMs: Type.Integer(),
    notAfterMs: Type.Integer(),
    revokedAtMs: Type.Union([Type.Integer(), Type.Null()]),
    revocationReason: Type.Union([Type.String(), Type.Null()]),
    deviceNickname: Type.Union([Type.String(), Type.Null()]),
    spkiSha256Hex: Type.String(),
    lastUsedAtMs: Type.Union([Type.Integer(), Type.Null()]),
    createdAtMs: Type.Integer(),
  },
  { $id: 'CertificateInfo' },
);
const Issued = Type.Object({ certificate: Type.Ref(CertificateInfo), certificatePem: Type.String(), chainPem: Type.String() });
const IssueMasterBody = Type.Object(
  {
    csrPem: Type.String({ minLength: 100, maxLength: 8192, description: 'PKCS#10 request in PEM, signed by the new key' }),
    replace: Type.Optional(Type.Boolean({ description: 'Re-issue after a loss: revokes the current master and the certificates it approved' })),
  },
  { additionalProperties: false },
);
const RevokeBody = Type.Object(
  { reason: Type.Union([Type.Literal('keyCompromise'), Type.Literal('superseded'), Type.Literal('cessationOfOperation')]) },
  { additionalProperties: false },
);
const ProofBody = Type.Object(
  { challengeId: Type.String({ format: 'uuid' }), signature: Type.String({ pattern: '^[A-Za-z0-9_-]{40,200}$', description: 'base64url IEEE P1363 ECDSA-SHA256' }) },
  { additionalProperties: false },
);

/** Schemas the app registers for `$ref`. */
export const certificateSchemas = [CertificateInfo];

export function certificateRoutes(app: FastifyInstance, certificates: CertificatesService): void {
  app.post<{ Body: Static<typeof IssueMasterBody> }>(
    '/api/certificates/master',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'Issue my master certificate from a CSR made on this device', body: IssueMasterBody, response: responses({ 201: Issued }) } },
    async (request, reply) => reply.code(201).send(await certificates.issueMaster(actorOf(request), request.body.csrPem, request.body.replace === true)),
  );

  app.get(
    '/api/certificates',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'My certificates', response: responses({ 200: Type.Object({ items: Type.Array(Type.Ref(CertificateInfo)) }) }) } },
    async (request) => ({ items: await certificates.list(actorOf(request)) }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/certificates/:id',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'One of my certificates with its chain', params: IdParams, response: responses({ 200: Issued }) } },
    async (request) => certificates.get(actorOf(request), request.params.id),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof RevokeBody> }>(
    '/api/certificates/:id/revoke',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'Revoke one of my certificates', params: IdParams, body: RevokeBody, response: responses({ 200: Type.Ref(CertificateInfo) }) } },
    async (request) => certificates.revoke(actorOf(request), request.params.id, request.body.reason),
  );

  app.post(
    '/api/certificates/challenge',
    {
      preValidation: app.authenticate,
      schema: { tags: ['certificates'], summary: 'A one-time challenge for testing a certificate', response: responses({ 200: Type.Object({ challengeId: Type.String(), challenge: Type.String(), expiresAtMs: Type.Integer() }) }) },
    },
    async (request) => certificates.challenge(actorOf(request)),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ProofBody> }>(
    '/api/certificates/:id/proof',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['certificates'],
        summary: 'Check a signature over the challenge: `coconutpay-certificate-test\\n<challengeId>\\n<challenge>`',
        params: IdParams,
        body: ProofBody,
        response: responses({ 200: Type.Object({ valid: Type.Literal(true), checkedAtMs: Type.Integer() }) }),
      },
    },
    async (request) => certificates.proof(actorOf(request), request.params.id, request.body.challengeId, request.body.signature),
  );
}
