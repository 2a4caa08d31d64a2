/**
 * QR payment in real Chromium: a PC that holds no certificate shows a QR code; a phone
 * of the same account (which holds the master certificate) pays it, and the PC moves to
 * the completion page by itself.
 *
 * - The phone's own camera app: the test decodes the QR code the PC shows (its SVG, read
 *   back into modules and decoded by jsQR, the same decoder the page falls back to) and
 *   opens the link on the phone, as a camera app would.
 * - The in-app scanner: a second Chromium whose fake camera shows that QR code (a Y4M
 *   video made from the PC's SVG) scans it; the PC cancels, and the phone is told at
 *   once. Then the number typed instead of scanning takes a new code.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jsQR from 'jsqr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { announceSkip } from '../apps/server/test/announce-skip.js';
import {
  addProductInPage, browserUnavailableReason, codeOfOrder, E2E_LOGIN_PASSWORD, launchBrowser, masterCertificateAndMoneyInPage, payOrderInPage, qrLuma, qrModulesFromSvg, registerInPage, startServer, writeStillY4m, type E2eServer,
} from './harness.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('QR payment end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
const PC = { locale: 'ko-KR', viewport: { width: 1280, height: 900 } } as const;
const PHONE = { locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
const CRYPTO_TIMEOUT_MS = 30_000;
const PRICE_WON = 23_000;

function watchPage(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name} CSP: ${message.text()}`);
  });
}

/** What a camera would read off the PC's screen: the link in the QR code the page shows. */
async function linkShownBy(pc: Page): Promise<{ link: string; modules: boolean[][] }> {
  const svg = await pc.getByTestId('qr-code').innerHTML();
  const modules = qrModulesFromSvg(svg);
  const side = (modules.length * 4 + 1) & ~1;
  const luma = qrLuma(modules, side, 4);
  const rgba = new Uint8ClampedArray(side * side * 4);
  luma.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
  const decoded = jsQR(rgba, side, side);
  if (!decoded) throw new Error('the QR code on the PC does not decode');
  return { link: decoded.data, modules };
}

async function loginInPage(page: Page, baseUrl: string, loginId: string, to = '/'): Promise<void> {
  await page.goto(`${baseUrl}/login?redirect=${encodeURIComponent(to)}`);
  await page.getByTestId('login-id').fill(loginId);
  await page.getByTestId('login-password').fill(E2E_LOGIN_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
}

describe.skipIf(unavailable !== undefined)('QR payment in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const buyerId = `qrbuyer${stamp}`;
  const certificatePassword = 'QR 결제 휴대폰 인증서';
  const work = mkdtempSync(path.join(tmpdir(), 'cp-qr-e2e-'));
  let productHref = '';
  let phoneContext: BrowserContext;
  let pcContext: BrowserContext;

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

  /** The PC orders the product and opens its QR code; answers the order id and the page's confirmation code. */
  async function qrOnPc(pc: Page): Promise<{ orderId: string; confirmation: string }> {
    await pc.goto(`${server.baseUrl}${productHref}`);
    await pc.getByTestId('buy-now').click();
    await pc.waitForURL('**/checkout?**');
    await pc.getByTestId('checkout-submit').click();
    await pc.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    const orderId = new URL(pc.url()).pathname.split('/')[2]!;
    // This PC holds no certificate: QR payment is the method offered.
    await expect.poll(() => pc.getByTestId('pay-method-qr').isChecked()).toBe(true);
    await pc.getByTestId('pay-qr-open').click();
    await pc.getByTestId('qr-code').locator('svg').waitFor();
    const confirmation = (await pc.getByTestId('qr-confirmation-code').textContent())!.trim();
    expect(confirmation).toMatch(/^[34679ACDEFHJKMNPRTWXY]{4}$/);
    await expect.poll(() => pc.getByTestId('qr-status').textContent()).toContain('휴대폰으로 QR 코드를 찍기를 기다리는 중');
    return { orderId, confirmation };
  }

  it("the phone opens the PC's QR link like a camera app, pays with its certificate, and the PC moves on by itself", async () => {
    // A seller and a product.
    const sellerContext = await browser.newContext(PC);
    const seller = await sellerContext.newPage();
    watchPage(seller, problems, 'seller');
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `qrseller${stamp}`, name: '박판매', storeName: `QR STORE ${stamp}` });
    productHref = await addProductInPage(seller, { name: `QR 텀블러 ${stamp}`, category: 'home', description: '스테인리스 텀블러 500ml', priceWon: PRICE_WON, stock: 20 });
    await sellerContext.close();

    // The phone: the account, its master certificate, money.
    phoneContext = await browser.newContext(PHONE);
    const phone = await phoneContext.newPage();
    watchPage(phone, problems, 'phone');
    await registerInPage(phone, server.baseUrl, { role: 'buyer', loginId: buyerId, name: '최큐알' });
    await masterCertificateAndMoneyInPage(phone, server.baseUrl, certificatePassword, 100_000, CRYPTO_TIMEOUT_MS);

    // The PC: the same account, no certificate.
    pcContext = await browser.newContext(PC);
    const pc = await pcContext.newPage();
    watchPage(pc, problems, 'pc');
    await loginInPage(pc, server.baseUrl, buyerId);
    const { orderId, confirmation } = await qrOnPc(pc);
    await pc.screenshot({ path: `${SHOTS}/qr-pc-ko.png`, fullPage: true });

    const { link } = await linkShownBy(pc);
    expect(link).toMatch(new RegExp(`^${server.baseUrl.replace(/[.:/]/g, '\\$&')}/qr#t=[A-Za-z0-9_-]{32}$`));

    // The camera app opens the link on the phone: the page takes the session at once.
    await phone.goto(link);
    await phone.getByTestId('qr-ready').waitFor();
    // The token left the address bar (and so the browser's history).
    expect(new URL(phone.url()).hash).toBe('');
    await expect.poll(() => pc.getByTestId('qr-status').textContent()).toContain('휴대폰에서 QR 코드를 읽었어요');

    await phone.getByTestId('qr-pay').click();
    await phone.getByTestId('payment-password').fill(certificatePassword);
    await phone.getByTestId('payment-request').click();
    await phone.getByTestId('payment-command').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    // The phone shows the PC's confirmation code, from A's signed command.
    expect((await phone.getByTestId('payment-confirmation-code').textContent())!.trim()).toBe(confirmation);
    expect(await phone.getByTestId('payment-amount').textContent()).toBe('23,000원');
    await phone.screenshot({ path: `${SHOTS}/qr-phone-command-ko.png`, fullPage: true });
    await phone.getByTestId('payment-code').fill(await codeOfOrder(server, orderId));
    await phone.getByTestId('payment-pay').click();
    await phone.getByTestId('qr-paid').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    // The PC moves to the completion page by itself.
    await pc.waitForURL(`**/orders/${orderId}/complete`, { timeout: 5_000 });
    expect(await pc.getByTestId('complete-amount').textContent()).toBe('23,000원');

    // The order's history tells the story.
    await pc.goto(`${server.baseUrl}/orders/${orderId}`);
    const entries = pc.getByTestId('order-history-entry');
    await expect.poll(() => entries.count()).toBe(3);
    expect(await entries.evaluateAll((items) => items.map((item) => item.getAttribute('data-kind')))).toEqual(['qr.opened', 'qr.scanned', 'qr.paid']);
    expect(problems).toEqual([]);
  });

  it("a logged-out phone logs in first and keeps the code; a cancel on the PC ends it there at once; the in-app scanner reads the PC's QR code with the camera; the typed number takes a renewed code", async () => {
    expect(productHref, 'the first scenario sets up the product').not.toBe('');
    const pc = await pcContext.newPage();
    watchPage(pc, problems, 'pc');
    const first = await qrOnPc(pc);

    // A phone that is not logged in opens the link: it logs in, and the code survives the login.
    const guestContext = await browser.newContext(PHONE);
    const guest = await guestContext.newPage();
    watchPage(guest, problems, 'logged-out phone');
    await guest.goto((await linkShownBy(pc)).link);
    await guest.getByTestId('qr-login-first').waitFor();
    await guest.getByTestId('qr-login').click();
    await guest.getByTestId('login-id').fill(buyerId);
    await guest.getByTestId('login-password').fill(E2E_LOGIN_PASSWORD);
    await guest.getByTestId('login-submit').click();
    await guest.getByTestId('qr-ready').waitFor();
    await expect.poll(() => pc.getByTestId('qr-status').textContent()).toContain('휴대폰에서 QR 코드를 읽었어요');
    // The PC cancels: the phone hears it at once, and nothing was paid.
    await pc.getByTestId('qr-cancel').click();
    await guest.getByTestId('qr-ended').waitFor({ timeout: 2_000 });
    expect(await guest.getByTestId('qr-ended').textContent()).toContain('PC에서 이 QR 결제를 취소했어요');
    await guestContext.close();

    // A new code, and a phone whose camera sees it.
    await pc.goto(`${server.baseUrl}/orders/${first.orderId}/pay`);
    await pc.getByTestId('pay-qr-open').click();
    await pc.getByTestId('qr-code').locator('svg').waitFor();
    const { modules } = await linkShownBy(pc);
    const video = path.join(work, 'qr.y4m');
    const side = 480;
    writeStillY4m(video, qrLuma(modules, side, Math.floor((side * 0.8) / modules.length)), side);
    const cameraBrowser = await launchBrowser(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`]);
    try {
      const context = await cameraBrowser.newContext({ ...PHONE, permissions: ['camera'] });
      const phone = await context.newPage();
      watchPage(phone, problems, 'camera phone');
      await loginInPage(phone, server.baseUrl, buyerId, '/qr');
      await phone.waitForURL('**/qr');
      await phone.getByTestId('qr-camera-start').click();
      await phone.getByTestId('qr-ready').waitFor({ timeout: 15_000 });
      await expect.poll(() => pc.getByTestId('qr-status').textContent()).toContain('휴대폰에서 QR 코드를 읽었어요');
      await phone.screenshot({ path: `${SHOTS}/qr-phone-ready-ko.png`, fullPage: true });

      // "New QR code" on the PC replaces the scanned one: the phone is told, and the number of the new one takes it.
      await pc.getByTestId('qr-renew').click();
      await phone.getByTestId('qr-ended').waitFor({ timeout: 2_000 });
      await expect.poll(async () => (await pc.getByTestId('qr-numeric-code').textContent())?.replace(/\s/g, '') ?? '').toMatch(/^\d{6}$/);
      const number = (await pc.getByTestId('qr-numeric-code').textContent())!.replace(/\s/g, '');
      await phone.getByRole('button', { name: '다시 찍기' }).click();
      await phone.getByTestId('qr-numeric-input').fill(number);
      await phone.getByTestId('qr-numeric-submit').click();
      await phone.getByTestId('qr-ready').waitFor();
      await expect.poll(() => pc.getByTestId('qr-status').textContent()).toContain('휴대폰에서 QR 코드를 읽었어요');
      await context.close();
    } finally {
      await cameraBrowser.close();
    }
    // The order's history tells each step; the order is still unpaid.
    await pc.goto(`${server.baseUrl}/orders/${first.orderId}`);
    const kinds = pc.getByTestId('order-history-entry');
    await expect.poll(() => kinds.count()).toBeGreaterThanOrEqual(7);
    expect(await kinds.evaluateAll((items) => items.map((item) => item.getAttribute('data-kind')))).toEqual([
      'qr.opened', 'qr.scanned', 'qr.cancelled', 'qr.opened', 'qr.scanned', 'qr.cancelled', 'qr.opened', 'qr.scanned',
    ]);
    expect(problems).toEqual([]);
  });

  it('an order paid directly on the phone while the PC shows its code: the PC moves on, and the phone page that took the code says the order is paid', async () => {
    expect(productHref, 'the first scenario sets up the product').not.toBe('');
    const pc = await pcContext.newPage();
    watchPage(pc, problems, 'pc');
    const { orderId } = await qrOnPc(pc);
    const phoneQr = await phoneContext.newPage();
    watchPage(phoneQr, problems, 'phone (QR page)');
    await phoneQr.goto((await linkShownBy(pc)).link);
    await phoneQr.getByTestId('qr-ready').waitFor();

    // The person pays the order on the phone's order page instead, with its certificate.
    const phone = await phoneContext.newPage();
    watchPage(phone, problems, 'phone');
    await phone.goto(`${server.baseUrl}/orders/${orderId}/pay`);
    await payOrderInPage(phone, server, orderId, certificatePassword, CRYPTO_TIMEOUT_MS);

    // The PC moves to the completion page by itself; the phone's QR page has nothing left to pay.
    await pc.waitForURL(`**/orders/${orderId}/complete`, { timeout: 5_000 });
    await phoneQr.getByTestId('qr-paid').waitFor({ timeout: 5_000 });
    expect(await phoneQr.getByTestId('qr-paid').textContent()).toContain('이미 다른 방법으로 결제되었어요');
    await pc.goto(`${server.baseUrl}/orders/${orderId}`);
    const entries = pc.getByTestId('order-history-entry');
    await expect.poll(() => entries.count()).toBe(3);
    expect(await entries.evaluateAll((items) => items.map((item) => item.getAttribute('data-kind')))).toEqual(['qr.opened', 'qr.scanned', 'qr.cancelled']);
    expect(await entries.last().textContent()).toContain('다른 방법으로 결제되어 QR 코드를 끝냈어요');
    expect(problems).toEqual([]);
  });
});
