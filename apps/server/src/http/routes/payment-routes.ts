/**
 * Direct payment (docs/protocol.md, "Payment authentication"): A's public key,
 * the sealed request, the code picture, the signed authorization; evidence
 * download and public evidence verification.
 */
import type { FastifyInstance } from 'fastify';
import { EVIDENCE_CHECKS } from '@coconutpay/core/payment/evidence';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@coconutpay/core/errors';
import type { IssuedCommand as IssuedCommandRecord, PaymentAuthService, PaymentReceipt, SharedCode } from '../../services/payment-auth.js';
import type { EventHub } from '../../services/event-hub.js';
import { eventStreams } from '../event-stream.js';
import type { CertificateAuthority } from '../../services/pki/certificate-authority.js';
import { actorOf } from '../authenticate.js';
import { IdParams, responses } from '../schemas.js';

const Base64Url = (maxLength: number, description: string) => Type.String({ pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength, description });
const Jwe = Type.String({ pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]*){4}$', minLength: 50, maxLength: 16_384, description: 'JWE compact serialisation' });

const RequestBody = Type.Object(
  { sealedRequest: Jwe, locale: Type.Union([Type.Literal('ko'), Type.Literal('en')]) },
  { additionalProperties: false },
);
const IssuedCommand = Type.Object({ comId: Type.String(), sealedCommand: Type.String(), codeRequired: Type.Boolean(), expiresAtMs: Type.Integer() });
const AuthorizeBody = Type.Object(
  {
    comId: Type.String({ format: 'uuid' }),
    content: Base64Url(65_536, 'canonical JSON of the authorization, base64url'),
    signedAttributes: Base64Url(2_048, 'DER SET of CMS signed attributes, base64url'),
    signature: Base64Url(200, 'DER ECDSA signature over the signed attributes, base64url'),
  },
  { additionalProperties: false },
);
const Receipt = Type.Object({
  orderId: Type.String(),
  orderNumber: Type.String(),
  amountWon: Type.Integer(),
  paidAtMs: Type.Integer(),
  evidenceId: Type.String(),
  signatureHex: Type.String(),
});
const ServerKey = Type.Object({
  agreementKey: Type.Object({ kty: Type.Literal('EC'), crv: Type.Literal('P-256'), x: Type.String(), y: Type.String() }),
  x5c: Type.Array(Type.String(), { description: "A's certificate, then the issuing CA (base64 DER)" }),
});
const VerifyBody = Type.Object(
  {
    cmsBase64: Type.String({ minLength: 10, maxLength: 1_400_000, pattern: '^[A-Za-z0-9+/=\\s]+$' }),
    expectedOrderNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'the order the evidence is claimed to prove' })),
  },
  { additionalProperties: false },
);
const CheckName = Type.Union(EVIDENCE_CHECKS.map((name) => Type.Literal(name)));
const Verdict = Type.Object({
  valid: Type.Boolean(),
  reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
  checks: Type.Array(Type.Object({ name: CheckName, outcome: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('skipped')]), codes: Type.Array(Type.String()) })),
  timeStamp: Type.Union([Type.Object({ time: Type.String(), tsa: Type.String(), serialHex: Type.String() }), Type.Null()]),
  statusNow: Type.Union([
    Type.Object({
      checkedAt: Type.String(),
      status: Type.Union([Type.Literal('good'), Type.Literal('revoked'), Type.Literal('unknown')]),
      revokedAt: Type.Optional(Type.String()),
      reasonCode: Type.Optional(Type.Integer()),
      revokedAfterTimeStamp: Type.Optional(Type.Boolean()),
      detail: Type.Optional(Type.String()),
    }),
    Type.Null(),
  ]),
  signer: Type.Union([Type.Object({ subject: Type.String(), serialHex: Type.String(), kind: Type.String() }), Type.Null()]),
  signingTime: Type.Union([Type.String(), Type.Null()]),
  payment: Type.Union([
    Type.Object({
      comId: Type.String(),
      orderNumber: Type.String(),
      amountWon: Type.Integer(),
      currency: Type.String(),
      payee: Type.Object({ storeName: Type.String(), businessNumber: Type.String() }),
      payer: Type.Object({ loginId: Type.String(), name: Type.String() }),
      items: Type.Array(Type.Object({ name: Type.String(), quantity: Type.Integer(), lineTotalWon: Type.Integer() })),
      issuedAt: Type.String(),
    }),
    Type.Null(),
  ]),
  signatureHex: Type.Union([Type.String(), Type.Null()]),
});

/** Shapes a receipt into its response body (bigint won → JSON integer). */
function receiptJson(receipt: PaymentReceipt): Static<typeof Receipt> {
  return { ...receipt, amountWon: Number(receipt.amountWon) };
}

const CodeRenewal = Type.Object({
  triesLeft: Type.Integer({ minimum: 0, description: "Tries of the code left: a new code costs one, like a wrong one" }),
  expiresAtMs: Type.Integer(),
});

export function paymentRoutes(app: FastifyInstance, payments: PaymentAuthService, ca: CertificateAuthority, codeRelay: EventHub<SharedCode>): void {
  const openStream = eventStreams(app);

  app.get('/api/payments/server-key', { schema: { tags: ['payments'], summary: "A's key agreement key and certificate chain: payment requests are sealed to it", response: responses({ 200: ServerKey }) } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(await payments.serverKey()),
  );

  app.post<{ Body: Static<typeof RequestBody> }>(
    '/api/payments/requests',
    { preValidation: app.authenticate, config: { rateLimitPolicy: 'codeIssuing' }, schema: { tags: ['payments'], summary: 'C → A: the sealed, device-signed payment request; answers with the sealed payment command', body: RequestBody, response: responses({ 201: IssuedCommand }) } },
    async (request, reply) => reply.sendEffect(201, (issued: IssuedCommandRecord) => issued, (effect) => payments.request(actorOf(request), request.body.sealedRequest, request.body.locale, effect)),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/payments/commands/:id/code.png',
    { preValidation: app.authenticate, config: { rateLimitPolicy: 'codeIssuing' }, schema: { tags: ['payments'], summary: 'The verification code of a payment command, as a distorted picture', params: IdParams, response: responses({ 200: Type.Unsafe({ type: 'string', format: 'binary' }) }) } },
    async (request, reply) => reply.type('image/png').header('cache-control', 'no-store').send(await payments.codeImage(actorOf(request), request.params.id)),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/payments/commands/:id/code',
    {
      preValidation: app.authenticate, config: { rateLimitPolicy: 'codeIssuing' },
      schema: { tags: ['payments'], summary: 'A new code and picture for a command that asks for one; costs one of the code\'s tries', params: IdParams, response: responses({ 200: CodeRenewal }) },
    },
    async (request) => {
      const { triesLeft, expiresAtMs } = await payments.renewCode(actorOf(request), request.params.id);
      return { triesLeft, expiresAtMs };
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/payments/commands/:id/code/share',
    {
      preValidation: app.authenticate, config: { rateLimitPolicy: 'codeIssuing' },
      schema: {
        tags: ['payments'],
        summary: "A new code, sent as text to the account's other devices that have the payment-code page open (for those who cannot read the picture); costs one of the code's tries",
        params: IdParams, response: responses({ 200: CodeRenewal }),
      },
    },
    async (request) => payments.shareCode(actorOf(request), request.params.id),
  );

  app.get(
    '/api/payments/shared-codes/events',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['payments'],
        summary: "Server-sent events for the payment-code page: `ready`, then one `code` event for each code another of the account's devices shares",
        response: responses({ 200: Type.String({ description: 'text/event-stream' }) }),
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const stream = openStream(request, reply);
      stream.send('ready', {});
      stream.onFinish(codeRelay.subscribe(actor.userId, (shared) => {
        // The device that asked shows the picture; the code goes only to the others.
        if (shared.fromSessionId === actor.sessionId) return;
        const { fromSessionId: _from, ...event } = shared;
        stream.send('code', event);
      }));
    },
  );

  app.post<{ Body: Static<typeof AuthorizeBody> }>(
    '/api/payments/authorizations',
    { preValidation: app.authenticate, schema: { tags: ['payments'], summary: 'C → A: the device-signed authorization of a payment command (CMS parts); pays once', body: AuthorizeBody, response: responses({ 200: Receipt }) } },
    async (request, reply) => reply.sendEffect(200, receiptJson, (effect) => payments.authorize(actorOf(request), request.body, effect)),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/orders/:id/evidence.p7s',
    { preValidation: app.authenticate, schema: { tags: ['payments'], summary: 'The payment evidence of an order: CMS SignedData, DER', params: IdParams, response: responses({ 200: Type.Unsafe({ type: 'string', format: 'binary' }) }) } },
    async (request, reply) => {
      const { der, orderNumber } = await payments.evidence(actorOf(request), request.params.id);
      return reply.type('application/pkcs7-signature').header('content-disposition', `attachment; filename="${orderNumber}.p7s"`).header('cache-control', 'no-store').send(der);
    },
  );

  app.post<{ Body: Static<typeof VerifyBody> }>(
    '/api/evidence/verify',
    { config: { rateLimitPolicy: 'evidenceVerification' }, schema: { tags: ['payments'], summary: 'Anyone: check a payment evidence file against our root certificate, its status now and our records', body: VerifyBody, response: responses({ 200: Verdict }) } },
    async (request) => {
      const der = Buffer.from(request.body.cmsBase64.replace(/\s/g, ''), 'base64');
      if (der.length === 0) throw new AppError('EVIDENCE_INVALID');
      return payments.verifyEvidenceFile(new Uint8Array(der), request.body.expectedOrderNumber);
    },
  );
}
