/**
 * QR payment (docs/protocol.md, "QR payment"): the PC opens a session for an order and
 * watches it by server-sent events; the phone takes it by token or numeric code and then
 * pays through the ordinary payment routes; either may cancel. And the order's history.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { QR_EVENT_IDS, QR_NUMERIC_CODE_LENGTH, type QrSessionEvent } from '@coconutpay/core/payment/qr';
import type { EventHub } from '../../services/event-hub.js';
import type { NumberedQrEvent, QrPaymentService } from '../../services/qr-payments.js';
import { actorOf } from '../authenticate.js';
import { eventStreams } from '../event-stream.js';
import { IdParams, responses } from '../schemas.js';

const OpenBody = Type.Object({ locale: Type.Union([Type.Literal('ko'), Type.Literal('en')]) }, { additionalProperties: false });
const Opened = Type.Object({
  id: Type.String(),
  orderId: Type.String(),
  url: Type.String({ description: 'The link the QR code holds; the token is in its fragment, so it never reaches a server log' }),
  qrSvg: Type.String({ description: 'The QR code of `url`, an SVG document' }),
  confirmationCode: Type.String({ description: 'Shown on both screens; the phone shows it from the signed payment command' }),
  numericCode: Type.String({ description: 'For a phone without a camera: typed instead of scanning; single-use, this account only, five tries' }),
  expiresAtMs: Type.Integer(),
});
const ClaimBody = Type.Union([
  Type.Object({ token: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  Type.Object({ numericCode: Type.String({ minLength: 1, maxLength: 16, description: `${QR_NUMERIC_CODE_LENGTH} digits` }) }, { additionalProperties: false }),
]);
const Claimed = Type.Object({ id: Type.String(), orderId: Type.String(), orderNumber: Type.String(), expiresAtMs: Type.Integer() });
const HistoryEntry = Type.Object({ atMs: Type.Integer(), kind: Type.String(), qrSessionId: Type.Union([Type.String(), Type.Null()]), detail: Type.Union([Type.String(), Type.Null()]) });

/** The last event id a reconnecting client saw (`Last-Event-ID`), 0 when none or unreadable. */
function lastEventIdOf(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? header[0] : header;
  const n = value !== undefined && /^[0-3]$/.test(value.trim()) ? Number(value.trim()) : 0;
  return n;
}

export function qrRoutes(app: FastifyInstance, qr: QrPaymentService, hub: EventHub<QrSessionEvent>): void {
  const openStream = eventStreams(app);

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof OpenBody> }>(
    '/api/orders/:id/qr-sessions',
    {
      preValidation: app.authenticate, config: { rateLimitPolicy: 'codeIssuing' },
      schema: { tags: ['qr-payments'], summary: 'PC: a QR code for paying this order with a phone (a new one replaces the one shown before)', params: IdParams, body: OpenBody, response: responses({ 201: Opened }) },
    },
    async (request, reply) => {
      const opened = await qr.open(actorOf(request), request.params.id, request.body.locale);
      return reply.code(201).header('cache-control', 'no-store').send(opened);
    },
  );

  app.post<{ Body: Static<typeof ClaimBody> }>(
    '/api/qr-sessions/claim',
    {
      preValidation: app.authenticate, config: { rateLimitPolicy: 'codeIssuing' },
      schema: { tags: ['qr-payments'], summary: 'Phone: take a QR payment by its token (from the scanned link) or by the numeric code', body: ClaimBody, response: responses({ 200: Claimed }) },
    },
    async (request) => qr.claim(actorOf(request), request.body),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/qr-sessions/:id/cancel',
    { preValidation: app.authenticate, schema: { tags: ['qr-payments'], summary: 'PC or phone: end a QR payment; the other screen is told at once', params: IdParams, response: responses({ 204: Type.Null() }) } },
    async (request, reply) => {
      await qr.cancel(actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/qr-sessions/:id/events',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['qr-payments'],
        summary: 'Server-sent events of a QR payment: `ready` (id 1), `scanned` (2), then one of `paid`, `expired`, `cancelled` (3), after which the stream ends. Send `Last-Event-ID` to resume',
        params: IdParams, response: responses({ 200: Type.String({ description: 'text/event-stream' }) }),
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const id = request.params.id;
      await qr.watch(actor, id);
      let sentUpTo = lastEventIdOf(request.headers['last-event-id']);
      const stream = openStream(request, reply);
      let expiryTimer: ReturnType<typeof setTimeout> | undefined;
      function deliver(numbered: NumberedQrEvent): void {
        if (numbered.id <= sentUpTo) return;
        sentUpTo = numbered.id;
        stream.send(numbered.event.type, numbered.event, numbered.id);
        if (numbered.event.type === 'scanned') arm(numbered.event.expiresAtMs);
        if (numbered.id === QR_EVENT_IDS.paid) stream.finish();
      }
      async function fromRow(): Promise<void> {
        const row = await qr.expireIfDue(id);
        if (row) for (const numbered of qr.eventsOf(row, sentUpTo)) deliver(numbered);
      }
      // The session ends when its time is up even if no request touches it: the stream's own
      // timer looks at the clock each second (no database read until the time is up), so the
      // PC hears `expired` within a second of it, whichever process's clock decides.
      let ended = false;
      stream.onFinish(() => {
        ended = true;
      });
      function arm(expiresAtMs: number): void {
        clearTimeout(expiryTimer);
        if (ended) return;
        const tick = (): void => {
          const leftMs = expiresAtMs - qr.now();
          if (leftMs > 0) {
            expiryTimer = setTimeout(tick, Math.min(1_000, leftMs));
            return;
          }
          // A failed read is tried again shortly: the PC must still hear the end.
          fromRow().catch((error: unknown) => {
            request.log.warn({ err: error }, 'QR session expiry check failed');
            if (!ended) expiryTimer = setTimeout(tick, 1_000);
          });
        };
        tick();
      }
      stream.onFinish(() => clearTimeout(expiryTimer));
      // Subscribe before reading the row: an event published in between is queued, not lost.
      let queue: NumberedQrEvent[] | null = [];
      stream.onFinish(hub.subscribe(id, (event) => {
        const numbered = { id: QR_EVENT_IDS[event.type], event };
        if (queue) queue.push(numbered);
        else deliver(numbered);
      }));
      try {
        const row = await qr.expireIfDue(id);
        if (row) {
          // A client cannot have seen the end of a session that has not ended: resume after `scanned` at most.
          if ((row.status === 'open' || row.status === 'scanned') && sentUpTo > QR_EVENT_IDS.scanned) sentUpTo = QR_EVENT_IDS.scanned;
          for (const numbered of qr.eventsOf(row, sentUpTo)) deliver(numbered);
          // A session that ended before this client reconnected has nothing more to say.
          if (row.status === 'open' || row.status === 'scanned') arm(row.expiresAtMs);
          else stream.finish();
        }
      } catch (error) {
        request.log.warn({ err: error }, 'QR session stream could not read its session');
        stream.finish();
        return;
      }
      const queued = queue;
      queue = null;
      for (const numbered of queued) deliver(numbered);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/orders/:id/history',
    { preValidation: app.authenticate, schema: { tags: ['orders'], summary: "The order's history: its QR payment sessions, refusals and payment (buyer or seller)", params: IdParams, response: responses({ 200: Type.Object({ items: Type.Array(HistoryEntry) }) }) } },
    async (request) => {
      const events = await qr.history(actorOf(request), request.params.id);
      return { items: events.map(({ atMs, kind, qrSessionId, detail }) => ({ atMs, kind, qrSessionId, detail })) };
    },
  );
}
