/**
 * A first payment without dead ends, and a revoked device told so (issue 11, points 4
 * and 5), in a real Chromium at a desktop (1280×800) and a phone (390×844) viewport.
 *
 * 1. A new buyer with no certificate buys now: checkout → the pay page offers to issue
 *    the master certificate in place → pay → completion, without the test navigating
 *    by hand once the order is placed. The progress list marks each step as current,
 *    and the dialog's final buttons are inside the viewport before any scrolling.
 * 2. A buyer whose master certificate on this device was revoked ("lost or exposed")
 *    sees, on the pay page, which certificate, when and why; its "get a certificate"
 *    link leads to the certificate center, which sends the buyer back to the same
 *    order by itself once a new certificate is issued.
 *
 * As in payment.e2e.test.ts, the code behind the picture is read from the server's
 * database (the harness runs the server in this process), and the revocation is made
 * through the server's certificate service as the owner's other device would (the web
 * app has no "revoke my master" button; the HTTP API does).
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer, codeOfOrder, registerInPage } from './harness.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('first payment end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
const TIME_ZONE = 'Asia/Seoul';
const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 }, timezoneId: TIME_ZONE, locale: 'ko-KR' },
  mobile: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, timezoneId: TIME_ZONE, locale: 'ko-KR' },
} as const satisfies Record<string, BrowserContextOptions>;
/** Key generation and encryption run 600,000 PBKDF2 iterations in the page. */
const CRYPTO_TIMEOUT_MS = 30_000;
const PRICE_WON = 35_000;
const TOP_UP_WON = 100_000;
const CERTIFICATE_PASSWORD = '첫 결제 인증서 비밀번호';

function watchPage(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name} CSP: ${message.text()}`);
  });
}

/** The progress list's current step, read from `aria-current`, not from a class. */
async function currentStep(page: Page): Promise<string | null> {
  const steps = page.getByTestId('payment-progress-steps');
  await steps.waitFor();
  const current = steps.locator('li[aria-current="step"]');
  expect(await current.count()).toBe(1);
  return current.getAttribute('data-step');
}

/** The element's box lies wholly inside the viewport, and it is what a tap at its centre hits. */
async function expectInViewport(page: Page, locator: Locator): Promise<void> {
  const box = await locator.boundingBox();
  const viewport = page.viewportSize()!;
  expect(box, 'the element has a box').not.toBeNull();
  expect(box!.y).toBeGreaterThanOrEqual(0);
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.y + box!.height).toBeLessThanOrEqual(viewport.height);
  expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width);
  const hit = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('[data-testid]')?.getAttribute('data-testid') ?? null, { x: box!.x + box!.width / 2, y: box!.y + box!.height / 2 });
  expect(hit).toBe(await locator.getAttribute('data-testid'));
}

describe.skipIf(unavailable !== undefined)('first payment without dead ends, and a revoked device, in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  let productHref: string;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    // One seller and one product for every buyer below.
    const context = await browser.newContext(VIEWPORTS.desktop);
    const seller = await context.newPage();
    watchPage(seller, problems, 'seller');
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `fpseller${stamp}`, storeName: `머그상회 ${stamp}` });
    await seller.waitForURL('**/seller/products');
    const form = seller.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(`첫 결제 머그컵 ${stamp}`);
    await form.getByTestId('product-category-select').selectOption('electronics');
    await form.getByTestId('product-description-input').fill('도자기 머그컵 350ml');
    await form.getByTestId('product-price-input').fill(String(PRICE_WON));
    await form.getByTestId('product-stock-input').fill('20');
    await form.getByTestId('product-submit').click();
    const row = seller.getByTestId('seller-product-row').filter({ hasText: `첫 결제 머그컵 ${stamp}` });
    // expect.poll works only inside a test; the row appears once the list reloads.
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    productHref = (await row.locator('a[href^="/products/"]').first().getAttribute('href'))!;
    expect(productHref).toMatch(/^\/products\/[0-9a-f-]+$/);
    await context.close();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function newBuyer(options: BrowserContextOptions, name: string): Promise<{ page: Page; loginId: string; close: () => Promise<void> }> {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    watchPage(page, problems, name);
    const loginId = `fp${name.replace(/[^a-z]/g, '')}${stamp}`;
    await registerInPage(page, server.baseUrl, { role: 'buyer', loginId, name: '한첫결' });
    await page.goto(`${server.baseUrl}/me`);
    await page.getByTestId('top-up-amount').fill(String(TOP_UP_WON));
    await page.getByTestId('top-up-submit').click();
    await page.getByTestId('top-up-done').waitFor();
    return { page, loginId, close: () => context.close() };
  }

  /** Buy now from the product page, through the checkout; ends on the pay page. Returns the order id. */
  async function orderNow(page: Page, viewportName: string, shotPrefix: string): Promise<string> {
    await page.goto(`${server.baseUrl}${productHref}`);
    await page.getByTestId('buy-now').click();
    await page.waitForURL('**/checkout?**');
    expect(await currentStep(page)).toBe('order');
    await expect.poll(() => page.getByTestId('checkout-address').inputValue()).not.toBe('');
    await page.screenshot({ path: `${SHOTS}/${shotPrefix}-checkout-${viewportName}.png` });
    await page.getByTestId('checkout-submit').click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    return new URL(page.url()).pathname.split('/')[2]!;
  }

  for (const [viewportName, options] of Object.entries(VIEWPORTS)) {
    it(`${viewportName}: a new buyer with no certificate goes order → certificate → payment → done without navigating by hand`, async () => {
      const { page, close } = await newBuyer(options, `new ${viewportName}`);
      const visited: string[] = [];
      page.on('framenavigated', (frame) => {
        const path = new URL(frame.url()).pathname;
        if (frame === page.mainFrame() && visited.at(-1) !== path) visited.push(path);
      });
      const orderId = await orderNow(page, viewportName, 'first-payment');
      // From the checkout on, the test only clicks and types: every page change is the app's own.

      // The pay page: no certificate on this device, so the certificate step is current and issuing is offered here.
      expect(await currentStep(page)).toBe('certificate');
      const section = page.getByTestId('pay-certificate');
      await section.waitFor();
      expect(await section.getByTestId('pay-certificate-revoked').count()).toBe(0);
      // Direct payment needs a certificate here; QR payment (the phone's certificate) is what is offered.
      expect(await page.getByTestId('pay-method-direct').isDisabled()).toBe(true);
      expect(await page.getByTestId('pay-method-qr').isChecked()).toBe(true);
      await page.screenshot({ path: `${SHOTS}/first-payment-certificate-${viewportName}.png`, fullPage: true });
      await section.getByTestId('issue-password').fill(CERTIFICATE_PASSWORD);
      await section.getByTestId('issue-password-confirm').fill(CERTIFICATE_PASSWORD);
      await section.getByTestId('issue-submit').click();
      await page.getByTestId('pay-certificate-issued').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
      expect(await currentStep(page)).toBe('payment');
      expect(await page.getByTestId('pay-certificate').count()).toBe(0);
      expect(await page.getByTestId('pay-method-direct').isChecked()).toBe(true);
      // Focus moved on to what comes next.
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('pay-open');
      expect(new URL(page.url()).pathname).toBe(`/orders/${orderId}/pay`);

      // The dialog: each step's final button is in view before any scrolling.
      await page.getByTestId('pay-open').click();
      const dialog = page.getByTestId('payment-dialog');
      await dialog.waitFor();
      await expectInViewport(page, page.getByTestId('payment-request'));
      await page.getByTestId('payment-password').fill(CERTIFICATE_PASSWORD);
      await page.getByTestId('payment-request').click();
      await page.getByTestId('payment-command').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
      await page.getByTestId('payment-code-picture').waitFor();
      await expect.poll(() => page.getByTestId('payment-code-picture').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
      expect(await dialog.evaluate((element) => element.scrollTop)).toBe(0);
      await expectInViewport(page, page.getByTestId('payment-pay'));
      // The picture never makes the dialog wider than the screen.
      const pictureBox = (await page.getByTestId('payment-code-picture').boundingBox())!;
      expect(pictureBox.x + pictureBox.width).toBeLessThanOrEqual(options.viewport.width);
      await page.screenshot({ path: `${SHOTS}/first-payment-dialog-${viewportName}.png` });

      await page.getByTestId('payment-code').fill(await codeOfOrder(server, orderId));
      await expectInViewport(page, page.getByTestId('payment-pay'));
      await page.getByTestId('payment-pay').click();
      await page.waitForURL(`**/orders/${orderId}/complete`, { timeout: CRYPTO_TIMEOUT_MS });
      await page.getByTestId('complete-heading').waitFor();
      expect(await currentStep(page)).toBe('done');
      expect(await page.getByTestId('complete-amount').textContent()).toBe('35,000원');
      await page.screenshot({ path: `${SHOTS}/first-payment-done-${viewportName}.png`, fullPage: true });

      // The app went from the pay page to the completion page by itself, and nowhere else.
      expect(visited.slice(visited.lastIndexOf('/checkout'))).toEqual(['/checkout', `/orders/${orderId}/pay`, `/orders/${orderId}/complete`]);
      // The progress list is translated.
      await page.getByTestId('lang-switch').click();
      await expect.poll(() => page.getByTestId('payment-progress-steps').getAttribute('aria-label')).toBe('Payment steps');
      expect(await page.locator('[data-testid="payment-progress-steps"] li[aria-current="step"]').innerText()).toContain('Done');
      await page.getByTestId('lang-switch').click();
      await close();
      expect(problems).toEqual([]);
    });

    it(`${viewportName}: a revoked device's pay page says which certificate, when and why, and the way to a new one brings the buyer back`, async () => {
      const { page, loginId, close } = await newBuyer(options, `revoked ${viewportName}`);
      await page.goto(`${server.baseUrl}/certificates`);
      await page.getByTestId('issue-password').fill(CERTIFICATE_PASSWORD);
      await page.getByTestId('issue-password-confirm').fill(CERTIFICATE_PASSWORD);
      await page.getByTestId('issue-submit').click();
      await page.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

      // The owner reports this device lost from elsewhere: the master is revoked with reason keyCompromise.
      const { internals } = server.app;
      const user = await internals.database.db.selectFrom('users').select(['id']).where('loginId', '=', loginId).executeTakeFirstOrThrow();
      const master = await internals.database.db.selectFrom('certificates').select(['id', 'serialHex']).where('userId', '=', user.id).where('kind', '=', 'master').executeTakeFirstOrThrow();
      const revoked = await internals.devices.revoke({ userId: user.id, role: 'buyer', sessionId: 'e2e-other-device' }, master.id, 'keyCompromise', undefined, { ip: null, userAgent: null });
      expect(revoked.status).toBe('revoked');
      const revokedAtMs = revoked.revokedAtMs!;

      const orderId = await orderNow(page, viewportName, 'revoked-device');
      expect(await currentStep(page)).toBe('certificate');
      const notice = page.getByTestId('pay-certificate-revoked');
      await notice.waitFor();
      // Which certificate (its kind and issue date, not a subject or a serial), when, and why, in words.
      expect(await notice.getByTestId('pay-standing-certificate').textContent()).toMatch(/^마스터 인증서 \(.*\d.* 발급\)$/);
      const when = notice.getByTestId('pay-standing-date');
      expect(await when.getAttribute('datetime')).toBe(new Date(revokedAtMs).toISOString());
      // Formatted by the browser's Intl (Node's may lack Korean data), in Seoul time, from the server's revocation time.
      const expectedDate = await page.evaluate(
        ({ ms, timeZone }) => new Intl.DateTimeFormat('ko', { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(ms)),
        { ms: revokedAtMs, timeZone: TIME_ZONE },
      );
      expect(await when.textContent()).toBe(expectedDate);
      const reason = notice.getByTestId('pay-standing-reason');
      expect(await reason.getAttribute('data-reason')).toBe('keyCompromise');
      expect(await reason.textContent()).toContain('기기를 잃어버렸거나 인증서가 유출되었을 수 있다는 신고가 있었습니다.');
      const noticeText = await notice.innerText();
      expect(noticeText).not.toMatch(/CN=|keyCompromise/);
      expect(noticeText.toLowerCase()).not.toContain(master.serialHex.toLowerCase());
      // Direct payment needs a certificate here; QR payment (the phone's certificate) is what is offered.
      expect(await page.getByTestId('pay-method-direct').isDisabled()).toBe(true);
      expect(await page.getByTestId('pay-method-qr').isChecked()).toBe(true);
      await page.screenshot({ path: `${SHOTS}/revoked-device-ko-${viewportName}.png`, fullPage: true });
      // The same facts in English.
      await page.getByTestId('lang-switch').click();
      await expect.poll(() => reason.textContent()).toContain('The device was reported lost, or the certificate may have been exposed.');
      expect(await notice.getByTestId('pay-standing-certificate').textContent()).toMatch(/^Master certificate \(issued .+\)$/);
      await page.screenshot({ path: `${SHOTS}/revoked-device-en-${viewportName}.png`, fullPage: true });
      await page.getByTestId('lang-switch').click();

      // The way to a new one: the certificate center, which brings the buyer back to this order by itself.
      await page.getByTestId('pay-certificate').getByTestId('pay-to-certificates').click();
      await page.waitForURL((url) => url.pathname === '/certificates' && url.searchParams.get('returnTo') === `/orders/${orderId}/pay`);
      await page.getByTestId('certificates-return').waitFor();
      await page.getByTestId('issue-password').fill(CERTIFICATE_PASSWORD);
      await page.getByTestId('issue-password-confirm').fill(CERTIFICATE_PASSWORD);
      await page.getByTestId('issue-submit').click();
      await page.waitForURL(`**/orders/${orderId}/pay`, { timeout: CRYPTO_TIMEOUT_MS });
      await page.getByTestId('pay-methods').waitFor();
      expect(await currentStep(page)).toBe('payment');
      expect(await page.getByTestId('pay-certificate').count()).toBe(0);
      await expect.poll(() => page.getByTestId('pay-open').isEnabled()).toBe(true);
      expect(await page.getByTestId('pay-method-direct').isChecked()).toBe(true);
      await page.screenshot({ path: `${SHOTS}/revoked-device-renewed-${viewportName}.png`, fullPage: true });
      await close();
      expect(problems).toEqual([]);
    });
  }
});
