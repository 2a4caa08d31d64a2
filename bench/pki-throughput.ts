/**
 * Throughput of the PKI work around payments, on one core, in-process (no HTTP):
 *
 * - certificate issuance from a CSR: `CertificatesService.issueMaster`, the service
 *   behind `POST /api/certificates/master`, wired from the app's own parts as app.ts
 *   wires it — CSR checks (algorithm, proof of possession, P-256), the CA's signature,
 *   and the issuing transaction with its certificate row, event and audit-log entry.
 *   One new user per certificate (users inserted beforehand, not timed), CSRs made
 *   beforehand (the browser's work);
 * - chain validation with status: core's `validatePath` for a user's master
 *   certificate, purpose `payment`, against the service's root with the issuing CA as
 *   intermediate, `revocation: 'require'` with the current CRLs of the issuing CA and
 *   the root — how the product's verifiers (payment evidence, receipts, `coconutpay
 *   cert verify`) judge status; none of them asks OCSP. Some of the issued certificates
 *   are revoked first, so the CRL has entries to search;
 * - receipt verification: core's `verifyReceipt` on a real receipt — a paid order's
 *   receipt signed by the seller's certificate as the web app signs it, issued through
 *   the API and downloaded by the buyer — with the current CRLs for its status now.
 *
 * Each runs `IN_FLIGHT` calls at a time; its cost is the process's CPU time per call
 * (WebCrypto's thread-pool work included: the whole process is pinned to one core).
 *
 * Run as a child of bench/run.ts (IPC), or alone: `npx tsx --conditions=source bench/pki-throughput.ts`.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { generateSigningKeyPair } from '@coconutpay/core/pki/key-pair';
import { fromPem } from '@coconutpay/core/pki/pem';
import { validatePath } from '@coconutpay/core/pki/validate-path';
import { receiptContentBytes, signReceiptContent, verifyReceipt, type ReceiptContent } from '@coconutpay/core/receipt';
import { CertificateRequestsRepository } from '../apps/server/src/db/certificate-requests-repository.js';
import { SessionsRepository } from '../apps/server/src/db/sessions-repository.js';
import { UsersRepository } from '../apps/server/src/db/users-repository.js';
import { CertificatesService } from '../apps/server/src/services/certificates.js';
import { newClient, startTestApp, type TestApp } from '../apps/server/test/helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand } from '../apps/server/test/payment-client.js';
import { round, Samples, type LatencySummary } from './lib/stats.js';
import { inBatches } from './lib/in-batches.js';

/** One operation's measured throughput. */
export interface Throughput {
  calls: number;
  in_flight: number;
  per_s: number;
  /** CPU time of the process per call (µs), thread pool included. */
  cpu_us_per_call: number;
  latency: LatencySummary;
}

export interface PkiThroughput {
  issuance: Throughput & { path: string };
  chains: Throughput & { crl_entries: number; crl_bytes: number[]; revoked_refused_with: string };
  receipts: Throughput & { receipt_bytes: number; checks: string[] };
}

/** What one run asks for: how many certificates to issue and how long to time the two checks. */
export interface PkiPlan {
  certificates: number;
  checkMs: number;
  /** Folder with the CA and server keys to start from (a copy is used). */
  dataDir?: string;
}

const IN_FLIGHT = 4;
/** Untimed calls before a timed check, so the JIT has seen its code. */
const WARM_UP_CALLS = 20;
/** One certificate in REVOKED_EVERY is revoked before the chains are timed. */
const REVOKED_EVERY = 10;
/** CSRs are made this many at a time (setup, not timed). */
const SETUP_IN_FLIGHT = 8;

/** Runs `work(i)` for i = 0, 1, … with IN_FLIGHT in flight, until `count` calls or `durationMs` (whichever ends first). */
async function timed(work: (i: number) => Promise<unknown>, limits: { count?: number; durationMs?: number }): Promise<Throughput> {
  // The timed checks warm up first; issuance cannot (each call uses up one person's CSR), so it is timed from its first call.
  const warmUpCalls = limits.count === undefined ? WARM_UP_CALLS : 0;
  for (let i = 0; i < warmUpCalls; i++) await work(i);
  const latency = new Samples();
  let next = 0;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const until = started + (limits.durationMs ?? Number.POSITIVE_INFINITY);
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < until && (limits.count === undefined || next < limits.count)) {
      const i = next++;
      const t0 = performance.now();
      await work(i);
      latency.add(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { calls: latency.count, in_flight: IN_FLIGHT, per_s: round(latency.count / seconds, 1), cpu_us_per_call: round((cpu.user + cpu.system) / latency.count, 0), latency: latency.summary() };
}

async function measureIssuance(t: TestApp, count: number): Promise<{ result: PkiThroughput['issuance']; leaves: { id: string; der: Uint8Array }[] }> {
  const { database, ca, crls, audit } = t.app.internals;
  const db = database.db;
  const users = new UsersRepository(db);
  const service = new CertificatesService({
    db, certificates: t.app.internals.certificates, requests: new CertificateRequestsRepository(db), users, sessions: new SessionsRepository(db), ca, crls,
    clock: t.clock.now, validityDays: t.config.certificateValidityDays, audit,
  });
  // The people asking: inserted directly (registration hashes a password; that is not what is timed).
  const ids = Array.from({ length: count }, () => randomUUID());
  await db.transaction().execute(async (trx) => {
    for (const [i, id] of ids.entries()) {
      await users.insert(trx, {
        id, loginId: `pki${Date.now().toString(36)}${i}`, passwordHash: 'not-a-login', role: 'buyer', name: '벤치 사용자', phone: '010-1234-5678',
        address: '서울시 중구 세종대로 110', email: `pki${i}@bench.test`, createdAtMs: t.clock.nowMs, store: null,
      });
    }
  });
  const csrs = await inBatches(count, SETUP_IN_FLIGHT, async (i) => buildCsr(await generateSigningKeyPair(), `pki bench ${i}`));
  const leaves: { id: string; der: Uint8Array }[] = [];
  const throughput = await timed(async (i) => {
    const issued = await service.issueMaster({ userId: ids[i]!, role: 'buyer', sessionId: randomUUID() }, csrs[i]!, false);
    leaves.push({ id: issued.certificate.id, der: fromPem(issued.certificatePem, 'CERTIFICATE') });
  }, { count });
  if (leaves.length !== count) throw new Error(`issued ${leaves.length} of ${count} certificates`);
  return { result: { ...throughput, path: 'in-process, no HTTP, on SQLite' }, leaves };
}

async function measureChains(t: TestApp, leaves: { id: string; der: Uint8Array }[], durationMs: number): Promise<PkiThroughput['chains']> {
  const { ca, crls, certificates, database } = t.app.internals;
  const revoked = leaves.filter((_, i) => i % REVOKED_EVERY === 0);
  await database.db.transaction().execute(async (trx) => {
    for (const leaf of revoked) await certificates.revoke(trx, leaf.id, 'keyCompromise', t.clock.nowMs);
  });
  crls.invalidate(ca.issuing.id);
  // The validator compares at whole seconds: let the revocations be in the past.
  t.clock.advance(2_000);
  const currentCrls = [await crls.current(ca.issuing), await crls.current(ca.root)];
  const rootDer = new Uint8Array(ca.root.certificate.rawData);
  const issuingDer = new Uint8Array(ca.issuing.certificate.rawData);
  const good = leaves.filter((_, i) => i % REVOKED_EVERY !== 0);
  const check = (leaf: Uint8Array) => validatePath({ trustAnchors: [rootDer], intermediates: [issuingDer], leaf, at: new Date(t.clock.nowMs), purpose: 'payment', crls: currentCrls, revocation: 'require' });
  // The measurement is only worth something if the status is really read.
  const refused = await check(revoked[0]!.der);
  if (refused.valid) throw new Error('a revoked certificate passed the chain check');
  const accepted = await check(good[0]!.der);
  if (!accepted.valid) throw new Error(`a good certificate failed the chain check: ${JSON.stringify(accepted.reasons)}`);
  const throughput = await timed(async (i) => {
    const verdict = await check(good[i % good.length]!.der);
    if (!verdict.valid) throw new Error('chain refused');
  }, { durationMs });
  return { ...throughput, crl_entries: revoked.length, crl_bytes: currentCrls.map((c) => c.length), revoked_refused_with: refused.reasons.map((r) => r.code).join(', ') };
}

/** A paid order's receipt as the buyer downloads it: the seller signed it in "the browser" and the server made it long-term. */
async function realReceipt(t: TestApp): Promise<Uint8Array> {
  const seller = await buyerWithCertificate(t, await newClient(t, 'seller'));
  const product = await seller.client.request('POST', '/api/seller/products', { name: '제주 감귤 5kg', category: 'food', description: '', priceWon: 25_000, stock: 1000 });
  if (product.statusCode !== 201) throw new Error(`product: ${product.body}`);
  const buyer = await buyerWithCertificate(t);
  if ((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 2_000_000 })).statusCode !== 201) throw new Error('top-up');
  const order = await buyer.client.request('POST', '/api/orders', { source: 'product', productId: product.json().id, quantity: 3 });
  if (order.statusCode !== 201) throw new Error(`order: ${order.body}`);
  const orderId = order.json().id as string;
  const opened = await requestCommand(t, buyer, orderId);
  const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
  const paid = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }));
  if (paid.statusCode !== 200) throw new Error(`payment: ${paid.body}`);
  const draft = await seller.client.get(`/api/seller/orders/${orderId}/receipt-draft`);
  if (draft.statusCode !== 200) throw new Error(`draft: ${draft.body}`);
  const content = draft.json().content as ReceiptContent;
  const der = await signReceiptContent(receiptContentBytes(content), new Date(t.clock.nowMs), fromPem(seller.certificatePem, 'CERTIFICATE'), seller.keys.privateKey);
  const issued = await seller.client.request('POST', `/api/seller/orders/${orderId}/receipts`, { cmsBase64: Buffer.from(der).toString('base64') });
  if (issued.statusCode !== 201) throw new Error(`receipt: ${issued.body}`);
  const file = await buyer.client.get(`/api/orders/${orderId}/receipt.p7s`);
  if (file.statusCode !== 200) throw new Error(`receipt file: ${file.body}`);
  return new Uint8Array(file.rawPayload);
}

async function measureReceipts(t: TestApp, durationMs: number): Promise<PkiThroughput['receipts']> {
  const der = await realReceipt(t);
  const { ca, crls } = t.app.internals;
  const rootDer = new Uint8Array(ca.root.certificate.rawData);
  const currentCrls = [await crls.current(ca.issuing), await crls.current(ca.root)];
  const verify = () => verifyReceipt(der, [rootDer], { currentCrls, now: new Date(t.clock.nowMs) });
  const verdict = await verify();
  if (!verdict.valid) throw new Error(`the receipt does not verify: ${JSON.stringify(verdict.reasons)}`);
  const throughput = await timed(async () => {
    if (!(await verify()).valid) throw new Error('receipt refused');
  }, { durationMs });
  return { ...throughput, receipt_bytes: der.length, checks: verdict.checks.filter((c) => c.outcome === 'passed').map((c) => c.name) };
}

export async function measurePkiThroughput(plan: PkiPlan): Promise<PkiThroughput> {
  const t = await startTestApp(plan.dataDir ? { env: { DATA_DIR: plan.dataDir } } : {});
  try {
    const { result: issuance, leaves } = await measureIssuance(t, plan.certificates);
    const chains = await measureChains(t, leaves, plan.checkMs);
    const receipts = await measureReceipts(t, plan.checkMs);
    return { issuance, chains, receipts };
  } finally {
    await t.close();
  }
}

// Only as the process bench/run.ts starts, or alone: a test runner's worker has an IPC channel too.
const isEntry = process.argv[1]?.endsWith('pki-throughput.ts') === true;
if (isEntry && process.send) {
  process.once('message', (message: PkiPlan) => {
    measurePkiThroughput(message).then(
      (result) => process.send!({ type: 'pki', result }, () => process.exit(0)),
      (error: unknown) => process.send!({ type: 'failed', error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1)),
    );
  });
} else if (isEntry) {
  measurePkiThroughput({ certificates: 200, checkMs: 1_000 }).then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`));
}
