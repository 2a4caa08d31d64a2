/**
 * Seller-signed receipts and the seller's my page, on every engine: the seller signs
 * the server's draft in "the browser" (core + WebCrypto, as the web app does) and the
 * server refuses every receipt it must not store, each with its code. On SQLite also:
 * the stored file is judged alike by core, the public endpoint, the CLI and OpenSSL,
 * and one changed byte makes all four say invalid.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPem } from '@coconutpay/core/pki/pem';
import { parseSignedData } from '@coconutpay/core/pki/cms';
import { businessNumberValid, receiptContentBytes, signReceiptContent, verifyReceipt, type ReceiptContent, type ReceiptVerdict } from '@coconutpay/core/receipt';
import { buyerRegistration, enginesUnderTest, newClient, sellerRegistration, SignedClient, startTestApp, type EngineUnderTest, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, deviceKeys, requestCommand, rootDer, type Holder } from './payment-client.js';

const CLI = fileURLToPath(new URL('../../cli/bin/coconutpay.mjs', import.meta.url));
const DAY_MS = 86_400_000;
const work = mkdtempSync(path.join(tmpdir(), 'cp-receipts-'));
let fileCount = 0;
function write(data: string | Uint8Array, name = `r${fileCount++}.p7s`): string {
  const p = path.join(work, name);
  writeFileSync(p, data);
  return p;
}

/** The failed checks' codes by check name. */
function failures(verdict: ReceiptVerdict): Record<string, string[]> {
  return Object.fromEntries(verdict.checks.filter((c) => c.outcome === 'failed').map((c) => [c.name, c.codes]));
}

interface Shop {
  t: TestApp;
  seller: Holder;
  productId: string;
  buyer: Holder;
}

async function openShop(engine?: EngineUnderTest): Promise<Shop> {
  const t = await startTestApp(engine ? { engine } : {});
  const seller = await buyerWithCertificate(t, await newClient(t, 'seller'));
  const product = await seller.client.request('POST', '/api/seller/products', { name: '제주 감귤 5kg', category: 'food', description: '', priceWon: 25_000, stock: 1000 });
  expect(product.statusCode, product.body).toBe(201);
  const buyer = await buyerWithCertificate(t);
  expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 2_000_000 })).statusCode).toBe(201);
  return { t, seller, productId: product.json().id, buyer };
}

/** An order of `quantity`, paid through the whole protocol (so it has payment evidence). */
async function paidOrder(shop: Shop, quantity = 2, buyer = shop.buyer): Promise<{ id: string; orderNumber: string }> {
  const created = await buyer.client.request('POST', '/api/orders', { source: 'product', productId: shop.productId, quantity });
  expect(created.statusCode, created.body).toBe(201);
  const opened = await requestCommand(shop.t, buyer, created.json().id);
  const code = opened.codeRequired ? await codeOf(shop.t, opened.comId) : null;
  const res = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(shop.t, buyer, opened, { code }));
  expect(res.statusCode, res.body).toBe(200);
  return { id: created.json().id, orderNumber: created.json().orderNumber };
}

async function draftOf(shop: Shop, orderId: string, reissue = false): Promise<ReceiptContent> {
  const res = await shop.seller.client.get(`/api/seller/orders/${orderId}/receipt-draft${reissue ? '?reissue=true' : ''}`);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  // The bytes to sign are exactly the canonical form of the content shown.
  expect(body.contentBase64Url).toBe(Buffer.from(receiptContentBytes(body.content)).toString('base64url'));
  return body.content;
}

/** What the seller's browser does: sign the content with the certificate's key. */
async function signed(shop: Shop, content: ReceiptContent | Uint8Array, signer: Holder = shop.seller, signingTimeMs = shop.t.clock.nowMs): Promise<string> {
  const bytes = content instanceof Uint8Array ? content : receiptContentBytes(content);
  const der = await signReceiptContent(bytes, new Date(signingTimeMs), fromPem(signer.certificatePem, 'CERTIFICATE'), signer.keys.privateKey);
  return Buffer.from(der).toString('base64');
}

async function issue(shop: Shop, orderId: string, cmsBase64: string, client: SignedClient = shop.seller.client) {
  return client.request('POST', `/api/seller/orders/${orderId}/receipts`, { cmsBase64 });
}

async function receiptFile(shop: Shop, orderId: string, client: SignedClient = shop.buyer.client): Promise<Uint8Array> {
  const res = await client.get(`/api/orders/${orderId}/receipt.p7s`);
  expect(res.statusCode, res.body).toBe(200);
  return new Uint8Array(res.rawPayload);
}

describe.each(enginesUnderTest().map((e) => [e.engine, e] as const))('receipts on %s', (_name, engine) => {
  let shop: Shop;
  beforeAll(async () => {
    shop = await openShop(engine);
  });
  afterAll(async () => shop.t.close());

  it('the seller issues the receipt the server drafted; buyer and seller see it, the server stored it long-term', async () => {
    const order = await paidOrder(shop, 3);
    const draft = await draftOf(shop, order.id);
    expect(draft).toMatchObject({
      receiptNumber: `${order.orderNumber}-R1`, replaces: null, orderNumber: order.orderNumber, totalWon: 75_000, currency: 'KRW',
      lines: [{ name: '제주 감귤 5kg', unitPriceWon: 25_000, quantity: 3, amountWon: 75_000 }],
      store: { sellerId: shop.seller.client.userId, businessNumber: '123-45-67890', representative: '김대표' },
    });
    expect(draft.paymentEvidenceSha256).toMatch(/^[0-9a-f]{64}$/);
    const res = await issue(shop, order.id, await signed(shop, draft));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ receiptNumber: draft.receiptNumber, current: true, content: draft });
    expect(res.json().signatureHex).toMatch(/^[0-9a-f]{128}$/);

    for (const client of [shop.buyer.client, shop.seller.client]) {
      const list = await client.get(`/api/orders/${order.id}/receipts`);
      expect(list.statusCode).toBe(200);
      expect(list.json().items.map((r: { receiptNumber: string }) => r.receiptNumber)).toEqual([draft.receiptNumber]);
    }
    const der = await receiptFile(shop, order.id);
    const parsed = parseSignedData(der);
    expect(parsed.crls).toHaveLength(2);
    expect(parsed.certificates).toHaveLength(3);
    const verdict = (await shop.t.app.inject({ method: 'POST', url: '/api/receipts/verify', payload: { cmsBase64: Buffer.from(der).toString('base64') } })).json();
    expect(verdict.valid, JSON.stringify(verdict.reasons)).toBe(true);
    expect(verdict.receipt).toEqual(draft);
    expect(verdict.signatureHex).toBe(res.json().signatureHex);
    expect(verdict.chain.map((c: { statusAtSigning: string }) => c.statusAtSigning)).toEqual(['good', 'good', 'trusted']);
    expect(verdict.checks.find((c: { name: string }) => c.name === 'record').outcome).toBe('passed');
    // The public link opens the same file, with the same verdict.
    const byLink = await shop.t.app.inject({ method: 'GET', url: `/api/receipts/links/${res.json().linkId}` });
    expect(byLink.statusCode, byLink.body).toBe(200);
    expect(byLink.json().cmsBase64).toBe(Buffer.from(der).toString('base64'));
    expect(byLink.json().verdict.valid).toBe(true);
    // The sales history names the receipt.
    const sales = (await shop.seller.client.get('/api/seller/sales')).json();
    expect(sales.items.find((s: { orderId: string }) => s.orderId === order.id).receiptNumber).toBe(draft.receiptNumber);
  });

  it("another seller's order → ORDER_NOT_FOUND; an unpaid order → RECEIPT_ORDER_NOT_PAID", async () => {
    const order = await paidOrder(shop);
    const other = await buyerWithCertificate(shop.t, await newClient(shop.t, 'seller'));
    const draft = await draftOf(shop, order.id);
    expect((await other.client.get(`/api/seller/orders/${order.id}/receipt-draft`)).json().code).toBe('ORDER_NOT_FOUND');
    const byOther = await issue(shop, order.id, await signed(shop, draft, other), other.client);
    expect(byOther.statusCode).toBe(404);
    expect(byOther.json().code).toBe('ORDER_NOT_FOUND');

    const unpaid = await shop.buyer.client.request('POST', '/api/orders', { source: 'product', productId: shop.productId, quantity: 1 });
    expect(unpaid.statusCode).toBe(201);
    const draftRes = await shop.seller.client.get(`/api/seller/orders/${unpaid.json().id}/receipt-draft`);
    expect(draftRes.statusCode).toBe(409);
    expect(draftRes.json().code).toBe('RECEIPT_ORDER_NOT_PAID');
    // Even with a content built by hand for it.
    const forged = await issue(shop, unpaid.json().id, await signed(shop, { ...draft, orderNumber: unpaid.json().orderNumber, receiptNumber: `${unpaid.json().orderNumber}-R1` }));
    expect(forged.json().code).toBe('RECEIPT_ORDER_NOT_PAID');
    // A buyer cannot issue at all.
    expect((await shop.buyer.client.get(`/api/seller/orders/${order.id}/receipt-draft`)).json().code).toBe('ROLE_FORBIDDEN');
  });

  it("signed with the buyer's certificate → RECEIPT_SIGNER_NOT_SELLER; content other than the records → RECEIPT_CONTENT_MISMATCH", async () => {
    const order = await paidOrder(shop);
    const draft = await draftOf(shop, order.id);
    const byBuyer = await issue(shop, order.id, await signed(shop, draft, shop.buyer));
    expect(byBuyer.statusCode).toBe(422);
    expect(byBuyer.json().code).toBe('RECEIPT_SIGNER_NOT_SELLER');

    const cheaper = { ...draft, lines: draft.lines.map((l) => ({ ...l, unitPriceWon: 20_000, amountWon: 20_000 * l.quantity })), totalWon: draft.lines.reduce((s, l) => s + 20_000 * l.quantity, 0) };
    for (const altered of [cheaper, { ...draft, store: { ...draft.store, storeName: 'Someone else' } }, { ...draft, soldAtMs: draft.soldAtMs - 1 }]) {
      const res = await issue(shop, order.id, await signed(shop, altered));
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().code).toBe('RECEIPT_CONTENT_MISMATCH');
    }
    // A signature that does not cover the content: one byte of the signed content changed after signing.
    const good = Buffer.from(await signed(shop, draft), 'base64');
    const at = good.indexOf(Buffer.from('"totalWon":'));
    good[at + 11] = good[at + 11] === 0x35 ? 0x36 : 0x35;
    const broken = await issue(shop, order.id, good.toString('base64'));
    expect(['RECEIPT_CONTENT_MISMATCH', 'RECEIPT_INVALID']).toContain(broken.json().code);
    // A signing time an hour off our clock.
    const late = await issue(shop, order.id, await signed(shop, draft, shop.seller, shop.t.clock.nowMs - 3_600_000));
    expect(late.json().code).toBe('RECEIPT_SIGNING_TIME_INVALID');
    // Not a CMS file at all.
    expect((await issue(shop, order.id, Buffer.from('not a receipt at all').toString('base64'))).json().code).toBe('RECEIPT_INVALID');
    // None of these left a receipt behind.
    expect((await shop.buyer.client.get(`/api/orders/${order.id}/receipts`)).json().items).toEqual([]);
  });

  it('one receipt per order: a second first receipt → RECEIPT_ALREADY_ISSUED; a re-issue after a correction is R2 replacing R1', async () => {
    const order = await paidOrder(shop);
    const first = await draftOf(shop, order.id);
    expect((await issue(shop, order.id, await signed(shop, first))).statusCode).toBe(201);
    expect((await issue(shop, order.id, await signed(shop, first))).json().code).toBe('RECEIPT_ALREADY_ISSUED');
    expect((await shop.seller.client.get(`/api/seller/orders/${order.id}/receipt-draft`)).json().code).toBe('RECEIPT_ALREADY_ISSUED');

    // The store corrects its address; the re-issue carries it and names the receipt it replaces.
    const profile = (await shop.seller.client.get('/api/seller/store')).json();
    const corrected = { ...profile, storeAddress: '서울특별시 중구 세종대로 110', businessNumber: '220-81-62517' };
    expect((await shop.seller.client.request('PUT', '/api/seller/store', corrected)).statusCode).toBe(200);
    const second = await draftOf(shop, order.id, true);
    expect(second).toMatchObject({ receiptNumber: `${order.orderNumber}-R2`, replaces: first.receiptNumber, store: { address: corrected.storeAddress, businessNumber: '220-81-62517' } });
    const res = await issue(shop, order.id, await signed(shop, second));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().replacesReceiptNumber).toBe(first.receiptNumber);
    const list = (await shop.buyer.client.get(`/api/orders/${order.id}/receipts`)).json().items;
    expect(list.map((r: { receiptNumber: string; current: boolean }) => [r.receiptNumber, r.current])).toEqual([[second.receiptNumber, true], [first.receiptNumber, false]]);
    // The old receipt is still a valid signature, and the verdict says what replaced it.
    const oldLink = list[1].linkId;
    const old = (await shop.t.app.inject({ method: 'GET', url: `/api/receipts/links/${oldLink}` })).json();
    expect(old.verdict.valid).toBe(true);
    expect(old.verdict.supersededBy).toBe(second.receiptNumber);
    // The download is the current one.
    expect(parseSignedData(await receiptFile(shop, order.id)).content).toEqual(receiptContentBytes(second));
  });

  it('a revoked certificate → CERTIFICATE_REVOKED; an expired one → CERTIFICATE_EXPIRED; a receipt signed before the revocation stays valid and shows it', async () => {
    const t = shop.t;
    const seller = await buyerWithCertificate(t, await newClient(t, 'seller'));
    const product = await seller.client.request('POST', '/api/seller/products', { name: '한라봉', category: 'food', description: '', priceWon: 30_000, stock: 100 });
    const ownShop: Shop = { ...shop, seller, productId: product.json().id };
    const before = await paidOrder(ownShop, 1);
    const after = await paidOrder(ownShop, 1);
    const genuine = await issue(ownShop, before.id, await signed(ownShop, await draftOf(ownShop, before.id)));
    expect(genuine.statusCode).toBe(201);
    const draft = await draftOf(ownShop, after.id);

    // Expired: the same certificate, judged a day after its end (the service directly: no session lasts that long).
    const expiryMs = t.config.certificateValidityDays * DAY_MS + DAY_MS;
    const actor = { userId: seller.client.userId, role: 'seller' as const, sessionId: seller.client.sessionId };
    t.clock.advance(expiryMs);
    await expect(t.app.internals.receipts.issue(actor, after.id, Buffer.from(await signed(ownShop, draft), 'base64'))).rejects.toMatchObject({ code: 'CERTIFICATE_EXPIRED' });
    t.clock.advance(-expiryMs);

    t.clock.advance(60_000);
    const replacement = await deviceKeys();
    expect((await seller.client.request('POST', '/api/certificates/master', { csrPem: replacement.csrPem, replace: true })).statusCode).toBe(201);
    const refused = await issue(ownShop, after.id, await signed(ownShop, draft));
    expect(refused.json().code).toBe('CERTIFICATE_REVOKED');

    const verdict = (await t.app.inject({ method: 'GET', url: `/api/receipts/links/${genuine.json().linkId}` })).json().verdict;
    expect(verdict.valid, JSON.stringify(verdict.reasons)).toBe(true);
    expect(verdict.statusNow).toMatchObject({ status: 'revoked', revokedAfterTimeStamp: true });
    expect(verdict.chain[0]).toMatchObject({ statusAtSigning: 'good', statusNow: 'revoked' });
    // The CLI with today's CRLs says the same, offline.
    const ca = t.app.internals.ca;
    const crlFiles = await Promise.all([ca.issuing, ca.root].map(async (issuer, i) => write(new Uint8Array((await t.app.inject({ method: 'GET', url: `/pki/crl/${issuer.id}.crl` })).rawPayload), `now-${fileCount}-${i}.crl`)));
    const file = write(await receiptFile(ownShop, before.id));
    const rootPem = write(ca.root.certificate.toString('pem'), `root-${fileCount}.pem`);
    const cli = spawnSync(process.execPath, [CLI, 'verify', file, '--ca', rootPem, ...crlFiles.flatMap((f) => ['--crl', f]), '--status-at', new Date(t.clock.nowMs).toISOString()], { encoding: 'utf8' });
    expect(cli.status, cli.stdout).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ valid: true, statusNow: { status: 'revoked', revokedAfterTimeStamp: true } });
  });

  it('store profile: the check digit and the phone are checked, each with its code', async () => {
    const profile = (await shop.seller.client.get('/api/seller/store')).json();
    const put = (body: unknown) => shop.seller.client.request('PUT', '/api/seller/store', body);
    expect((await put({ ...profile, businessNumber: '220-81-62518' })).json().code).toBe('STORE_BUSINESS_NUMBER_INVALID');
    expect((await put({ ...profile, businessNumber: '220-81-6251' })).json().code).toBe('STORE_BUSINESS_NUMBER_INVALID');
    expect((await put({ ...profile, businessNumber: '220-81-62517', storePhone: '12-34' })).json().code).toBe('STORE_PHONE_INVALID');
    const ok = await put({ ...profile, storeName: '감귤 농장', businessNumber: '2208162517', storePhone: '064-123-4567' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ storeName: '감귤 농장', businessNumber: '220-81-62517', storePhone: '064-123-4567' });
    expect((await shop.seller.client.get('/api/seller/store')).json().storeName).toBe('감귤 농장');
    expect((await shop.buyer.client.request('PUT', '/api/seller/store', profile)).json().code).toBe('ROLE_FORBIDDEN');
  });

  it('sales history pages and filters by day; daily totals; the ledger carries the balance after each entry', async () => {
    const t = shop.t;
    // Two days pass in this test, longer than a session: both log in again with their ids.
    const registered = async (registration: ReturnType<typeof buyerRegistration>) => {
      expect((await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration })).statusCode).toBe(201);
      return buyerWithCertificate(t, await SignedClient.login(t, registration.loginId));
    };
    const sellerSignup = sellerRegistration();
    const buyerSignup = buyerRegistration();
    let seller = await registered(sellerSignup);
    let buyer = await registered(buyerSignup);
    expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
    const product = await seller.client.request('POST', '/api/seller/products', { name: '녹차', category: 'food', description: '', priceWon: 10_000, stock: 100 });
    const own: Shop = { ...shop, seller, productId: product.json().id, buyer };
    const first = await paidOrder(own, 1);
    // Another seller's history does not show this store's sale.
    expect((await shop.seller.client.get('/api/seller/sales?pageSize=50')).json().items.some((s: { orderId: string }) => s.orderId === first.id)).toBe(false);
    t.clock.advance(2 * DAY_MS);
    seller = { ...seller, client: await SignedClient.login(t, sellerSignup.loginId) };
    buyer = { ...buyer, client: await SignedClient.login(t, buyerSignup.loginId) };
    Object.assign(own, { seller, buyer });
    await paidOrder(own, 2);
    // A second later, so "newest first" has one answer.
    t.clock.advance(1000);
    await paidOrder(own, 3);
    const all = (await seller.client.get('/api/seller/sales?pageSize=2')).json();
    expect(all.total).toBe(3);
    expect(all.totalWon).toBe(60_000);
    expect(all.items.map((s: { totalWon: number }) => s.totalWon)).toEqual([30_000, 20_000]);
    expect(all.items[0]).toMatchObject({ recipientName: '홍길동', shippingAddress: '서울시 중구 1', items: [{ productName: '녹차', quantity: 3 }] });
    expect((await seller.client.get('/api/seller/sales?pageSize=2&page=2')).json().items.map((s: { totalWon: number }) => s.totalWon)).toEqual([10_000]);
    const today = all.toDate as string;
    const onlyToday = (await seller.client.get(`/api/seller/sales?from=${today}&to=${today}`)).json();
    expect(onlyToday.total).toBe(2);
    expect((await seller.client.get(`/api/seller/sales?from=${today}&to=2000-01-01`)).json().code).toBe('SALES_DATE_RANGE_INVALID');
    expect((await seller.client.get('/api/seller/sales?from=2026-02-30')).json().code).toBe('SALES_DATE_RANGE_INVALID');

    const days = (await seller.client.get('/api/seller/sales/daily')).json().days as { date: string; count: number; totalWon: number }[];
    expect(days).toHaveLength(30);
    expect(days.at(-1)).toEqual({ date: today, count: 2, totalWon: 50_000 });
    expect(days.at(-3)).toMatchObject({ count: 1, totalWon: 10_000 });
    expect(days.reduce((s, d) => s + d.totalWon, 0)).toBe(60_000);

    const ledger = (await seller.client.get('/api/seller/ledger?pageSize=2')).json();
    expect(ledger.total).toBe(3);
    expect(ledger.items.map((e: { amountWon: number; balanceAfterWon: number }) => [e.amountWon, e.balanceAfterWon])).toEqual([[30_000, 60_000], [20_000, 30_000]]);
    expect((await seller.client.get('/api/seller/ledger?pageSize=2&page=2')).json().items.map((e: { balanceAfterWon: number }) => e.balanceAfterWon)).toEqual([10_000]);
    expect((await seller.client.get('/api/me/wallet')).json().balanceWon).toBe(60_000);
  });
});

describe('a receipt judged by core, the public endpoint, the CLI and OpenSSL alike', () => {
  let shop: Shop;
  let der: Uint8Array;
  let rootPem: string;
  beforeAll(async () => {
    shop = await openShop();
    const order = await paidOrder(shop, 2);
    expect((await issue(shop, order.id, await signed(shop, await draftOf(shop, order.id)))).statusCode).toBe(201);
    der = await receiptFile(shop, order.id);
    rootPem = write(shop.t.app.internals.ca.root.certificate.toString('pem'), 'root.pem');
  });
  afterAll(async () => shop.t.close());

  async function judged(file: Uint8Array) {
    const offline = await verifyReceipt(file, [rootDer(shop.t)]);
    const online = (await shop.t.app.inject({ method: 'POST', url: '/api/receipts/verify', payload: { cmsBase64: Buffer.from(file).toString('base64') } })).json() as ReceiptVerdict;
    const p = write(file);
    const cli = spawnSync(process.execPath, [CLI, 'verify', p, '--ca', rootPem], { encoding: 'utf8' });
    const byCli = JSON.parse(cli.stdout) as ReceiptVerdict;
    expect(cli.status, cli.stderr).toBe(byCli.valid ? 0 : 1);
    const openssl = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p, '-CAfile', rootPem, '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
    return { offline, online, cli: byCli, opensslOk: openssl.status === 0, opensslSays: openssl.stderr };
  }

  it('the file as issued: valid for all four', async () => {
    const { offline, online, cli, opensslOk, opensslSays } = await judged(der);
    expect(offline.valid, JSON.stringify(offline.reasons)).toBe(true);
    expect(online.valid, JSON.stringify(online.reasons)).toBe(true);
    expect(cli.valid, JSON.stringify(cli.reasons)).toBe(true);
    expect(opensslOk, opensslSays).toBe(true);
    expect(cli.receipt).toEqual(offline.receipt);
    expect(cli.signatureHex).toBe(online.signatureHex);
    // The long-term form: the chain at the time-stamp's time, the status then from the CRLs the file carries.
    const at = String(Math.floor(Date.parse(offline.timeStamp!.time) / 1000));
    const p = write(der);
    const longTerm = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p, '-CAfile', rootPem, '-purpose', 'any', '-crl_check_all', '-attime', at, '-out', '/dev/null'], { encoding: 'utf8' });
    expect(longTerm.status, longTerm.stderr).toBe(0);
  });

  it('coconutpay verify --online adds the server\'s verdict; without --ca it takes the root from the server and says so', async () => {
    await shop.t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = shop.t.app.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    const url = `http://127.0.0.1:${address.port}`;
    // Asynchronously: the server answering the CLI runs in this very process.
    const run = (file: Uint8Array) => new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'verify', write(file), '--online', url], { encoding: 'utf8', timeout: 30_000 }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 2) : 0, out: stdout }));
    });
    const good = await run(der);
    expect(good.code, good.out).toBe(0);
    const verdict = JSON.parse(good.out);
    expect(verdict).toMatchObject({ kind: 'receipt', valid: true, trustAnchorFrom: `${url}/pki/root.pem`, online: { url: `${url}/api/receipts/verify`, valid: true } });
    expect(verdict.online.verdict.checks.find((c: { name: string }) => c.name === 'record').outcome).toBe('passed');
    expect(verdict.online.verdict.statusNow).toMatchObject({ status: 'good' });
    const altered = Buffer.from(der);
    const at = altered.indexOf(Buffer.from('"storeName":"Store '));
    altered[at + 13] = 0x54;
    const bad = await run(altered);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ valid: false, online: { valid: false } });
  });

  it('one changed byte of the signed content: invalid for all four', async () => {
    const altered = Buffer.from(der);
    // A letter of the store's name: the content still reads as a receipt, so the signature is what fails.
    const at = altered.indexOf(Buffer.from('"storeName":"Store '));
    expect(at).toBeGreaterThan(0);
    altered[at + 13] = 0x54;
    const { offline, online, cli, opensslOk } = await judged(altered);
    for (const verdict of [offline, online, cli]) expect(verdict.valid).toBe(false);
    expect(failures(offline)).toEqual({ signature: ['SIGNATURE_INVALID'] });
    expect(failures(cli)).toEqual(failures(offline));
    expect(opensslOk).toBe(false);
  });

  it('one changed byte of the signature value: invalid for all four', async () => {
    const parsed = parseSignedData(der);
    const altered = Buffer.from(der);
    const at = altered.indexOf(Buffer.from(parsed.signatureDer));
    expect(at).toBeGreaterThan(0);
    altered[at + 10] = altered[at + 10]! ^ 0x01;
    const { offline, online, cli, opensslOk } = await judged(altered);
    for (const verdict of [offline, online, cli]) expect(verdict.valid).toBe(false);
    expect(opensslOk).toBe(false);
  });

  it('the business number check digit', () => {
    expect(['220-81-62517', '2208162517', '124-81-00998'].map(businessNumberValid)).toEqual([true, true, true]);
    expect(['220-81-62518', '123-45-67890', '220-81-6251', 'abc-de-fghij', ''].map(businessNumberValid)).toEqual([false, false, false, false, false]);
  });
});
