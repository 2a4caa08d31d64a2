/** My wallet: balance and today's top-ups, the simulated top-up, and the history. */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AMOUNT_MAX_WON, wonToNumber } from '@coconutpay/core/money';
import type { TopUpResult, WalletService } from '../../services/wallet.js';
import { actorOf } from '../authenticate.js';
import { PageQuery, responses } from '../schemas.js';

const WalletSummary = Type.Object({
  balanceWon: Type.Integer(),
  toppedUpTodayWon: Type.Integer({ description: 'Top-ups since midnight, Korean time' }),
  dailyLimitWon: Type.Integer(),
});

const TopUpBody = Type.Object({ amountWon: Type.Integer({ minimum: 1, maximum: Number(AMOUNT_MAX_WON) }) }, { additionalProperties: false });

const TopUp = Type.Object({
  entryId: Type.String(),
  amountWon: Type.Integer(),
  balanceWon: Type.Integer(),
  toppedUpTodayWon: Type.Integer(),
  dailyLimitWon: Type.Integer(),
  createdAtMs: Type.Integer(),
});

const WalletEntryPage = Type.Object({
  items: Type.Array(
    Type.Object({
      entryId: Type.String(),
      kind: Type.String({ description: 'top_up, payment, demo_grant' }),
      memo: Type.String(),
      amountWon: Type.Integer({ description: 'Signed: positive when money came in' }),
      orderId: Type.Union([Type.String(), Type.Null()]),
      orderNumber: Type.Union([Type.String(), Type.Null()]),
      createdAtMs: Type.Integer(),
    }),
  ),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

/** Shapes a top-up into its response body (bigint won → JSON integer). */
function topUpJson(r: TopUpResult): Static<typeof TopUp> {
  return {
    entryId: r.entryId,
    amountWon: wonToNumber(r.amountWon),
    balanceWon: wonToNumber(r.balanceWon),
    toppedUpTodayWon: wonToNumber(r.toppedUpTodayWon),
    dailyLimitWon: wonToNumber(r.dailyLimitWon),
    createdAtMs: r.createdAtMs,
  };
}

/** Registers the wallet routes. */
export function walletRoutes(app: FastifyInstance, wallet: WalletService): void {
  app.get(
    '/api/me/wallet',
    { preValidation: app.authenticate, schema: { tags: ['wallet'], summary: 'My balance, today’s top-ups and the daily limit', response: responses({ 200: WalletSummary }) } },
    async (request) => {
      const s = await wallet.summary(actorOf(request));
      return { balanceWon: wonToNumber(s.balanceWon), toppedUpTodayWon: wonToNumber(s.toppedUpTodayWon), dailyLimitWon: wonToNumber(s.dailyLimitWon) };
    },
  );

  app.post<{ Body: Static<typeof TopUpBody> }>(
    '/api/me/wallet/top-ups',
    {
      preValidation: app.authenticate,
      schema: { tags: ['wallet'], summary: 'Top my wallet up (simulated charge), bounded per day', body: TopUpBody, response: responses({ 201: TopUp }) },
    },
    async (request, reply) => reply.sendEffect(201, topUpJson, (effect) => wallet.topUp(actorOf(request), BigInt(request.body.amountWon), effect)),
  );

  app.get<{ Querystring: Static<typeof PageQuery> }>(
    '/api/me/wallet/entries',
    { preValidation: app.authenticate, schema: { tags: ['wallet'], summary: 'My wallet history, newest first', querystring: PageQuery, response: responses({ 200: WalletEntryPage }) } },
    async (request) => {
      const page = await wallet.entries(actorOf(request), request.query.page, request.query.pageSize);
      return {
        items: page.items.map((e) => ({ entryId: e.entryId, kind: e.kind, memo: e.memo, amountWon: wonToNumber(e.amountWon), orderId: e.orderId, orderNumber: e.orderNumber, createdAtMs: e.createdAtMs })),
        page: page.page,
        pageSize: page.pageSize,
        total: page.total,
      };
    },
  );
}
