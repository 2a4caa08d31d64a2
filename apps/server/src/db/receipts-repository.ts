/**
 * Receipts (migration 0012): the signed files, numbered per order, and what the seller's
 * pages read beside them — the store profile's update, the seller's paid orders (the
 * sales history) and their daily totals. Queries are scoped by seller where a seller asks.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import type { OrderItemRecord } from './orders-repository.js';
import type { Database } from './schema.js';
import type { StoreProfile } from './users-repository.js';
import type { Db } from './write-transaction.js';

/** A stored receipt without its file. */
export interface ReceiptRecord {
  id: string;
  receiptNumber: string;
  orderId: string;
  sequence: number;
  sellerId: string;
  certificateId: string;
  replacesReceiptId: string | null;
  /** The receipt number it replaces, when a re-issue. */
  replacesReceiptNumber: string | null;
  linkId: string;
  signatureHex: string;
  signingTimeMs: number;
  createdAtMs: number;
  supersededAtMs: number | null;
}

/** A receipt to insert. */
export interface NewReceipt extends Omit<ReceiptRecord, 'replacesReceiptNumber' | 'supersededAtMs'> {
  cmsBase64: string;
}

/** One paid order of a store, for the sales history. */
export interface SaleRecord {
  orderId: string;
  orderNumber: string;
  paidAtMs: number;
  totalWon: bigint;
  recipientName: string;
  shippingAddress: string;
  shippingPhone: string;
}

/** A won column as the drivers return it (number, or string for PostgreSQL's SUM) → bigint. */
const wonOf = (value: unknown): bigint => BigInt(String(value ?? 0));
const DAY_MS = 86_400_000;

function receiptColumns(db: Db) {
  return db
    .selectFrom('receipts')
    .leftJoin('receipts as replaced', 'replaced.id', 'receipts.replacesReceiptId')
    .select([
      'receipts.id', 'receipts.receiptNumber', 'receipts.orderId', 'receipts.sequence', 'receipts.sellerId', 'receipts.certificateId',
      'receipts.replacesReceiptId', 'replaced.receiptNumber as replacesReceiptNumber', 'receipts.linkId', 'receipts.signatureHex',
      'receipts.signingTimeMs', 'receipts.createdAtMs', 'receipts.supersededAtMs',
    ]);
}

type ReceiptRow = Awaited<ReturnType<ReturnType<typeof receiptColumns>['executeTakeFirst']>>;

function recordOf(row: NonNullable<ReceiptRow>): ReceiptRecord {
  return {
    ...row,
    replacesReceiptNumber: row.replacesReceiptNumber ?? null,
    sequence: Number(row.sequence),
    signingTimeMs: Number(row.signingTimeMs),
    createdAtMs: Number(row.createdAtMs),
    supersededAtMs: row.supersededAtMs === null ? null : Number(row.supersededAtMs),
  };
}

export class ReceiptsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: DatabaseEngine,
  ) {}

  /** Every receipt of an order, newest (highest sequence) first. */
  async ofOrder(orderId: string, db: Db = this.db): Promise<ReceiptRecord[]> {
    const rows = await receiptColumns(db).where('receipts.orderId', '=', orderId).orderBy('receipts.sequence', 'desc').execute();
    return rows.map(recordOf);
  }

  async byNumber(receiptNumber: string): Promise<ReceiptRecord | undefined> {
    const row = await receiptColumns(this.db).where('receipts.receiptNumber', '=', receiptNumber).executeTakeFirst();
    return row ? recordOf(row) : undefined;
  }

  async byLink(linkId: string): Promise<ReceiptRecord | undefined> {
    const row = await receiptColumns(this.db).where('receipts.linkId', '=', linkId).executeTakeFirst();
    return row ? recordOf(row) : undefined;
  }

  /** The DER file of a receipt, base64. */
  async fileOf(id: string): Promise<string | undefined> {
    return (await this.db.selectFrom('receipts').select('cmsBase64').where('id', '=', id).executeTakeFirst())?.cmsBase64;
  }

  /**
   * Inserts a receipt and marks the one it replaces superseded, in the caller's
   * transaction. False when the replaced one was superseded meanwhile (two re-issues
   * racing): the caller rolls back. A second first receipt fails on the unique pair.
   */
  async insert(trx: Db, receipt: NewReceipt): Promise<boolean> {
    if (receipt.replacesReceiptId) {
      const result = await trx.updateTable('receipts').set({ supersededAtMs: receipt.createdAtMs })
        .where('id', '=', receipt.replacesReceiptId).where('supersededAtMs', 'is', null).executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
    }
    const { replacesReceiptNumber: _unused, ...row } = { ...receipt, replacesReceiptNumber: null };
    await trx.insertInto('receipts').values({ ...row, supersededAtMs: null }).execute();
    return true;
  }

  /** The payment evidence file of an order, base64 (what a receipt's digest covers). */
  async paymentEvidenceOf(orderId: string): Promise<string | undefined> {
    return (await this.db.selectFrom('paymentEvidence').select('cmsBase64').where('orderId', '=', orderId).executeTakeFirst())?.cmsBase64;
  }

  /** Replaces a seller's store profile; false when the user has no store. */
  async updateStore(userId: string, store: StoreProfile, nowMs: number): Promise<boolean> {
    const result = await this.db.updateTable('stores').set(store).where('userId', '=', userId).executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await this.db.updateTable('users').set({ updatedAtMs: nowMs }).where('id', '=', userId).execute();
    return true;
  }

  /** One page of a store's paid orders in [fromMs, toMs), newest first, with the count and sum of the whole range. */
  async sales(sellerId: string, range: { fromMs: number; toMs: number }, offset: number, limit: number): Promise<{ items: SaleRecord[]; total: number; totalWon: bigint }> {
    const base = this.db.selectFrom('orders').where('sellerId', '=', sellerId).where('status', '=', 'paid')
      .where('paidAtMs', '>=', range.fromMs).where('paidAtMs', '<', range.toMs);
    const totals = await base.select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<string>('totalWon').as('s')]).executeTakeFirstOrThrow();
    const rows = await base
      .select(['id', 'orderNumber', 'paidAtMs', 'totalWon', 'recipientName', 'shippingAddress', 'shippingPhone'])
      .orderBy('paidAtMs', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute();
    return {
      items: rows.map((r) => ({
        orderId: r.id, orderNumber: r.orderNumber, paidAtMs: Number(r.paidAtMs), totalWon: wonOf(r.totalWon),
        recipientName: r.recipientName, shippingAddress: r.shippingAddress, shippingPhone: r.shippingPhone,
      })),
      total: Number(totals.n),
      totalWon: wonOf(totals.s),
    };
  }

  /**
   * Sums of a store's paid orders per day from `fromMs` (a day start) to `toMs`, days
   * counted from `fromMs` in steps of 24 h: `dayIndex` 0 is the first day. Grouped in SQL,
   * so the work does not grow with the number of orders sent back.
   */
  async dailyTotals(sellerId: string, fromMs: number, toMs: number): Promise<{ dayIndex: number; count: number; totalWon: bigint }[]> {
    // Integer division: `/` on integers in SQLite and PostgreSQL, `DIV` in MariaDB. The
    // numbers are literals (our own integers), so the grouped expression is textually the
    // selected one — PostgreSQL does not match two expressions with separate parameters.
    if (!Number.isSafeInteger(fromMs)) throw new RangeError('fromMs must be an integer');
    const dayIndex = this.engine === 'mysql'
      ? sql<number>`(paid_at_ms - ${sql.lit(fromMs)}) DIV ${sql.lit(DAY_MS)}`
      : sql<number>`(paid_at_ms - ${sql.lit(fromMs)}) / ${sql.lit(DAY_MS)}`;
    const rows = await this.db.selectFrom('orders')
      .select((eb) => [dayIndex.as('dayIndex'), eb.fn.countAll<number>().as('n'), eb.fn.sum<string>('totalWon').as('s')])
      .where('sellerId', '=', sellerId).where('status', '=', 'paid').where('paidAtMs', '>=', fromMs).where('paidAtMs', '<', toMs)
      .groupBy(dayIndex).execute();
    return rows.map((r) => ({ dayIndex: Number(r.dayIndex), count: Number(r.n), totalWon: wonOf(r.s) }));
  }

  /** The lines of these orders, in line order, by order id (one query for a page of sales). */
  async itemsOf(orderIds: string[]): Promise<Map<string, OrderItemRecord[]>> {
    const items = new Map<string, OrderItemRecord[]>();
    if (orderIds.length === 0) return items;
    const rows = await this.db.selectFrom('orderItems').select(['orderId', 'productId', 'productName', 'unitPriceWon', 'quantity', 'lineTotalWon'])
      .where('orderId', 'in', orderIds).orderBy('orderId').orderBy('lineNo').execute();
    for (const r of rows) {
      const list = items.get(r.orderId) ?? [];
      list.push({ productId: r.productId, productName: r.productName, unitPriceWon: wonOf(r.unitPriceWon), quantity: Number(r.quantity), lineTotalWon: wonOf(r.lineTotalWon) });
      items.set(r.orderId, list);
    }
    return items;
  }

  /** The current receipt number of each of these orders (for the sales history). */
  async currentNumbers(orderIds: string[]): Promise<Map<string, string>> {
    if (orderIds.length === 0) return new Map();
    const rows = await this.db.selectFrom('receipts').select(['orderId', 'receiptNumber']).where('orderId', 'in', orderIds).where('supersededAtMs', 'is', null).execute();
    return new Map(rows.map((r) => [r.orderId, r.receiptNumber]));
  }
}
