/**
 * QR payment (brief §6): a PC that holds no certificate shows a QR code; the phone in the
 * person's hand scans it and pays with its own certificate through the same payment
 * protocol as a direct payment (docs/protocol.md, "QR payment"). This module is the
 * vocabulary both sides share: the link the QR code holds, the session's events, and the
 * short codes a person reads or types.
 *
 * The link carries the session token in its fragment (`/qr#t=…`): a fragment is never
 * sent in an HTTP request, so the token appears in no access log or Referer header; the
 * phone's page reads it and sends it in a signed request body.
 */

/** How long the token a QR code shows may be scanned. */
export const QR_TOKEN_TTL_MS = 3 * 60_000;
/** How long the phone has to pay once it scanned the code (it may need to log in and find its certificate). */
export const QR_PAY_WINDOW_MS = 5 * 60_000;
/** Random bytes in a session token: 192 bits, well above the 128 a guess must beat. */
export const QR_TOKEN_BYTES = 24;
/** The token as it appears in the link: base64url of {@link QR_TOKEN_BYTES} bytes. */
export const QR_TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
/** Digits of the code a person types on the phone instead of scanning. */
export const QR_NUMERIC_CODE_LENGTH = 6;
/** Wrong numeric codes before the session's numeric code stops working. */
export const QR_NUMERIC_CODE_TRIES_MAX = 5;
/**
 * The confirmation code both screens show, so the person sees that the phone pays the
 * payment the PC shows: four characters of the verification code's look-alike-free set.
 */
export const QR_CONFIRMATION_CODE_LENGTH = 4;

/** The path of the phone's page that a scanned link opens. */
export const QR_PAGE_PATH = '/qr';

/** The link a QR code encodes: this service's page for phones, the token in the fragment. */
export function qrPaymentUrl(publicUrl: string, token: string): string {
  if (!QR_TOKEN_PATTERN.test(token)) throw new RangeError('not a QR session token');
  return `${publicUrl.replace(/\/+$/, '')}${QR_PAGE_PATH}#t=${token}`;
}

/**
 * The token in a scanned text, or null when the text is not a QR payment link of the
 * service at `origin` (a code printed by someone else must not send the phone anywhere,
 * nor make it call our API with a stranger's idea of a token).
 */
export function qrTokenFromText(text: string, origin: string): string | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (url.origin !== new URL(origin).origin || url.pathname !== QR_PAGE_PATH) return null;
  const token = new URLSearchParams(url.hash.replace(/^#/, '')).get('t');
  return token !== null && QR_TOKEN_PATTERN.test(token) ? token : null;
}

/** Where a QR payment session stands. */
export type QrSessionStatus = 'open' | 'scanned' | 'paid' | 'expired' | 'cancelled';

/**
 * The events of a session's stream, in the order they can happen, each with its event id:
 * `ready` (1) when the stream opens, `scanned` (2) when a phone took the session, and one
 * end (3): `paid`, `expired` or `cancelled`. `paid` means the order is paid: through this
 * session, or another way while it was live (then no phone can pay through it any more,
 * and the PC moves on all the same). A client that reconnects with `Last-Event-ID`
 * gets every later one again, read from the database, so no end is ever missed.
 */
export type QrSessionEvent =
  | { type: 'ready'; status: 'open' | 'scanned'; expiresAtMs: number }
  | { type: 'scanned'; scannedAtMs: number; expiresAtMs: number }
  | { type: 'paid'; orderId: string; paidAtMs: number }
  | { type: 'expired'; atMs: number }
  | { type: 'cancelled'; atMs: number; by: 'pc' | 'phone' | 'superseded' };

/** The event id of each kind of event; the ends share one, since only one of them happens. */
export const QR_EVENT_IDS: Record<QrSessionEvent['type'], number> = { ready: 1, scanned: 2, paid: 3, expired: 3, cancelled: 3 };

/** What the PC gets when it opens a session: the only time the token and numeric code leave the server. */
export interface QrSessionOpened {
  id: string;
  orderId: string;
  /** The link the QR code holds. */
  url: string;
  /** The QR code of `url`, as an SVG document. */
  qrSvg: string;
  confirmationCode: string;
  /** The code to type on the phone instead of scanning. */
  numericCode: string;
  expiresAtMs: number;
}

/** What the phone learns when it takes a session: which order to pay, and until when. */
export interface QrSessionClaimed {
  id: string;
  orderId: string;
  orderNumber: string;
  expiresAtMs: number;
}
