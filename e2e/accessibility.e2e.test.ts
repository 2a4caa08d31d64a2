/**
 * Every main page in a real Chromium, on a desktop (1280×800) and a phone (390×844):
 * axe-core finds no serious or critical accessibility problem, every tap target on
 * the phone is at least 44×44 CSS px, and a screenshot of each is saved under
 * test-results/screenshots/<page>-<viewport>.png. The counts of failed rules per
 * impact go to test-results/axe-summary.json for the closing note of issue 11.
 *
 * The setup goes through the UI as a person would (register, issue a certificate,
 * top up, order, pay); as in payment.e2e.test.ts, the one thing a program cannot
 * read, the code in the picture, is looked up in the server's database.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer, codeOfOrder, registerInPage } from './harness.js';
import { describeViolations, runAxe, saveScreenshot, smallTapTargets, type AxeReport, type SmallTarget } from './accessibility.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('accessibility end-to-end', unavailable);

const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 390, height: 844 },
} as const;
type ViewportName = keyof typeof VIEWPORTS;
const SUMMARY_PATH = 'test-results/axe-summary.json';
/** Key generation and encryption run 600,000 PBKDF2 iterations in the page. */
const CRYPTO_TIMEOUT_MS = 60_000;

interface PageResult {
  viewport: ViewportName;
  url: string;
  counts: AxeReport['counts'];
  violations: string[];
  smallTargets: SmallTarget[];
  screenshot: string;
}

function watchPage(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name} CSP: ${message.text()}`);
  });
}

describe.skipIf(unavailable !== undefined)('accessibility of every main page in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  let guest: Page;
  let buyer: Page;
  let seller: Page;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const results: Record<string, PageResult[]> = {};
  const stamp = Date.now().toString(36);
  const productName = `접근성 노트북 ${stamp}`;
  const certificatePassword = '접근성 인증서 비밀번호';
  let productPath = '';
  let paidOrderId = '';
  let unpaidOrderId = '';

  async function newPage(name: string): Promise<Page> {
    // Korean, as most of the shop's users; the language test lives in mobile.e2e.test.ts.
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, locale: 'ko-KR', acceptDownloads: true });
    contexts.push(context);
    const page = await context.newPage();
    watchPage(page, problems, name);
    return page;
  }

  /** Waits until the checkout form holds the profile's address (expect.poll only works inside a test). */
  async function addressFilled(page: Page): Promise<void> {
    await page.waitForFunction(() => (document.querySelector('[data-testid="checkout-address"]') as HTMLInputElement | null)?.value !== '' && document.querySelector('[data-testid="checkout-address"]') !== null);
  }

  /** Buy now from the product page; returns the new order's id (on its pay page). */
  async function orderNow(page: Page): Promise<string> {
    await page.goto(`${server.baseUrl}${productPath}`);
    await page.getByTestId('buy-now').click();
    await page.waitForURL('**/checkout?**');
    await addressFilled(page);
    await page.getByTestId('checkout-submit').click();
    await page.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
    return new URL(page.url()).pathname.split('/')[2]!;
  }

  beforeAll(async () => {
    mkdirSync('test-results', { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    guest = await newPage('guest');

    seller = await newPage('seller');
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `a11yseller${stamp}`, storeName: `A11Y ${stamp}` });
    await seller.waitForURL('**/seller/products');
    const form = seller.getByTestId('product-form');
    await form.getByTestId('product-name-input').fill(productName);
    await form.getByTestId('product-category-select').selectOption('electronics');
    await form.getByTestId('product-description-input').fill('접근성 검사용 상품');
    await form.getByTestId('product-price-input').fill('300000');
    await form.getByTestId('product-stock-input').fill('9');
    await form.getByTestId('product-submit').click();
    const row = seller.getByTestId('seller-product-row').filter({ hasText: productName });
    await row.first().waitFor();
    productPath = (await row.locator('a[href^="/products/"]').first().getAttribute('href'))!;

    buyer = await newPage('buyer');
    await registerInPage(buyer, server.baseUrl, { role: 'buyer', loginId: `a11ybuyer${stamp}`, name: '이접근' });
    await buyer.goto(`${server.baseUrl}/certificates`);
    await buyer.getByTestId('issue-password').fill(certificatePassword);
    await buyer.getByTestId('issue-password-confirm').fill(certificatePassword);
    await buyer.getByTestId('issue-submit').click();
    await buyer.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await buyer.goto(`${server.baseUrl}/me`);
    await buyer.getByTestId('top-up-amount').fill('1000000');
    await buyer.getByTestId('top-up-submit').click();
    await buyer.getByTestId('top-up-done').waitFor();

    // One paid order (order page, completion page) and one waiting for payment (pay page).
    paidOrderId = await orderNow(buyer);
    await buyer.getByTestId('pay-open').click();
    await buyer.getByTestId('payment-password').fill(certificatePassword);
    await buyer.getByTestId('payment-request').click();
    await buyer.getByTestId('payment-code-picture').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await buyer.getByTestId('payment-code').fill(await codeOfOrder(server, paidOrderId));
    await buyer.getByTestId('payment-pay').click();
    await buyer.waitForURL(`**/orders/${paidOrderId}/complete`, { timeout: CRYPTO_TIMEOUT_MS });
    unpaidOrderId = await orderNow(buyer);

    // Something in the cart, for the cart and checkout pages.
    await buyer.goto(`${server.baseUrl}${productPath}`);
    await buyer.getByTestId('add-to-cart').click();
    await buyer.getByTestId('added-to-cart').waitFor();
  }, 240_000);

  afterAll(async () => {
    const summary = Object.fromEntries(
      Object.entries(results).map(([name, runs]) => [
        name,
        Object.fromEntries(runs.map((run) => [run.viewport, { ...run.counts, violations: run.violations, smallTapTargets: run.smallTargets, screenshot: run.screenshot }])),
      ]),
    );
    if (Object.keys(summary).length > 0) {
      writeFileSync(SUMMARY_PATH, `${JSON.stringify(summary, null, 2)}\n`);
      console.log('[axe] failed rules per page and impact (minor/moderate/serious/critical):');
      for (const [name, runs] of Object.entries(results)) {
        console.log(`  ${name.padEnd(16)} ${runs.map((r) => `${r.viewport} ${r.counts.minor}/${r.counts.moderate}/${r.counts.serious}/${r.counts.critical}`).join('  ')}`);
      }
    }
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  /**
   * Opens the page in both viewports, waits for `ready`, runs axe, measures the tap
   * targets on the phone and saves the screenshots; then asserts.
   */
  async function check(name: string, page: Page, path: string, ready: (page: Page) => Promise<unknown>, after?: (page: Page) => Promise<unknown>): Promise<void> {
    const runs: PageResult[] = [];
    for (const viewport of Object.keys(VIEWPORTS) as ViewportName[]) {
      await page.setViewportSize(VIEWPORTS[viewport]);
      await page.goto(`${server.baseUrl}${path}`);
      await ready(page);
      if (after) await after(page);
      const report = await runAxe(page);
      const smallTargets = viewport === 'mobile' ? await smallTapTargets(page) : [];
      const screenshot = await saveScreenshot(page, name, viewport);
      runs.push({ viewport, url: report.url, counts: report.counts, violations: describeViolations(report.violations), smallTargets, screenshot });
    }
    results[name] = runs;
    for (const run of runs) {
      expect(run.violations.filter((line) => /^(serious|critical) /.test(line)), `${name} ${run.viewport}`).toEqual([]);
      expect(run.smallTargets, `${name} ${run.viewport}: tap targets under 44 px`).toEqual([]);
    }
  }

  const testId = (id: string) => (page: Page) => page.getByTestId(id).first().waitFor();

  it('home', () => check('home', guest, '/', testId('product-card')));
  it('product', () => check('product', guest, productPath, testId('product-title')));
  it('login', () => check('login', guest, '/login', testId('login-form')));
  it('register', () => check('register', guest, '/register', testId('register-login-id')));
  it('verify', () => check('verify', guest, '/verify', testId('verify-form')));
  it('cart', () => check('cart', buyer, '/cart', testId('cart-line')));
  it('checkout', () => check('checkout', buyer, '/checkout', addressFilled));
  it('me (wallet)', () => check('me', buyer, '/me', testId('wallet-balance')));
  it('certificates', () => check('certificates', buyer, '/certificates', testId('certificate-card')));
  it('orders', () => check('orders', buyer, '/orders', testId('order-row')));
  it('order detail', () => check('order-detail', buyer, `/orders/${paidOrderId}`, testId('order-evidence')));
  it('order pay', () => check('order-pay', buyer, `/orders/${unpaidOrderId}/pay`, testId('pay-open')));
  it('order pay, dialog open', () =>
    check('order-pay-dialog', buyer, `/orders/${unpaidOrderId}/pay`, testId('pay-open'), async (page) => {
      await page.getByTestId('pay-open').click();
      await page.getByTestId('payment-password').waitFor();
    }));
  it('order pay, QR code shown', () =>
    check('order-pay-qr', buyer, `/orders/${unpaidOrderId}/pay`, testId('pay-open'), async (page) => {
      await page.getByTestId('pay-method-qr').check();
      await page.getByTestId('pay-qr-open').click();
      await page.getByTestId('qr-code').locator('svg').waitFor();
    }));
  it('QR payment on the phone', () => check('qr-phone', buyer, '/qr', testId('qr-numeric-input')));
  it('completion', () => check('order-complete', buyer, `/orders/${paidOrderId}/complete`, testId('complete-heading')));
  it('seller products', () => check('seller-products', seller, '/seller/products', testId('seller-product-row')));
  it('seller home (store, sales, ledger)', () => check('seller-home', seller, '/seller', testId('sale')));
  it('verify receipt', () => check('verify-receipt', guest, '/verify-receipt', testId('verify-receipt-form')));

  it('shows buyers no X.509 names, OIDs or hex numbers unless they open the technical details (issue 11, point 3)', async () => {
    const page = buyer;
    await page.setViewportSize(VIEWPORTS.mobile);
    /** What a buyer reads: innerText leaves out the contents of closed <details>. */
    const visible = () => page.locator('main').innerText();
    const JARGON = [/\b(?:CN|OU|O|C|serialNumber)=/, /\b\d+(?:\.\d+){3,}\b/, /\b[0-9a-f]{16,}\b/i, /(?:\b[0-9a-f]{4} ){3}/i, /\(A\)/, /\b[A-Z]+(?:_[A-Z]+)+\b/];
    const expectPlain = async (where: string) => {
      const text = await visible();
      for (const pattern of JARGON) expect(text, `${where}: ${pattern}`).not.toMatch(pattern);
    };

    await page.goto(`${server.baseUrl}/certificates`);
    await page.getByTestId('certificate-card').first().waitFor();
    await expectPlain('certificates');
    // The facts are still there for the curious, one click away.
    const card = page.getByTestId('certificate-card').first();
    await card.getByTestId('certificate-details').locator('summary').click();
    await expect.poll(() => card.getByTestId('certificate-subject').innerText()).toMatch(/CN=/);

    await page.goto(`${server.baseUrl}/orders/${paidOrderId}`);
    await page.getByTestId('evidence-verify').click();
    await expect.poll(() => page.getByTestId('verdict-server').getAttribute('data-valid'), { timeout: CRYPTO_TIMEOUT_MS }).toBe('true');
    await expect.poll(() => page.getByTestId('verdict-local').getAttribute('data-valid'), { timeout: CRYPTO_TIMEOUT_MS }).toBe('true');
    await expectPlain('order detail with verdicts');
    await saveScreenshot(page, 'order-detail-verified', 'mobile');

    // The completion page: what was bought and the balance left (1,000,000 − 300,000).
    await page.goto(`${server.baseUrl}/orders/${paidOrderId}/complete`);
    await page.getByTestId('complete-heading').waitFor();
    await expect.poll(() => page.getByTestId('complete-items').innerText()).toContain(productName);
    await expect.poll(() => page.getByTestId('complete-balance').innerText()).toBe('700,000원');
    await expectPlain('completion');

    await page.goto(`${server.baseUrl}/orders/${unpaidOrderId}/pay`);
    await page.getByTestId('pay-open').click();
    await page.getByTestId('payment-password').waitFor();
    await expectPlain('pay page with the dialog');
  });

  it('saw no CSP violation and no uncaught page error', () => {
    expect(problems).toEqual([]);
  });
});
