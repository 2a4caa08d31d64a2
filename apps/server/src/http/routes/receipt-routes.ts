/**
 * Receipts (docs/receipts.md): the seller's draft and issuing, the order's receipts for
 * its buyer and seller (with a live event when one is issued), the file, and the public
 * checks — a file anyone uploads, or a receipt by its link.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@coconutpay/core/errors';
import { RECEIPT_CHECKS, receiptContentBytes } from '@coconutpay/core/receipt';
import type { ReceiptIssuedEvent, ReceiptsService, ReceiptView } from '../../services/receipts.js';
import type { EventHub } from '../../services/event-hub.js';
import { eventStreams } from '../event-stream.js';
import { actorOf } from '../authenticate.js';
import { IdParams, responses } from '../schemas.js';

const CmsBase64 = Type.String({ minLength: 10, maxLength: 1_400_000, pattern: '^[A-Za-z0-9+/=\\s]+$', description: 'DER CMS SignedData, base64' });
const DraftQuery = Type.Object({ reissue: Type.Optional(Type.Boolean({ description: 'Draft a re-issue that replaces the current receipt' })) }, { additionalProperties: false });
const IssueBody = Type.Object({ cmsBase64: CmsBase64 }, { additionalProperties: false });
const VerifyBody = Type.Object({ cmsBase64: CmsBase64 }, { additionalProperties: false });
const LinkParams = Type.Object({ linkId: Type.String({ pattern: '^[A-Za-z0-9_-]{32}$' }) }, { additionalProperties: false });

const Line = Type.Object({ name: Type.String(), unitPriceWon: Type.Integer(), quantity: Type.Integer(), amountWon: Type.Integer() });
const Content = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('coconutpay-receipt'),
  receiptNumber: Type.String(),
  replaces: Type.Union([Type.String(), Type.Null()]),
  orderNumber: Type.String(),
  soldAtMs: Type.Integer(),
  store: Type.Object({
    sellerId: Type.String(), storeName: Type.String(), businessNumber: Type.String(), address: Type.String(), representative: Type.String(), phone: Type.String(),
  }),
  lines: Type.Array(Line),
  totalWon: Type.Integer(),
  currency: Type.Literal('KRW'),
  paymentEvidenceSha256: Type.String(),
});
const Draft = Type.Object({ content: Content, contentBase64Url: Type.String({ description: 'The exact bytes to sign (canonical JSON), base64url' }) });
const Receipt = Type.Object({
  receiptNumber: Type.String(),
  orderId: Type.String(),
  sequence: Type.Integer(),
  replacesReceiptNumber: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
  signatureHex: Type.String({ description: 'The seller’s ECDSA signature r‖s, hex' }),
  signingTimeMs: Type.Integer(),
  createdAtMs: Type.Integer(),
  supersededAtMs: Type.Union([Type.Integer(), Type.Null()]),
  linkId: Type.String({ description: 'The public link’s id: /verify-receipt?link=<linkId>' }),
  content: Content,
});
const ReceiptList = Type.Object({ items: Type.Array(Receipt) });

const CheckName = Type.Union(RECEIPT_CHECKS.map((name) => Type.Literal(name)));
const Status = Type.Union([Type.Literal('good'), Type.Literal('revoked'), Type.Literal('unknown')]);
const Verdict = Type.Object({
  valid: Type.Boolean(),
  reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
  checks: Type.Array(Type.Object({ name: CheckName, outcome: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('skipped')]), codes: Type.Array(Type.String()) })),
  signer: Type.Union([Type.Object({ subject: Type.String(), serialHex: Type.String(), userId: Type.Union([Type.String(), Type.Null()]), kind: Type.String() }), Type.Null()]),
  signingTime: Type.Union([Type.String(), Type.Null()]),
  timeStamp: Type.Union([Type.Object({ time: Type.String(), tsa: Type.String(), serialHex: Type.String() }), Type.Null()]),
  receipt: Type.Union([Content, Type.Null()]),
  signatureHex: Type.Union([Type.String(), Type.Null()]),
  chain: Type.Array(Type.Object({
    subject: Type.String(), serialHex: Type.String(), notBefore: Type.String(), notAfter: Type.String(),
    statusAtSigning: Type.String(), statusNow: Type.String(), revokedAt: Type.Optional(Type.String()),
  })),
  statusNow: Type.Union([
    Type.Object({
      checkedAt: Type.String(), status: Status, revokedAt: Type.Optional(Type.String()), reasonCode: Type.Optional(Type.Integer()),
      revokedAfterTimeStamp: Type.Optional(Type.Boolean()), detail: Type.Optional(Type.String()),
    }),
    Type.Null(),
  ]),
  supersededBy: Type.Union([Type.String(), Type.Null()], { description: 'The receipt that replaced this one, if any' }),
});
const ByLink = Type.Object({ cmsBase64: Type.String(), receiptNumber: Type.String(), verdict: Verdict });

function receiptJson(r: ReceiptView): Static<typeof Receipt> {
  return {
    receiptNumber: r.receiptNumber, orderId: r.orderId, sequence: r.sequence, replacesReceiptNumber: r.replacesReceiptNumber, current: r.supersededAtMs === null,
    signatureHex: r.signatureHex, signingTimeMs: r.signingTimeMs, createdAtMs: r.createdAtMs, supersededAtMs: r.supersededAtMs, linkId: r.linkId, content: r.content,
  };
}

function derOf(base64: string): Uint8Array {
  const der = Buffer.from(base64.replace(/\s/g, ''), 'base64');
  if (der.length === 0) throw new AppError('RECEIPT_INVALID');
  return new Uint8Array(der);
}

/** Registers the receipt routes. */
export function receiptRoutes(app: FastifyInstance, receipts: ReceiptsService, events: EventHub<ReceiptIssuedEvent>): void {
  const openStream = eventStreams(app);

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof DraftQuery> }>(
    '/api/seller/orders/:id/receipt-draft',
    { preValidation: app.authenticate, schema: { tags: ['receipts'], summary: 'The receipt content to sign for one of my paid orders, from the server’s records', params: IdParams, querystring: DraftQuery, response: responses({ 200: Draft }) } },
    async (request) => {
      const content = await receipts.draft(actorOf(request), request.params.id, request.query.reissue === true);
      return { content, contentBase64Url: Buffer.from(receiptContentBytes(content)).toString('base64url') };
    },
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof IssueBody> }>(
    '/api/seller/orders/:id/receipts',
    { preValidation: app.authenticate, schema: { tags: ['receipts'], summary: 'Issue (or re-issue) the receipt of one of my paid orders: the CMS SignedData I signed', params: IdParams, body: IssueBody, response: responses({ 201: Receipt }) } },
    async (request, reply) => reply.code(201).send(receiptJson(await receipts.issue(actorOf(request), request.params.id, derOf(request.body.cmsBase64)))),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/orders/:id/receipts',
    { preValidation: app.authenticate, schema: { tags: ['receipts'], summary: 'The receipts of an order I bought or sold, current first', params: IdParams, response: responses({ 200: ReceiptList }) } },
    async (request) => ({ items: (await receipts.ofOrder(actorOf(request), request.params.id)).map(receiptJson) }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/orders/:id/receipt.p7s',
    { preValidation: app.authenticate, schema: { tags: ['receipts'], summary: 'The current receipt of an order: CMS SignedData, DER', params: IdParams, response: responses({ 200: Type.Unsafe({ type: 'string', format: 'binary' }) }) } },
    async (request, reply) => {
      const { der, receiptNumber } = await receipts.file(actorOf(request), request.params.id);
      return reply.type('application/pkcs7-signature').header('content-disposition', `attachment; filename="${receiptNumber}.p7s"`).header('cache-control', 'no-store').send(der);
    },
  );

  app.get(
    '/api/receipts/events',
    { preValidation: app.authenticate, schema: { tags: ['receipts'], summary: 'Server-sent events for a buyer’s open order page: `ready`, then `receipt` for each receipt issued for one of my orders', response: responses({ 200: Type.String({ description: 'text/event-stream' }) }) } },
    async (request, reply) => {
      const actor = actorOf(request);
      const stream = openStream(request, reply);
      stream.send('ready', {});
      stream.onFinish(events.subscribe(actor.userId, (event) => stream.send('receipt', event)));
    },
  );

  app.post<{ Body: Static<typeof VerifyBody> }>(
    '/api/receipts/verify',
    { config: { rateLimitPolicy: 'evidenceVerification' }, schema: { tags: ['receipts'], summary: 'Anyone: check a receipt file against our root, its status now and our records', body: VerifyBody, response: responses({ 200: Verdict }) } },
    async (request) => receipts.verifyFile(derOf(request.body.cmsBase64)),
  );

  app.get<{ Params: Static<typeof LinkParams> }>(
    '/api/receipts/links/:linkId',
    { config: { rateLimitPolicy: 'evidenceVerification' }, schema: { tags: ['receipts'], summary: 'Anyone holding the link: the receipt file and its verdict', params: LinkParams, response: responses({ 200: ByLink }) } },
    async (request) => receipts.byLink(request.params.linkId),
  );
}
