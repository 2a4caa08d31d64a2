/**
 * Orders: a buyer orders from the cart or one product, reads and cancels own orders;
 * a seller lists the orders placed with the store. Paying comes with the payment
 * authentication protocol, not as a route of its own here.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { CART_QUANTITY_MAX } from '@coconutpay/core/catalogue';
import { wonToNumber } from '@coconutpay/core/money';
import { ORDER_STATUSES } from '@coconutpay/core/orders';
import type { OrderRecord } from '../../db/orders-repository.js';
import type { CreateOrderInput, OrderPage as OrderPageRecord, OrdersService } from '../../services/orders.js';
import { actorOf } from '../authenticate.js';
import { Id, IdParams, PageQuery, Phone, Text100, Text200, responses } from '../schemas.js';

const OrderStatus = Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)));
const NullableTime = Type.Union([Type.Integer(), Type.Null()]);

const Order = Type.Object(
  {
    id: Type.String(),
    orderNumber: Type.String({ description: 'CP-YYYYMMDD-XXXXXX: the Korean calendar date and six base-32 symbols' }),
    status: OrderStatus,
    buyerId: Type.String(),
    sellerId: Type.String(),
    storeName: Type.String(),
    businessNumber: Type.String(),
    items: Type.Array(
      Type.Object({
        productId: Type.String(),
        productName: Type.String(),
        unitPriceWon: Type.Integer(),
        quantity: Type.Integer(),
        lineTotalWon: Type.Integer(),
      }),
    ),
    totalWon: Type.Integer(),
    shipping: Type.Object({ recipientName: Type.String(), address: Type.String(), phone: Type.String() }),
    createdAtMs: Type.Integer(),
    expiresAtMs: Type.Integer({ description: 'Until then the order holds its stock and may be paid' }),
    paidAtMs: NullableTime,
    cancelledAtMs: NullableTime,
    expiredAtMs: NullableTime,
  },
  { $id: 'Order' },
);

const OrderPage = Type.Object({ items: Type.Array(Type.Ref(Order)), page: Type.Integer(), pageSize: Type.Integer(), total: Type.Integer() });

const ShippingOverride = Type.Object(
  { recipientName: Type.Optional(Text100), address: Type.Optional(Text200), phone: Type.Optional(Phone) },
  { additionalProperties: false, description: 'Replaces the profile’s name, address or phone for this order' },
);

/** The body of `POST /api/orders`: from the cart, or one product. */
export const CreateOrderBody = Type.Union([
  Type.Object(
    {
      source: Type.Literal('cart'),
      sellerId: Type.Optional(Type.String({ format: 'uuid', maxLength: 36, description: 'Order only this store’s products; required when the cart holds several stores’' })),
      shipping: Type.Optional(ShippingOverride),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      source: Type.Literal('product'),
      productId: Id,
      quantity: Type.Integer({ minimum: 1, maximum: CART_QUANTITY_MAX }),
      shipping: Type.Optional(ShippingOverride),
    },
    { additionalProperties: false },
  ),
]);

const OrderListQuery = Type.Object({ ...PageQuery.properties, status: Type.Optional(OrderStatus) }, { additionalProperties: false });

/** Schemas the app registers for `$ref`. */
export const orderSchemas = [Order];

/** Shapes an order record into its response body (bigint won → JSON integer). */
export function orderJson(order: OrderRecord): Static<typeof Order> {
  return {
    id: order.id,
    orderNumber: order.orderNumber,
    status: order.status,
    buyerId: order.buyerId,
    sellerId: order.sellerId,
    storeName: order.storeName,
    businessNumber: order.businessNumber,
    items: order.items.map((item) => ({
      productId: item.productId,
      productName: item.productName,
      unitPriceWon: wonToNumber(item.unitPriceWon),
      quantity: item.quantity,
      lineTotalWon: wonToNumber(item.lineTotalWon),
    })),
    totalWon: wonToNumber(order.totalWon),
    shipping: { recipientName: order.recipientName, address: order.shippingAddress, phone: order.shippingPhone },
    createdAtMs: order.createdAtMs,
    expiresAtMs: order.expiresAtMs,
    paidAtMs: order.paidAtMs,
    cancelledAtMs: order.cancelledAtMs,
    expiredAtMs: order.expiredAtMs,
  };
}

function orderPageJson(page: OrderPageRecord) {
  return { items: page.items.map(orderJson), page: page.page, pageSize: page.pageSize, total: page.total };
}

/** Registers the order routes. */
export function orderRoutes(app: FastifyInstance, orders: OrdersService): void {
  app.post<{ Body: Static<typeof CreateOrderBody> }>(
    '/api/orders',
    {
      preValidation: app.authenticate,
      schema: {
        tags: ['orders'],
        summary: 'Order from my cart (one store) or one product; prices and totals are the server’s, stock is held for 15 minutes',
        body: CreateOrderBody,
        response: responses({ 201: Type.Ref(Order) }),
      },
    },
    async (request, reply) => reply.sendEffect(201, orderJson, (effect) => orders.create(actorOf(request), request.body as CreateOrderInput, effect)),
  );

  app.get<{ Querystring: Static<typeof OrderListQuery> }>(
    '/api/orders',
    { preValidation: app.authenticate, schema: { tags: ['orders'], summary: 'My orders, newest first', querystring: OrderListQuery, response: responses({ 200: OrderPage }) } },
    async (request) => orderPageJson(await orders.listMine(actorOf(request), request.query.page, request.query.pageSize, request.query.status)),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/orders/:id',
    { preValidation: app.authenticate, schema: { tags: ['orders'], summary: 'One of my orders (or, for a seller, one placed with my store)', params: IdParams, response: responses({ 200: Type.Ref(Order) }) } },
    async (request) => orderJson(await orders.get(actorOf(request), request.params.id)),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/orders/:id/cancel',
    { preValidation: app.authenticate, schema: { tags: ['orders'], summary: 'Cancel my order while it awaits payment; its stock is released', params: IdParams, response: responses({ 200: Type.Ref(Order) }) } },
    async (request) => orderJson(await orders.cancel(actorOf(request), request.params.id)),
  );

  app.get<{ Querystring: Static<typeof OrderListQuery> }>(
    '/api/seller/orders',
    { preValidation: app.authenticate, schema: { tags: ['orders'], summary: 'Orders placed with my store, newest first', querystring: OrderListQuery, response: responses({ 200: OrderPage }) } },
    async (request) => orderPageJson(await orders.listForSeller(actorOf(request), request.query.page, request.query.pageSize, request.query.status)),
  );
}
