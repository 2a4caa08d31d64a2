/**
 * QR payment's calls (docs/protocol.md, "QR payment"): the PC opens a session for an
 * order and watches it; the phone takes it (by the scanned link's token or the typed
 * number) and then pays through the ordinary payment calls; either side may cancel.
 */
import type { QrSessionClaimed, QrSessionEvent, QrSessionOpened } from '@coconutpay/core/payment/qr';
import { ApiError, authed, openAuthedStream } from './client.js';
import { abortableSleep, readEventStream } from './event-stream.js';

export type { QrSessionClaimed, QrSessionEvent, QrSessionOpened };

/** PC: a QR code for paying `orderId` with a phone; a new one replaces the one shown before. */
export function openQrSession(orderId: string, locale: 'ko' | 'en'): Promise<QrSessionOpened> {
  return authed.post<QrSessionOpened>(`/api/orders/${encodeURIComponent(orderId)}/qr-sessions`, { locale });
}

/** Phone: take a session by the token of the scanned link, or by the number typed from the PC. */
export function claimQrSession(by: { token: string } | { numericCode: string }): Promise<QrSessionClaimed> {
  return authed.post<QrSessionClaimed>('/api/qr-sessions/claim', by);
}

/** PC or phone: end a session; the other screen hears it at once. */
export function cancelQrSession(id: string): Promise<void> {
  return authed.post<void>(`/api/qr-sessions/${encodeURIComponent(id)}/cancel`, undefined);
}

/** One entry of an order's history. */
export interface OrderHistoryEntry {
  atMs: number;
  kind: string;
  qrSessionId: string | null;
  detail: string | null;
}

/** The order's history (QR payment sessions, refusals, the payment). */
export async function getOrderHistory(orderId: string): Promise<OrderHistoryEntry[]> {
  return (await authed.get<{ items: OrderHistoryEntry[] }>(`/api/orders/${encodeURIComponent(orderId)}/history`)).items;
}

/** Pauses before reopening a broken stream; the last one repeats. */
export const QR_RECONNECT_DELAYS_MS = [250, 500, 1_000, 2_000] as const;

/** What {@link watchQrSession} uses to reach the server; tests substitute their own. */
export interface QrStreamTransport {
  openStream(path: string, signal: AbortSignal, headers: Record<string, string>): Promise<Response>;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const browserTransport: QrStreamTransport = { openStream: openAuthedStream, sleep: abortableSleep };

const TYPES = new Set<QrSessionEvent['type']>(['ready', 'scanned', 'paid', 'expired', 'cancelled']);

/** Reads one event's JSON as a session event of the type its `event:` line names; undefined when it is not one. */
export function parseQrEvent(type: string, data: string): QrSessionEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { type?: unknown };
  return v.type === type && TYPES.has(type as QrSessionEvent['type']) ? (value as QrSessionEvent) : undefined;
}

/**
 * Follows a session until it ends (`paid`, `expired` or `cancelled`, which it resolves
 * with), calling `onEvent` for each event once. A broken connection is reopened with
 * `Last-Event-ID`, so the server sends again only what this page has not seen — the
 * end of the session included, even if it came while the connection was down.
 * Rejects with the server's refusal (e.g. QR_SESSION_NOT_FOUND) or an AbortError.
 */
export async function watchQrSession(
  id: string,
  options: { signal: AbortSignal; onEvent: (event: QrSessionEvent) => void; transport?: QrStreamTransport },
): Promise<QrSessionEvent> {
  const transport = options.transport ?? browserTransport;
  const { signal } = options;
  let lastEventId = 0;
  let failures = 0;
  for (;;) {
    let end: QrSessionEvent | undefined;
    try {
      const response = await transport.openStream(`/api/qr-sessions/${encodeURIComponent(id)}/events`, signal, lastEventId > 0 ? { 'last-event-id': String(lastEventId) } : {});
      if (!response.body) throw new TypeError('no response body');
      await readEventStream(response.body, (raw) => {
        const event = parseQrEvent(raw.type, raw.data);
        const eventId = Number(raw.lastEventId);
        if (!event || !Number.isInteger(eventId) || eventId <= lastEventId) return;
        lastEventId = eventId;
        failures = 0;
        options.onEvent(event);
        if (event.type === 'paid' || event.type === 'expired' || event.type === 'cancelled') {
          end = event;
          return 'stop';
        }
      });
      if (end) return end;
    } catch (error) {
      if (signal.aborted) throw error;
      // A refusal is final; the network and a broken stream are worth another try.
      if (error instanceof ApiError && error.code !== 'NETWORK_ERROR' && error.status < 500) throw error;
    }
    await transport.sleep(QR_RECONNECT_DELAYS_MS[Math.min(failures, QR_RECONNECT_DELAYS_MS.length - 1)]!, signal);
    failures += 1;
  }
}
