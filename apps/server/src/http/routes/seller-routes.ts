/**
 * The seller's my page: the store profile (read, edit), the wallet ledger with running
 * balance, the sales history with paging and a date filter, and the daily sales totals.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { wonToNumber } from '@coconutpay/core/money';
import type { StoresService } from '../../services/stores.js';
import { actorOf } from '../authenticate.js';
import { PageQuery, responses, StoreProfile, Text100, Text200 } from '../schemas.js';

const StoreProfileBody = Type.Object(
  {
    storeName: Text100,
    // Hyphens optional: the check digit is what the service checks (STORE_BUSINESS_NUMBER_INVALID).
    businessNumber: Type.String({ minLength: 10, maxLength: 12, description: 'Korean business registration number, 123-45-67890 or ten digits' }),
    storeAddress: Text200,
    representative: Text100,
    storePhone: Type.String({ minLength: 1, maxLength: 20, description: 'Korean phone number (STORE_PHONE_INVALID otherwise)' }),
  },
  { additionalProperties: false },
);

const LedgerPage = Type.Object({
  items: Type.Array(Type.Object({
    entryId: Type.String(),
    kind: Type.String(),
    memo: Type.String(),
    amountWon: Type.Integer({ description: 'Signed: positive when money came in' }),
    balanceAfterWon: Type.Integer({ description: 'The wallet balance right after this entry' }),
    orderId: Type.Union([Type.String(), Type.Null()]),
    orderNumber: Type.Union([Type.String(), Type.Null()]),
    createdAtMs: Type.Integer(),
  })),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

const DateText = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'Korean calendar day, YYYY-MM-DD' });
const SalesQuery = Type.Object(
  { ...PageQuery.properties, from: Type.Optional(DateText), to: Type.Optional(DateText) },
  { additionalProperties: false },
);

const SalesPage = Type.Object({
  items: Type.Array(Type.Object({
    orderId: Type.String(),
    orderNumber: Type.String(),
    paidAtMs: Type.Integer(),
    totalWon: Type.Integer(),
    recipientName: Type.String(),
    shippingAddress: Type.String(),
    shippingPhone: Type.String(),
    receiptNumber: Type.Union([Type.String(), Type.Null()]),
    items: Type.Array(Type.Object({ productId: Type.String(), productName: Type.String(), unitPriceWon: Type.Integer(), quantity: Type.Integer(), lineTotalWon: Type.Integer() })),
  })),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
  totalWon: Type.Integer({ description: 'Sum of all paid orders in the range, not only this page' }),
  fromDate: Type.String(),
  toDate: Type.String(),
});

const DailySales = Type.Object({
  days: Type.Array(Type.Object({ date: Type.String(), count: Type.Integer(), totalWon: Type.Integer() })),
});

/** Registers the seller's my-page routes. */
export function sellerRoutes(app: FastifyInstance, stores: StoresService): void {
  app.get('/api/seller/store', { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'My store profile', response: responses({ 200: StoreProfile }) } }, async (request) =>
    stores.profile(actorOf(request)));

  app.put<{ Body: Static<typeof StoreProfileBody> }>(
    '/api/seller/store',
    { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'Edit my store profile (business number check digit and phone checked)', body: StoreProfileBody, response: responses({ 200: StoreProfile }) } },
    async (request) => stores.updateProfile(actorOf(request), request.body),
  );

  app.get<{ Querystring: Static<typeof PageQuery> }>(
    '/api/seller/ledger',
    { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'My wallet ledger, newest first, with the balance after each entry', querystring: PageQuery, response: responses({ 200: LedgerPage }) } },
    async (request) => {
      const page = await stores.ledger(actorOf(request), request.query.page, request.query.pageSize);
      return {
        ...page,
        items: page.items.map((e) => ({
          entryId: e.entryId, kind: e.kind, memo: e.memo, amountWon: wonToNumber(e.amountWon), balanceAfterWon: wonToNumber(e.balanceAfterWon),
          orderId: e.orderId, orderNumber: e.orderNumber, createdAtMs: e.createdAtMs,
        })),
      };
    },
  );

  app.get<{ Querystring: Static<typeof SalesQuery> }>(
    '/api/seller/sales',
    { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'My paid orders between two days (default: the last 30), newest first', querystring: SalesQuery, response: responses({ 200: SalesPage }) } },
    async (request) => {
      const q = request.query;
      const page = await stores.sales(actorOf(request), { page: q.page, pageSize: q.pageSize, ...(q.from ? { fromDate: q.from } : {}), ...(q.to ? { toDate: q.to } : {}) });
      return {
        ...page,
        totalWon: wonToNumber(page.totalWon),
        items: page.items.map((s) => ({
          orderId: s.orderId, orderNumber: s.orderNumber, paidAtMs: s.paidAtMs, totalWon: wonToNumber(s.totalWon),
          recipientName: s.recipientName, shippingAddress: s.shippingAddress, shippingPhone: s.shippingPhone, receiptNumber: s.receiptNumber,
          items: s.items.map((i) => ({ productId: i.productId, productName: i.productName, unitPriceWon: wonToNumber(i.unitPriceWon), quantity: i.quantity, lineTotalWon: wonToNumber(i.lineTotalWon) })),
        })),
      };
    },
  );

  app.get('/api/seller/sales/daily', { preValidation: app.authenticate, schema: { tags: ['seller'], summary: 'My sales per Korean day over the last 30 days, oldest first', response: responses({ 200: DailySales }) } }, async (request) => ({
    days: (await stores.dailySales(actorOf(request))).map((d) => ({ date: d.date, count: d.count, totalWon: wonToNumber(d.totalWon) })),
  }));
}
