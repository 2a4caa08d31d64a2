/**
 * The bank test (docs/bank-test.md): the real server as its own process on one database
 * engine, buyers with a known total in their wallets, many concurrent clients paying signed
 * orders with idempotency keys and reading balances, and a SIGKILL every few seconds
 * followed by a restart. Clients that cannot know what became of a request retry it with
 * the same key and the same body. After the last restart the auditor (checker.ts) reads the
 * whole ledger and holds it against what the clients were told.
 *
 * The schedule (kill times, each worker's choice of operation, buyer, product, quantity) is
 * drawn from one seed; the interleaving of concurrent requests is the machine's, so a seed
 * replays the same schedule, not the same microseconds.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import {
  authorizationContent, codeProof, REPLY_KEY_BYTES, replyKey, seal, signCanonical, unseal, verifyCommand,
  type PaymentAuthorization, type PaymentCommand, type PaymentRequest,
} from '@coconutpay/core/payment';
import { signedAttributes } from '@coconutpay/core/pki/cms';
import { allPemBlocks, fromPem } from '@coconutpay/core/pki/pem';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import type { DatabaseEngine } from '../../src/config.js';
import { x509 } from '../../src/services/pki/x509.js';
import { VerificationCodeKey } from '../../src/services/verification-code-key.js';
import { buyerRegistration, RATE_LIMITS_LIFTED, sellerRegistration, type EngineUnderTest } from '../helpers.js';
import { freePorts, HttpSession, publicRequest, startServer, untilHealthy, type Answer, type ServerProcess } from '../server-process.js';
import { balanceReadViolation, checkBank, type ClientHistory, type KeyHistory, type KeyKind, type LedgerSnapshot } from './checker.js';

/** How one engine's run is shaped. */
export interface BankOptions {
  seed: number;
  /** The run lasts at least this long… */
  durationMs: number;
  /** …and until the server has been killed at least this often. */
  crashesMin: number;
  /** A SIGKILL comes this long after the server became healthy, drawn uniformly. */
  killAfterMinMs: number;
  killAfterMaxMs: number;
  workers: number;
  buyers: number;
  sellers: number;
  /** Progress lines (setup done, each crash); the report is returned, not printed. */
  log?: (line: string) => void;
}

/** The full run of `npm run test:bank`. */
export const FULL_RUN: Omit<BankOptions, 'seed'> = { durationMs: 60_000, crashesMin: 5, killAfterMinMs: 3_000, killAfterMaxMs: 7_000, workers: 12, buyers: 16, sellers: 3 };
/** The shortened run inside `npm test`: same workload and checks, less time. */
export const SHORT_RUN: Omit<BankOptions, 'seed'> = { durationMs: 12_000, crashesMin: 2, killAfterMinMs: 3_000, killAfterMaxMs: 5_000, workers: 8, buyers: 8, sellers: 2 };

/** One engine's figures. */
export interface EngineReport {
  engine: DatabaseEngine;
  seed: number;
  durationMs: number;
  crashes: number;
  /** Payment attempts, balance reads and deliberate replays started by the workers. */
  operations: number;
  /** HTTP requests sent by the workers, retries included. */
  requests: number;
  /** Sends whose fate the client could not know (connection refused or reset, timeout, 5xx) and retried. */
  unknownFates: number;
  /** Of those, answers with a 5xx status (the rest are connections refused, reset or timed out). */
  serverErrors: number;
  acknowledgedPayments: number;
  refusedPayments: number;
  /** Payments whose answer never reached the client (the key stayed in progress, or retries ran out). */
  unansweredPayments: number;
  balanceReads: number;
  snapshotReads: number;
  replaysChecked: number;
  refusalCodes: Record<string, number>;
  violations: string[];
}

// ---------------------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: small, fast, and the same sequence from the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const between = (random: () => number, min: number, max: number) => min + Math.floor(random() * (max - min + 1));
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------
// Reading the database beside the server

/** Plain SQL reads on any of the three engines; `?` placeholders. */
export interface SqlReader {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export function openReader(engine: DatabaseEngine, url: string): SqlReader {
  if (engine === 'sqlite') {
    const db = new Database(url.replace(/^sqlite:/, ''));
    // The server holds the write lock in bursts; a read waits for it rather than failing.
    db.pragma('busy_timeout = 10000');
    return { all: async <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[], close: async () => void db.close() };
  }
  if (engine === 'postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    return {
      all: async <T>(sql: string, params: unknown[] = []) => {
        let n = 0;
        return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
      },
      close: () => pool.end(),
    };
  }
  const pool = mysql.createPool({ uri: url.replace(/^mariadb:/, 'mysql:'), connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true });
  return { all: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params))[0] as T[], close: () => pool.end() };
}

const won = (value: unknown): bigint => BigInt(String(value));

/** The whole ledger and what the checker compares it with, in one read per table (the server is stopped). */
export async function readSnapshot(reader: SqlReader): Promise<LedgerSnapshot> {
  const accounts = await reader.all<{ id: string; kind: string; owner: string | null; balance: unknown }>('select id, kind, owner_user_id as owner, balance_won as balance from ledger_accounts');
  const entries = await reader.all<{ id: string; kind: string; order_id: string | null }>('select id, kind, order_id from journal_entries');
  const postings = await reader.all<{ entry_id: string; account_id: string; amount: unknown }>('select entry_id, account_id, amount_won as amount from postings');
  const orders = await reader.all<{ id: string; buyer_id: string; status: string; total: unknown }>('select id, buyer_id, status, total_won as total from orders');
  const keys = await reader.all<{ user_id: string; k: string; state: string; response_status: unknown; response_body: string | null }>(
    'select user_id, idempotency_key as k, state, response_status, response_body from idempotency_keys');
  const commands = await reader.all<{ com_id: string; user_id: string; order_id: string }>('select com_id, user_id, order_id from payment_commands');
  return {
    accounts: accounts.map((a) => ({ id: a.id, kind: a.kind, ownerUserId: a.owner, balanceWon: won(a.balance) })),
    entries: entries.map((e) => ({ id: e.id, kind: e.kind, orderId: e.order_id })),
    postings: postings.map((p) => ({ entryId: p.entry_id, accountId: p.account_id, amountWon: won(p.amount) })),
    orders: orders.map((o) => ({ id: o.id, buyerId: o.buyer_id, status: o.status, totalWon: won(o.total) })),
    idempotencyKeys: keys.map((k) => ({ userId: k.user_id, key: k.k, state: k.state, responseStatus: k.response_status === null ? null : Number(k.response_status), responseBody: k.response_body })),
    commands: commands.map((c) => ({ comId: c.com_id, userId: c.user_id, orderId: c.order_id })),
  };
}

// ---------------------------------------------------------------------------------------
// The run

interface Buyer {
  session: HttpSession;
  keys: CryptoKeyPair;
  certificateId: string;
  certificateDer: Uint8Array;
  initialWon: bigint;
}

interface Product {
  id: string;
  sellerId: string;
}

/** Signed requests sent while the server may die at any moment. */
class Run {
  readonly history: ClientHistory = { knownTotalWon: 0n, acknowledged: [], refused: [], authorizationSent: [], keys: [], duringRun: [] };
  private readonly keyHistory = new Map<string, KeyHistory>();
  /** Per user: money moved by acknowledged payments, and by every payment sent (an upper bound). */
  readonly acknowledgedWon = new Map<string, bigint>();
  readonly sentWon = new Map<string, bigint>();
  ready: Promise<void> = Promise.resolve();
  stopped = false;
  counts = { operations: 0, requests: 0, unknownFates: 0, serverErrors: 0, acknowledged: 0, refused: 0, unanswered: 0, reads: 0, snapshots: 0, replays: 0 };
  refusalCodes: Record<string, number> = {};
  acknowledgedKeys: { session: HttpSession; key: string; body: string; answer: string }[] = [];

  violation(message: string): void {
    this.history.duringRun.push(message);
  }

  /**
   * Sends a state-changing request under an idempotency key until it has a final answer:
   * a new proof each time (nonces are single-use), the same key and body bytes. Connection
   * failures, timeouts and 5xx leave the fate unknown, so the request is sent again once the
   * server is back; IDEMPOTENCY_REQUEST_IN_PROGRESS is retried a few times, then the client
   * gives up, as docs/idempotency.md says it must after a crash between claim and effect.
   */
  async send(session: HttpSession, kind: KeyKind, path: string, body: string): Promise<(Answer & { key: string }) | null> {
    const key = `${kind}-${randomUUID()}`;
    const record: KeyHistory = { userId: session.userId, key, kind, answer: null };
    this.keyHistory.set(key, record);
    this.history.keys.push(record);
    let inProgress = 0;
    for (let attempt = 0; attempt < 60; attempt += 1) {
      await this.ready;
      let answer: Answer;
      this.counts.requests += 1;
      try {
        answer = await session.request('POST', path, body, { headers: { 'idempotency-key': key }, timeoutMs: 20_000 });
      } catch {
        this.counts.unknownFates += 1;
        await sleep(150);
        continue;
      }
      if (answer.status >= 500) {
        this.counts.unknownFates += 1;
        this.counts.serverErrors += 1;
        await sleep(150);
        continue;
      }
      if (answer.status === 409 && answer.body?.code === 'IDEMPOTENCY_REQUEST_IN_PROGRESS') {
        // After a crash the key may stay claimed with nothing committed; a live request
        // finishes within a second or two. Wait out the second case, give up on the first.
        if (++inProgress > 6) return null;
        await sleep(1_000);
        continue;
      }
      this.recordAnswer(record, answer);
      return { ...answer, key };
    }
    return null;
  }

  /** The first final answer of a key; any later one must be the same bytes, marked replayed. */
  recordAnswer(record: KeyHistory, answer: Answer): void {
    if (record.answer === null) {
      record.answer = { status: answer.status, body: answer.text };
      return;
    }
    this.counts.replays += 1;
    if (answer.status !== record.answer.status || answer.text !== record.answer.body) {
      this.violation(`key ${record.key}: a replay answered ${answer.status} ${answer.text.slice(0, 120)}, first ${record.answer.status} ${record.answer.body.slice(0, 120)}`);
    } else if (answer.headers.get('idempotent-replayed') !== 'true') {
      this.violation(`key ${record.key}: the same answer came again without idempotent-replayed: true (did it run twice?)`);
    }
  }

  refusal(orderId: string, answer: Answer): void {
    const code = String(answer.body?.code ?? answer.status);
    this.refusalCodes[code] = (this.refusalCodes[code] ?? 0) + 1;
    this.history.refused.push({ orderId, code });
    this.counts.refused += 1;
  }

  add(map: Map<string, bigint>, userId: string, amountWon: bigint): void {
    map.set(userId, (map.get(userId) ?? 0n) + amountWon);
  }

  /** Sends a stored acknowledged authorization again: same key, same body, new proof. */
  async replayAcknowledged(random: () => number): Promise<void> {
    if (this.acknowledgedKeys.length === 0) return;
    const chosen = pick(random, this.acknowledgedKeys);
    await this.ready;
    let answer: Answer;
    try {
      answer = await chosen.session.request('POST', '/api/payments/authorizations', chosen.body, { headers: { 'idempotency-key': chosen.key }, timeoutMs: 20_000 });
    } catch {
      return; // The server died under the replay: nothing learnt, nothing wrong.
    }
    if (answer.status >= 500) return;
    this.recordAnswer(this.keyHistory.get(chosen.key)!, answer);
  }
}

async function deviceKeys(): Promise<{ keys: CryptoKeyPair; csrPem: string }> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=device', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  return { keys, csrPem: csr.toString('pem') };
}

function expectAnswer(step: string, answer: Answer, status: number): any {
  if (answer.status !== status) throw new Error(`${step}: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
  return answer.body;
}

/** Runs the bank test on one engine and checks it; throws only when the run itself could not be made. */
export async function runBankOnEngine(engineUnderTest: EngineUnderTest, options: BankOptions): Promise<EngineReport> {
  const log = options.log ?? (() => undefined);
  const engine = engineUnderTest.engine;
  const random = seededRandom(options.seed);
  const database = await engineUnderTest.create();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cp-bank-'));
  const [port] = await freePorts(1);
  const env = {
    DATABASE_URL: database.url, DATA_DIR: dataDir, PUBLIC_URL: `http://127.0.0.1:${port}`, DEMO: 'off', LOG_LEVEL: 'error',
    PASSWORD_HASH_LOG_N: '10', WEB_DIST_DIR: path.join(dataDir, 'no-web'), ...RATE_LIMITS_LIFTED,
  };
  let generation = 0;
  let server: ServerProcess = startServer(`${engine}#${generation}`, port!, env);
  const outputs: string[] = [];
  const run = new Run();
  let readerOpened: SqlReader | undefined;
  try {
    await untilHealthy(server);
    // Opened once the server has made and migrated the database: better-sqlite3 would
    // otherwise create the file itself, before the server chose its journal mode.
    const reader = (readerOpened = openReader(engine, database.url));
    const base = server.url;

    // Sellers with products; buyers with a master certificate and one top-up each.
    const products: Product[] = [];
    const sellers: HttpSession[] = [];
    for (let i = 0; i < options.sellers; i += 1) {
      const registration = sellerRegistration();
      expectAnswer('seller registration', await publicRequest(base, 'POST', '/api/auth/register', registration), 201);
      const seller = await HttpSession.login(base, registration.loginId);
      sellers.push(seller);
      for (let j = 0; j < 2; j += 1) {
        const priceWon = between(random, 10, 300) * 100;
        const product = expectAnswer('product', await seller.request('POST', '/api/seller/products', { name: `bank ${i}-${j}`, category: 'food', description: '', priceWon, stock: 1_000_000 }), 201);
        products.push({ id: product.id, sellerId: seller.userId });
      }
    }
    const buyers: Buyer[] = [];
    for (let i = 0; i < options.buyers; i += 1) {
      const registration = buyerRegistration();
      expectAnswer('buyer registration', await publicRequest(base, 'POST', '/api/auth/register', registration), 201);
      const session = await HttpSession.login(base, registration.loginId);
      const device = await deviceKeys();
      const master = expectAnswer('master certificate', await session.request('POST', '/api/certificates/master', { csrPem: device.csrPem }), 201);
      // Some buyers get little, so that refusals (INSUFFICIENT_BALANCE) happen within the run too.
      const initialWon = BigInt(between(random, 2, 150) * 10_000);
      expectAnswer('top-up', await session.request('POST', '/api/me/wallet/top-ups', { amountWon: Number(initialWon) }, { headers: { 'idempotency-key': `topup-${randomUUID()}` } }), 201);
      run.history.knownTotalWon += initialWon;
      buyers.push({ session, keys: device.keys, certificateId: master.certificate.id, certificateDer: fromPem(master.certificatePem, 'CERTIFICATE'), initialWon });
    }
    const serverKey = expectAnswer('server key', await publicRequest(base, 'GET', '/api/payments/server-key'), 200);
    const agreementKey = await crypto.subtle.importKey('jwk', { ...serverKey.agreementKey, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
    const chain = await publicRequest(base, 'GET', '/pki/ca.pem');
    // The chain is the issuing CA, then the root: the root is the trust anchor.
    const root = allPemBlocks(chain.text, 'CERTIFICATE').at(-1)!;
    const codeKey = VerificationCodeKey.open(dataDir);
    const initialOf = new Map(buyers.map((b) => [b.session.userId, b.initialWon]));
    for (const s of sellers) initialOf.set(s.userId, 0n);
    log(`${engine}: ${buyers.length} buyers holding ${run.history.knownTotalWon}원, ${products.length} products of ${sellers.length} sellers; seed ${options.seed}`);

    const loadStarted = Date.now();

    /** One payment: order → sealed request → command → signed authorization. */
    const pay = async (w: () => number) => {
      const buyer = pick(w, buyers);
      const product = pick(w, products);
      const quantity = between(w, 1, 2);
      const session = buyer.session;
      const order = await run.send(session, 'order', '/api/orders', JSON.stringify({ source: 'product', productId: product.id, quantity }));
      if (!order || order.status !== 201) return;
      const orderId: string = order.body.id;
      const reply = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
      const request: PaymentRequest = {
        v: 1, type: 'coconutpay-payment-request', orderId, payerUserId: session.userId, certificateId: buyer.certificateId,
        nonce: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url'), issuedAtMs: Date.now(), locale: 'ko', replyKey: reply.jwk,
      };
      const signature = await signCanonical(buyer.keys.privateKey, request);
      const sealedRequest = await seal({ request, signature }, agreementKey, 'coconutpay-payment-request');
      const issued = await run.send(session, 'payment-request', '/api/payments/requests', JSON.stringify({ sealedRequest, locale: 'ko' }));
      if (!issued) return;
      if (issued.status !== 201) return run.refusal(orderId, issued);
      const comId: string = issued.body.comId;
      const { jws } = await unseal<{ jws: string }>(issued.body.sealedCommand, reply.key, 'coconutpay-payment-command');
      const check = await verifyCommand(jws, [root], new Date());
      if (!check.ok) {
        run.violation(`order ${orderId}: the command does not verify: ${JSON.stringify(check)}`);
        return;
      }
      const command: PaymentCommand = check.command;
      if (command.orderId !== orderId || BigInt(command.amountWon) !== BigInt(order.body.totalWon)) {
        run.violation(`order ${orderId}: the command names order ${command.orderId} for ${command.amountWon}, the order is ${order.body.totalWon}`);
        return;
      }
      let code: string | null = null;
      if (issued.body.codeRequired) {
        // A person reads the code from the picture; the test opens its sealed row with the key in the data folder.
        const rows = await reader.all<{ id: string; code_sealed: string }>('select id, code_sealed from verification_codes where com_id = ?', [comId]);
        if (rows.length !== 1) {
          run.violation(`command ${comId}: ${rows.length} verification code rows`);
          return;
        }
        code = codeKey.open(rows[0]!.id, rows[0]!.code_sealed);
      }
      const authorization: PaymentAuthorization = { v: 1, type: 'coconutpay-payment-authorization', command, commandJws: jws, codeProof: code ? await codeProof(code, comId) : null };
      const content = authorizationContent(authorization);
      const attributes = await signedAttributes(content, new Date(), buyer.certificateDer);
      const deviceSignature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, buyer.keys.privateKey, attributes));
      const body = JSON.stringify({
        comId,
        content: Buffer.from(content).toString('base64url'),
        signedAttributes: Buffer.from(attributes).toString('base64url'),
        signature: Buffer.from(p1363ToDer(deviceSignature)).toString('base64url'),
      });
      const amountWon = BigInt(command.amountWon);
      run.history.authorizationSent.push(orderId);
      run.add(run.sentWon, session.userId, amountWon);
      run.add(run.sentWon, product.sellerId, amountWon);
      const paid = await run.send(session, 'authorization', '/api/payments/authorizations', body);
      if (!paid) {
        run.counts.unanswered += 1;
        return;
      }
      if (paid.status !== 200) return run.refusal(orderId, paid);
      if (paid.body.orderId !== orderId || BigInt(paid.body.amountWon) !== amountWon) run.violation(`order ${orderId}: the payment answer names ${paid.body.orderId} for ${paid.body.amountWon}`);
      run.counts.acknowledged += 1;
      run.history.acknowledged.push({ orderId, buyerId: session.userId, amountWon });
      run.add(run.acknowledgedWon, session.userId, amountWon);
      run.add(run.acknowledgedWon, product.sellerId, amountWon);
      run.acknowledgedKeys.push({ session, key: paid.key, body, answer: paid.text });
    };

    /** One balance read over HTTP, held to the bounds of checker.ts's balanceReadViolation. */
    const readBalance = (w: () => number) => readBalanceOf(w() < 0.7 ? pick(w, buyers).session : pick(w, sellers));
    const readBalanceOf = async (session: HttpSession) => {
      const acknowledgedBefore = run.acknowledgedWon.get(session.userId) ?? 0n;
      await run.ready;
      let answer: Answer;
      try {
        answer = await session.get('/api/me/wallet', { timeoutMs: 10_000 });
      } catch {
        return;
      }
      if (answer.status !== 200) return;
      run.counts.reads += 1;
      const sentAfter = run.sentWon.get(session.userId) ?? 0n;
      const violation = balanceReadViolation({
        userId: session.userId, initialWon: initialOf.get(session.userId)!, balanceWon: BigInt(answer.body.balanceWon),
        acknowledgedBeforeWon: acknowledgedBefore, sentAfterWon: sentAfter,
      });
      if (violation) run.violation(violation);
    };

    const worker = async (index: number) => {
      const w = seededRandom(options.seed ^ ((index + 1) * 0x9e3779b1));
      while (!run.stopped) {
        run.counts.operations += 1;
        const roll = w();
        try {
          if (roll < 0.72) await pay(w);
          else if (roll < 0.95) await readBalance(w);
          else await run.replayAcknowledged(w);
        } catch (error) {
          // Client-side work (sealing, signing, opening) does not fail on a healthy run.
          run.violation(`worker ${index}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    };

    /** The Jepsen bank read: all wallets in one statement (one snapshot) must hold the known total. */
    const auditor = async () => {
      while (!run.stopped) {
        const rows = await reader.all<{ balance: unknown }>("select balance_won as balance from ledger_accounts where kind = 'wallet'");
        run.counts.snapshots += 1;
        const balances = rows.map((r) => won(r.balance));
        const sum = balances.reduce((s, b) => s + b, 0n);
        if (sum !== run.history.knownTotalWon) run.violation(`a snapshot read of all wallets summed to ${sum}, not ${run.history.knownTotalWon}`);
        if (balances.some((b) => b < 0n)) run.violation(`a snapshot read showed a negative wallet`);
        await sleep(500);
      }
    };

    let crashes = 0;
    const killer = async () => {
      while (Date.now() - loadStarted < options.durationMs || crashes < options.crashesMin) {
        await sleep(between(random, options.killAfterMinMs, options.killAfterMaxMs));
        let restarted!: () => void;
        run.ready = new Promise<void>((resolve) => (restarted = resolve));
        const killedAtMs = Date.now() - loadStarted;
        await server.kill();
        crashes += 1;
        outputs.push(server.output());
        generation += 1;
        server = startServer(`${engine}#${generation}`, port!, env);
        await untilHealthy(server);
        log(`${engine}: SIGKILL ${crashes} at ${(killedAtMs / 1000).toFixed(1)} s, healthy again after ${((Date.now() - loadStarted - killedAtMs) / 1000).toFixed(1)} s`);
        restarted();
      }
      run.stopped = true;
    };

    await Promise.all([killer(), auditor(), ...Array.from({ length: options.workers }, (_, i) => worker(i))]);
    const durationMs = Date.now() - loadStarted;

    // The last crash and restart: the final state is what a restart recovers, then the
    // server is stopped so that the snapshot is read with nothing moving.
    await server.kill();
    outputs.push(server.output());
    server = startServer(`${engine}#final`, port!, env);
    await untilHealthy(server);
    // Every wallet once more over HTTP, after the restart: the same bounds as during the run.
    for (const session of [...buyers.map((b) => b.session), ...sellers]) await readBalanceOf(session);
    await server.stop();
    const snapshot = await readSnapshot(reader);
    const violations = checkBank(snapshot, run.history);
    return {
      engine, seed: options.seed, durationMs, crashes,
      operations: run.counts.operations, requests: run.counts.requests, unknownFates: run.counts.unknownFates, serverErrors: run.counts.serverErrors,
      acknowledgedPayments: run.counts.acknowledged, refusedPayments: run.counts.refused, unansweredPayments: run.counts.unanswered,
      balanceReads: run.counts.reads, snapshotReads: run.counts.snapshots, replaysChecked: run.counts.replays,
      refusalCodes: run.refusalCodes, violations,
    };
  } catch (error) {
    throw new Error(`${engine} bank run could not be made (seed ${options.seed}): ${error instanceof Error ? error.stack : String(error)}\n--- server output ---\n${[...outputs, server.output()].join('\n').slice(-8_000)}`);
  } finally {
    run.stopped = true;
    await server.kill();
    await readerOpened?.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A report's lines, as printed by `npm run test:bank` and the Vitest file. */
export function formatReport(reports: EngineReport[]): string {
  const lines = ['engine    seconds  crashes  operations  requests  unknown-fate  5xx  acknowledged  refused  unanswered  reads  snapshots  replays  violations'];
  for (const r of reports) {
    lines.push([
      r.engine.padEnd(8), (r.durationMs / 1000).toFixed(1).padStart(8), String(r.crashes).padStart(8), String(r.operations).padStart(11), String(r.requests).padStart(9),
      String(r.unknownFates).padStart(13), String(r.serverErrors).padStart(4), String(r.acknowledgedPayments).padStart(13), String(r.refusedPayments).padStart(8), String(r.unansweredPayments).padStart(11),
      String(r.balanceReads).padStart(6), String(r.snapshotReads).padStart(10), String(r.replaysChecked).padStart(8), String(r.violations.length).padStart(11),
    ].join(' '));
  }
  for (const r of reports) {
    if (Object.keys(r.refusalCodes).length > 0) lines.push(`${r.engine} refusals: ${Object.entries(r.refusalCodes).map(([c, n]) => `${c} ${n}`).join(', ')}`);
    for (const v of r.violations.slice(0, 50)) lines.push(`${r.engine} VIOLATION: ${v}`);
    if (r.violations.length > 50) lines.push(`${r.engine}: ${r.violations.length - 50} more violations`);
  }
  return lines.join('\n');
}
