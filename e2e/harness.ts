/**
 * End-to-end harness: the real server (built web app, fresh SQLite database and data
 * folder) listening on loopback, and Debian's Chromium driven by playwright-core.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../apps/server/src/app.js';
import { loadConfig } from '../apps/server/src/config.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const WEB_DIST_DIR = path.resolve(new URL('../apps/web/dist', import.meta.url).pathname);

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailableReason(): string | undefined {
  if (!existsSync(CHROMIUM_PATH)) return `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium; .ci/run does)`;
  if (!existsSync(path.join(WEB_DIST_DIR, 'index.html'))) return `the web app is not built (${WEB_DIST_DIR}); npm test builds it first`;
  return undefined;
}

export interface E2eServer {
  app: FastifyInstance;
  baseUrl: string;
  close(): Promise<void>;
}

/** A loopback port nobody listens on now (the server's public URL must name its real port: QR links carry it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startServer(): Promise<E2eServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cp-e2e-'));
  const port = await freePort();
  const config = loadConfig({ DATA_DIR: dataDir, DEMO: 'off', PORT: String(port), LOG_LEVEL: 'warn', PASSWORD_HASH_LOG_N: '12', WEB_DIST_DIR });
  const app = await buildApp(config, { logger: false });
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    app,
    // localhost is a secure context, which WebCrypto in the page requires.
    baseUrl: `http://localhost:${address.port}`,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launches Debian's Chromium headless; `extraArgs` adds switches (a fake camera, say). */
export function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', ...extraArgs],
  });
}

/**
 * The modules of a QR code as our server draws it (qr-payments.ts `qrSvg`: a square
 * viewBox of N modules, one path of `M{x} {y}h{run}v1h-{run}z` runs), true = dark.
 */
export function qrModulesFromSvg(svg: string): boolean[][] {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  if (!Number.isInteger(size) || size <= 0) throw new Error('not one of our QR code pictures');
  const modules = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  for (const [, x, y, run] of svg.matchAll(/M(\d+) (\d+)h(\d+)v1h-\3z/g)) {
    for (let i = 0; i < Number(run); i++) modules[Number(y)]![Number(x) + i] = true;
  }
  return modules;
}

/** The modules drawn black on white at `scale` pixels each, centred in a `side`² picture: grey levels (0 = black). */
export function qrLuma(modules: boolean[][], side: number, scale: number): Uint8Array {
  const luma = new Uint8Array(side * side).fill(255);
  const offset = Math.floor((side - modules.length * scale) / 2);
  modules.forEach((row, y) => row.forEach((dark, x) => {
    if (!dark) return;
    for (let dy = 0; dy < scale; dy++) luma.fill(0, (offset + y * scale + dy) * side + offset + x * scale, (offset + y * scale + dy) * side + offset + (x + 1) * scale);
  }));
  return luma;
}

/**
 * A Y4M video (what Chromium's fake camera plays, `--use-file-for-fake-video-capture`)
 * that shows `luma` (a `side`² grey picture) still, for a phone's in-app scanner to read.
 */
export function writeStillY4m(file: string, luma: Uint8Array, side: number): void {
  const chroma = Buffer.alloc((side / 2) * (side / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), Buffer.from(luma), chroma]);
  writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${side} H${side} F10:1 Ip A1:1 C420jpeg\n`), frame, frame]));
}

/**
 * The plain code behind the picture of the order's newest payment command, opened from
 * its sealed copy with the server's key (the harness runs the server in this process); a
 * person reads it off the picture instead.
 */
export async function codeOfOrder(server: E2eServer, orderId: string): Promise<string> {
  const row = await server.app.internals.database.db
    .selectFrom('paymentCommands')
    .innerJoin('verificationCodes', 'verificationCodes.comId', 'paymentCommands.comId')
    .select(['verificationCodes.id', 'verificationCodes.codeSealed'])
    .where('paymentCommands.orderId', '=', orderId)
    .orderBy('paymentCommands.issuedAtMs', 'desc')
    .executeTakeFirstOrThrow();
  if (row.codeSealed === null) throw new Error(`the code of order ${orderId} was already used`);
  return server.app.internals.codeKey.open(row.id, row.codeSealed);
}

/** Who registers through the page: the rest of the form gets plausible fixed values. */
export interface PageRegistration {
  role: 'buyer' | 'seller';
  loginId: string;
  /** The person's name; the order and the payment show it. */
  name?: string;
  /** A seller's store name; the payment command shows it. */
  storeName?: string;
  password?: string;
}

/** The login password `registerInPage` uses when none is given. */
export const E2E_LOGIN_PASSWORD = 'e2e login password';
/** The contact details `registerInPage` gives everyone; the checkout fills them in. */
export const E2E_PHONE = '010-4444-5505';
export const E2E_ADDRESS = '서울특별시 마포구 월드컵북로 400';

/** Fills and sends the registration form as a person would; ends on the page the app moves to. */
export async function registerInPage(page: Page, baseUrl: string, who: PageRegistration): Promise<void> {
  const password = who.password ?? E2E_LOGIN_PASSWORD;
  await page.goto(`${baseUrl}/register`);
  await page.getByTestId(`register-role-${who.role}`).check();
  await page.getByTestId('register-login-id').fill(who.loginId);
  await page.getByTestId('register-password').fill(password);
  await page.getByTestId('register-password-confirm').fill(password);
  await page.getByTestId('register-name').fill(who.name ?? (who.role === 'seller' ? '김판매' : '이구매'));
  await page.getByTestId('register-phone').fill(E2E_PHONE);
  await page.getByTestId('register-address').fill(E2E_ADDRESS);
  await page.getByTestId('register-email').fill(`${who.loginId}@example.test`);
  if (who.role === 'seller') {
    await page.getByTestId('register-store-name').fill(who.storeName ?? `상점 ${who.loginId}`);
    await page.getByTestId('register-business-number').fill('214-86-12345');
    await page.getByTestId('register-store-address').fill('서울특별시 마포구 성암로 1');
    await page.getByTestId('register-representative').fill(who.name ?? '김판매');
    await page.getByTestId('register-store-phone').fill('02-4444-0000');
  }
  await page.getByTestId('register-submit').click();
  await page.waitForURL((url) => url.pathname !== '/register');
}

/** A product a seller already on their product page adds through its form; answers the product page's path. */
export async function addProductInPage(seller: Page, product: { name: string; category: string; description: string; priceWon: number; stock: number }): Promise<string> {
  await seller.waitForURL('**/seller/products');
  const form = seller.getByTestId('product-form');
  await form.getByTestId('product-name-input').fill(product.name);
  await form.getByTestId('product-category-select').selectOption(product.category);
  await form.getByTestId('product-description-input').fill(product.description);
  await form.getByTestId('product-price-input').fill(String(product.priceWon));
  await form.getByTestId('product-stock-input').fill(String(product.stock));
  await form.getByTestId('product-submit').click();
  const row = seller.getByTestId('seller-product-row').filter({ hasText: product.name });
  await expect.poll(() => row.count()).toBe(1);
  return (await row.locator('a[href^="/products/"]').first().getAttribute('href'))!;
}

/** A logged-in buyer issues a master certificate in the page (key made and encrypted there) and tops up the wallet. */
export async function masterCertificateAndMoneyInPage(page: Page, baseUrl: string, certificatePassword: string, topUpWon: number, cryptoTimeoutMs: number): Promise<void> {
  await page.goto(`${baseUrl}/certificates`);
  await page.getByTestId('issue-password').fill(certificatePassword);
  await page.getByTestId('issue-password-confirm').fill(certificatePassword);
  await page.getByTestId('issue-submit').click();
  await page.getByTestId('certificates-done').waitFor({ timeout: cryptoTimeoutMs });
  await page.goto(`${baseUrl}/me`);
  await page.getByTestId('top-up-amount').fill(String(topUpWon));
  await page.getByTestId('top-up-submit').click();
  await page.getByTestId('top-up-done').waitFor();
}

/**
 * Pays the order whose pay page `page` shows, directly with this device's certificate: the
 * dialog, the password, A's command, the code when the policy asks for one, and the wait for
 * the completion page.
 */
export async function payOrderInPage(page: Page, server: E2eServer, orderId: string, certificatePassword: string, cryptoTimeoutMs: number): Promise<void> {
  await page.getByTestId('pay-open').click();
  await page.getByTestId('payment-password').fill(certificatePassword);
  await page.getByTestId('payment-request').click();
  await page.getByTestId('payment-command').waitFor({ timeout: cryptoTimeoutMs });
  if ((await page.getByTestId('payment-code').count()) > 0) await page.getByTestId('payment-code').fill(await codeOfOrder(server, orderId));
  await page.getByTestId('payment-pay').click();
  await page.waitForURL(`**/orders/${orderId}/complete`, { timeout: cryptoTimeoutMs });
}
