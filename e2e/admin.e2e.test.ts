/**
 * The operator console in real Chromium (docs/admin.md): the first operator from the
 * one-time password changes it, enrols a certificate, logs in with the certificate and
 * then the account password, locks a buyer (whose session ends and whose next login is
 * refused), raises the code threshold after previewing what a payment would need, and
 * exports the whole audit log, which `coconutpay audit verify` accepts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { announceSkip } from '../apps/server/test/announce-skip.js';
import {
  addProductInPage, browserUnavailableReason, codeOfOrder, E2E_LOGIN_PASSWORD, launchBrowser, masterCertificateAndMoneyInPage, registerInPage, startServer, type E2eServer,
} from './harness.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('operator console end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
const PC = { locale: 'ko-KR', viewport: { width: 1280, height: 900 } } as const;
const CRYPTO_TIMEOUT_MS = 30_000;
const CLI = fileURLToPath(new URL('../apps/cli/bin/coconutpay.mjs', import.meta.url));

describe.skipIf(unavailable !== undefined)('operator console in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const operatorId = `secops${stamp}`;
  const buyerId = `lockme${stamp}`;
  const operatorPassword = 'operator password e2e';
  const certificatePassword = '운영자 인증서 비밀번호';
  const buyerCertificatePassword = '구매자 인증서 비밀번호';

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
  const loginApi = (loginId: string, password: string) => server.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password } });

  it('an operator logs in with certificate and password, locks a buyer whose next payment is refused, raises the code threshold, and the unlocked buyer pays 100,000원 without a code', async () => {
    const { oneTimePassword } = await server.app.internals.accounts.createAdmin(operatorId);

    // The buyer, registered through the page, with a live session.
    const buyerContext = await browser.newContext(PC);
    const buyerPage = await buyerContext.newPage();
    await registerInPage(buyerPage, server.baseUrl, { role: 'buyer', loginId: buyerId });
    const buyerUserId = (await loginApi(buyerId, E2E_LOGIN_PASSWORD)).json().user.id as string;

    // A seller's product at 100,000원: under the shipped policy a payment of 50,000원 or more asks for the code.
    const sellerContext = await browser.newContext(PC);
    const seller = await sellerContext.newPage();
    await registerInPage(seller, server.baseUrl, { role: 'seller', loginId: `lockseller${stamp}`, name: '김판매', storeName: `LOCK ${stamp}` });
    const productHref = await addProductInPage(seller, { name: `e2e 이어폰 ${stamp}`, category: 'electronics', description: '무선 이어폰', priceWon: 100_000, stock: 5 });
    await sellerContext.close();

    // The buyer: a master certificate, money, and an order at its pay page.
    await masterCertificateAndMoneyInPage(buyerPage, server.baseUrl, buyerCertificatePassword, 500_000, CRYPTO_TIMEOUT_MS);
    const orderToPay = async (): Promise<string> => {
      await buyerPage.goto(`${server.baseUrl}${productHref}`);
      await buyerPage.getByTestId('buy-now').click();
      await buyerPage.waitForURL('**/checkout?**');
      await buyerPage.getByTestId('checkout-submit').click();
      await buyerPage.waitForURL(/\/orders\/[0-9a-f-]+\/pay$/);
      return new URL(buyerPage.url()).pathname.split('/')[2]!;
    };
    /** Opens the payment dialog and asks for the command with the certificate password. */
    const requestPayment = async () => {
      await buyerPage.getByTestId('pay-open').click();
      await buyerPage.getByTestId('payment-dialog').waitFor();
      await buyerPage.getByTestId('payment-password').fill(buyerCertificatePassword);
      await buyerPage.getByTestId('payment-request').click();
    };
    const orderStatus = async (orderId: string) =>
      (await server.app.internals.database.db.selectFrom('orders').select('status').where('id', '=', orderId).executeTakeFirstOrThrow()).status;
    // The first payment of the certificate, with the code, as the shipped policy asks.
    const firstOrderId = await orderToPay();
    await requestPayment();
    await buyerPage.getByTestId('payment-code-picture').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await buyerPage.getByTestId('payment-code').fill(await codeOfOrder(server, firstOrderId));
    await buyerPage.getByTestId('payment-pay').click();
    await buyerPage.waitForURL(`**/orders/${firstOrderId}/complete`, { timeout: CRYPTO_TIMEOUT_MS });
    // The next order waits at its pay page while the operator acts.
    const secondOrderId = await orderToPay();

    const context = await browser.newContext(PC);
    const page = await context.newPage();
    watch(page, 'operator');
    // The one-time password logs in; the console refuses a session without a certificate.
    await page.goto(`${server.baseUrl}/login`);
    await page.getByTestId('login-id').fill(operatorId);
    await page.getByTestId('login-password').fill(oneTimePassword);
    await page.getByTestId('login-submit').click();
    await page.waitForURL('**/admin');
    await expect.poll(() => page.getByTestId('admin-error').textContent()).toContain('인증서');
    await page.goto(`${server.baseUrl}/me`);
    await page.getByTestId('current-password').fill(oneTimePassword);
    await page.getByTestId('new-password').fill(operatorPassword);
    await page.getByTestId('new-password-confirm').fill(operatorPassword);
    await page.getByTestId('password-submit').click();
    await page.getByTestId('password-changed').waitFor();

    // A certificate on this PC, with certificate login turned on.
    await page.goto(`${server.baseUrl}/certificates`);
    await page.getByTestId('issue-password').fill(certificatePassword);
    await page.getByTestId('issue-password-confirm').fill(certificatePassword);
    await page.getByTestId('issue-submit').click();
    await page.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await page.goto(`${server.baseUrl}/certificates`);
    await page.getByTestId('enable-login-password').fill(certificatePassword);
    await page.getByTestId('enable-login-submit').click();
    await page.getByTestId('enable-login-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    // A password session is not enough for the console.
    await page.goto(`${server.baseUrl}/admin`);
    await expect.poll(() => page.getByTestId('admin-error').textContent()).toContain('인증서');

    // Log out; in again with the certificate, then the account password.
    await page.getByTestId('logout').click();
    await page.waitForURL('**/login**');
    await expect.poll(() => page.getByTestId('certificate-login-choice').count()).toBe(1);
    await page.getByTestId('certificate-login-password').fill(certificatePassword);
    await page.getByTestId('certificate-login-submit').click();
    await page.waitForURL('**/admin', { timeout: CRYPTO_TIMEOUT_MS });
    await page.getByTestId('admin-confirm-password').fill(operatorPassword);
    await page.getByTestId('admin-confirm-submit').click();
    await page.getByTestId('admin-users').waitFor();
    await expect.poll(() => page.getByTestId('server-health').textContent()).toMatch(/활성 세션 \d+개/);

    // Lock the buyer, with a reason.
    await page.getByTestId('admin-user-query').fill(buyerId);
    await page.getByTestId('admin-user-query').press('Enter');
    const row = page.getByTestId(`admin-user-${buyerId}`);
    await row.waitFor();
    await row.getByTestId('admin-user-reason').fill('분실 신고');
    await row.getByTestId('admin-user-lock').click();
    await row.getByTestId('admin-user-unlock').waitFor();
    const sessions = await server.app.internals.database.db.selectFrom('sessions').select('revokedAtMs').where('userId', '=', buyerUserId).execute();
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.every((s) => s.revokedAtMs !== null)).toBe(true);
    expect((await loginApi(buyerId, E2E_LOGIN_PASSWORD)).json().code).toBe('ACCOUNT_LOCKED');
    // The buyer's next payment, from the page already open: refused, sent back to log in, nothing paid.
    await requestPayment();
    await buyerPage.waitForURL('**/login**', { timeout: CRYPTO_TIMEOUT_MS });
    expect(await orderStatus(secondOrderId)).toBe('awaiting_payment');
    // The refused login shows in the buyer's recent logins.
    await row.getByTestId('admin-user-show').click();
    await expect.poll(() => page.getByTestId('admin-user-detail').textContent()).toContain('ACCOUNT_LOCKED');

    // Raise the code threshold: the preview first, then publish.
    const threshold = page.getByTestId('policy-rule-amount-at-least-50000').getByTestId('policy-min-amount');
    await threshold.fill('500000');
    await page.getByTestId('policy-preview-amount').fill('100000');
    await page.getByTestId('policy-preview-submit').click();
    await expect.poll(() => page.getByTestId('policy-preview-answer').textContent()).toContain('기기 키');
    expect(await page.getByTestId('policy-preview-answer').textContent()).not.toContain('인증 코드');
    // The version's settings: an attempts count out of range is named beside its field, in Korean.
    await page.getByTestId('policy-setting-failedAttemptsMax').fill('2');
    await page.getByTestId('policy-preview-submit').click();
    await expect.poll(() => page.getByTestId('policy-setting-failedAttemptsMax-error').textContent()).toContain('3에서 20 사이');
    await page.getByTestId('policy-setting-failedAttemptsMax').fill('3');
    await page.getByTestId('policy-setting-dailyLimitWon').fill('2000000');
    await page.getByTestId('policy-setting-lockMinutes').fill('30');
    await page.getByTestId('policy-preview-submit').click();
    await expect.poll(() => page.getByTestId('policy-preview-limits').textContent()).toContain('3번 연속 실패하면 30분');
    expect(await page.getByTestId('policy-setting-failedAttemptsMax-error').count()).toBe(0);
    await page.getByTestId('policy-reason').fill('중간 금액은 코드 없이');
    await page.getByTestId('policy-publish').click();
    await page.getByTestId('policy-version-2').waitFor();
    const current = await server.app.internals.database.db.selectFrom('paymentPolicyVersions')
      .select(['version', 'author', 'failedAttemptsMax', 'lockDurationMs', 'dailyLimitWon']).orderBy('version', 'desc').executeTakeFirstOrThrow();
    expect(current.version).toBe(2);
    expect([Number(current.failedAttemptsMax), Number(current.lockDurationMs), Number(current.dailyLimitWon)]).toEqual([3, 30 * 60_000, 2_000_000]);
    await page.screenshot({ path: `${SHOTS}/admin-console-ko.png`, fullPage: true });

    // Unlocked, the buyer logs in again; under the raised threshold 100,000원 needs no code.
    await row.getByTestId('admin-user-reason').fill('본인 확인');
    await row.getByTestId('admin-user-unlock').click();
    await row.getByTestId('admin-user-lock').waitFor();
    await buyerPage.goto(`${server.baseUrl}/login`);
    await buyerPage.getByTestId('login-id').fill(buyerId);
    await buyerPage.getByTestId('login-password').fill(E2E_LOGIN_PASSWORD);
    await buyerPage.getByTestId('login-submit').click();
    await buyerPage.waitForURL((url) => !url.pathname.startsWith('/login'));
    await buyerPage.goto(`${server.baseUrl}/orders/${secondOrderId}/pay`);
    await requestPayment();
    await buyerPage.getByTestId('payment-command').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    expect(await buyerPage.getByTestId('payment-code').count()).toBe(0);
    await buyerPage.getByTestId('payment-pay').click();
    await buyerPage.waitForURL(`**/orders/${secondOrderId}/complete`, { timeout: CRYPTO_TIMEOUT_MS });
    expect(await orderStatus(secondOrderId)).toBe('paid');

    // The console's log shows what happened.
    await page.getByTestId('audit-kind').fill('admin.user-locked');
    await page.getByTestId('audit-kind').press('Enter');
    await page.getByTestId('audit-admin.user-locked').first().waitFor();

    // The whole log, exported from the console, passes the command-line verifier with its signed head.
    await server.app.internals.audit.signHead();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('audit-export-all').click()]);
    const exported = path.join(SHOTS, `audit-${stamp}.jsonl`);
    await download.saveAs(exported);
    const rootPem = path.join(SHOTS, `root-${stamp}.pem`);
    writeFileSync(rootPem, server.app.internals.ca.root.certificate.toString('pem'));
    const verify = spawnSync(process.execPath, [CLI, 'audit', 'verify', '--export', exported, '--ca', rootPem], { encoding: 'utf8' });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ valid: true, headSignaturesChecked: true });
    expect(readFileSync(exported, 'utf8')).toContain('"kind":"admin.user-locked"');
    rmSync(exported);
    rmSync(rootPem);
    expect(problems).toEqual([]);
    await buyerContext.close();
    await context.close();
  });
});
