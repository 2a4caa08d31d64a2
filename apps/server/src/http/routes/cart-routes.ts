/** The buyer's cart. */
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import type { CartService } from '../../services/cart.js';
import { actorOf } from '../authenticate.js';
import { cartJson } from '../mappers.js';
import { Cart, ProductIdParams, SetCartQuantityBody, responses } from '../schemas.js';

export function cartRoutes(app: FastifyInstance, carts: CartService): void {
  app.get(
    '/api/cart',
    { preValidation: app.authenticate, schema: { tags: ['cart'], summary: 'My cart, priced from current records', response: responses({ 200: Cart }) } },
    async (request) => cartJson(await carts.get(actorOf(request))),
  );

  app.put<{ Params: Static<typeof ProductIdParams>; Body: Static<typeof SetCartQuantityBody> }>(
    '/api/cart/items/:productId',
    {
      preValidation: app.authenticate,
      schema: { tags: ['cart'], summary: 'Set the quantity of a product (adds it when absent)', params: ProductIdParams, body: SetCartQuantityBody, response: responses({ 200: Cart }) },
    },
    async (request) => cartJson(await carts.setQuantity(actorOf(request), request.params.productId, request.body.quantity)),
  );

  app.delete<{ Params: Static<typeof ProductIdParams> }>(
    '/api/cart/items/:productId',
    { preValidation: app.authenticate, schema: { tags: ['cart'], summary: 'Remove a product from the cart', params: ProductIdParams, response: responses({ 200: Cart }) } },
    async (request) => cartJson(await carts.remove(actorOf(request), request.params.productId)),
  );
}
