/**
 * Direct payment in a real Chromium, end to end: a seller lists a product; a buyer
 * (on a phone viewport) issues a master certificate through the UI, tops the
 * wallet up on "my page", buys the product now, checks the shipping, sees the
 * payment command verified in the dialog, types the certificate password and the
 * code from the picture (a wrong one first), and pays. The buyer's and the
 * seller's balances change by exactly the total; the completion page shows the
 * seed-000 facts and the signature; the downloaded evidence verifies on the order
 * page and on the public verify page (and a flipped byte does not).
 *
 * The code is a picture that only a person reads. This test is the one place a
 * program reads it: the harness runs the server in this process, so the test
 * opens the sealed code in the server's database with the server's key
 * (`verification_codes.code_sealed`), as apps/server/test/payment-client.ts `codeOf` does.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { assembleSignedData, parseSignedData } from '@coconutpay/core/pki/cms';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer, codeOfOrder, registerInPage, E2E_ADDRESS, E2E_PHONE } from './harness.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('payment end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
// Korean, as the assertions read; the language follows the browser's.
const PC = { locale: 'ko-KR', viewport: { width: 1280, height: 900 } } as const;
const PHONE = { locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, acceptDownloads: true } as const;
/** Key generation and encryption run 600,000 PBKDF2 iterations in the page. */
const CRYPTO_TIMEOUT_MS = 30_000;
const PRICE_WON = 400_000;
const QUANTITY = 2;
const TOTAL_WON = PRICE_WON * QUANTITY;
const TOP_UP_WON = 1_000_000;

function watchPage(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name} CSP: ${message.text()}`);
  });
}

/** `800,000원` → 800000 */
function won(text: string | null): number {
  return Number((text ?? '').replace(/[^0-9-]/g, ''));
}

describe.skipIf(unavailable !== undefined)('direct payment in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const productName = `e2e 스마트워치 ${stamp}`;
  const storeName = `JOONGBU ${stamp}`;
  const buyerId = `paybuyer${stamp}`;
  const certificatePassword = '결제 인증서 비밀번호';
  const work = mkdtempSync(path.join(tmpdir(), 'cp-pay-e2e-'));

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

  async function balanceOnMyPage(page: Page): Promise<number> {
    await page.goto(`${server.baseUrl}/me`);
    const balance = page.getByTestId('wallet-balance');
    await balance.waitFor();
    return won(await balance.textContent());
  }

  it('a buyer with a master certificate tops up, buys, sees the verified command, types password and code, and pays', async () => {
    const started = Date.now();
    // The seller and the product (desktop).
    const sellerContext = await browser.newContext(PC);
    const seller = await sellerContext.newPage();
    watchPage(seller, problems, 'seller');
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `payseller${stamp}`, name: '김판매', storeName });
    await seller.waitForURL('**/seller/products');
    const form = seller.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(productName);
    await form.getByTestId('product-category-select').selectOption('electronics');
    await form.getByTestId('product-description-input').fill('갤럭시 워치 액티브2 44mm 스테인리스');
    await form.getByTestId('product-price-input').fill(String(PRICE_WON));
    await form.getByTestId('product-stock-input').fill('5');
    await form.getByTestId('product-submit').click();
    const row = seller.getByTestId('seller-product-row').filter({ hasText: productName });
    await expect.poll(() => row.count()).toBe(1);
    const productHref = await row.locator('a[href^="/products/"]').first().getAttribute('href');
    expect(productHref).toMatch(/^\/products\/[0-9a-f-]+$/);
    const sellerBefore = await balanceOnMyPage(seller);

    // The buyer (phone): register, issue a master certificate, top up.
    const buyerContext = await browser.newContext(PHONE);
    const page = await buyerContext.newPage();
    watchPage(page, problems, 'buyer');
    await registerInPage(page, server.baseUrl, { role: 'buyer', loginId: buyerId, name: '윤정민' });
    await page.getByTestId('menu-toggle').click();
    await page.getByTestId('nav-certificates').click();
    await page.getByTestId('issue-password').fill(certificatePassword);
    await page.getByTestId('issue-password-confirm').fill(certificatePassword);
    await page.getByTestId('issue-submit').click();
    await page.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    expect(await balanceOnMyPage(page)).toBe(0);
    await page.getByTestId('top-up-amount').fill(String(TOP_UP_WON));
    await page.getByTestId('top-up-submit').click();
    await page.getByTestId('top-up-done').waitFor();
    await expect.poll(async () => won(await page.getByTestId('wallet-balance').textContent())).toBe(TOP_UP_WON);
    await expect.poll(() => page.getByTestId('wallet-entry').first().getAttribute('data-kind')).toBe('top_up');
    const buyerBefore = TOP_UP_WON;

    // Buy now: the order form with the profile's shipping, then the server's order.
    await page.goto(`${server.baseUrl}${productHref}`);
    await page.getByTestId('quantity-input').fill(String(QUANTITY));
    await page.getByTestId('buy-now').click();
    await page.waitForURL('**/checkout?**');
    await expect.poll(() => page.getByTestId('checkout-address').inputValue()).toBe(E2E_ADDRESS);
    expect(await page.getByTestId('checkout-phone').inputValue()).toBe(E2E_PHONE);
    await page.getByTestId('checkout-address').fill(`${E2E_ADDRESS}, 101호`);
    await page.getByTestId('checkout-submit').click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    const orderId = new URL(page.url()).pathname.split('/')[2]!;
    await expect.poll(async () => won(await page.getByTestId('order-total').textContent())).toBe(TOTAL_WON);
    expect(await page.getByTestId('pay-method-direct').isChecked()).toBe(true);
    expect(await page.getByTestId('pay-method-qr').isDisabled()).toBe(false);

    // The dialog is a modal: focus starts in it, Esc cancels and focus returns to "pay".
    await page.getByTestId('pay-open').click();
    const dialog = page.getByTestId('payment-dialog');
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('pay-open');

    // The password opens the key; the command comes back verified.
    await page.getByTestId('pay-open').click();
    await dialog.waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('payment-password');
    // A wrong password is refused on this device; nothing reaches the server.
    await page.getByTestId('payment-password').fill('틀린 비밀번호 입니다');
    await page.getByTestId('payment-request').click();
    await expect.poll(() => dialog.locator('#payment-password-error').textContent(), { timeout: CRYPTO_TIMEOUT_MS }).toContain('인증서 비밀번호가 올바르지 않습니다');

    await page.getByTestId('payment-password').fill(certificatePassword);
    const requestClickedAt = Date.now();
    await page.getByTestId('payment-request').click();
    await page.getByTestId('payment-command').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    const comShownMs = Date.now() - requestClickedAt;
    await page.getByTestId('payment-code-picture').waitFor();
    expect(await page.getByTestId('payment-code-picture').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:'))).toBe(true);
    expect(won(await page.getByTestId('payment-amount').textContent())).toBe(TOTAL_WON);
    expect(await page.getByTestId('payment-amount').textContent()).toBe('800,000원');
    expect(await page.getByTestId('payment-payee').textContent()).toContain(storeName);
    expect(await page.getByTestId('payment-payee').textContent()).toContain('214-86-12345');
    expect(await page.getByTestId('payment-payer').textContent()).toContain(buyerId);
    expect(await page.getByTestId('payment-order-number').textContent()).toMatch(/^CP-\d{8}-[0-9A-Z]{6}$/);
    expect(await page.getByTestId('payment-countdown').textContent()).toMatch(/^[12]:\d\d$/);
    const orderNumber = (await page.getByTestId('payment-order-number').textContent())!;
    // The code never appears in the page as text.
    const code = await codeOfOrder(server, orderId);
    expect(await page.locator('body').innerText()).not.toContain(code);
    await page.screenshot({ path: `${SHOTS}/payment-command-ko-phone.png`, fullPage: true });

    // A wrong code: refused, with the tries left; the same command may be signed again.
    const wrong = code.startsWith('3') ? '4' + code.slice(1) : '3' + code.slice(1);
    await page.getByTestId('payment-code').fill(wrong.toLowerCase());
    expect(await page.getByTestId('payment-code').inputValue()).toBe(wrong);
    await page.getByTestId('payment-pay').click();
    await expect.poll(() => dialog.getByTestId('form-error').textContent(), { timeout: CRYPTO_TIMEOUT_MS }).toContain('남은 시도 4회');

    await page.getByTestId('payment-code').fill(code);
    const payClickedAt = Date.now();
    await page.getByTestId('payment-pay').click();
    await page.waitForURL(`**/orders/${orderId}/complete`);
    await page.getByTestId('complete-heading').waitFor();
    const payToCompleteMs = Date.now() - payClickedAt;

    // The completion page: amount, time, buyer, orderer, shipping, phone, order number, signature.
    expect(await page.getByTestId('complete-amount').textContent()).toBe('800,000원');
    expect(await page.getByTestId('complete-order-number').textContent()).toBe(orderNumber);
    expect(await page.getByTestId('complete-buyer').textContent()).toContain(buyerId);
    expect(await page.getByTestId('complete-orderer').textContent()).toBe('윤정민');
    expect(await page.getByTestId('complete-address').textContent()).toBe(`${E2E_ADDRESS}, 101호`);
    expect(await page.getByTestId('complete-phone').textContent()).toBe(E2E_PHONE);
    expect(await page.getByTestId('complete-paid-at').textContent()).toMatch(/\d/);
    const signature = (await page.getByTestId('complete-signature').textContent())!.replace(/\s/g, '');
    expect(signature).toMatch(/^[0-9a-f]{128}$/);
    await page.screenshot({ path: `${SHOTS}/payment-complete-ko-phone.png`, fullPage: true });
    // The same page in English: the language follows the switch, amounts too.
    await page.getByTestId('lang-switch').click();
    await expect.poll(() => page.getByTestId('complete-heading').textContent()).toBe('Payment complete');
    expect(await page.getByTestId('complete-amount').textContent()).toBe('₩800,000');
    await page.getByTestId('lang-switch').click();

    const timings = await page.evaluate(() =>
      Object.fromEntries(
        performance
          .getEntriesByType('measure')
          .filter((entry) => entry.name.startsWith('coconutpay:payment'))
          .map((entry) => [entry.name.replace('coconutpay:', ''), Math.round(entry.duration)]),
      ),
    );
    const userAgent = await page.evaluate(() => navigator.userAgent);
    console.log(
      `[timing] Chromium (${userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'unknown'}): request click → COM shown ${comShownMs} ms, ` +
        `pay click → completion page ${payToCompleteMs} ms; in-page measures (last of each): ${JSON.stringify(timings)} ms`,
    );

    // Exactly the total moved, once: buyer down, seller up.
    expect(await balanceOnMyPage(page)).toBe(buyerBefore - TOTAL_WON);
    await expect.poll(() => page.getByTestId('wallet-entry').first().getAttribute('data-kind')).toBe('payment');
    expect(won(await page.getByTestId('wallet-entry-amount').first().textContent())).toBe(-TOTAL_WON);
    expect(await balanceOnMyPage(seller)).toBe(sellerBefore + TOTAL_WON);
    await seller.getByTestId('nav-seller-orders').click();
    await expect.poll(() => seller.getByTestId('order-row').first().getByTestId('order-status').getAttribute('data-status')).toBe('paid');

    // The order page: download the evidence, verify it on the server and here.
    await page.goto(`${server.baseUrl}/orders/${orderId}`);
    await page.getByTestId('evidence-download').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('evidence-download').click()]);
    expect(download.suggestedFilename()).toBe(`${orderNumber}.p7s`);
    const p7s = path.join(work, download.suggestedFilename());
    await download.saveAs(p7s);
    await page.getByTestId('evidence-verify').click();
    await expect.poll(() => page.getByTestId('verdict-server').getAttribute('data-valid')).toBe('true');
    await expect.poll(() => page.getByTestId('verdict-local').getAttribute('data-valid')).toBe('true');
    await buyerContext.close();

    // The public verify page, logged out: the same verdict and the same signature value.
    const visitorContext = await browser.newContext(PC);
    const visitor = await visitorContext.newPage();
    watchPage(visitor, problems, 'visitor');
    await visitor.goto(`${server.baseUrl}/verify`);
    await visitor.getByTestId('verify-file').setInputFiles(p7s);
    await visitor.getByTestId('verify-submit').click();
    const serverVerdict = visitor.getByTestId('verdict-server');
    await expect.poll(() => serverVerdict.getAttribute('data-valid')).toBe('true');
    await expect.poll(() => visitor.getByTestId('verdict-local').getAttribute('data-valid')).toBe('true');
    // Both tell the payer's certificate's status now: the browser fetched the CAs' current CRLs.
    for (const id of ['verdict-server', 'verdict-local']) expect(await visitor.getByTestId(id).getByTestId('verdict-status-now').getAttribute('data-status')).toBe('good');
    expect(await serverVerdict.getByTestId('verdict-order-number').textContent()).toBe(orderNumber);
    expect(await serverVerdict.getByTestId('verdict-amount').textContent()).toBe('800,000원');
    expect(await serverVerdict.getByTestId('verdict-payer').textContent()).toContain(buyerId);
    expect((await serverVerdict.getByTestId('verdict-signature').textContent())!.replace(/\s/g, '')).toBe(signature);
    // The trusted time is our TSA's, and every named check passed (the record check only on the server).
    expect(await serverVerdict.getByTestId('verdict-time-stamp').textContent()).toMatch(/Time-Stamp Authority/);
    expect(await serverVerdict.locator('[data-check="record"]').getAttribute('data-outcome')).toBe('passed');
    expect(await serverVerdict.locator('[data-check="chain"]').getAttribute('data-outcome')).toBe('passed');
    await visitor.screenshot({ path: `${SHOTS}/verify-valid-ko.png`, fullPage: true });

    // The same signature without its time-stamp: both verifiers refuse it, in words, naming the check.
    const parts = parseSignedData(readFileSync(p7s));
    const unstamped = assembleSignedData({
      content: parts.content, signedAttributesDer: parts.signedAttributesDer, signatureDer: parts.signatureDer,
      signerCertificate: parts.certificates[0]!, otherCertificates: parts.certificates.slice(1), crls: parts.crls,
    });
    await visitor.getByTestId('verify-file').setInputFiles({ name: 'unstamped.p7s', mimeType: 'application/pkcs7-signature', buffer: Buffer.from(unstamped) });
    await visitor.getByTestId('verify-submit').click();
    await expect.poll(() => visitor.getByTestId('verdict-server').getAttribute('data-valid')).toBe('false');
    await expect.poll(() => visitor.getByTestId('verdict-local').getAttribute('data-valid')).toBe('false');
    for (const id of ['verdict-server', 'verdict-local']) {
      const verdict = visitor.getByTestId(id);
      expect(await verdict.locator('[data-check="timeStamp"]').getAttribute('data-outcome')).toBe('failed');
      expect(await verdict.getByTestId('verdict-reasons').textContent()).toContain('시점 확인(타임스탬프)이 없어 언제 서명했는지 증명할 수 없습니다.');
    }
    await visitor.screenshot({ path: `${SHOTS}/verify-unstamped-ko.png`, fullPage: true });

    // One flipped byte in the amount: both verifiers refuse it.
    const broken = Buffer.from(readFileSync(p7s));
    const at = broken.indexOf(Buffer.from(`"amountWon":${TOTAL_WON}`));
    expect(at).toBeGreaterThan(0);
    broken[at + 13] = '9'.charCodeAt(0);
    await visitor.getByTestId('verify-file').setInputFiles({ name: 'broken.p7s', mimeType: 'application/pkcs7-signature', buffer: broken });
    await visitor.getByTestId('verify-submit').click();
    await expect.poll(() => visitor.getByTestId('verdict-server').getAttribute('data-valid')).toBe('false');
    await expect.poll(() => visitor.getByTestId('verdict-local').getAttribute('data-valid')).toBe('false');
    await visitorContext.close();
    await sellerContext.close();

    expect(problems).toEqual([]);
    console.log(`[timing] whole payment journey: ${Date.now() - started} ms`);
  });
});
