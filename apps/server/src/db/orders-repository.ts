/**
 * Orders, their items, and the stock they hold. `products.stock` is what is still
 * available to order: an order awaiting payment has taken its quantities off it, and
 * gives them back when it expires or is cancelled. Every status change is a
 * conditional update on `status = 'awaiting_payment'`, so each happens at most once
 * however many callers race for it.
 */
import type { Kysely } from 'kysely';
import { PRODUCT_STOCK_MAX } from '@coconutpay/core/catalogue';
import type { OrderStatus } from '@coconutpay/core/orders';
import type { DatabaseEngine } from '../config.js';
import { columns, prepare } from './prepared.js';
import type { Database } from './schema.js';
import { lockingRead, type Db } from './write-transaction.js';
import { WriteBatch } from './write-batch.js';

/** One line of an order, priced when the order was made. */
export interface OrderItemRecord {
  productId: string;
  productName: string;
  unitPriceWon: bigint;
  quantity: number;
  lineTotalWon: bigint;
}

/** An order with its store's name and business number, and its items in line order. */
export interface OrderRecord {
  id: string;
  orderNumber: string;
  buyerId: string;
  sellerId: string;
  storeName: string;
  businessNumber: string;
  status: OrderStatus;
  totalWon: bigint;
  recipientName: string;
  shippingAddress: string;
  shippingPhone: string;
  fromCart: boolean;
  createdAtMs: number;
  expiresAtMs: number;
  paidAtMs: number | null;
  cancelledAtMs: number | null;
  expiredAtMs: number | null;
  evidenceRef: string | null;
  items: OrderItemRecord[];
}

/** An order to insert: it starts awaiting payment. */
export type NewOrder = Omit<OrderRecord, 'storeName' | 'businessNumber' | 'status' | 'paidAtMs' | 'cancelledAtMs' | 'expiredAtMs' | 'evidenceRef'>;

/** A product as the order transaction sees it, after its stock was taken, with its store. */
export interface ReservedProduct {
  id: string;
  sellerId: string;
  name: string;
  priceWon: bigint;
  storeName: string;
  businessNumber: string;
}

/** Why a product could not be reserved. */
export type ReservationFailure = { productId: string; reason: 'not_found' | 'hidden' | 'stock' };

/** The fields of an order the payment transaction needs, read under the order's row lock. */
export interface LockedOrder {
  id: string;
  orderNumber: string;
  buyerId: string;
  sellerId: string;
  status: OrderStatus;
  totalWon: bigint;
  fromCart: boolean;
  expiresAtMs: number;
}

/** A page of orders of one buyer or one store, optionally of one status. */
export interface OrderListQuery {
  buyerId?: string;
  sellerId?: string;
  status?: OrderStatus;
  offset: number;
  limit: number;
}

/** A won column as the drivers return it (number, or string for PostgreSQL's SUM) → bigint. */
const wonOf = (value: unknown): bigint => BigInt(String(value));

function ordersWithStore(db: Db) {
  return db
    .selectFrom('orders')
    .innerJoin('stores', 'stores.userId', 'orders.sellerId')
    .select([
      'orders.id', 'orders.orderNumber', 'orders.buyerId', 'orders.sellerId', 'stores.storeName', 'stores.businessNumber', 'orders.status',
      'orders.totalWon', 'orders.recipientName', 'orders.shippingAddress', 'orders.shippingPhone', 'orders.fromCart', 'orders.createdAtMs',
      'orders.expiresAtMs', 'orders.paidAtMs', 'orders.cancelledAtMs', 'orders.expiredAtMs', 'orders.evidenceRef',
    ]);
}

function itemsOf(db: Db) {
  return db.selectFrom('orderItems').select(['orderId', 'productId', 'productName', 'unitPriceWon', 'quantity', 'lineTotalWon']);
}

// What every payment runs here, built once (prepared.ts).
const ORDER_COLUMNS = [
  'id', 'orderNumber', 'buyerId', 'sellerId', 'status', 'totalWon', 'recipientName', 'shippingAddress', 'shippingPhone', 'fromCart',
  'createdAtMs', 'expiresAtMs', 'paidAtMs', 'cancelledAtMs', 'expiredAtMs', 'evidenceRef',
] as const;
const takeStock = prepare((db, v: { id: string; quantity: number }) =>
  db.updateTable('products').set((eb) => ({ stock: eb('stock', '-', v.quantity) })).where('id', '=', v.id).where('hidden', '=', 0).where('stock', '>=', v.quantity));
function productsWithStore(db: Db) {
  return db
    .selectFrom('products')
    .innerJoin('stores', 'stores.userId', 'products.sellerId')
    .select(['products.id', 'products.sellerId', 'products.name', 'products.priceWon', 'stores.storeName', 'stores.businessNumber']);
}
const productWithStore = prepare((db, v: { id: string }) => productsWithStore(db).where('products.id', '=', v.id));
// One order with its items in one round trip: the order's columns repeat on each item's row.
const orderWithItemsById = prepare((db, v: { id: string }) =>
  ordersWithStore(db)
    .leftJoin('orderItems', 'orderItems.orderId', 'orders.id')
    .select(['orderItems.productId as itemProductId', 'orderItems.productName as itemProductName', 'orderItems.unitPriceWon as itemUnitPriceWon', 'orderItems.quantity as itemQuantity', 'orderItems.lineTotalWon as itemLineTotalWon'])
    .where('orders.id', '=', v.id)
    .orderBy('orderItems.lineNo'));
const itemsOfOrder = prepare((db, v: { orderId: string }) => itemsOf(db).where('orderId', '=', v.orderId).orderBy('lineNo'));
const insertOrderRow = prepare((db, v: Database['orders']) => db.insertInto('orders').values(columns(v, ORDER_COLUMNS)));
const markPaidRow = prepare((db, v: { id: string; paidAtMs: number; evidenceRef: string | null }) =>
  db.updateTable('orders').set({ status: 'paid', paidAtMs: v.paidAtMs, evidenceRef: v.evidenceRef }).where('id', '=', v.id).where('status', '=', 'awaiting_payment'));

type OrderRow = Awaited<ReturnType<ReturnType<typeof ordersWithStore>['execute']>>[number];

const time = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** An order as the repository answers it, from its row and its items. */
function recordOf(r: OrderRow, items: OrderItemRecord[]): OrderRecord {
  return {
    id: r.id,
    orderNumber: r.orderNumber,
    buyerId: r.buyerId,
    sellerId: r.sellerId,
    storeName: r.storeName,
    businessNumber: r.businessNumber,
    status: r.status,
    totalWon: wonOf(r.totalWon),
    recipientName: r.recipientName,
    shippingAddress: r.shippingAddress,
    shippingPhone: r.shippingPhone,
    fromCart: Number(r.fromCart) === 1,
    createdAtMs: Number(r.createdAtMs),
    expiresAtMs: Number(r.expiresAtMs),
    paidAtMs: time(r.paidAtMs),
    cancelledAtMs: time(r.cancelledAtMs),
    expiredAtMs: time(r.expiredAtMs),
    evidenceRef: r.evidenceRef,
    items,
  };
}

/** Orders and their items; status changes take the caller's write transaction. */
export class OrdersRepository {
  /** The payment transaction's read of the order, with the row lock where the engine has one. */
  private readonly lockOrder;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: DatabaseEngine,
  ) {
    this.lockOrder = prepare((db, v: { id: string }) =>
      lockingRead(engine, db.selectFrom('orders').select(['id', 'orderNumber', 'buyerId', 'sellerId', 'status', 'totalWon', 'fromCart', 'expiresAtMs']).where('id', '=', v.id)));
  }

  /**
   * Takes `quantity` off each product's stock, in product id order (the one lock order
   * every stock writer follows), and reads the products back under those locks. Returns
   * the first failure instead when a product is missing, hidden or short; the caller
   * then rolls the transaction back.
   */
  async reserveStock(trx: Db, lines: { productId: string; quantity: number }[]): Promise<{ ok: true; products: Map<string, ReservedProduct> } | { ok: false; failure: ReservationFailure }> {
    const sorted = [...lines].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
    for (const line of sorted) {
      if ((await takeStock.affected(trx, { id: line.productId, quantity: line.quantity })) !== 1) {
        const product = await trx.selectFrom('products').select(['hidden']).where('id', '=', line.productId).executeTakeFirst();
        const reason = !product ? 'not_found' : Number(product.hidden) === 1 ? 'hidden' : 'stock';
        return { ok: false, failure: { productId: line.productId, reason } };
      }
    }
    // Read after the updates: the rows are now locked by this transaction, so the prices
    // read here are the ones the order is made at.
    const rows =
      sorted.length === 1
        ? await productWithStore.rows(trx, { id: sorted[0]!.productId })
        : await productsWithStore(trx).where('products.id', 'in', sorted.map((l) => l.productId)).execute();
    return {
      ok: true,
      products: new Map(rows.map((r) => [r.id, { id: r.id, sellerId: r.sellerId, name: r.name, priceWon: wonOf(r.priceWon), storeName: r.storeName, businessNumber: r.businessNumber }])),
    };
  }

  /** Inserts an order awaiting payment with its items, inside the caller's transaction. */
  async insert(trx: Db, order: NewOrder): Promise<void> {
    // The order and its items in one round trip where the database is another process.
    const batch = new WriteBatch();
    batch.add(insertOrderRow, {
        id: order.id,
        orderNumber: order.orderNumber,
        buyerId: order.buyerId,
        sellerId: order.sellerId,
        status: 'awaiting_payment',
        totalWon: Number(order.totalWon),
        recipientName: order.recipientName,
        shippingAddress: order.shippingAddress,
        shippingPhone: order.shippingPhone,
        fromCart: order.fromCart ? 1 : 0,
        createdAtMs: order.createdAtMs,
        expiresAtMs: order.expiresAtMs,
        paidAtMs: null,
        cancelledAtMs: null,
        expiredAtMs: null,
        evidenceRef: null,
      });
    batch.addBuilt(trx
      .insertInto('orderItems')
      .values(order.items.map((item, i) => ({
        orderId: order.id,
        productId: item.productId,
        lineNo: i + 1,
        productName: item.productName,
        unitPriceWon: Number(item.unitPriceWon),
        quantity: item.quantity,
        lineTotalWon: Number(item.lineTotalWon),
      }))));
    await batch.flush(trx, this.engine);
  }

  private async withItems(db: Db, rows: OrderRow[]): Promise<OrderRecord[]> {
    if (rows.length === 0) return [];
    const itemRows =
      rows.length === 1
        ? await itemsOfOrder.rows(db, { orderId: rows[0]!.id })
        : await itemsOf(db).where('orderId', 'in', rows.map((r) => r.id)).orderBy('orderId').orderBy('lineNo').execute();
    const items = new Map<string, OrderItemRecord[]>();
    for (const r of itemRows) {
      const list = items.get(r.orderId) ?? [];
      list.push({ productId: r.productId, productName: r.productName, unitPriceWon: wonOf(r.unitPriceWon), quantity: Number(r.quantity), lineTotalWon: wonOf(r.lineTotalWon) });
      items.set(r.orderId, list);
    }
    return rows.map((r) => recordOf(r, items.get(r.id) ?? []));
  }

  async findById(id: string, db: Db = this.db): Promise<OrderRecord | undefined> {
    const rows = await orderWithItemsById.rows(db, { id });
    if (rows.length === 0) return undefined;
    const items: OrderItemRecord[] = [];
    for (const r of rows) {
      if (r.itemProductId === null) continue;
      items.push({ productId: r.itemProductId, productName: r.itemProductName!, unitPriceWon: wonOf(r.itemUnitPriceWon), quantity: Number(r.itemQuantity), lineTotalWon: wonOf(r.itemLineTotalWon) });
    }
    return recordOf(rows[0]!, items);
  }


  /** One page of orders, newest first, and the count of the same filter. */
  async list(query: OrderListQuery): Promise<{ items: OrderRecord[]; total: number }> {
    let filtered = ordersWithStore(this.db);
    if (query.buyerId !== undefined) filtered = filtered.where('orders.buyerId', '=', query.buyerId);
    if (query.sellerId !== undefined) filtered = filtered.where('orders.sellerId', '=', query.sellerId);
    if (query.status !== undefined) filtered = filtered.where('orders.status', '=', query.status);
    const totalRow = await filtered.clearSelect().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    // The id breaks ties between orders of the same millisecond, so paging is stable.
    const rows = await filtered.orderBy('orders.createdAtMs', 'desc').orderBy('orders.id', 'desc').limit(query.limit).offset(query.offset).execute();
    return { items: await this.withItems(this.db, rows), total: Number(totalRow.n) };
  }

  /** Reads an order under its row lock, for a transaction that may change its status. */
  async lock(trx: Db, id: string): Promise<LockedOrder | undefined> {
    const row = await this.lockOrder.first(trx, { id });
    if (!row) return undefined;
    return {
      id: row.id,
      orderNumber: row.orderNumber,
      buyerId: row.buyerId,
      sellerId: row.sellerId,
      status: row.status,
      totalWon: wonOf(row.totalWon),
      fromCart: Number(row.fromCart) === 1,
      expiresAtMs: Number(row.expiresAtMs),
    };
  }

  /** `awaiting_payment → paid`, as one write of a batch (write-batch.ts): `otherwise` when the order was no longer awaiting payment. */
  markPaidIn(batch: WriteBatch, id: string, nowMs: number, evidenceRef: string | null, otherwise: () => Error): void {
    batch.add(markPaidRow, { id, paidAtMs: nowMs, evidenceRef }, { rows: 1, otherwise });
  }

  /**
   * `awaiting_payment → expired | cancelled`, giving the order's stock back in the same
   * transaction. Expiry needs the payment window to have passed; cancellation needs it
   * still open (past it, the order is expired whether or not a sweep has said so yet).
   * False when the condition did not hold: then nothing changed, and in particular no
   * stock was given back twice.
   */
  async close(trx: Db, id: string, to: 'expired' | 'cancelled', nowMs: number): Promise<boolean> {
    let update = trx.updateTable('orders').set(to === 'expired' ? { status: 'expired', expiredAtMs: nowMs } : { status: 'cancelled', cancelledAtMs: nowMs }).where('id', '=', id).where('status', '=', 'awaiting_payment');
    update = to === 'expired' ? update.where('expiresAtMs', '<=', nowMs) : update.where('expiresAtMs', '>', nowMs);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    const items = await trx.selectFrom('orderItems').select(['productId', 'quantity']).where('orderId', '=', id).orderBy('productId').execute();
    for (const item of items) {
      // A seller may have raised the stock to the maximum meanwhile; the release stops there
      // rather than fail the expiry (CASE rather than LEAST/MIN, which the engines spell differently).
      await trx
        .updateTable('products')
        .set((eb) => ({
          stock: eb.case().when('stock', '>', PRODUCT_STOCK_MAX - Number(item.quantity)).then(PRODUCT_STOCK_MAX).else(eb('stock', '+', Number(item.quantity))).end(),
        }))
        .where('id', '=', item.productId)
        .execute();
    }
    return true;
  }

  /** Ids of orders awaiting payment past their window, oldest deadline first. */
  async dueOrderIds(filter: { buyerId?: string; sellerId?: string; orderId?: string; productIds?: string[] }, nowMs: number, limit: number): Promise<string[]> {
    let query = this.db.selectFrom('orders').select('orders.id').where('orders.status', '=', 'awaiting_payment').where('orders.expiresAtMs', '<=', nowMs);
    if (filter.buyerId !== undefined) query = query.where('orders.buyerId', '=', filter.buyerId);
    if (filter.sellerId !== undefined) query = query.where('orders.sellerId', '=', filter.sellerId);
    if (filter.orderId !== undefined) query = query.where('orders.id', '=', filter.orderId);
    if (filter.productIds !== undefined) {
      if (filter.productIds.length === 0) return [];
      const ids = filter.productIds;
      query = query.where((eb) => eb.exists(eb.selectFrom('orderItems').select('orderItems.orderId').whereRef('orderItems.orderId', '=', 'orders.id').where('orderItems.productId', 'in', ids)));
    }
    const rows = await query.orderBy('orders.expiresAtMs').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  /** A buyer's cart lines with each product's seller, in the order they were added. */
  async cartSelection(buyerId: string): Promise<{ productId: string; quantity: number; sellerId: string }[]> {
    const rows = await this.db
      .selectFrom('cartItems')
      .innerJoin('products', 'products.id', 'cartItems.productId')
      .select(['cartItems.productId', 'cartItems.quantity', 'products.sellerId'])
      .where('cartItems.userId', '=', buyerId)
      .orderBy('cartItems.addedAtMs')
      .orderBy('cartItems.productId')
      .execute();
    return rows.map((r) => ({ productId: r.productId, quantity: Number(r.quantity), sellerId: r.sellerId }));
  }

  /** Removes the products of a paid order from the buyer's cart, inside the payment transaction. */
  async removeFromCart(trx: Db, buyerId: string, productIds: string[]): Promise<void> {
    if (productIds.length === 0) return;
    await trx.deleteFrom('cartItems').where('userId', '=', buyerId).where('productId', 'in', productIds).execute();
  }

  /** The product ids of an order. */
  async productIds(trx: Db, orderId: string): Promise<string[]> {
    const rows = await trx.selectFrom('orderItems').select('productId').where('orderId', '=', orderId).orderBy('productId').execute();
    return rows.map((r) => r.productId);
  }
}
