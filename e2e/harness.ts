/**
 * End-to-end harness: the real server (built web app, fresh SQLite database and data
 * folder) listening on loopback, and Debian's Chromium driven by playwright-core.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
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
