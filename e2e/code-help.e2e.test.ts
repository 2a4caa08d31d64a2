/**
 * The code people can read, and locks that explain themselves (issue 11, points 1 and
 * 2), in a real Chromium:
 *
 * 1. The payment dialog states the code's alphabet; "new picture" shows a new code and
 *    says how many tries are left; a phone of the same account with "Payment code" open
 *    receives a shared code as large text, and that code pays on the PC.
 * 2. Five wrong codes lock payments: the dialog says until when (in the reader's time
 *    zone), why, and whom to contact. A locked login says so too, and that a device with
 *    a certificate of the account may still log in.
 *
 * As in payment.e2e.test.ts, the code behind the picture is read from the server's
 * database (the harness runs the server in this process).
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer, codeOfOrder, registerInPage, E2E_LOGIN_PASSWORD } from './harness.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('code help and lock notices end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
const TIME_ZONE = 'Asia/Seoul';
const PC = { viewport: { width: 1280, height: 800 }, timezoneId: TIME_ZONE, locale: 'ko-KR' } satisfies BrowserContextOptions;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, timezoneId: TIME_ZONE, locale: 'ko-KR' } satisfies BrowserContextOptions;
const CRYPTO_TIMEOUT_MS = 30_000;
// From 50,000 won every payment asks for the code, not only a certificate's first.
const PRICE_WON = 55_000;
const CERTIFICATE_PASSWORD = '보안문자 인증서 비밀번호';

describe.skipIf(unavailable !== undefined)('code help and lock notices in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  let productHref: string;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);

  function watch(page: Page, name: string): void {
    page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  }

  async function login(page: Page, loginId: string, password = E2E_LOGIN_PASSWORD): Promise<void> {
    await page.goto(`${server.baseUrl}/login`);
    await page.getByTestId('login-id').fill(loginId);
    await page.getByTestId('login-password').fill(password);
    await page.getByTestId('login-submit').click();
  }

  /** From the product page to an open payment dialog showing the code picture; answers the order id. */
  async function dialogWithCode(page: Page): Promise<string> {
    await page.goto(`${server.baseUrl}${productHref}`);
    await page.getByTestId('buy-now').click();
    await page.waitForURL('**/checkout?**');
    await expect.poll(() => page.getByTestId('checkout-address').inputValue()).not.toBe('');
    await page.getByTestId('checkout-submit').click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    const orderId = new URL(page.url()).pathname.split('/')[2]!;
    await page.getByTestId('pay-open').click();
    await page.getByTestId('payment-password').fill(CERTIFICATE_PASSWORD);
    await page.getByTestId('payment-request').click();
    await page.getByTestId('payment-command').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await expect.poll(() => page.getByTestId('payment-code-picture').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    return orderId;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    const context = await browser.newContext(PC);
    const seller = await context.newPage();
    watch(seller, 'seller');
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `cseller${stamp}`, storeName: `코드상회 ${stamp}` });
    await seller.waitForURL('**/seller/products');
    const form = seller.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(`코드 양말 ${stamp}`);
    await form.getByTestId('product-category-select').selectOption('fashion');
    await form.getByTestId('product-description-input').fill('면 양말 3켤레');
    await form.getByTestId('product-price-input').fill(String(PRICE_WON));
    await form.getByTestId('product-stock-input').fill('50');
    await form.getByTestId('product-submit').click();
    const row = seller.getByTestId('seller-product-row').filter({ hasText: `코드 양말 ${stamp}` });
    await row.first().waitFor();
    productHref = (await row.locator('a[href^="/products/"]').first().getAttribute('href'))!;
    await context.close();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('states the alphabet, draws a new picture on request, and sends the code to the phone, where it is read and then pays', async () => {
    const loginId = `cbuyer${stamp}`;
    const pcContext = await browser.newContext(PC);
    const pc = await pcContext.newPage();
    watch(pc, 'pc');
    await registerInPage(pc, server.baseUrl, { role: 'buyer', loginId, name: '이코드' });
    await pc.goto(`${server.baseUrl}/me`);
    await pc.getByTestId('top-up-amount').fill('200000');
    await pc.getByTestId('top-up-submit').click();
    await pc.getByTestId('top-up-done').waitFor();
    await pc.goto(`${server.baseUrl}/certificates`);
    await pc.getByTestId('issue-password').fill(CERTIFICATE_PASSWORD);
    await pc.getByTestId('issue-password-confirm').fill(CERTIFICATE_PASSWORD);
    await pc.getByTestId('issue-submit').click();
    await pc.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    const orderId = await dialogWithCode(pc);
    expect(await pc.getByTestId('payment-dialog').innerText()).toContain('3 4 6 7 9 A C D E F H J K M N P R T W X Y');
    await pc.screenshot({ path: `${SHOTS}/code-picture-desktop.png` });

    // A new picture: a new code, one try spent, and the picture on screen changes.
    const firstCode = await codeOfOrder(server, orderId);
    const firstSrc = await pc.getByTestId('payment-code-picture').getAttribute('src');
    await pc.getByTestId('payment-code-new').click();
    await expect.poll(() => pc.getByTestId('payment-code-note').textContent()).toContain('4번');
    await expect.poll(() => pc.getByTestId('payment-code-picture').getAttribute('src')).not.toBe(firstSrc);
    const secondCode = await codeOfOrder(server, orderId);
    expect(secondCode === firstCode ? 'same by a 1 in 86 million chance' : 'new').toBe('new');
    // Larger picture for low vision.
    await pc.getByTestId('payment-code-larger').click();
    await expect.poll(async () => (await pc.getByTestId('payment-code-picture').boundingBox())!.width).toBeGreaterThan(500);
    await pc.screenshot({ path: `${SHOTS}/code-picture-large-desktop.png` });

    // The phone of the same account opens "Payment code".
    const phoneContext = await browser.newContext(PHONE);
    const phone = await phoneContext.newPage();
    watch(phone, 'phone');
    await login(phone, loginId);
    await phone.waitForURL((url) => url.pathname !== '/login');
    await phone.goto(`${server.baseUrl}/me/payment-code`);
    await phone.getByTestId('shared-code-waiting').waitFor();
    // The stream is open once the page has had its `ready`; give it a moment to subscribe.
    await phone.waitForTimeout(300);

    await pc.locator('details.code-share summary').click();
    await pc.getByTestId('payment-code-share').click();
    await expect.poll(() => pc.getByTestId('payment-code-note').textContent()).toContain('3번');
    const sharedCode = await codeOfOrder(server, orderId);
    await expect.poll(() => phone.getByTestId('shared-code-value').textContent(), { timeout: 10_000 }).toBe(sharedCode);
    expect(await phone.getByTestId('shared-code').innerText()).toContain(sharedCode.split('').join(', '));
    await phone.screenshot({ path: `${SHOTS}/code-shared-mobile.png` });

    await pc.getByTestId('payment-code').fill(sharedCode.toLowerCase());
    await pc.getByTestId('payment-pay').click();
    await pc.waitForURL(`**/orders/${orderId}/complete`, { timeout: CRYPTO_TIMEOUT_MS });

    // Five wrong codes in a row lock payments; the dialog says until when, why and whom to ask.
    await dialogWithCode(pc);
    for (let i = 0; i < 5; i++) {
      await pc.getByTestId('payment-code').fill('WWWWWW');
      await pc.getByTestId('payment-pay').click();
      if (i < 4) await expect.poll(() => pc.getByTestId('form-error').textContent()).toContain(`${4 - i}`);
    }
    const notice = pc.getByTestId('lock-notice');
    await notice.waitFor();
    const lockout = await server.app.internals.database.db.selectFrom('paymentLockouts').innerJoin('users', 'users.id', 'paymentLockouts.userId').select(['lockedUntilMs']).where('users.loginId', '=', loginId).executeTakeFirstOrThrow();
    const expectedTime = await pc.evaluate(
      ({ ms, timeZone }) => new Intl.DateTimeFormat('ko', { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(ms)),
      { ms: Number(lockout.lockedUntilMs), timeZone: TIME_ZONE },
    );
    expect(await notice.getByTestId('lock-until').textContent()).toContain(expectedTime);
    expect(await notice.innerText()).toContain('5번 연속 실패');
    expect(await notice.getByTestId('lock-contact').textContent()).toContain('support@coconutpay.example');
    await pc.screenshot({ path: `${SHOTS}/lock-payment-desktop.png` });
    await Promise.all([pcContext.close(), phoneContext.close()]);
    expect(problems).toEqual([]);
  });

  it('a locked login says until when, why, and that a device with a certificate can still log in', async () => {
    const loginId = `clocked${stamp}`;
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    watch(page, 'locked');
    await registerInPage(page, server.baseUrl, { role: 'buyer', loginId, name: '이코드' });
    await context.clearCookies();
    const fresh = await browser.newContext(PHONE);
    const other = await fresh.newPage();
    watch(other, 'other');
    for (let i = 0; i < 6; i++) await login(other, loginId, 'not the password');
    const notice = other.getByTestId('lock-notice');
    await notice.waitFor();
    expect(await notice.innerText()).toContain('5번 연속 틀렸어요');
    expect(await notice.innerText()).toContain('인증서가 있는 기기');
    expect(await notice.getByTestId('lock-until').locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    await other.screenshot({ path: `${SHOTS}/lock-login-mobile.png` });
    await Promise.all([context.close(), fresh.close()]);
    expect(problems).toEqual([]);
  });
});
