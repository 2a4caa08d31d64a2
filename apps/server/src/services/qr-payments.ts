/**
 * QR payment sessions (docs/protocol.md, "QR payment"): the PC that holds no certificate
 * opens a session for an order and shows its QR code; a phone of the same account takes
 * the session (by the QR code's token or by the typed numeric code) and then pays through
 * the ordinary payment protocol with its own certificate — PaymentAuthService asks this
 * service for the session's part of the command and marks it paid inside the payment's
 * transaction. Nothing typed on the PC can authorize money: the PC only opens, watches
 * and cancels.
 *
 * Events go to the PC's stream through an {@link EventHub} (Redis pub/sub when `REDIS_URL`
 * is set, so the phone's payment may be handled by another process than the one holding
 * the PC's stream). The database is the record: a stream that (re)connects is first sent
 * what the session's row says, so an event published while nobody listened is not lost.
 */
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { AppError } from '@coconutpay/core/errors';
import { VERIFICATION_CODE_ALPHABET } from '@coconutpay/core/payment';
import {
  QR_CONFIRMATION_CODE_LENGTH, QR_EVENT_IDS, QR_NUMERIC_CODE_LENGTH, QR_NUMERIC_CODE_TRIES_MAX, QR_PAY_WINDOW_MS, QR_TOKEN_BYTES,
  QR_TOKEN_PATTERN, QR_TOKEN_TTL_MS, qrPaymentUrl,
  type QrSessionClaimed, type QrSessionEvent, type QrSessionOpened,
} from '@coconutpay/core/payment/qr';
import { encode } from 'uqr';
import type { Db } from '../db/write-transaction.js';
import type { OrdersRepository } from '../db/orders-repository.js';
import type { OrderEventRecord, QrSessionRecord, QrSessionsRepository } from '../db/qr-sessions-repository.js';
import type { Actor } from './actor.js';
import type { EventHub } from './event-hub.js';
import type { VerificationCodeKey } from './verification-code-key.js';
import { monotonicTimeOrderedId } from '../db/time-ordered-id.js';

/** An event with its stream id (see {@link QR_EVENT_IDS}). */
export interface NumberedQrEvent {
  id: number;
  event: QrSessionEvent;
}

/** The kinds of entries QR payment writes into an order's history. */
export type QrHistoryKind =
  | 'qr.opened' | 'qr.scanned' | 'qr.paid' | 'qr.expired' | 'qr.cancelled'
  | 'qr.refused.other-account' | 'qr.refused.used' | 'qr.refused.expired' | 'qr.refused.cancelled';

/** Ended because its order was paid another way while it was live (cancelled with `order-paid`). */
function endedByOtherPayment(session: QrSessionRecord | undefined): boolean {
  return session?.endedBy === 'order-paid';
}

/** Its order is paid: through this session, or another way while it was live. */
function orderPaid(session: QrSessionRecord | undefined): boolean {
  return session?.status === 'paid' || endedByOtherPayment(session);
}

/** What a phone hears of a session whose order was paid another way: as of one paid through. */
function orderAlreadyPaid(): AppError {
  return new AppError('QR_SESSION_USED', { detail: 'The order has already been paid.' });
}

function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** The QR code of `text` as an SVG document: one path of dark modules, a four-module quiet zone as ISO/IEC 18004 asks. */
export function qrSvg(text: string, title: string): string {
  // Level M survives a smudge or glare on a screen and keeps the code small enough to read from 20 cm.
  const qr = encode(text, { ecc: 'M', border: 4 });
  let path = '';
  for (let y = 0; y < qr.size; y += 1) {
    const row = qr.data[y]!;
    for (let x = 0; x < qr.size; x += 1) {
      if (!row[x]) continue;
      let run = 1;
      while (x + run < qr.size && row[x + run]) run += 1;
      path += `M${x} ${y}h${run}v1h-${run}z`;
      x += run - 1;
    }
  }
  const escaped = title.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${qr.size} ${qr.size}" shape-rendering="crispEdges" role="img"><title>${escaped}</title><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="${path}"/></svg>`;
}

export class QrPaymentService {
  constructor(
    private readonly deps: {
      repo: QrSessionsRepository;
      orders: OrdersRepository;
      /** The numeric code is kept as a keyed digest under the verification-code key. */
      codeKey: VerificationCodeKey;
      hub: EventHub<QrSessionEvent>;
      publicUrl: string;
      clock: () => number;
    },
  ) {}

  /** The service's clock (the stream's expiry timer asks it). */
  now(): number {
    return this.deps.clock();
  }

  private numericDigest(sessionId: string, code: string): string {
    return this.deps.codeKey.digest(`coconutpay-qr-numeric-v1\n${sessionId}\n${code}`);
  }

  private event(orderId: string, kind: QrHistoryKind, nowMs: number, qrSessionId: string | null, detail: string | null = null): OrderEventRecord {
    return { id: monotonicTimeOrderedId(nowMs), orderId, atMs: nowMs, kind, qrSessionId, detail };
  }

  /**
   * The PC's QR code for one of its account's orders awaiting payment. A live code this PC
   * session showed for the same order before is cancelled: one click renews, and the old
   * code stops working at once.
   */
  async open(actor: Actor, orderId: string, locale: 'ko' | 'en'): Promise<QrSessionOpened> {
    const nowMs = this.deps.clock();
    const order = await this.deps.orders.findById(orderId);
    if (!order || order.buyerId !== actor.userId) throw new AppError('ORDER_NOT_FOUND');
    if (order.status === 'paid') throw new AppError('ORDER_ALREADY_PAID');
    if (order.status === 'cancelled') throw new AppError('ORDER_CANCELLED');
    if (order.status === 'expired' || order.expiresAtMs <= nowMs) throw new AppError('ORDER_EXPIRED');
    for (const previous of await this.deps.repo.liveOfOrder(orderId, actor.sessionId)) {
      await this.cancelRecord(previous, nowMs, 'superseded');
    }
    const id = randomUUID();
    const token = randomBytes(QR_TOKEN_BYTES).toString('base64url');
    const numericCode = String(randomInt(0, 10 ** QR_NUMERIC_CODE_LENGTH)).padStart(QR_NUMERIC_CODE_LENGTH, '0');
    const confirmationCode = Array.from({ length: QR_CONFIRMATION_CODE_LENGTH }, () => VERIFICATION_CODE_ALPHABET[randomInt(VERIFICATION_CODE_ALPHABET.length)]).join('');
    const expiresAtMs = Math.min(nowMs + QR_TOKEN_TTL_MS, order.expiresAtMs);
    await this.deps.repo.insert(
      {
        id, tokenDigest: tokenDigest(token), userId: actor.userId, orderId, pcSessionId: actor.sessionId, status: 'open', confirmationCode,
        numericCodeDigest: this.numericDigest(id, numericCode), numericTries: 0, phoneSessionId: null,
        createdAtMs: nowMs, expiresAtMs, scannedAtMs: null, endedAtMs: null, endedBy: null,
      },
      this.event(orderId, 'qr.opened', nowMs, id),
    );
    const url = qrPaymentUrl(this.deps.publicUrl, token);
    // The SVG's accessible name, in the page's language.
    const title = locale === 'ko' ? `주문 ${order.orderNumber} 결제용 QR 코드` : `QR code to pay order ${order.orderNumber}`;
    return { id, orderId, url, qrSvg: qrSvg(url, title), confirmationCode, numericCode, expiresAtMs };
  }

  /**
   * The phone takes a session, by the QR code's token or by the numeric code typed from
   * the PC's screen. Refused: another account's session (recorded in that order's history),
   * a session another phone took, one that ended, one whose time is up. The same phone
   * taking its own session again (a reload) is answered as the first time.
   */
  async claim(actor: Actor, by: { token: string } | { numericCode: string }): Promise<QrSessionClaimed> {
    const nowMs = this.deps.clock();
    let session: QrSessionRecord | undefined;
    if ('token' in by) {
      if (!QR_TOKEN_PATTERN.test(by.token)) throw new AppError('QR_SESSION_NOT_FOUND');
      session = await this.deps.repo.findByTokenDigest(tokenDigest(by.token));
      if (!session) throw new AppError('QR_SESSION_NOT_FOUND');
      if (session.userId !== actor.userId) {
        await this.deps.repo.appendEvent(this.event(session.orderId, 'qr.refused.other-account', nowMs, session.id));
        throw new AppError('QR_SESSION_OTHER_ACCOUNT');
      }
    } else {
      session = await this.byNumericCode(actor, by.numericCode, nowMs);
    }
    const order = await this.deps.orders.findById(session.orderId);
    if (!order) throw new AppError('QR_SESSION_NOT_FOUND');
    const claimed: QrSessionClaimed = { id: session.id, orderId: order.id, orderNumber: order.orderNumber, expiresAtMs: session.expiresAtMs };
    if (session.status === 'scanned' && session.phoneSessionId === actor.sessionId && session.expiresAtMs > nowMs) return claimed;
    await this.refuseUnlessOpen(session, nowMs);
    if (order.status !== 'awaiting_payment' || order.expiresAtMs <= nowMs) {
      await this.deps.repo.appendEvent(this.event(session.orderId, 'qr.refused.used', nowMs, session.id, `order ${order.status}`));
      throw new AppError('QR_SESSION_USED', { detail: order.status === 'paid' ? 'The order has already been paid.' : 'The order can no longer be paid.' });
    }
    const payUntilMs = Math.min(nowMs + QR_PAY_WINDOW_MS, order.expiresAtMs);
    if (!(await this.deps.repo.markScanned(session.id, actor.sessionId, nowMs, payUntilMs, this.event(session.orderId, 'qr.scanned', nowMs, session.id)))) {
      // Another phone (or the PC's cancel, or the clock) got there first.
      const now = await this.deps.repo.findById(session.id);
      if (now?.status === 'scanned' && now.phoneSessionId === actor.sessionId) return { ...claimed, expiresAtMs: now.expiresAtMs };
      await this.refuseUnlessOpen(now ?? session, nowMs);
      throw new AppError('QR_SESSION_USED');
    }
    this.deps.hub.publish(session.id, { type: 'scanned', scannedAtMs: nowMs, expiresAtMs: payUntilMs });
    return { ...claimed, expiresAtMs: payUntilMs };
  }

  /** Throws the refusal for a session that can no longer be taken, recording it; returns when it is open and live. */
  private async refuseUnlessOpen(session: QrSessionRecord, nowMs: number): Promise<void> {
    const refuse = async (kind: QrHistoryKind, error: AppError): Promise<never> => {
      await this.deps.repo.appendEvent(this.event(session.orderId, kind, nowMs, session.id));
      throw error;
    };
    // Ended because the order was paid another way: for the phone, as for a session paid through.
    if (endedByOtherPayment(session)) await refuse('qr.refused.used', orderAlreadyPaid());
    if (session.status === 'cancelled') await refuse('qr.refused.cancelled', new AppError('QR_SESSION_CANCELLED'));
    if (session.status === 'expired') await refuse('qr.refused.expired', new AppError('QR_SESSION_EXPIRED'));
    if (session.status === 'paid' || session.status === 'scanned') await refuse('qr.refused.used', new AppError('QR_SESSION_USED'));
    if (session.expiresAtMs <= nowMs) {
      await this.expireIfDue(session.id);
      await refuse('qr.refused.expired', new AppError('QR_SESSION_EXPIRED'));
    }
  }

  /**
   * The account's open session whose numeric code this is. A wrong code counts against
   * every open session of the account, and a session's numeric code dies after
   * {@link QR_NUMERIC_CODE_TRIES_MAX} wrong ones (its QR code still works).
   */
  private async byNumericCode(actor: Actor, code: string, nowMs: number): Promise<QrSessionRecord> {
    const candidates = await this.deps.repo.openWithNumericCode(actor.userId, nowMs);
    if (candidates.length === 0) throw new AppError('QR_SESSION_NOT_FOUND', { detail: 'No QR payment of this account is waiting for a payment number.' });
    // Each try is reserved before the code is compared (one conditional update per session),
    // so guesses sent together are counted one by one and at most the limit is ever compared.
    const reserved: QrSessionRecord[] = [];
    for (const session of candidates) {
      if (await this.deps.repo.reserveNumericTry(session.id, QR_NUMERIC_CODE_TRIES_MAX)) reserved.push({ ...session, numericTries: session.numericTries + 1 });
    }
    if (reserved.length === 0) throw new AppError('QR_CODE_TRIES_EXHAUSTED');
    const wellFormed = new RegExp(`^\\d{${QR_NUMERIC_CODE_LENGTH}}$`).test(code);
    const match = wellFormed ? reserved.find((s) => this.deps.codeKey.matches(`coconutpay-qr-numeric-v1\n${s.id}\n${code}`, s.numericCodeDigest)) : undefined;
    if (match) return match;
    await this.deps.repo.forgetSpentNumericCodes(reserved.map((s) => s.id), QR_NUMERIC_CODE_TRIES_MAX);
    const triesLeft = Math.max(0, QR_NUMERIC_CODE_TRIES_MAX - Math.max(...reserved.map((s) => s.numericTries)));
    if (triesLeft === 0) throw new AppError('QR_CODE_TRIES_EXHAUSTED');
    throw new AppError('QR_CODE_INVALID', { detail: `${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left.` });
  }

  /** Ends a live session of the account (the PC's "cancel", or the phone's "this is not mine"). */
  async cancel(actor: Actor, id: string): Promise<void> {
    const session = await this.deps.repo.findById(id);
    if (!session || session.userId !== actor.userId) throw new AppError('QR_SESSION_NOT_FOUND');
    if (orderPaid(session)) throw new AppError('QR_SESSION_USED', { detail: 'The payment has already been made.' });
    if (await this.cancelRecord(session, this.deps.clock(), session.pcSessionId === actor.sessionId ? 'pc' : 'phone')) return;
    // The row moved on between the read and the cancel: a payment that committed first wins, and the PC must hear it.
    const now = await this.deps.repo.findById(id);
    if (orderPaid(now)) throw new AppError('QR_SESSION_USED', { detail: 'The payment has already been made.' });
  }

  /** Ends a live session as cancelled; false when it had already ended (paid, expired, cancelled). */
  private async cancelRecord(session: QrSessionRecord, nowMs: number, by: 'pc' | 'phone' | 'superseded'): Promise<boolean> {
    if (!(await this.deps.repo.end(session.id, { status: 'cancelled', by }, nowMs, this.event(session.orderId, 'qr.cancelled', nowMs, session.id, by)))) return false;
    this.deps.hub.publish(session.id, { type: 'cancelled', atMs: nowMs, by });
    return true;
  }

  /**
   * After an order was paid another way (directly from any device of the account, or through
   * another of its codes):
   * its live sessions end, and each PC showing one hears `paid`, as if the phone had paid
   * through it. Without this the PC kept showing a code nobody could pay any more until its
   * time ran out, and then said "expired" of a paid order. The row says `cancelled` by
   * `order-paid` (only a phone that took the session can have paid through it).
   */
  async endForPaidOrder(orderId: string, paidAtMs: number): Promise<number> {
    let ended = 0;
    for (const session of await this.deps.repo.liveOfAnyPc(orderId)) if (await this.endAsPaid(session, paidAtMs)) ended += 1;
    return ended;
  }

  /** Ends one live session of a paid order; false when it had already ended. */
  private async endAsPaid(session: QrSessionRecord, paidAtMs: number): Promise<boolean> {
    if (!(await this.deps.repo.end(session.id, { status: 'cancelled', by: 'order-paid' }, paidAtMs, this.event(session.orderId, 'qr.cancelled', paidAtMs, session.id, 'order-paid')))) return false;
    this.deps.hub.publish(session.id, { type: 'paid', orderId: session.orderId, paidAtMs });
    return true;
  }

  /**
   * Marks a session expired once its time is up (any process's timer may try; one wins), or
   * ended as paid when its order was paid meanwhile. Answers the row as it is now.
   */
  async expireIfDue(id: string): Promise<QrSessionRecord | undefined> {
    const nowMs = this.deps.clock();
    const session = await this.deps.repo.findById(id);
    if (!session || (session.status !== 'open' && session.status !== 'scanned') || session.expiresAtMs > nowMs) return session;
    // A code opened while a direct payment of its order was being authorized is not among the
    // live codes that payment counted, so it was not ended with it: its end is the payment, not
    // "expired". One order read, only when a code's time is up.
    const order = await this.deps.orders.findById(session.orderId);
    if (order?.status === 'paid') {
      await this.endAsPaid(session, order.paidAtMs ?? nowMs);
      return this.deps.repo.findById(id);
    }
    if (await this.deps.repo.end(id, { status: 'expired', dueAt: nowMs }, nowMs, this.event(session.orderId, 'qr.expired', nowMs, id))) {
      this.deps.hub.publish(id, { type: 'expired', atMs: nowMs });
    }
    return this.deps.repo.findById(id);
  }

  /** A session of the account, for its event stream. */
  async watch(actor: Actor, id: string): Promise<QrSessionRecord> {
    const session = await this.deps.repo.findById(id);
    if (!session || session.userId !== actor.userId) throw new AppError('QR_SESSION_NOT_FOUND');
    return session;
  }

  /** The events a stream owes a client that has seen up to `afterId`, read from the row. */
  eventsOf(session: QrSessionRecord, afterId: number): NumberedQrEvent[] {
    const events: NumberedQrEvent[] = [];
    const live = session.status === 'open' || session.status === 'scanned';
    if (afterId < QR_EVENT_IDS.ready && live) events.push({ id: QR_EVENT_IDS.ready, event: { type: 'ready', status: session.status as 'open' | 'scanned', expiresAtMs: session.expiresAtMs } });
    if (afterId < QR_EVENT_IDS.scanned && session.scannedAtMs !== null) events.push({ id: QR_EVENT_IDS.scanned, event: { type: 'scanned', scannedAtMs: session.scannedAtMs, expiresAtMs: session.expiresAtMs } });
    if (afterId < QR_EVENT_IDS.paid && !live) {
      const atMs = session.endedAtMs ?? this.deps.clock();
      // The same end a listening stream heard (cancelled sessions say by whom; before migration 0021 they did not: the PC).
      const end: QrSessionEvent =
        session.status === 'paid' || session.endedBy === 'order-paid' ? { type: 'paid', orderId: session.orderId, paidAtMs: atMs }
        : session.status === 'expired' ? { type: 'expired', atMs }
        : { type: 'cancelled', atMs, by: session.endedBy ?? 'pc' };
      events.push({ id: QR_EVENT_IDS.paid, event: end });
    }
    return events;
  }

  /**
   * For PaymentAuthService.request: the command's QR part for a session this phone took for
   * this order; refuses a session that is not (or no longer) this phone's to pay.
   */
  async channelFor(actor: Actor, qrSessionId: string, orderId: string, nowMs: number): Promise<{ channel: { kind: 'qr'; qrSessionId: string; confirmationCode: string }; payUntilMs: number }> {
    const session = await this.deps.repo.findById(qrSessionId);
    if (!session || session.userId !== actor.userId || session.orderId !== orderId) throw new AppError('QR_SESSION_NOT_FOUND');
    if (endedByOtherPayment(session)) throw orderAlreadyPaid();
    if (session.status === 'cancelled') throw new AppError('QR_SESSION_CANCELLED');
    if (session.status === 'expired' || session.expiresAtMs <= nowMs) throw new AppError('QR_SESSION_EXPIRED');
    if (session.status !== 'scanned' || session.phoneSessionId !== actor.sessionId) throw new AppError('QR_SESSION_USED');
    return { channel: { kind: 'qr', qrSessionId, confirmationCode: session.confirmationCode }, payUntilMs: session.expiresAtMs };
  }

  /**
   * Inside the payment's transaction: the session becomes paid, or the payment rolls back
   * with the reason (the PC cancelled it a moment ago, or its time ran out).
   */
  async markPaidWithin(trx: Db, actor: Actor, qrSessionId: string, orderId: string, nowMs: number): Promise<void> {
    if (!(await this.deps.repo.markPaid(trx, qrSessionId, actor.sessionId, nowMs))) {
      // Read through the transaction: on SQLite its one connection is busy with it.
      const session = await this.deps.repo.findById(qrSessionId, trx);
      if (endedByOtherPayment(session)) throw orderAlreadyPaid();
      if (session?.status === 'cancelled') throw new AppError('QR_SESSION_CANCELLED');
      if (session?.status === 'expired' || (session && session.expiresAtMs <= nowMs)) throw new AppError('QR_SESSION_EXPIRED');
      throw new AppError('QR_SESSION_USED');
    }
    await this.deps.repo.appendEvent(this.event(orderId, 'qr.paid', nowMs, qrSessionId), trx);
  }

  /** After the payment committed: the PC's stream learns it. */
  announcePaid(qrSessionId: string, orderId: string, paidAtMs: number): void {
    this.deps.hub.publish(qrSessionId, { type: 'paid', orderId, paidAtMs });
  }

  /** The order's history for its buyer or seller. */
  async history(actor: Actor, orderId: string): Promise<OrderEventRecord[]> {
    const order = await this.deps.orders.findById(orderId);
    if (!order || (order.buyerId !== actor.userId && order.sellerId !== actor.userId)) throw new AppError('ORDER_NOT_FOUND');
    return this.deps.repo.eventsOfOrder(orderId);
  }
}
