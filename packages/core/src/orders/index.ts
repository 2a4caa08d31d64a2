/**
 * Order and wallet vocabulary shared by server and web: the order states and their
 * transitions, the order number, the payment window, wallet entry kinds, and the
 * Korean calendar day that dates order numbers and bounds top-ups.
 */

/** The states of an order (docs/orders.md has the diagram). */
export const ORDER_STATUSES = ['awaiting_payment', 'paid', 'expired', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * The only transitions an order may take. Every state but `awaiting_payment` is final,
 * which is what makes "paid at most once" and "stock released at most once" hold.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  awaiting_payment: ['paid', 'expired', 'cancelled'],
  paid: [],
  expired: [],
  cancelled: [],
};

/** How long an order holds its stock while it waits for payment. */
export const ORDER_PAYMENT_WINDOW_MS = 15 * 60_000;

/**
 * Crockford's base-32 digits: no I, L, O or U, so an order number read aloud or typed
 * from a screen has no look-alike characters. 32 symbols, so one byte's low five bits
 * pick one without bias.
 */
export const ORDER_NUMBER_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Random symbols after the date in an order number. */
export const ORDER_NUMBER_RANDOM_LENGTH = 6;

/** `CP-` + the Korean calendar date + `-` + six base-32 symbols, e.g. `CP-20260301-7KQ2XM`. */
export const ORDER_NUMBER_PATTERN = /^CP-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{6}$/;

/** Korea Standard Time is UTC+9 all year (no daylight saving). */
export const KST_OFFSET_MS = 9 * 3_600_000;

const DAY_MS = 86_400_000;

/** The instant the Korean calendar day containing `nowMs` began. */
export function koreanDayStartMs(nowMs: number): number {
  return Math.floor((nowMs + KST_OFFSET_MS) / DAY_MS) * DAY_MS - KST_OFFSET_MS;
}

/** The Korean calendar date of `nowMs` as `YYYYMMDD`. */
export function koreanDateDigits(nowMs: number): string {
  const d = new Date(nowMs + KST_OFFSET_MS);
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;
}

/**
 * Builds an order number from a time and random bytes the caller draws (core has no
 * randomness of its own).
 *
 * @example
 * formatOrderNumber(Date.UTC(2026, 2, 1, 3), crypto.getRandomValues(new Uint8Array(6))) // 'CP-20260301-…'
 */
export function formatOrderNumber(nowMs: number, randomBytes: Uint8Array): string {
  if (randomBytes.length < ORDER_NUMBER_RANDOM_LENGTH) throw new RangeError(`need ${ORDER_NUMBER_RANDOM_LENGTH} random bytes`);
  let suffix = '';
  for (let i = 0; i < ORDER_NUMBER_RANDOM_LENGTH; i += 1) suffix += ORDER_NUMBER_ALPHABET[randomBytes[i]! & 31];
  return `CP-${koreanDateDigits(nowMs)}-${suffix}`;
}

/** Kinds of journal entries a wallet shows in its history. */
export const JOURNAL_ENTRY_KINDS = ['top_up', 'payment', 'demo_grant'] as const;
export type JournalEntryKind = (typeof JOURNAL_ENTRY_KINDS)[number];

/** The default bound on one user's top-ups per Korean calendar day, in won. */
export const TOP_UP_DAILY_LIMIT_DEFAULT_WON = 5_000_000n;
