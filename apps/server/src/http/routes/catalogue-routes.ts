/** Public product listing and pages, the sellers' product management, images. */
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { Category, ProductSort } from '@coconutpay/core/catalogue';
import { toWon } from '@coconutpay/core/money';
import type { CatalogueService } from '../../services/catalogue.js';
import { actorOf } from '../authenticate.js';
import { productJson, productSummaryJson } from '../mappers.js';
import { CreateProductBody, IdParams, OwnProductPage, PageQuery, Product, ProductListQuery, ProductPage, RawBytesBody, UpdateProductBody, responses } from '../schemas.js';

export function catalogueRoutes(app: FastifyInstance, catalogue: CatalogueService): void {
  app.get<{ Querystring: Static<typeof ProductListQuery> }>(
    '/api/products',
    { schema: { tags: ['catalogue'], summary: 'List products on sale', querystring: ProductListQuery, response: responses({ 200: ProductPage }) } },
    async (request) => {
      const { page, pageSize, q, category, sort } = request.query;
      const result = await catalogue.listPublic({ page, pageSize, sort: sort as ProductSort, ...(q !== undefined ? { q } : {}), ...(category !== undefined ? { category: category as Category } : {}) });
      return { ...result, items: result.items.map(productSummaryJson) };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/products/:id',
    { preValidation: app.authenticateOptional, schema: { tags: ['catalogue'], summary: 'One product', params: IdParams, response: responses({ 200: Type.Ref(Product) }) } },
    async (request) => productJson(await catalogue.get(request.actor ?? undefined, request.params.id)),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/products/:id/image',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'The product image',
        params: IdParams,
        querystring: Type.Object({ v: Type.Optional(Type.Integer({ minimum: 0 })) }),
        response: responses({ 200: Type.Unsafe({ type: 'string', format: 'binary', description: 'PNG, JPEG or WebP' }) }),
      },
    },
    async (request, reply) => {
      const image = await catalogue.image(undefined, request.params.id);
      // The URL carries the image version, so a cached copy never goes stale.
      return reply.type(image.type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(image.bytes);
    },
  );

  app.get<{ Querystring: Static<typeof PageQuery> }>(
    '/api/seller/products',
    { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'My products, hidden ones included', querystring: PageQuery, response: responses({ 200: OwnProductPage }) } },
    async (request) => {
      const result = await catalogue.listOwn(actorOf(request), request.query.page, request.query.pageSize);
      return { ...result, items: result.items.map(productJson) };
    },
  );

  app.post<{ Body: Static<typeof CreateProductBody> }>(
    '/api/seller/products',
    { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'Add a product', body: CreateProductBody, response: responses({ 201: Type.Ref(Product) }) } },
    async (request, reply) => {
      const { priceWon, category, ...rest } = request.body;
      const product = await catalogue.create(actorOf(request), { ...rest, category: category as Category, priceWon: toWon(priceWon) });
      return reply.code(201).send(productJson(product));
    },
  );

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof UpdateProductBody> }>(
    '/api/seller/products/:id',
    {
      preValidation: app.authenticate,
      schema: { tags: ['seller'], summary: 'Edit, hide or show a product', params: IdParams, body: UpdateProductBody, response: responses({ 200: Type.Ref(Product) }) },
    },
    async (request) => {
      const { priceWon, category, ...rest } = request.body;
      const changes = { ...rest, ...(priceWon !== undefined ? { priceWon: toWon(priceWon) } : {}), ...(category !== undefined ? { category: category as Category } : {}) };
      return productJson(await catalogue.update(actorOf(request), request.params.id, changes));
    },
  );

  app.put<{ Params: Static<typeof IdParams> }>(
    '/api/seller/products/:id/image',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['seller'],
        summary: 'Upload the product image (raw PNG, JPEG or WebP body, at most 2 MiB)',
        params: IdParams,
        consumes: ['image/png', 'image/jpeg', 'image/webp'],
        body: RawBytesBody,
        response: responses({ 200: Type.Ref(Product) }),
      },
    },
    async (request) => {
      const body = request.body;
      const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
      const declared = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
      return productJson(await catalogue.setImage(actorOf(request), request.params.id, bytes, declared));
    },
  );
}
