/** The catalogue: sellers manage their products, everyone browses. */
import { randomUUID } from 'node:crypto';
import { AppError } from '@coconutpay/core/errors';
import { IMAGE_SIZE_MAX_BYTES, sniffImageType, type Category, type ProductSort } from '@coconutpay/core/catalogue';
import type { ProductChanges, ProductRecord, ProductsRepository } from '../db/products-repository.js';
import { requireRole, type Actor } from './actor.js';
import type { ImageStore } from './image-store.js';

export interface ProductInput {
  name: string;
  category: Category;
  description: string;
  priceWon: bigint;
  stock: number;
}

export interface ListInput {
  page: number;
  pageSize: number;
  q?: string;
  category?: Category;
  sort: ProductSort;
}

export interface ProductPage {
  items: ProductRecord[];
  page: number;
  pageSize: number;
  total: number;
}

export class CatalogueService {
  constructor(
    private readonly products: ProductsRepository,
    private readonly images: ImageStore,
    private readonly clock: () => number,
  ) {}

  async listPublic(input: ListInput): Promise<ProductPage> {
    const { items, total } = await this.products.list({
      nameContains: input.q?.trim(),
      category: input.category,
      sort: input.sort,
      offset: (input.page - 1) * input.pageSize,
      limit: input.pageSize,
    });
    return { items, page: input.page, pageSize: input.pageSize, total };
  }

  async listOwn(actor: Actor, page: number, pageSize: number): Promise<ProductPage> {
    requireRole(actor, 'seller');
    const { items, total } = await this.products.list({ sellerId: actor.userId, sort: 'newest', offset: (page - 1) * pageSize, limit: pageSize });
    return { items, page, pageSize, total };
  }

  /** A product page. Hidden products exist only for their owner. */
  async get(viewer: Actor | undefined, id: string): Promise<ProductRecord> {
    const product = await this.products.findById(id);
    if (!product || (product.hidden && product.sellerId !== viewer?.userId)) throw new AppError('PRODUCT_NOT_FOUND');
    return product;
  }

  async create(actor: Actor, input: ProductInput): Promise<ProductRecord> {
    requireRole(actor, 'seller');
    const id = randomUUID();
    await this.products.insert({ id, sellerId: actor.userId, ...input, createdAtMs: this.clock() });
    return (await this.products.findById(id))!;
  }

  private async owned(actor: Actor, id: string): Promise<ProductRecord> {
    requireRole(actor, 'seller');
    const product = await this.products.findById(id);
    if (!product) throw new AppError('PRODUCT_NOT_FOUND');
    if (product.sellerId !== actor.userId) throw new AppError('PRODUCT_NOT_OWNED');
    return product;
  }

  async update(actor: Actor, id: string, changes: ProductChanges): Promise<ProductRecord> {
    await this.owned(actor, id);
    await this.products.update(id, changes, this.clock());
    return (await this.products.findById(id))!;
  }

  /** Replaces the product's image after checking its real type (magic bytes) and size. */
  async setImage(actor: Actor, id: string, bytes: Uint8Array, declaredType: string | undefined): Promise<ProductRecord> {
    const product = await this.owned(actor, id);
    if (bytes.length > IMAGE_SIZE_MAX_BYTES) throw new AppError('IMAGE_TOO_LARGE');
    const type = sniffImageType(bytes);
    if (!type || (declaredType !== undefined && declaredType !== type)) throw new AppError('IMAGE_TYPE_UNSUPPORTED');
    const file = await this.images.save(bytes, type);
    await this.products.setImage(id, file, type, this.clock());
    if (product.imageFile) await this.images.remove(product.imageFile);
    return (await this.products.findById(id))!;
  }

  async image(viewer: Actor | undefined, id: string): Promise<{ bytes: Buffer; type: string; version: number }> {
    const product = await this.get(viewer, id);
    if (!product.imageFile || !product.imageType) throw new AppError('IMAGE_NOT_FOUND');
    return { bytes: await this.images.read(product.imageFile), type: product.imageType, version: product.imageVersion };
  }
}
