/**
 * End-to-end harness: the real server (built web app, fresh SQLite database and data
 * folder) listening on loopback, and Debian's Chromium driven by playwright-core.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
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

export async function startServer(): Promise<E2eServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cp-e2e-'));
  const config = loadConfig({ DATA_DIR: dataDir, DEMO: 'off', PORT: '0', LOG_LEVEL: 'warn', PASSWORD_HASH_LOG_N: '12', WEB_DIST_DIR });
  const app = await buildApp(config, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
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

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
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
