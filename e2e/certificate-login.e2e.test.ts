/**
 * Certificate login in real Chromium: a second device gets an additional certificate
 * approved on the master device, turns on certificate login for it, logs out, and logs in
 * with the certificate and its password alone (the four messages of seed 004 §3.2); the
 * session it gets pays with that device's certificate. The page shows nothing of the
 * password to the server: the test watches every request the page sends.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { announceSkip } from '../apps/server/test/announce-skip.js';
import { browserUnavailableReason, codeOfOrder, E2E_LOGIN_PASSWORD, launchBrowser, registerInPage, startServer, type E2eServer } from './harness.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('certificate login end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
const PC = { locale: 'ko-KR', viewport: { width: 1280, height: 900 } } as const;
const PHONE = { locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
const CRYPTO_TIMEOUT_MS = 30_000;

describe.skipIf(unavailable !== undefined)('certificate login in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const loginId = `certlogin${stamp}`;
  const masterPassword = '마스터 인증서 비밀번호';
  const phonePassword = '휴대폰 인증서 비밀번호';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const watch = (page: Page, name: string) => page.on('pageerror', (error) => problems.push(`${name}: ${error.message}`));

  it('a second device logs in with its additional certificate and pays with it', async () => {
    // A seller and a product to buy.
    const sellerContext = await browser.newContext(PC);
    const seller = await sellerContext.newPage();
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `certseller${stamp}`, storeName: `CERT STORE ${stamp}` });
    await seller.waitForURL('**/seller/products');
    const form = seller.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(`인증서 로그인 머그컵 ${stamp}`);
    await form.getByTestId('product-category-select').selectOption('home');
    await form.getByTestId('product-description-input').fill('머그컵');
    await form.getByTestId('product-price-input').fill('12000');
    await form.getByTestId('product-stock-input').fill('5');
    await form.getByTestId('product-submit').click();
    const row = seller.getByTestId('seller-product-row').filter({ hasText: `인증서 로그인 머그컵 ${stamp}` });
    await expect.poll(() => row.count()).toBe(1);
    const productHref = (await row.locator('a[href^="/products/"]').first().getAttribute('href'))!;
    await sellerContext.close();

    // The master device.
    const pcContext = await browser.newContext(PC);
    const pc = await pcContext.newPage();
    watch(pc, 'pc');
    await registerInPage(pc, server.baseUrl, { role: 'buyer', loginId, name: '서명인' });
    await pc.goto(`${server.baseUrl}/certificates`);
    await pc.getByTestId('issue-password').fill(masterPassword);
    await pc.getByTestId('issue-password-confirm').fill(masterPassword);
    await pc.getByTestId('issue-submit').click();
    await pc.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    // The second device asks for an additional certificate; the master device approves it.
    const phoneContext = await browser.newContext(PHONE);
    const phone = await phoneContext.newPage();
    watch(phone, 'phone');
    await phone.goto(`${server.baseUrl}/login?redirect=/certificates`);
    await phone.getByTestId('login-id').fill(loginId);
    await phone.getByTestId('login-password').fill(E2E_LOGIN_PASSWORD);
    await phone.getByTestId('login-submit').click();
    await phone.getByTestId('additional-section').waitFor();
    await phone.getByTestId('additional-nickname').fill('내 휴대폰');
    await phone.getByTestId('additional-password').fill(phonePassword);
    await phone.getByTestId('additional-password-confirm').fill(phonePassword);
    await phone.getByTestId('additional-submit').tap();
    await phone.getByTestId('device-code').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    const requestId = await phone.getByTestId('device-request').getAttribute('data-request-id');
    await pc.goto(`${server.baseUrl}/certificates`);
    const pending = pc.locator(`[data-testid="pending-request"][data-request-id="${requestId}"]`);
    await pending.waitFor({ timeout: 15_000 });
    await pending.getByTestId('pending-password').fill(masterPassword);
    await pending.getByTestId('pending-approve').click();
    await phone.getByTestId('device-request-outcome').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    // Certificate login is turned on with the certificate's password.
    await phone.goto(`${server.baseUrl}/certificates`);
    await phone.getByTestId('enable-login-password').fill(phonePassword);
    await phone.getByTestId('enable-login-submit').tap();
    await phone.getByTestId('enable-login-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    // Log out, and back in with the certificate alone.
    await phone.getByTestId('menu-toggle').tap();
    await phone.getByTestId('logout').tap();
    await phone.waitForURL('**/login?**');
    const sent: string[] = [];
    phone.on('request', (request) => sent.push(`${request.url()} ${request.postData() ?? ''}`));
    const choice = phone.getByTestId('certificate-login-choice');
    await expect.poll(() => choice.count()).toBe(1);
    expect(await phone.getByTestId('certificate-login-form').textContent()).toContain('내 휴대폰');
    await phone.screenshot({ path: `${SHOTS}/certificate-login-ko-phone.png`, fullPage: true });
    await phone.getByTestId('certificate-login-password').fill(phonePassword);
    await phone.getByTestId('certificate-login-submit').tap();
    await phone.waitForURL((url) => !url.pathname.startsWith('/login'), { timeout: CRYPTO_TIMEOUT_MS });
    // The three messages went out; the password never did.
    expect(sent.some((line) => line.includes('/api/auth/certificate-login/hello'))).toBe(true);
    expect(sent.some((line) => line.includes('/api/auth/certificate-login/confirm'))).toBe(true);
    for (const line of sent) expect(line).not.toContain(phonePassword);

    // The session pays with this device's certificate.
    await phone.goto(`${server.baseUrl}/me`);
    await phone.getByTestId('top-up-amount').fill('50000');
    await phone.getByTestId('top-up-submit').tap();
    await phone.getByTestId('top-up-done').waitFor();
    await phone.goto(`${server.baseUrl}${productHref}`);
    await phone.getByTestId('buy-now').tap();
    await phone.waitForURL('**/checkout?**');
    await phone.getByTestId('checkout-submit').tap();
    await phone.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    const orderId = new URL(phone.url()).pathname.split('/')[2]!;
    await phone.getByTestId('pay-open').tap();
    await phone.getByTestId('payment-password').fill(phonePassword);
    await phone.getByTestId('payment-request').tap();
    await phone.getByTestId('payment-command').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await phone.getByTestId('payment-code').fill(await codeOfOrder(server, orderId));
    await phone.getByTestId('payment-pay').tap();
    await phone.waitForURL(`**/orders/${orderId}/complete`, { timeout: CRYPTO_TIMEOUT_MS });
    expect(problems).toEqual([]);
  });
});
