/** The certificate center: issue the master certificate, list, revoke, test. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { CertificatesService } from '../../services/certificates.js';
import type { DecisionHub, DeviceCertificatesService, RequestOrigin } from '../../services/device-certificates.js';
import { eventStreams } from '../event-stream.js';
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
    // Lets a device whose additional certificate was revoked tell "your master was revoked or replaced" apart from "this device was revoked".
    approvedByCertificateId: Type.Union([Type.String(), Type.Null()], { description: 'For an additional certificate: the master certificate that approved it' }),
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
const Signature = Type.String({ pattern: '^[A-Za-z0-9_-]{40,200}$', description: 'base64url IEEE P1363 ECDSA-SHA256 by the master key' });
const RevokeBody = Type.Object(
  {
    reason: Type.Union([Type.Literal('keyCompromise'), Type.Literal('superseded'), Type.Literal('cessationOfOperation')]),
    masterProof: Type.Optional(
      Type.Object(
        { masterCertificateId: Type.String({ format: 'uuid' }), challengeId: Type.String({ format: 'uuid' }), signature: Signature },
        { additionalProperties: false, description: 'Required for an additional certificate: the master key signs the revocation text (docs/pki.md)' },
      ),
    ),
  },
  { additionalProperties: false },
);
const DeviceRequestBody = Type.Object(
  {
    nickname: Type.String({ minLength: 1, maxLength: 40, description: 'Device nickname, unique among my devices' }),
    csrPem: Type.String({ minLength: 100, maxLength: 8192, description: 'PKCS#10 request in PEM, signed by the new device key' }),
  },
  { additionalProperties: false },
);
const ApproveBody = Type.Object({ masterCertificateId: Type.String({ format: 'uuid' }), signature: Signature }, { additionalProperties: false });
const RequestState = Type.Object({
  id: Type.String(),
  nickname: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected'), Type.Literal('expired')]),
  code: Type.String({ description: 'The 6-digit code both screens show' }),
  serverNonce: Type.String(),
  expiresAtMs: Type.Integer(),
  issued: Type.Union([Issued, Type.Null()]),
});
const PendingRequest = Type.Object({
  id: Type.String(),
  nickname: Type.String(),
  code: Type.String(),
  spkiBase64: Type.String({ description: "The new device's public key (SPKI DER, base64): the master device recomputes the code from it" }),
  spkiSha256Hex: Type.String(),
  serverNonce: Type.String(),
  createdAtMs: Type.Integer(),
  expiresAtMs: Type.Integer(),
  requestedFrom: Type.Union([Type.String(), Type.Null()]),
  requestedAgent: Type.Union([Type.String(), Type.Null()]),
});
const HistoryEvent = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  certificateId: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  nickname: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  atMs: Type.Integer(),
});

const ProofBody = Type.Object(
  { challengeId: Type.String({ format: 'uuid' }), signature: Type.String({ pattern: '^[A-Za-z0-9_-]{40,200}$', description: 'base64url IEEE P1363 ECDSA-SHA256' }) },
  { additionalProperties: false },
);

/** Schemas the app registers for `$ref`. */
export const certificateSchemas = [CertificateInfo];

function originOf(request: FastifyRequest): RequestOrigin {
  const agent = request.headers['user-agent'];
  return { ip: request.ip ?? null, userAgent: typeof agent === 'string' ? agent : null };
}

export function certificateRoutes(app: FastifyInstance, certificates: CertificatesService, devices: DeviceCertificatesService, hub: DecisionHub): void {
  const openStream = eventStreams(app);

  app.post<{ Body: Static<typeof IssueMasterBody> }>(
    '/api/certificates/master',
    { preValidation: app.authenticate, config: { rateLimitPolicy: 'csrSubmission' }, schema: { tags: ['certificates'], summary: 'Issue my master certificate from a CSR made on this device', body: IssueMasterBody, response: responses({ 201: Issued }) } },
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
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['certificates'],
        summary: 'Revoke one of my certificates (a master takes its devices with it; a device needs the master signature)',
        params: IdParams, body: RevokeBody, response: responses({ 200: Type.Ref(CertificateInfo) }),
      },
    },
    async (request) => devices.revoke(actorOf(request), request.params.id, request.body.reason, request.body.masterProof, originOf(request)),
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
    async (request) => devices.proof(actorOf(request), request.params.id, request.body.challengeId, request.body.signature),
  );

  app.post<{ Body: Static<typeof DeviceRequestBody> }>(
    '/api/certificates/requests',
    {
      preValidation: app.authenticate,
      config: { rateLimitPolicy: 'csrSubmission' },
      schema: { tags: ['certificates'], summary: 'From a new device: ask for an additional certificate (approved on the master device)', body: DeviceRequestBody, response: responses({ 201: RequestState }) },
    },
    async (request, reply) => reply.code(201).send(await devices.request(actorOf(request), request.body, originOf(request))),
  );

  app.get(
    '/api/certificates/requests',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'Pending device requests, for the master device', response: responses({ 200: Type.Object({ items: Type.Array(PendingRequest) }) }) } },
    async (request) => ({ items: await devices.pending(actorOf(request)) }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/certificates/requests/:id',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'One device request and, once approved, its certificate', params: IdParams, response: responses({ 200: RequestState }) } },
    async (request) => devices.status(actorOf(request), request.params.id),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/certificates/requests/:id/events',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['certificates'],
        summary: 'Server-sent events for the new device: `state` now, then one `decision` (approved with the certificate, rejected or expired)',
        params: IdParams,
        response: responses({ 200: Type.String({ description: 'text/event-stream' }) }),
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const initial = await devices.status(actor, request.params.id);
      const stream = openStream(request, reply);
      stream.send('state', initial);
      if (initial.status !== 'pending') {
        stream.send('decision', initial);
        stream.finish();
        return;
      }
      stream.onFinish(hub.subscribe(initial.id, (state) => {
        if (state.status === 'pending') return;
        stream.send('decision', state);
        stream.finish();
      }));
      // Expiry is pushed too: the stream learns it without asking.
      const expiry = setTimeout(() => {
        devices.expireIfDue(initial.id).catch((error: unknown) => request.log.warn({ err: error }, 'expiring a device request failed'));
      }, Math.max(0, initial.expiresAtMs - Date.now()) + 50);
      stream.onFinish(() => clearTimeout(expiry));
    },
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ApproveBody> }>(
    '/api/certificates/requests/:id/approve',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['certificates'],
        summary: 'On the master device: approve a device request with a master-key signature over the approval text (docs/pki.md)',
        params: IdParams, body: ApproveBody, response: responses({ 200: RequestState }),
      },
    },
    async (request) => devices.approve(actorOf(request), request.params.id, request.body, originOf(request)),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/certificates/requests/:id/reject',
    {
      preValidation: app.authenticate,
      schema: { tags: ['certificates'], summary: 'On the master device: reject a device request', params: IdParams, body: Type.Optional(Type.Object({}, { additionalProperties: false })), response: responses({ 200: RequestState }) },
    },
    async (request) => devices.reject(actorOf(request), request.params.id, originOf(request)),
  );

  app.get(
    '/api/certificates/history',
    { preValidation: app.authenticate, schema: { tags: ['certificates'], summary: 'Which devices were let in or revoked, when, from where', response: responses({ 200: Type.Object({ items: Type.Array(HistoryEvent) }) }) } },
    async (request) => ({ items: await devices.history(actorOf(request)) }),
  );
}
