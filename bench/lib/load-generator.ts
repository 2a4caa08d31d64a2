/**
 * The load generator (bench/load-process.ts runs it in its own process, on the core
 * the server does not use): sets up sellers, products and buyers with master
 * certificates over the API, pays once per certificate with the code (the default
 * policy asks for it on a certificate's first payment), then drives complete payments
 * — or, for the HTTP ceiling, the same number of signed round trips to a route that
 * does nothing; or, for the dual-token overhead, single round trips to that route and
 * to its anonymous twin — from many concurrent clients, each on its own keep-alive connection.
 */
import { KeyObject, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { generateSigningKeyPair } from '@coconutpay/core/pki/key-pair';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { allPemBlocks, fromPem } from '@coconutpay/core/pki/pem';
import { openDatabase } from '../../apps/server/src/db/database.js';
import { VerificationCodeKey } from '../../apps/server/src/services/verification-code-key.js';
import { HttpConnection } from './http-client.js';
import { ECHO_PATH, ECHO_PUBLIC_PATH, type CodePathResult, type LoadMessage, type RunRequest, type RunResult, type SetupRequest } from './messages.js';
import { payOnce, paymentContext, type Holder, type PaymentContext } from './payer.js';
import { expectStatus, sendJson, SignedClient } from './signed-client.js';
import { round, Samples } from './stats.js';

/** The server listens on loopback only. */
const HOST = '127.0.0.1';
const PASSWORD = 'bench password 2026';
/** Prices stay under the policy's 50,000-won code threshold. */
const PRICES_WON = [1_000, 2_500, 4_900, 9_900, 12_000, 19_900, 33_000, 49_000];
/** Setup runs this many users at a time. */
const SETUP_CONCURRENCY = 16;
/** First payments (with the code) run this many at a time, so their latency is their own. */
const CODE_PATH_CONCURRENCY = 4;
/** Each top-up of the top-up runs: small, so the daily limit the bench server is given never stops one. */
const TOP_UP_PROBE_WON = 1_000;
/** Failed calls kept as text for the report. */
const ERROR_SAMPLES_MAX = 5;

async function inBatches<T, R>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  }));
  return results;
}

const runId = Date.now().toString(36);

async function register(connection: HttpConnection, role: 'buyer' | 'seller', loginId: string): Promise<SignedClient> {
  const registration: Record<string, unknown> = {
    role, loginId, password: PASSWORD, name: '벤치 사용자', phone: '010-1234-5678', address: '서울시 중구 세종대로 110', email: `${loginId}@bench.test`,
  };
  if (role === 'seller') {
    registration.store = { storeName: `벤치 상점 ${loginId}`, businessNumber: '123-45-67890', storeAddress: '서울시 중구 1', representative: '김대표', storePhone: '02-123-4567' };
  }
  expectStatus('register', await sendJson(connection, 'POST', '/api/auth/register', registration), 201);
  return SignedClient.login(connection, loginId, PASSWORD);
}

export class LoadGenerator {
  private holders: Holder[] = [];
  private productIds: string[] = [];
  private context!: PaymentContext;
  private bodyBytes: [number, number, number] = [0, 0, 0];

  /** @param send where progress and results go (the IPC channel, or a test) */
  constructor(private readonly send: (message: LoadMessage) => void) {}

  async setup(request: SetupRequest): Promise<void> {
    const started = performance.now();
    const sellers = await inBatches(Array.from({ length: request.sellers }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
      const client = await register(new HttpConnection(HOST, request.port), 'seller', `bs${runId}${i}`);
      const ids: string[] = [];
      for (let p = 0; p < request.productsPerSeller; p++) {
        const product = { name: `벤치 상품 ${i}-${p}`, category: 'food', description: '', priceWon: PRICES_WON[(i + p) % PRICES_WON.length]!, stock: 1_000_000 };
        ids.push(expectStatus<{ id: string }>('product', await client.request('POST', '/api/seller/products', product), 201).id);
      }
      client.connection.close();
      return ids;
    });
    this.productIds = sellers.flat();

    this.holders = await inBatches(Array.from({ length: request.buyers }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
      const client = await register(new HttpConnection(HOST, request.port), 'buyer', `bb${runId}${i}`);
      const keys = await generateSigningKeyPair();
      const issued = expectStatus<{ certificate: { id: string }; certificatePem: string }>('master certificate', await client.request('POST', '/api/certificates/master', { csrPem: await buildCsr(keys, `bench buyer ${i}`) }), 201);
      expectStatus('top-up', await client.request('POST', '/api/me/wallet/top-ups', { amountWon: request.topUpWon }), 201);
      return { client, certificateId: issued.certificate.id, certificateDer: fromPem(issued.certificatePem, 'CERTIFICATE'), keys, signingKey: KeyObject.from(keys.privateKey) };
    });

    const caPem = (await this.holders[0]!.client.connection.send('GET', '/pki/ca.pem', {})).text;
    const chain = allPemBlocks(caPem, 'CERTIFICATE');
    const rootDer = chain[chain.length - 1]!;
    this.context = await paymentContext(this.holders[0]!.client, rootDer);

    // The bench cannot read the picture: it opens the sealed code in the database with
    // the server's key, from the data folder the orchestrator made.
    const database = openDatabase(request.databaseUrl, { poolSize: 2 });
    const codeKey = VerificationCodeKey.open(request.dataDir);
    this.context.codeOf = async (comId) => {
      const row = await database.db.selectFrom('verificationCodes').select(['id', 'codeSealed']).where('comId', '=', comId).executeTakeFirstOrThrow();
      return codeKey.open(row.id, row.codeSealed!);
    };
    const code = { request: new Samples(), image: new Samples(), authorize: new Samples(), total: new Samples() };
    try {
      await inBatches(this.holders, CODE_PATH_CONCURRENCY, async (holder) => {
        const timing = await payOnce(this.context, holder, this.productIds[0]!, { withCode: true });
        code.request.add(timing.requestMs);
        code.image.add(timing.codeImageMs!);
        code.authorize.add(timing.authorizeMs);
        code.total.add(timing.totalMs);
        this.bodyBytes = timing.bodyBytes;
      });
    } finally {
      await database.close();
      delete this.context.codeOf;
    }
    const codePath: CodePathResult = {
      payments: code.total.count,
      request_with_code: code.request.summary(),
      code_image: code.image.summary(),
      authorize_with_code: code.authorize.summary(),
      total_with_code: code.total.summary(),
    };
    this.send({
      type: 'setup-done', setup_s: round((performance.now() - started) / 1000), buyers: this.holders.length, sellers: request.sellers,
      products: this.productIds.length, codePath, bodyBytes: this.bodyBytes,
    });
  }

  async run(request: RunRequest): Promise<void> {
    if (request.concurrency > this.holders.length) throw new Error(`only ${this.holders.length} buyers for ${request.concurrency} clients`);
    const started = performance.now();
    const measureFrom = started + request.warmupMs;
    const measureTo = measureFrom + request.measureMs;
    let cpuAtStart = process.cpuUsage();
    const startTimer = setTimeout(() => {
      cpuAtStart = process.cpuUsage();
      this.send({ type: 'measure-start' });
    }, request.warmupMs);
    const endTimer = setTimeout(() => this.send({ type: 'measure-end' }), request.warmupMs + request.measureMs);
    let cpuAtEnd: NodeJS.CpuUsage | undefined;
    const cpuTimer = setTimeout(() => (cpuAtEnd = process.cpuUsage(cpuAtStart)), request.warmupMs + request.measureMs);

    const total = new Samples();
    const steps = { order: new Samples(), request: new Samples(), authorize: new Samples() };
    const echo = [new Samples(), new Samples(), new Samples()];
    let completed = 0;
    let errors = 0;
    const errorSamples: string[] = [];
    const pads = this.bodyBytes.map((n) => 'x'.repeat(Math.max(0, n - '{"pad":""}'.length)));

    await Promise.all(this.holders.slice(0, request.concurrency).map(async (holder) => {
      let turn = 0;
      while (performance.now() < measureTo) {
        try {
          if (request.scenario === 'payments') {
            const timing = await payOnce(this.context, holder, this.productIds[randomInt(this.productIds.length)]!);
            const end = performance.now();
            if (end >= measureFrom && end <= measureTo) {
              completed += 1;
              total.add(timing.totalMs);
              steps.order.add(timing.orderMs);
              steps.request.add(timing.requestMs);
              steps.authorize.add(timing.authorizeMs);
            }
          } else if (request.scenario === 'top-ups') {
            const began = performance.now();
            expectStatus('top-up', await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon: TOP_UP_PROBE_WON }), 201);
            const end = performance.now();
            if (end >= measureFrom && end <= measureTo) {
              completed += 1;
              total.add(end - began);
            }
          } else if (request.scenario === 'echo-signed' || request.scenario === 'echo-anonymous') {
            // One round trip per turn, the payment's three body sizes in turn: requests/s with and without the proof.
            const pad = pads[turn++ % pads.length]!;
            const began = performance.now();
            const answer = request.scenario === 'echo-signed'
              ? await holder.client.request('POST', ECHO_PATH, { pad })
              : await sendJson(holder.client.connection, 'POST', ECHO_PUBLIC_PATH, { pad });
            expectStatus('echo', answer, 200);
            const end = performance.now();
            if (end >= measureFrom && end <= measureTo) {
              completed += 1;
              total.add(end - began);
            }
          } else {
            const began = performance.now();
            const times: number[] = [];
            for (const pad of pads) {
              const t = performance.now();
              expectStatus('echo', await holder.client.request('POST', ECHO_PATH, { pad }), 200);
              times.push(performance.now() - t);
            }
            const end = performance.now();
            if (end >= measureFrom && end <= measureTo) {
              completed += 1;
              total.add(end - began);
              times.forEach((ms, i) => echo[i]!.add(ms));
            }
          }
        } catch (error) {
          errors += 1;
          if (errorSamples.length < ERROR_SAMPLES_MAX) errorSamples.push(error instanceof Error ? error.message : String(error));
        }
      }
    }));
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    clearTimeout(cpuTimer);
    const cpu = cpuAtEnd ?? process.cpuUsage(cpuAtStart);
    const result: RunResult = {
      type: 'result',
      scenario: request.scenario,
      concurrency: request.concurrency,
      measure_s: request.measureMs / 1000,
      per_s: round(completed / (request.measureMs / 1000), 1),
      completed,
      errors,
      errorSamples,
      total: total.summary(),
      steps: request.scenario === 'payments'
        ? { order: steps.order.summary(), request: steps.request.summary(), authorize: steps.authorize.summary() }
        : request.scenario !== 'http'
        ? {}
        : { order_sized: echo[0]!.summary(), request_sized: echo[1]!.summary(), authorize_sized: echo[2]!.summary() },
      load_cpu_share: round((cpu.user + cpu.system) / 1000 / request.measureMs, 3),
    };
    this.send(result);
  }

  close(): void {
    for (const holder of this.holders) holder.client.connection.close();
  }
}

