/** A buyer's cart. Prices and totals always come from the products' current records. */
import { AppError } from '@coconutpay/core/errors';
import { CART_LINES_MAX, CART_QUANTITY_MAX } from '@coconutpay/core/catalogue';
import { lineTotalWon } from '@coconutpay/core/money';
import type { CartLineRecord, CartRepository } from '../db/cart-repository.js';
import type { ProductsRepository } from '../db/products-repository.js';
import { requireRole, type Actor } from './actor.js';

export interface CartLine extends CartLineRecord {
  lineTotalWon: bigint;
  /** False when the product was hidden or its stock fell below the quantity. */
  available: boolean;
}

export interface Cart {
  items: CartLine[];
  /** Total of the available lines. */
  totalWon: bigint;
}

export class CartService {
  constructor(
    private readonly carts: CartRepository,
    private readonly products: ProductsRepository,
    private readonly clock: () => number,
  ) {}

  async get(actor: Actor): Promise<Cart> {
    requireRole(actor, 'buyer');
    const items = (await this.carts.lines(actor.userId)).map((line) => ({
      ...line,
      lineTotalWon: lineTotalWon(line.unitPriceWon, line.quantity),
      available: !line.hidden && line.stock >= line.quantity,
    }));
    const totalWon = items.filter((l) => l.available).reduce((sum, l) => sum + l.lineTotalWon, 0n);
    return { items, totalWon };
  }

  async setQuantity(actor: Actor, productId: string, quantity: number): Promise<Cart> {
    requireRole(actor, 'buyer');
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > CART_QUANTITY_MAX) throw new AppError('VALIDATION_FAILED');
    const product = await this.products.findById(productId);
    if (!product) throw new AppError('PRODUCT_NOT_FOUND');
    if (product.hidden) throw new AppError('PRODUCT_UNAVAILABLE');
    if (product.stock < quantity) throw new AppError('STOCK_INSUFFICIENT');
    const lines = await this.carts.lines(actor.userId);
    if (!lines.some((l) => l.productId === productId) && lines.length >= CART_LINES_MAX) {
      throw new AppError('CART_FULL', { detail: `A cart holds at most ${CART_LINES_MAX} products.` });
    }
    await this.carts.setQuantity(actor.userId, productId, quantity, this.clock());
    return this.get(actor);
  }

  async remove(actor: Actor, productId: string): Promise<Cart> {
    requireRole(actor, 'buyer');
    if (!(await this.carts.remove(actor.userId, productId))) throw new AppError('CART_ITEM_NOT_FOUND');
    return this.get(actor);
  }
}
