/**
 * The shop in a real browser: a seller registers and lists a product with an image;
 * a buyer registers, finds it, adds it to the cart, and switches the language.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { drawProductPicture } from '../apps/server/src/services/png-image.js';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer } from './harness.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('browser end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';

/** Fails the test on any CSP violation or uncaught page error. */
function watchPage(page: Page, problems: string[]): void {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
}

describe.skipIf(unavailable !== undefined)('shop in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const productName = `e2e 노트북 ${stamp}`;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('a seller registers, adds a product and uploads its image', async () => {
    const context = await browser.newContext({ locale: 'ko-KR', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    watchPage(page, problems);
    await page.goto(`${server.baseUrl}/register`);
    await page.getByTestId('register-role-seller').check();
    const password = 'seller e2e password';
    await page.getByTestId('register-login-id').fill(`seller${stamp}`);
    await page.getByTestId('register-password').fill(password);
    await page.getByTestId('register-password-confirm').fill(password);
    await page.getByTestId('register-name').fill('김판매');
    await page.getByTestId('register-phone').fill('010-2222-3333');
    await page.getByTestId('register-address').fill('서울시 중구 필동로 1');
    await page.getByTestId('register-email').fill(`seller${stamp}@example.test`);
    await page.getByTestId('register-store-name').fill('JOONGBU E2E');
    await page.getByTestId('register-business-number').fill('214-86-12345');
    await page.getByTestId('register-store-address').fill('서울시 중구 필동로 1');
    await page.getByTestId('register-representative').fill('김판매');
    await page.getByTestId('register-store-phone').fill('02-2260-3114');
    await page.getByTestId('register-submit').click();
    await page.waitForURL('**/seller/products');

    const form = page.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(productName);
    await form.getByTestId('product-category-select').selectOption('electronics');
    await form.getByTestId('product-description-input').fill('브라우저 테스트로 등록한 상품');
    await form.getByTestId('product-price-input').fill('800000');
    await form.getByTestId('product-stock-input').fill('5');
    await form.getByTestId('product-submit').click();
    const row = page.getByTestId('seller-product-row').filter({ hasText: productName });
    await expect.poll(() => row.count()).toBe(1);

    await row.getByTestId('product-image-input').setInputFiles({ name: 'laptop.png', mimeType: 'image/png', buffer: drawProductPicture(210, 'square', 200) });
    await expect.poll(async () => row.locator('img').count()).toBeGreaterThan(0);
    const src = await row.locator('img').first().getAttribute('src');
    expect(src).toMatch(/\/api\/products\/[0-9a-f-]+\/image\?v=1/);
    const image = await page.request.get(`${server.baseUrl}${src}`);
    expect(image.headers()['content-type']).toBe('image/png');
    await page.screenshot({ path: `${SHOTS}/seller-products.png`, fullPage: true });
    await context.close();
  });

  it('a buyer registers on a phone, finds the product, adds it to the cart and switches to English', async () => {
    const context = await browser.newContext({ locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    watchPage(page, problems);
    await page.goto(`${server.baseUrl}/register`);
    expect(await page.locator('html').getAttribute('lang')).toBe('ko');
    await page.getByTestId('register-role-buyer').check();
    const password = 'buyer e2e password';
    await page.getByTestId('register-login-id').fill(`buyer${stamp}`);
    await page.getByTestId('register-password').fill(password);
    await page.getByTestId('register-password-confirm').fill(password);
    await page.getByTestId('register-name').fill('박구매');
    await page.getByTestId('register-phone').fill('010-4444-5555');
    await page.getByTestId('register-address').fill('부산시 해운대구 1');
    await page.getByTestId('register-email').fill(`buyer${stamp}@example.test`);
    await page.getByTestId('register-submit').click();
    await page.waitForURL((url) => url.pathname === '/');

    await page.getByTestId('search-input').fill(stamp);
    await page.getByTestId('search-submit').click();
    const card = page.getByTestId('product-card').filter({ hasText: productName });
    await expect.poll(() => card.count()).toBe(1);
    await expect.poll(() => card.getByTestId('product-price').textContent()).toContain('800,000원');
    await card.getByTestId('product-link').click();
    await page.waitForURL('**/products/**');
    await expect.poll(() => page.getByTestId('product-title').textContent()).toContain(productName);

    await page.getByTestId('quantity-input').fill('2');
    await page.getByTestId('add-to-cart').click();
    await page.getByTestId('added-to-cart').waitFor();
    await page.goto(`${server.baseUrl}/cart`);
    const line = page.getByTestId('cart-line').filter({ hasText: productName });
    await expect.poll(() => line.count()).toBe(1);
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toContain('1,600,000원');
    await page.screenshot({ path: `${SHOTS}/cart-ko-phone.png`, fullPage: true });

    await page.getByTestId('lang-switch').click();
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe('en');
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toContain('₩1,600,000');
    await page.reload();
    await expect.poll(() => page.getByTestId('cart-total').textContent()).toContain('₩1,600,000');
    await page.screenshot({ path: `${SHOTS}/cart-en-phone.png`, fullPage: true });

    // The secret token is a non-extractable key in IndexedDB, never a string in web storage.
    const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(storage).not.toMatch(/secret|[A-Za-z0-9_-]{43}/i);
    await context.close();
  });

  it('saw no CSP violation and no uncaught page error', () => {
    expect(problems).toEqual([]);
  });
});
