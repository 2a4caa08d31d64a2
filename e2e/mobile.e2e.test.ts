/**
 * Issue 11, point 6, in a real Chromium: the language of a first visit follows the
 * browser's (`locale: 'ko-KR'` → Korean, `'en-US'` → English) and a choice is
 * remembered; on a 390×844 phone the navigation folds behind a Menu button whose
 * rows are 44 px tall, and on a 1280×800 desktop it is shown without one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer } from './harness.js';
import { saveScreenshot, smallTapTargets } from './accessibility.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('mobile end-to-end', unavailable);

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
const DESKTOP = { viewport: { width: 1280, height: 800 } } as const;

describe.skipIf(unavailable !== undefined)('mobile header and language in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(options: BrowserContextOptions, path = '/'): Promise<Page> {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${server.baseUrl}${path}`);
    await page.getByTestId('brand').waitFor();
    return page;
  }

  const lang = (page: Page) => page.locator('html').getAttribute('lang');
  const heading = (page: Page) => page.locator('main h1').first().textContent();

  it('speaks Korean to a Korean browser and English to an English one, on the first visit', async () => {
    const korean = await open({ ...PHONE, locale: 'ko-KR' });
    await expect.poll(() => lang(korean)).toBe('ko');
    await expect.poll(() => heading(korean)).toBe('전체 상품');
    expect(await korean.evaluate(() => navigator.language)).toBe('ko-KR');
    await saveScreenshot(korean, 'home-ko', 'mobile');
    await korean.context().close();

    const english = await open({ ...PHONE, locale: 'en-US' });
    await expect.poll(() => lang(english)).toBe('en');
    await expect.poll(() => heading(english)).toBe('All products');
    expect(await english.title()).toMatch(/^Products · CoconutPay$/);
    await saveScreenshot(english, 'home-en', 'mobile');
    await english.context().close();

    // A language the app does not speak gets English.
    const japanese = await open({ ...DESKTOP, locale: 'ja-JP' });
    await expect.poll(() => lang(japanese)).toBe('en');
    await japanese.context().close();
  });

  it('remembers the language the user picked over the browser language', async () => {
    const page = await open({ ...PHONE, locale: 'en-US' });
    await expect.poll(() => lang(page)).toBe('en');
    await page.getByTestId('lang-switch').click();
    await expect.poll(() => lang(page)).toBe('ko');
    await expect.poll(() => heading(page)).toBe('전체 상품');
    await page.reload();
    await page.getByTestId('brand').waitFor();
    await expect.poll(() => lang(page)).toBe('ko');
    await expect.poll(() => heading(page)).toBe('전체 상품');
    // And back: the newest choice wins.
    await page.getByTestId('lang-switch').click();
    await page.reload();
    await expect.poll(() => lang(page)).toBe('en');
    await page.context().close();
  });

  it('folds the navigation behind a menu button on a phone, with rows of at least 44 px', async () => {
    const page = await open({ ...PHONE, locale: 'ko-KR' }, '/verify');
    const toggle = page.getByTestId('menu-toggle');
    const nav = page.getByTestId('site-nav');
    expect(await toggle.isVisible()).toBe(true);
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    expect(await nav.isVisible()).toBe(false);
    // The header stays compact: the main heading starts in the first sixth of the screen.
    const headingBox = await page.locator('main h1').first().boundingBox();
    expect(headingBox!.y).toBeLessThan(844 / 6);
    await saveScreenshot(page, 'header-menu-closed', 'mobile');

    await toggle.tap();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    expect(await nav.isVisible()).toBe(true);
    expect(await smallTapTargets(page)).toEqual([]);
    for (const link of await nav.locator('a, button').all()) {
      const box = (await link.boundingBox())!;
      expect(box.height).toBeGreaterThanOrEqual(44);
      expect(box.width).toBeGreaterThan(300);
    }
    await saveScreenshot(page, 'header-menu-open', 'mobile');

    // Escape closes it and gives focus back to the button.
    await page.keyboard.press('Escape');
    await expect.poll(() => nav.isVisible()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('menu-toggle');

    // Choosing a page closes it too.
    await toggle.tap();
    await page.getByTestId('nav-login').tap();
    await page.waitForURL('**/login');
    await expect.poll(() => nav.isVisible()).toBe(false);
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await page.context().close();
  });

  it('shows the navigation without a menu button on a desktop', async () => {
    const page = await open({ ...DESKTOP, locale: 'ko-KR' });
    expect(await page.getByTestId('menu-toggle').isVisible()).toBe(false);
    expect(await page.getByTestId('site-nav').isVisible()).toBe(true);
    expect(await page.getByTestId('nav-login').isVisible()).toBe(true);
    await page.context().close();
  });

  it('saw no uncaught page error', () => {
    expect(problems).toEqual([]);
  });
});
