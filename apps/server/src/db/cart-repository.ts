/** Cart lines of a buyer, joined with the products' current prices. */
import type { Kysely } from 'kysely';
import { isUniqueViolation } from './database.js';
import type { Database } from './schema.js';

export interface CartLineRecord {
  productId: string;
  name: string;
  /** The product's seller and store name: an order holds one store's products only. */
  sellerId: string;
  storeName: string;
  unitPriceWon: bigint;
  quantity: number;
  stock: number;
  hidden: boolean;
  imageFile: string | null;
  imageVersion: number;
}

export class CartRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async lines(userId: string): Promise<CartLineRecord[]> {
    const rows = await this.db
      .selectFrom('cartItems')
      .innerJoin('products', 'products.id', 'cartItems.productId')
      .innerJoin('stores', 'stores.userId', 'products.sellerId')
      .select([
        'cartItems.productId', 'products.name', 'products.sellerId', 'stores.storeName', 'products.priceWon', 'cartItems.quantity', 'products.stock', 'products.hidden',
        'products.imageFile', 'products.imageVersion', 'cartItems.addedAtMs',
      ])
      .where('cartItems.userId', '=', userId)
      .orderBy('cartItems.addedAtMs', 'asc')
      .orderBy('cartItems.productId', 'asc')
      .execute();
    return rows.map((r) => ({
      productId: r.productId,
      name: r.name,
      sellerId: r.sellerId,
      storeName: String(r.storeName),
      unitPriceWon: BigInt(String(r.priceWon)),
      quantity: Number(r.quantity),
      stock: Number(r.stock),
      hidden: Number(r.hidden) === 1,
      imageFile: r.imageFile,
      imageVersion: Number(r.imageVersion),
    }));
  }

  async lineCount(userId: string): Promise<number> {
    const row = await this.db.selectFrom('cartItems').select((eb) => eb.fn.countAll<number>().as('n')).where('userId', '=', userId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Sets the quantity of a line, adding it when absent. */
  async setQuantity(userId: string, productId: string, quantity: number, nowMs: number): Promise<void> {
    const updated = await this.db.updateTable('cartItems').set({ quantity }).where('userId', '=', userId).where('productId', '=', productId).executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return;
    try {
      await this.db.insertInto('cartItems').values({ userId, productId, quantity, addedAtMs: nowMs }).execute();
    } catch (error) {
      // A parallel request added the line first: set the quantity on it instead.
      if (!isUniqueViolation(error)) throw error;
      await this.db.updateTable('cartItems').set({ quantity }).where('userId', '=', userId).where('productId', '=', productId).execute();
    }
  }

  /** Removes a line; returns false when there was none. */
  async remove(userId: string, productId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('cartItems').where('userId', '=', userId).where('productId', '=', productId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
