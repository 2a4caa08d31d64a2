/** Products: the seller's catalogue, and the public listing. */
import { sql, type Kysely } from 'kysely';
import type { ProductSort } from '@coconutpay/core/catalogue';
import type { Database } from './schema.js';

export interface ProductRecord {
  id: string;
  sellerId: string;
  storeName: string;
  name: string;
  category: string;
  description: string;
  priceWon: bigint;
  stock: number;
  imageFile: string | null;
  imageType: string | null;
  imageVersion: number;
  hidden: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface ProductListQuery {
  /** Case-insensitive substring of the name. */
  nameContains?: string;
  category?: string;
  sort: ProductSort;
  offset: number;
  limit: number;
  /** Restrict to one seller's products (then hidden ones are included). */
  sellerId?: string;
}

export interface NewProduct {
  id: string;
  sellerId: string;
  name: string;
  category: string;
  description: string;
  priceWon: bigint;
  stock: number;
  createdAtMs: number;
}

export type ProductChanges = Partial<Pick<ProductRecord, 'name' | 'category' | 'description' | 'priceWon' | 'stock' | 'hidden'>>;

/** `%` and `_` in a search term are literal, not wildcards. `!` is the escape on every engine. */
function likePattern(term: string): string {
  return `%${term.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

export class ProductsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  private base() {
    return this.db
      .selectFrom('products')
      .innerJoin('stores', 'stores.userId', 'products.sellerId')
      .select([
        'products.id', 'products.sellerId', 'stores.storeName', 'products.name', 'products.category', 'products.description',
        'products.priceWon', 'products.stock', 'products.imageFile', 'products.imageType', 'products.imageVersion',
        'products.hidden', 'products.createdAtMs', 'products.updatedAtMs',
      ]);
  }

  private static toRecord(row: Record<string, unknown>): ProductRecord {
    return {
      id: String(row.id),
      sellerId: String(row.sellerId),
      storeName: String(row.storeName),
      name: String(row.name),
      category: String(row.category),
      description: String(row.description),
      priceWon: BigInt(String(row.priceWon)),
      stock: Number(row.stock),
      imageFile: row.imageFile == null ? null : String(row.imageFile),
      imageType: row.imageType == null ? null : String(row.imageType),
      imageVersion: Number(row.imageVersion),
      hidden: Number(row.hidden) === 1,
      createdAtMs: Number(row.createdAtMs),
      updatedAtMs: Number(row.updatedAtMs),
    };
  }

  async findById(id: string): Promise<ProductRecord | undefined> {
    const row = await this.base().where('products.id', '=', id).executeTakeFirst();
    return row ? ProductsRepository.toRecord(row) : undefined;
  }

  /** One page of products and the total count of the same filter. */
  async list(query: ProductListQuery): Promise<{ items: ProductRecord[]; total: number }> {
    let filtered = this.base();
    if (query.sellerId !== undefined) filtered = filtered.where('products.sellerId', '=', query.sellerId);
    else filtered = filtered.where('products.hidden', '=', 0);
    if (query.category !== undefined) filtered = filtered.where('products.category', '=', query.category);
    if (query.nameContains !== undefined && query.nameContains !== '') {
      filtered = filtered.where(sql<boolean>`lower(${sql.ref('products.name')}) like ${likePattern(query.nameContains)} escape '!'`);
    }
    const totalRow = await filtered.clearSelect().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    let ordered = filtered;
    switch (query.sort) {
      case 'price_asc': ordered = ordered.orderBy('products.priceWon', 'asc'); break;
      case 'price_desc': ordered = ordered.orderBy('products.priceWon', 'desc'); break;
      case 'name': ordered = ordered.orderBy('products.name', 'asc'); break;
      case 'newest': ordered = ordered.orderBy('products.createdAtMs', 'desc'); break;
    }
    // The id breaks ties, so paging is stable.
    const rows = await ordered.orderBy('products.id', 'asc').limit(query.limit).offset(query.offset).execute();
    return { items: rows.map((r) => ProductsRepository.toRecord(r)), total: Number(totalRow.n) };
  }

  async insert(product: NewProduct): Promise<void> {
    await this.db
      .insertInto('products')
      .values({
        ...product,
        priceWon: Number(product.priceWon),
        imageFile: null,
        imageType: null,
        imageVersion: 0,
        hidden: 0,
        updatedAtMs: product.createdAtMs,
      })
      .execute();
  }

  async update(id: string, changes: ProductChanges, nowMs: number): Promise<void> {
    const { hidden, priceWon, ...rest } = changes;
    await this.db
      .updateTable('products')
      .set({
        ...rest,
        ...(priceWon !== undefined ? { priceWon: Number(priceWon) } : {}),
        ...(hidden !== undefined ? { hidden: hidden ? 1 : 0 } : {}),
        updatedAtMs: nowMs,
      })
      .where('id', '=', id)
      .execute();
  }

  async setImage(id: string, imageFile: string, imageType: string, nowMs: number): Promise<void> {
    await this.db
      .updateTable('products')
      .set((eb) => ({ imageFile, imageType, imageVersion: eb('imageVersion', '+', 1), updatedAtMs: nowMs }))
      .where('id', '=', id)
      .execute();
  }
}
