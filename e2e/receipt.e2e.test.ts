/**
 * Seller-signed receipts in a real Chromium, end to end: the seller adds a product with
 * its image in one form; a buyer pays; the seller
 * corrects the store profile on the seller's my page (a wrong check digit first),
 * finds the sale in the sales history, opens the order and issues the receipt with
 * the certificate password (signed in the page); the buyer's open order page shows
 * it without a reload; the buyer verifies it (server and browser), downloads it, and
 * OpenSSL accepts the downloaded file — and refuses it with one byte changed, as the
 * public verify page does. The printable page carries a QR code whose link opens the
 * public check, logged out.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, payOrderInPage, registerInPage, startServer, type E2eServer } from './harness.js';
import { runAxe, seriousOrWorse, describeViolations } from './accessibility.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';
import { drawProductPicture } from '../apps/server/src/services/png-image.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('receipt end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
const PC = { locale: 'ko-KR', viewport: { width: 1280, height: 900 }, acceptDownloads: true } as const;
const PHONE = { locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, acceptDownloads: true } as const;
/** Key generation and encryption run 600,000 PBKDF2 iterations in the page. */
const CRYPTO_TIMEOUT_MS = 60_000;
const PRICE_WON = 12_500;
const QUANTITY = 3;

function watchPage(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name} CSP: ${message.text()}`);
  });
}

async function issueMasterCertificate(page: Page, baseUrl: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/certificates`);
  await page.getByTestId('issue-password').fill(password);
  await page.getByTestId('issue-password-confirm').fill(password);
  await page.getByTestId('issue-submit').click();
  await page.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
}

function opensslAccepts(file: string, rootPem: string): { ok: boolean; stderr: string } {
  const result = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', file, '-CAfile', rootPem, '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
  return { ok: result.status === 0, stderr: result.stderr };
}

describe.skipIf(unavailable !== undefined)('receipts in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const productName = `e2e 감귤 ${stamp}`;
  const password = '영수증 인증서 비밀번호';
  const work = mkdtempSync(path.join(tmpdir(), 'cp-receipt-e2e-'));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('a buyer pays, the seller issues the signed receipt, the buyer sees and verifies it, and OpenSSL agrees', async () => {
    // Seller (desktop): register, a product, a master certificate.
    const sellerContext = await browser.newContext(PC);
    const seller = await sellerContext.newPage();
    watchPage(seller, problems, 'seller');
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `rcseller${stamp}`, name: '박판매' });
    await seller.waitForURL('**/seller/products');
    const form = seller.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(productName);
    await form.getByTestId('product-category-select').selectOption('food');
    await form.getByTestId('product-description-input').fill('제주 감귤 3kg');
    await form.getByTestId('product-price-input').fill(String(PRICE_WON));
    await form.getByTestId('product-stock-input').fill('10');
    // The new product takes its image in the same form.
    await form.getByTestId('product-create-image-input').setInputFiles({ name: 'tangerine.png', mimeType: 'image/png', buffer: drawProductPicture(30, 'square', 200) });
    await form.getByTestId('product-submit').click();
    const row = seller.getByTestId('seller-product-row').filter({ hasText: productName });
    await expect.poll(() => row.count()).toBe(1);
    await expect.poll(() => row.locator('img').count()).toBe(1);
    const imageUrl = await row.locator('img').first().getAttribute('src');
    const imageResponse = await seller.request.get(new URL(imageUrl!, server.baseUrl).toString());
    expect(imageResponse.headers()['content-type']).toBe('image/png');
    const productHref = await row.locator('a[href^="/products/"]').first().getAttribute('href');
    await issueMasterCertificate(seller, server.baseUrl, password);
    // A seller's wallet has no top-up, so no top-up limit line either.
    await seller.goto(`${server.baseUrl}/me`);
    await seller.getByTestId('wallet-balance').waitFor();
    expect(await seller.getByTestId('wallet-today').count()).toBe(0);

    // The store profile: a wrong check digit is refused in the form; a right one is saved.
    await seller.goto(`${server.baseUrl}/seller`);
    await seller.getByTestId('store-form').waitFor();
    await seller.getByTestId('store-business-number').fill('220-81-62518');
    await seller.getByTestId('store-save').click();
    await expect.poll(() => seller.locator('#store-business-number-error').textContent()).toContain('사업자등록번호');
    await seller.getByTestId('store-business-number').fill('220-81-62517');
    await seller.getByTestId('store-name').fill(`감귤농원 ${stamp}`);
    await seller.getByTestId('store-save').click();
    await seller.getByTestId('store-saved').waitFor();

    // Buyer (phone): register, certificate, top up, buy, pay.
    const buyerContext = await browser.newContext(PHONE);
    const buyer = await buyerContext.newPage();
    watchPage(buyer, problems, 'buyer');
    await registerInPage(buyer, server.baseUrl, { role: 'buyer', loginId: `rcbuyer${stamp}`, name: '최구매' });
    await issueMasterCertificate(buyer, server.baseUrl, password);
    await buyer.goto(`${server.baseUrl}/me`);
    await buyer.getByTestId('top-up-amount').fill('100000');
    await buyer.getByTestId('top-up-submit').click();
    await buyer.getByTestId('top-up-done').waitFor();
    await buyer.goto(`${server.baseUrl}${productHref}`);
    await buyer.getByTestId('quantity-input').fill(String(QUANTITY));
    await buyer.getByTestId('buy-now').click();
    await buyer.waitForURL('**/checkout?**');
    await buyer.getByTestId('checkout-submit').click();
    await buyer.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    const orderId = new URL(buyer.url()).pathname.split('/')[2]!;
    await payOrderInPage(buyer, server, orderId, password, CRYPTO_TIMEOUT_MS);

    // The buyer's order page, open before the receipt exists.
    await buyer.goto(`${server.baseUrl}/orders/${orderId}`);
    await buyer.getByTestId('receipt-none').waitFor();

    // The seller finds the sale, opens the order and issues the receipt.
    await seller.goto(`${server.baseUrl}/seller`);
    const sale = seller.getByTestId('sale').filter({ hasText: productName });
    await sale.waitFor();
    expect(await sale.textContent()).toContain('37,500원');
    expect(await sale.textContent()).toContain('영수증 미발행');
    await seller.getByTestId('sales-chart').waitFor();
    const axeSeller = seriousOrWorse(await runAxe(seller));
    expect(describeViolations(axeSeller)).toEqual([]);
    await seller.screenshot({ path: `${SHOTS}/seller-home-ko.png`, fullPage: true });
    await sale.getByTestId('sale-link').click();
    await seller.waitForURL(`**/orders/${orderId}`);
    await seller.getByTestId('receipt-issue').click();
    const signForm = seller.getByTestId('receipt-sign-form');
    await signForm.waitFor();
    expect(await seller.getByTestId('receipt-draft').getByTestId('receipt-total').textContent()).toBe('37,500원');
    expect(await seller.getByTestId('receipt-draft').getByTestId('receipt-business-number').textContent()).toBe('220-81-62517');
    // A wrong password opens nothing; the right one signs here and the server stores the receipt.
    await seller.getByTestId('receipt-password').fill('틀린 비밀번호 입니다');
    await seller.getByTestId('receipt-sign').click();
    await expect.poll(() => seller.locator('#receipt-password-error').textContent(), { timeout: CRYPTO_TIMEOUT_MS }).toContain('인증서 비밀번호');
    await seller.getByTestId('receipt-password').fill(password);
    await seller.getByTestId('receipt-sign').click();
    await seller.getByTestId('receipt-issued').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    const signatureHex = (await seller.getByTestId('receipt-signature-hex').textContent())!.replace(/\s/g, '');
    expect(signatureHex).toMatch(/^[0-9a-f]{128}$/);

    // The buyer's page shows it without a reload, with the same signature value.
    const paper = buyer.getByTestId('receipt-paper');
    await paper.waitFor({ timeout: 15_000 });
    expect(await paper.getByTestId('receipt-store-name').textContent()).toBe(`감귤농원 ${stamp}`);
    expect(await paper.getByTestId('receipt-total').textContent()).toBe('37,500원');
    expect((await paper.getByTestId('receipt-signature-hex').textContent())!.replace(/\s/g, '')).toBe(signatureHex);
    await buyer.getByTestId('receipt-verify').click();
    await expect.poll(() => buyer.getByTestId('receipt-verdict-server').getAttribute('data-valid')).toBe('true');
    await expect.poll(() => buyer.getByTestId('receipt-verdict-local').getAttribute('data-valid')).toBe('true');
    expect(await buyer.getByTestId('receipt-verdict-server').getByTestId('verdict-business-number').textContent()).toBe('220-81-62517');
    await buyer.screenshot({ path: `${SHOTS}/receipt-buyer-ko-phone.png`, fullPage: true });
    const axeBuyer = seriousOrWorse(await runAxe(buyer));
    expect(describeViolations(axeBuyer)).toEqual([]);
    const [download] = await Promise.all([buyer.waitForEvent('download'), buyer.getByTestId('receipt-download').click()]);
    expect(download.suggestedFilename()).toMatch(/^CP-\d{8}-[0-9A-Z]{6}-R1\.p7s$/);
    const p7s = path.join(work, download.suggestedFilename());
    await download.saveAs(p7s);

    // OpenSSL accepts the downloaded file against our root, and refuses it with one byte changed.
    const rootPem = path.join(work, 'root.pem');
    writeFileSync(rootPem, server.app.internals.ca.root.certificate.toString('pem'));
    const accepted = opensslAccepts(p7s, rootPem);
    expect(accepted.ok, accepted.stderr).toBe(true);
    const broken = Buffer.from(readFileSync(p7s));
    const at = broken.indexOf(Buffer.from('"storeName":"'));
    expect(at).toBeGreaterThan(0);
    broken[at + 13] = broken[at + 13] === 0x41 ? 0x42 : 0x41;
    const brokenFile = path.join(work, 'broken.p7s');
    writeFileSync(brokenFile, broken);
    expect(opensslAccepts(brokenFile, rootPem).ok).toBe(false);

    // The printable page: the receipt and a QR code whose link opens the public check.
    await buyer.getByTestId('receipt-print-link').click();
    await buyer.getByTestId('receipt-qr').waitFor();
    expect(await buyer.getByTestId('receipt-qr').locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    const verifyUrl = (await buyer.getByTestId('receipt-verify-url').getAttribute('href'))!;
    expect(verifyUrl).toMatch(/\/verify-receipt\?link=[A-Za-z0-9_-]{32}$/);
    await buyerContext.close();

    // A visitor, logged out: the link is valid; the file is valid; the changed file is not.
    const visitorContext = await browser.newContext(PC);
    const visitor = await visitorContext.newPage();
    watchPage(visitor, problems, 'visitor');
    await visitor.goto(verifyUrl);
    await expect.poll(() => visitor.getByTestId('receipt-verdict-server').getAttribute('data-valid')).toBe('true');
    await expect.poll(() => visitor.getByTestId('receipt-verdict-local').getAttribute('data-valid')).toBe('true');
    const verdict = visitor.getByTestId('receipt-verdict-server');
    expect(await verdict.getByTestId('verdict-store').textContent()).toBe(`감귤농원 ${stamp}`);
    expect(await verdict.getByTestId('verdict-total').textContent()).toBe('37,500원');
    expect(await verdict.getByTestId('verdict-chain').locator('tbody tr').count()).toBe(3);
    expect((await verdict.getByTestId('verdict-signature').textContent())!.replace(/\s/g, '')).toBe(signatureHex);
    const axeVisitor = seriousOrWorse(await runAxe(visitor));
    expect(describeViolations(axeVisitor)).toEqual([]);
    await visitor.screenshot({ path: `${SHOTS}/verify-receipt-ko.png`, fullPage: true });
    await visitor.getByTestId('verify-receipt-file').setInputFiles({ name: 'broken.p7s', mimeType: 'application/pkcs7-signature', buffer: broken });
    await visitor.getByTestId('verify-receipt-submit').click();
    await expect.poll(() => visitor.getByTestId('receipt-verdict-server').getAttribute('data-valid')).toBe('false');
    await expect.poll(() => visitor.getByTestId('receipt-verdict-local').getAttribute('data-valid')).toBe('false');
    await visitor.getByTestId('verify-receipt-file').setInputFiles(p7s);
    await visitor.getByTestId('verify-receipt-submit').click();
    await expect.poll(() => visitor.getByTestId('receipt-verdict-server').getAttribute('data-valid')).toBe('true');
    await expect.poll(() => visitor.getByTestId('receipt-verdict-local').getAttribute('data-valid')).toBe('true');
    // The status now, in the browser's verdict as in the server's: the browser fetched the
    // CAs' current CRLs (leaf, issuing CA; the root is the anchor).
    const statusesNow = (id: string) => visitor.getByTestId(id).getByTestId('verdict-chain').locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-status-now')));
    expect(await statusesNow('receipt-verdict-local')).toEqual(['good', 'good', 'trusted']);
    expect(await statusesNow('receipt-verdict-server')).toEqual(['good', 'good', 'trusted']);

    // An operator revokes the seller's certificate (its record and the CRL, as the console
    // does). The receipt stays valid, signed and time-stamped before; both verdicts show the
    // revocation on the next check.
    const { certificates, crls, database } = server.app.internals;
    const signer = await database.db.selectFrom('receipts').select('certificateId').where('orderId', '=', orderId).executeTakeFirstOrThrow();
    const signerRecord = (await certificates.findById(signer.certificateId))!;
    await database.db.transaction().execute((trx) => certificates.revoke(trx, signerRecord.id, 'keyCompromise', Date.now()));
    crls.invalidate(signerRecord.issuerId);
    await visitor.getByTestId('verify-receipt-file').setInputFiles(p7s);
    await visitor.getByTestId('verify-receipt-submit').click();
    await expect.poll(() => statusesNow('receipt-verdict-local')).toEqual(['revoked', 'good', 'trusted']);
    expect(await statusesNow('receipt-verdict-server')).toEqual(['revoked', 'good', 'trusted']);
    expect(await visitor.getByTestId('receipt-verdict-local').getAttribute('data-valid')).toBe('true');
    await visitorContext.close();

    // The sales history now names the receipt.
    await seller.goto(`${server.baseUrl}/seller`);
    await expect.poll(() => seller.getByTestId('sale').filter({ hasText: productName }).getByTestId('sale-receipt').count()).toBe(1);
    await sellerContext.close();
    expect(problems).toEqual([]);
  });
});
