/**
 * Orders: what a buyer commits to buy from one store, at the server's prices, with
 * the stock held for 15 minutes while the order awaits payment (docs/orders.md).
 *
 * One order is paid to one store: the payment command names one payee. A cart with
 * products of several stores is therefore refused unless the request names the store
 * to order from (`sellerId`); the other stores' products stay in the cart.
 */
import { randomBytes as nodeRandomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { AMOUNT_MAX_WON, lineTotalWon } from '@coconutpay/core/money';
import { ORDER_NUMBER_RANDOM_LENGTH, ORDER_PAYMENT_WINDOW_MS, formatOrderNumber, type OrderStatus } from '@coconutpay/core/orders';
import { CART_QUANTITY_MAX } from '@coconutpay/core/catalogue';
import type { DatabaseEngine } from '../config.js';
import { isUniqueViolation } from '../db/database.js';
import type { NewOrder, OrderItemRecord, OrderRecord, OrdersRepository, ReservationFailure } from '../db/orders-repository.js';
import type { Database } from '../db/schema.js';
import type { UsersRepository } from '../db/users-repository.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import { requireRole, type Actor } from './actor.js';
import type { EffectOptions } from './commit-with.js';
import { timeOrderedId } from '../db/time-ordered-id.js';

/** Fresh order numbers tried when one collides with an existing order's. */
const ORDER_NUMBER_ATTEMPTS_MAX = 3;

/** Orders expired per lazy pass or sweep; the rest wait for the next one. */
export const EXPIRY_BATCH_MAX = 100;

/** Shipping details that replace the profile's for one order. */
export interface ShippingInput {
  recipientName?: string;
  address?: string;
  phone?: string;
}

/** What to order: the cart (all of it, or one store's part), or one product. */
export type CreateOrderInput =
  | { source: 'cart'; sellerId?: string; shipping?: ShippingInput }
  | { source: 'product'; productId: string; quantity: number; shipping?: ShippingInput };

/** One page of orders. */
export interface OrderPage {
  items: OrderRecord[];
  page: number;
  pageSize: number;
  total: number;
}

/** What the orders service is built from. */
export interface OrdersDeps {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  orders: OrdersRepository;
  users: UsersRepository;
  clock: () => number;
  /** Source of the order numbers' random symbols; tests may pass a fixed one. */
  randomBytes?: (length: number) => Uint8Array;
}

function reservationError(failure: ReservationFailure): AppError {
  const detail = `Product ${failure.productId}.`;
  switch (failure.reason) {
    case 'not_found':
      return new AppError('PRODUCT_NOT_FOUND', { detail });
    case 'hidden':
      return new AppError('PRODUCT_UNAVAILABLE', { detail });
    case 'stock':
      return new AppError('STOCK_INSUFFICIENT', { detail });
  }
}

/** Creating, reading, cancelling and expiring orders, for an actor from the session. */
export class OrdersService {
  private readonly randomBytes: (length: number) => Uint8Array;

  constructor(private readonly deps: OrdersDeps) {
    this.randomBytes = deps.randomBytes ?? ((length) => new Uint8Array(nodeRandomBytes(length)));
  }

  /**
   * Creates an order awaiting payment and takes its quantities off the stock, in one
   * transaction: either the whole order exists with its stock held, or nothing changed.
   * Prices, totals and the seller come from the products' records at that moment.
   * `effect.commitWith` commits with the order.
   */
  async create(actor: Actor, input: CreateOrderInput, effect: EffectOptions<OrderRecord> = {}): Promise<OrderRecord> {
    requireRole(actor, 'buyer');
    const { orders, users, clock } = this.deps;
    const buyer = await users.findById(actor.userId);
    if (!buyer) throw new AppError('SESSION_REVOKED');

    let lines: { productId: string; quantity: number }[];
    if (input.source === 'product') {
      if (!Number.isInteger(input.quantity) || input.quantity < 1 || input.quantity > CART_QUANTITY_MAX) throw new AppError('VALIDATION_FAILED');
      lines = [{ productId: input.productId, quantity: input.quantity }];
    } else {
      const cart = await orders.cartSelection(actor.userId);
      const chosen = input.sellerId === undefined ? cart : cart.filter((l) => l.sellerId === input.sellerId);
      if (chosen.length === 0) throw new AppError('CART_EMPTY', input.sellerId === undefined ? {} : { detail: 'The cart holds no products of this store.' });
      if (new Set(chosen.map((l) => l.sellerId)).size > 1) throw new AppError('CART_SELLERS_MIXED');
      lines = chosen.map(({ productId, quantity }) => ({ productId, quantity }));
    }

    const nowMs = clock();
    const shipping = {
      recipientName: input.shipping?.recipientName ?? buyer.name,
      shippingAddress: input.shipping?.address ?? buyer.address,
      shippingPhone: input.shipping?.phone ?? buyer.phone,
    };
    let expiredFirst = false;
    for (let attempt = 1; ; attempt += 1) {
      const id = timeOrderedId(nowMs);
      const orderNumber = formatOrderNumber(nowMs, this.randomBytes(ORDER_NUMBER_RANDOM_LENGTH));
      try {
        return await runWriteTransaction(this.deps.db, this.deps.engine, async (trx): Promise<OrderRecord> => {
          const reserved = await orders.reserveStock(trx, lines);
          // Throwing rolls back the stock already taken for earlier lines.
          if (!reserved.ok) throw reservationError(reserved.failure);
          const items: OrderItemRecord[] = lines.map((line) => {
            const product = reserved.products.get(line.productId)!;
            return { productId: product.id, productName: product.name, unitPriceWon: product.priceWon, quantity: line.quantity, lineTotalWon: lineTotalWon(product.priceWon, line.quantity) };
          });
          const sellers = new Set(lines.map((l) => reserved.products.get(l.productId)!.sellerId));
          if (sellers.size !== 1) throw new AppError('CART_SELLERS_MIXED');
          const store = reserved.products.get(lines[0]!.productId)!;
          const totalWon = items.reduce((sum, item) => sum + item.lineTotalWon, 0n);
          if (totalWon > AMOUNT_MAX_WON) throw new AppError('VALIDATION_FAILED', { detail: 'The order total is over the largest amount one payment can move.' });
          const order: NewOrder = {
            id, orderNumber, buyerId: actor.userId, sellerId: store.sellerId, totalWon, ...shipping,
            fromCart: input.source === 'cart', createdAtMs: nowMs, expiresAtMs: nowMs + ORDER_PAYMENT_WINDOW_MS, items,
          };
          await orders.insert(trx, order);
          // The record as written, rather than read back after the commit.
          const created: OrderRecord = {
            ...order, storeName: store.storeName, businessNumber: store.businessNumber, status: 'awaiting_payment',
            paidAtMs: null, cancelledAtMs: null, expiredAtMs: null, evidenceRef: null,
          };
          await effect.commitWith?.(trx, created);
          return created;
        });
      } catch (error) {
        // Two orders drew the same number: rare (32^6 per day), and a fresh number fixes it.
        if (isUniqueViolation(error) && attempt < ORDER_NUMBER_ATTEMPTS_MAX) continue;
        // Stock may be held by orders past their window that no sweep has expired yet:
        // those give it back, and the order is tried once more.
        if (error instanceof AppError && error.code === 'STOCK_INSUFFICIENT' && !expiredFirst) {
          expiredFirst = true;
          if ((await this.expireWhere({ productIds: lines.map((l) => l.productId) }, nowMs)) > 0) continue;
        }
        throw error;
      }
    }
  }

  /** An order, for its buyer or its seller; anyone else learns only that there is no such order. */
  async get(actor: Actor, id: string): Promise<OrderRecord> {
    await this.expireWhere({ orderId: id }, this.deps.clock());
    const order = await this.deps.orders.findById(id);
    if (!order || (order.buyerId !== actor.userId && order.sellerId !== actor.userId)) throw new AppError('ORDER_NOT_FOUND');
    return order;
  }

  /** The buyer's orders, newest first. */
  async listMine(actor: Actor, page: number, pageSize: number, status?: OrderStatus): Promise<OrderPage> {
    requireRole(actor, 'buyer');
    await this.expireWhere({ buyerId: actor.userId }, this.deps.clock());
    const { items, total } = await this.deps.orders.list({ buyerId: actor.userId, ...(status ? { status } : {}), offset: (page - 1) * pageSize, limit: pageSize });
    return { items, page, pageSize, total };
  }

  /** Orders placed with the seller's store, newest first. */
  async listForSeller(actor: Actor, page: number, pageSize: number, status?: OrderStatus): Promise<OrderPage> {
    requireRole(actor, 'seller');
    await this.expireWhere({ sellerId: actor.userId }, this.deps.clock());
    const { items, total } = await this.deps.orders.list({ sellerId: actor.userId, ...(status ? { status } : {}), offset: (page - 1) * pageSize, limit: pageSize });
    return { items, page, pageSize, total };
  }

  /**
   * Cancels an order awaiting payment and gives its stock back. Cancelling a cancelled
   * order again answers with it unchanged; a paid or expired order cannot be cancelled.
   */
  async cancel(actor: Actor, id: string): Promise<OrderRecord> {
    requireRole(actor, 'buyer');
    const nowMs = this.deps.clock();
    const owned = await this.deps.orders.findById(id);
    if (!owned || owned.buyerId !== actor.userId) throw new AppError('ORDER_NOT_FOUND');
    await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
      // Whichever comes first, expiry or cancellation, wins; the other finds nothing to do.
      if (!(await this.deps.orders.close(trx, id, 'cancelled', nowMs))) await this.deps.orders.close(trx, id, 'expired', nowMs);
    });
    const order = (await this.deps.orders.findById(id))!;
    switch (order.status) {
      case 'cancelled':
        return order;
      case 'paid':
        throw new AppError('ORDER_ALREADY_PAID');
      case 'expired':
        throw new AppError('ORDER_EXPIRED');
      case 'awaiting_payment':
        throw new Error(`order ${id} is still awaiting payment after cancellation`);
    }
  }

  /** Expires orders past their payment window (the periodic sweep); returns how many. */
  async expireDue(limit = EXPIRY_BATCH_MAX): Promise<number> {
    return this.expireWhere({}, this.deps.clock(), limit);
  }

  private async expireWhere(filter: Parameters<OrdersRepository['dueOrderIds']>[0], nowMs: number, limit = EXPIRY_BATCH_MAX): Promise<number> {
    const ids = await this.deps.orders.dueOrderIds(filter, nowMs, limit);
    let expired = 0;
    for (const id of ids) {
      // One transaction per order keeps each lock short; a payment racing for the same
      // order is serialized on the order row, and only one of them changes its status.
      if (await runWriteTransaction(this.deps.db, this.deps.engine, (trx) => this.deps.orders.close(trx, id, 'expired', nowMs))) expired += 1;
    }
    return expired;
  }
}
