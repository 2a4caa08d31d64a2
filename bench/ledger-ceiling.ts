/**
 * Ceiling (c): the ledger transaction alone. `payOrder` — the one write transaction
 * that moves an order's total from buyer to seller and marks the order paid — in a
 * loop with many calls in flight, on a fresh database of one engine, in-process: no
 * HTTP, no cryptography. Orders are made beforehand.
 *
 * Beside it, the payment's two other durable steps, each alone and in the same way,
 * for the budget of docs/performance.md (they are not among the "parts", but a
 * payment cannot skip them: each step is committed before it is answered):
 * - the order: `OrdersService.create` — the buyer, the stock, the product, the order
 *   with its items, one durable transaction — with an `Idempotency-Key` as the web app's
 *   checkout sends it and the benchmark's orders carry: the key's claim (a durable write
 *   of its own) before, its answer stored in the order's transaction;
 * - the command: the two reads that fill a payment command (the order with its items,
 *   the payer) and its durable insert, as the REQ step does them (in a write transaction
 *   on SQLite, a statement of its own elsewhere).
 * Each is reported as process CPU per call as well as calls per second.
 *
 * And the two protocol steps as the routes run them, each alone (`PaymentAuthService`,
 * no HTTP): the request (opening REQ, its checks and reads, the command's durable insert,
 * A's signature, sealing COM) and the authorization (its checks, the CMS evidence, the
 * time-stamp token, the ledger transaction). With the order step and the HTTP ceiling they
 * are everything a payment's server side runs; the payer's own work (sealing REQ, opening
 * COM, signing AUTH) is done between the timed phases, and the audit-log entries the steps
 * append are written inside them.
 *
 * Run as a child of bench/run.ts (IPC): receives {engine, orders, inFlight}.
 */
import { KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { generateSigningKeyPair } from '@coconutpay/core/pki/key-pair';
import { fromPem } from '@coconutpay/core/pki/pem';
import { performance } from 'node:perf_hooks';
import type { DatabaseEngine } from '../apps/server/src/config.js';
import { IdempotencyRepository } from '../apps/server/src/db/idempotency-repository.js';
import { OrdersRepository } from '../apps/server/src/db/orders-repository.js';
import { PaymentAuthRepository, type PaymentCommandRecord } from '../apps/server/src/db/payment-auth-repository.js';
import { timeOrderedId } from '../apps/server/src/db/time-ordered-id.js';
import { UsersRepository } from '../apps/server/src/db/users-repository.js';
import { runWriteTransaction } from '../apps/server/src/db/write-transaction.js';
import type { IssuedCommand } from '../apps/server/src/services/payment-auth.js';
import { p256PublicPoint } from '../apps/server/src/services/pki/compact-jwe.js';
import { enginesUnderTest, newClient, startTestApp, type TestApp } from '../apps/server/test/helpers.js';
import { CommandVerifier, sealPaymentRequest, signAuthorization, type PayingDevice } from './lib/payer.js';
import { round, Samples, type LatencySummary } from './lib/stats.js';
import { inBatches } from './lib/in-batches.js';

/** One durable step run alone: calls per second and the process's CPU per call. */
export interface StepCost {
  per_s: number;
  cpu_us: number;
  /** The order step: whether it claimed an Idempotency-Key and stored its answer (absent before 2026-12-07's seventh run). */
  with_key?: boolean;
}

export interface LedgerCeiling {
  engine: DatabaseEngine;
  payments: number;
  in_flight: number;
  per_s: number;
  latency: LatencySummary;
  /** Process CPU per `payOrder` (the ceiling's rate is wall time). */
  cpu_us?: number;
  /** The payment's other durable steps, each alone (absent from reports before 2026-12-07's second run). */
  steps?: { order: StepCost; command: StepCost; request?: StepCost; authorize?: StepCost };
}

const SELLERS = 8;

/** A JSON replacer for the rows' 64-bit amounts, as the API's serializers write them. */
const bigintsAsNumbers = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? Number(value) : value);

/** Runs `count` calls of `work`, `inFlight` at a time, and returns their rate and CPU per call. */
async function timed(count: number, inFlight: number, work: (i: number) => Promise<unknown>, latency?: Samples, settle?: () => Promise<void>): Promise<StepCost> {
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await inBatches(count, inFlight, async (i) => {
    const t0 = performance.now();
    await work(i);
    latency?.add(performance.now() - t0);
  });
  // Work the calls left behind them (audit-log entries written in batches) is theirs too.
  await settle?.();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { per_s: round(count / seconds, 0), cpu_us: round((cpu.user + cpu.system) / count, 0) };
}

export async function measureLedgerCeiling(engineName: DatabaseEngine, orders: number, inFlight: number, dataDir?: string): Promise<LedgerCeiling> {
  const engine = enginesUnderTest().find((e) => e.engine === engineName);
  if (!engine) throw new Error(`engine ${engineName} is not configured`);
  const t = await startTestApp({ engine, ...(dataDir ? { env: { DATA_DIR: dataDir } } : {}) });
  try {
    const { ledger, orders: orderService, payments, database } = t.app.internals;
    const productIds = (await inBatches(SELLERS, 8, async () => {
      const seller = await newClient(t, 'seller');
      const res = await seller.request('POST', '/api/seller/products', { name: '원장 상품', category: 'food', description: '', priceWon: 9_900, stock: 1_000_000 });
      if (res.statusCode !== 201) throw new Error(`product: ${res.body}`);
      return res.json().id as string;
    }));
    // One buyer per payment in flight: as many wallets as the protocol runs have clients.
    const buyers = await inBatches(inFlight, 8, async () => {
      const buyer = await newClient(t, 'buyer');
      await ledger.fund(buyer.userId, 1_000_000_000n, 'top_up', 'ledger ceiling', t.clock.nowMs);
      return { userId: buyer.userId, role: 'buyer' as const, sessionId: buyer.sessionId };
    });

    // The order step (timed; its orders are the ones paid below), with its key as the
    // route runs it (http/idempotency.ts): claimed first, the answer stored with the order.
    const keys = new IdempotencyRepository(database.db, database.engine);
    const made: { actor: (typeof buyers)[number]; orderId: string }[] = [];
    const order = await timed(orders, inFlight, async (i) => {
      const actor = buyers[i % buyers.length]!;
      const key = randomUUID();
      const claim = await keys.claim(actor.userId, key, randomBytes(32).toString('hex'), t.clock.nowMs, t.config.idempotencyKeyTtlMs);
      if (claim.state !== 'claimed') throw new Error(`key ${claim.state}`);
      const created = await orderService.create(actor, { source: 'product', productId: productIds[i % productIds.length]!, quantity: 1 }, {
        commitWith: (trx, result) => keys.completeWithin(trx, actor.userId, key, claim.claimedAtMs, { status: 201, contentType: 'application/json; charset=utf-8', body: JSON.stringify(result, bigintsAsNumbers) }),
      });
      made[i] = { actor, orderId: created.id };
    });

    // The command step: its reads and its durable insert, with the same repositories.
    const { db, engine: kind } = database;
    const orderRecords = new OrdersRepository(db, kind);
    const users = new UsersRepository(db);
    const commands = new PaymentAuthRepository(db, kind, () => t.clock.nowMs);
    const command = await timed(made.length, inFlight, async (i) => {
      const { actor, orderId } = made[i]!;
      const record = await orderRecords.findById(orderId);
      const payer = await users.findById(actor.userId);
      if (!record || !payer) throw new Error('order or payer missing');
      const nowMs = t.clock.nowMs;
      const comId = timeOrderedId(nowMs);
      // A command of the size the protocol stores (its canonical JSON and A's JWS).
      const commandJson = JSON.stringify({ comId, orderId, payer: { userId: payer.id, loginId: payer.loginId, name: payer.name }, items: record.items, pad: 'x'.repeat(600) }, bigintsAsNumbers);
      const row: PaymentCommandRecord = {
        comId, orderId, userId: actor.userId, sessionId: actor.sessionId, certificateId: timeOrderedId(nowMs), requestNonce: randomBytes(16).toString('base64url'),
        commandJson, commandJws: randomBytes(700).toString('base64url'), amountWon: record.totalWon, codeRequired: false,
        policyRule: 'bench', policyReason: 'bench', policyVersion: 1, status: 'issued', issuedAtMs: nowMs, expiresAtMs: nowMs + 300_000, decidedAtMs: null, failureCode: null,
      };
      if (kind === 'sqlite') await runWriteTransaction(db, kind, (trx) => commands.insertCommand(trx, row));
      else await commands.insertCommand(db, row);
    });

    const { request, authorize } = await protocolSteps(t, productIds, made.length, inFlight);

    const latency = new Samples();
    const ledgerStep = await timed(made.length, inFlight, async (i) => {
      const { actor, orderId } = made[i]!;
      await payments.payOrder(actor, orderId, { evidenceRef: `ledger-ceiling-${i}` });
    }, latency);
    return { engine: engineName, payments: made.length, in_flight: inFlight, per_s: ledgerStep.per_s, latency: latency.summary(), cpu_us: ledgerStep.cpu_us, steps: { order: { ...order, with_key: true }, command, request, authorize } };
  } finally {
    await t.close();
  }
}

/**
 * The request and authorization steps of `count` payments, each timed alone with
 * `inFlight` calls at a time, by payers with master certificates as the protocol runs have.
 */
async function protocolSteps(t: TestApp, productIds: string[], count: number, inFlight: number): Promise<{ request: StepCost; authorize: StepCost }> {
  const { ledger, orders, paymentAuth, audit, roles, ca, database, codeKey } = t.app.internals;
  const payers = await inBatches(inFlight, 8, async () => {
    const buyer = await newClient(t, 'buyer');
    const keys = await generateSigningKeyPair();
    const issued = await buyer.request('POST', '/api/certificates/master', { csrPem: await buildCsr(keys, 'ledger ceiling') });
    if (issued.statusCode !== 201) throw new Error(`certificate: ${issued.body}`);
    await ledger.fund(buyer.userId, 1_000_000_000n, 'top_up', 'ledger ceiling', t.clock.nowMs);
    const device: PayingDevice = {
      userId: buyer.userId, certificateId: issued.json().certificate.id as string, signingKey: KeyObject.from(keys.privateKey),
      certificateDer: new Uint8Array(fromPem(issued.json().certificatePem as string, 'CERTIFICATE')),
    };
    return { actor: { userId: buyer.userId, role: 'buyer' as const, sessionId: buyer.sessionId }, device };
  });
  const context = { serverAgreementKey: p256PublicPoint(roles.paymentAgreement.publicJwk), commands: new CommandVerifier([new Uint8Array(ca.root.certificate.rawData)]) };
  // A certificate's first payment asks for the code (the default policy), as in the
  // protocol runs' setup: each payer pays once with it before anything is timed.
  await inBatches(payers.length, 8, async (i) => {
    const payer = payers[i]!;
    const order = await orders.create(payer.actor, { source: 'product', productId: productIds[0]!, quantity: 1 });
    const { sealedRequest, reply } = sealPaymentRequest(context, payer.device, order.id, t.clock.nowMs);
    const first = await paymentAuth.request(payer.actor, sealedRequest, 'ko');
    const row = await database.db.selectFrom('verificationCodes').select(['id', 'codeSealed']).where('comId', '=', first.comId).executeTakeFirstOrThrow();
    const code = codeKey.open(row.id, row.codeSealed!);
    await paymentAuth.authorize(payer.actor, await signAuthorization(context, payer.device, first, reply, { orderId: order.id, amountWon: Number(order.totalWon) }, code, t.clock.nowMs));
  });
  const payments = await inBatches(count, inFlight, async (i) => {
    const payer = payers[i % payers.length]!;
    const order = await orders.create(payer.actor, { source: 'product', productId: productIds[i % productIds.length]!, quantity: 1 });
    return { payer, order, ...sealPaymentRequest(context, payer.device, order.id, t.clock.nowMs) };
  });
  await audit.settled();

  const issued: IssuedCommand[] = [];
  const request = await timed(count, inFlight, async (i) => {
    const { payer, sealedRequest } = payments[i]!;
    issued[i] = await paymentAuth.request(payer.actor, sealedRequest, 'ko');
  }, undefined, () => audit.settled());
  const bodies = await inBatches(count, inFlight, async (i) => {
    const { payer, order, reply } = payments[i]!;
    if (issued[i]!.codeRequired) throw new Error('the bench policy asks for no code');
    return signAuthorization(context, payer.device, issued[i]!, reply, { orderId: order.id, amountWon: Number(order.totalWon) }, null, t.clock.nowMs);
  });
  const authorize = await timed(count, inFlight, async (i) => {
    const receipt = await paymentAuth.authorize(payments[i]!.payer.actor, bodies[i]!);
    if (receipt.orderId !== payments[i]!.order.id) throw new Error('the receipt is not for this order');
  }, undefined, () => audit.settled());
  return { request, authorize };
}

// Only as bench/run.ts's child: a test worker has an IPC channel of its own.
if (process.send && !process.env.VITEST) {
  process.once('message', (message: { engine: DatabaseEngine; orders: number; inFlight: number; dataDir?: string }) => {
    measureLedgerCeiling(message.engine, message.orders, message.inFlight, message.dataDir).then(
      (result) => process.send!({ type: 'ledger', result }, () => process.exit(0)),
      (error: unknown) => process.send!({ type: 'failed', error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1)),
    );
  });
}
