/**
 * The certificate center in a real browser: a buyer issues a master certificate
 * (key made in Chromium), the key survives a reload, the certificate passes the
 * challenge test with the right password and refuses a wrong one, the key is
 * exported and imported on a "new device" (a fresh browser context), and finally
 * re-issued after a "loss".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer } from './harness.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('certificate end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
// Korean, as the assertions read; the language follows the browser's.
const PHONE = { locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, acceptDownloads: true } as const;
/** Issuing includes 600,000 PBKDF2 iterations in the page; give it room on a slow CI machine. */
const ISSUE_TIMEOUT_MS = 60_000;

/** Fails the test on any CSP violation or uncaught page error. */
function watchPage(page: Page, problems: string[]): void {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
}

describe.skipIf(unavailable !== undefined)('certificate center in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const loginId = `certbuyer${stamp}`;
  const loginPassword = 'login password e2e';
  const certificatePassword = '인증서 비밀번호 e2e';
  const downloadDir = mkdtempSync(path.join(tmpdir(), 'cp-cert-e2e-'));
  const files: { key?: string; chain?: string } = {};

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(downloadDir, { recursive: true, force: true });
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    watchPage(page, problems);
    return { context, page };
  }

  const masterCard = (page: Page, status = '유효') => page.getByTestId('certificate-card').filter({ has: page.getByTestId('certificate-status').filter({ hasText: status }) });

  async function runTest(page: Page, password: string): Promise<void> {
    const card = masterCard(page);
    if ((await card.getByTestId('certificate-test-form').count()) === 0) await card.getByTestId('certificate-test-open').click();
    await card.getByTestId('certificate-test-password').fill(password);
    await card.getByTestId('certificate-test-submit').click();
  }

  it('issues a master certificate whose key survives a reload and passes the test', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.baseUrl}/register`);
    await page.getByTestId('register-role-buyer').check();
    await page.getByTestId('register-login-id').fill(loginId);
    await page.getByTestId('register-password').fill(loginPassword);
    await page.getByTestId('register-password-confirm').fill(loginPassword);
    await page.getByTestId('register-name').fill('이인증');
    await page.getByTestId('register-phone').fill('010-7777-8888');
    await page.getByTestId('register-address').fill('서울시 종로구 1');
    await page.getByTestId('register-email').fill(`${loginId}@example.test`);
    await page.getByTestId('register-submit').click();
    await page.waitForURL((url) => url.pathname === '/');

    await page.getByTestId('menu-toggle').click();
    await page.getByTestId('nav-certificates').click();
    await page.waitForURL('**/certificates');
    await expect.poll(() => page.locator('h1').textContent()).toBe('인증서 센터');
    await page.getByTestId('certificates-empty').waitFor();

    // The form's own checks come first: too short, then a mismatch.
    await page.getByTestId('issue-password').fill('short');
    await page.getByTestId('issue-submit').click();
    await expect.poll(() => page.locator('#issue-password-error').textContent()).toContain('10');
    await page.getByTestId('issue-password').fill(certificatePassword);
    await page.getByTestId('issue-password-confirm').fill(`${certificatePassword}x`);
    await page.getByTestId('issue-submit').click();
    await page.locator('#issue-password-confirm-error').waitFor();

    await page.getByTestId('issue-password-confirm').fill(certificatePassword);
    await page.getByTestId('issue-submit').click();
    await page.getByTestId('issue-progress').waitFor();
    await page.getByTestId('certificates-done').waitFor({ timeout: ISSUE_TIMEOUT_MS });

    const timings = await page.evaluate(() =>
      Object.fromEntries(
        performance
          .getEntriesByType('measure')
          .filter((entry) => entry.name.startsWith('coconutpay:'))
          .map((entry) => [entry.name.replace('coconutpay:', ''), Math.round(entry.duration * 10) / 10]),
      ),
    );
    const userAgent = await page.evaluate(() => navigator.userAgent);
    console.log(`[timing] Chromium (${userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'unknown'}): ${JSON.stringify(timings)} ms`);
    expect(Object.keys(timings).sort()).toEqual(['csr', 'key-encryption', 'key-generation']);

    const card = masterCard(page);
    await expect.poll(() => card.count()).toBe(1);
    await expect.poll(() => card.getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 있음');
    await expect.poll(() => card.getByTestId('certificate-subject').textContent()).toContain(`CN=${loginId}`);
    expect(await page.getByTestId('issue-section').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/certificates-issued-ko-phone.png`, fullPage: true });

    // The key lives in IndexedDB, encrypted; nothing went to web storage.
    const stored = await page.evaluate(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const request = indexedDB.open('coconutpay-keys');
          request.onsuccess = () => {
            const all = request.result.transaction('certificate-keys').objectStore('certificate-keys').getAll();
            all.onsuccess = () => resolve((all.result as { encryptedKeyPem: string }[]).map((r) => r.encryptedKeyPem));
            all.onerror = () => reject(all.error);
          };
          request.onerror = () => reject(request.error);
        }),
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))).not.toContain('PRIVATE KEY');

    await page.reload();
    await expect.poll(() => masterCard(page).getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 있음');

    // A wrong password: a translated message on the field, and the record still works afterwards.
    await runTest(page, '틀린 비밀번호 입니다');
    await expect.poll(() => page.locator('.field-error').first().textContent()).toContain('인증서 비밀번호가 올바르지 않습니다');
    await page.screenshot({ path: `${SHOTS}/certificates-wrong-password-ko-phone.png`, fullPage: true });
    await runTest(page, certificatePassword);
    await masterCard(page).getByTestId('certificate-test-success').waitFor();

    // Export: two download links.
    await masterCard(page).getByTestId('certificate-export').click();
    for (const [testId, name] of [['download-key', 'key'], ['download-chain', 'chain']] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), masterCard(page).getByTestId(testId).click()]);
      const target = path.join(downloadDir, download.suggestedFilename());
      await download.saveAs(target);
      files[name] = target;
    }
    expect(path.basename(files.key!)).toMatch(/^coconutpay-master-[0-9a-f]+\.p8$/);
    expect(readFileSync(files.key!, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(readFileSync(files.chain!, 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    await context.close();
  });

  it.skipIf(spawnSync('openssl', ['version']).status !== 0)('the exported key opens with openssl pkcs8 and matches the certificate', () => {
    const env = { ...process.env, KEY_PASSWORD: certificatePassword.normalize('NFC') };
    const opened = spawnSync('openssl', ['pkey', '-in', files.key!, '-passin', 'env:KEY_PASSWORD', '-pubout'], { env, encoding: 'utf8' });
    expect(opened.status, opened.stderr).toBe(0);
    const certificatePublicKey = spawnSync('openssl', ['x509', '-in', files.chain!, '-noout', '-pubkey'], { encoding: 'utf8' });
    expect(opened.stdout).toBe(certificatePublicKey.stdout);
    const decrypted = spawnSync('openssl', ['pkcs8', '-in', files.key!, '-passin', 'env:KEY_PASSWORD', '-topk8', '-nocrypt'], { env, encoding: 'utf8' });
    expect(decrypted.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(spawnSync('openssl', ['pkcs8', '-in', files.key!, '-passin', 'pass:wrong password', '-topk8', '-nocrypt']).status).not.toBe(0);
  });

  it('imports the exported files on a new device and the certificate passes the test there', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.baseUrl}/login?redirect=/certificates`);
    await page.getByTestId('login-id').fill(loginId);
    await page.getByTestId('login-password').fill(loginPassword);
    await page.getByTestId('login-submit').click();
    await page.waitForURL('**/certificates');
    await expect.poll(() => masterCard(page).getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 없음');
    await page.getByTestId('master-key-missing').waitFor();

    // A wrong password stores nothing.
    await page.getByTestId('import-key-file').setInputFiles(files.key!);
    await page.getByTestId('import-chain-file').setInputFiles(files.chain!);
    await page.getByTestId('import-password').fill('틀린 비밀번호 입니다');
    await page.getByTestId('import-submit').click();
    await expect.poll(() => page.locator('#import-password-error').textContent()).toContain('인증서 비밀번호가 올바르지 않습니다');
    expect(await masterCard(page).getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 없음');
    // Files in the wrong slots are refused as unreadable, also without storing anything.
    await page.getByTestId('import-key-file').setInputFiles(files.chain!);
    await page.getByTestId('import-chain-file').setInputFiles(files.key!);
    await page.getByTestId('import-password').fill(certificatePassword);
    await page.getByTestId('import-submit').click();
    await page.locator('#import-chain-file-error').waitFor();

    await page.getByTestId('import-key-file').setInputFiles(files.key!);
    await page.getByTestId('import-chain-file').setInputFiles(files.chain!);
    await page.getByTestId('import-password').fill(certificatePassword);
    await page.getByTestId('import-submit').click();
    await page.getByTestId('certificates-done').waitFor({ timeout: ISSUE_TIMEOUT_MS });
    await expect.poll(() => masterCard(page).getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 있음');
    expect(await page.getByTestId('master-key-missing').count()).toBe(0);

    await runTest(page, certificatePassword);
    await masterCard(page).getByTestId('certificate-test-success').waitFor();

    await page.getByTestId('lang-switch').click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Certificate center');
    await expect.poll(() => masterCard(page, 'Valid').getByTestId('certificate-device').textContent()).toContain('This device holds the key');
    await page.screenshot({ path: `${SHOTS}/certificates-imported-en-phone.png`, fullPage: true });
    await page.getByTestId('lang-switch').click();
    await context.close();
  });

  it('re-issues after a lost device: the old master is revoked, the new one works', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.baseUrl}/login?redirect=/certificates`);
    await page.getByTestId('login-id').fill(loginId);
    await page.getByTestId('login-password').fill(loginPassword);
    await page.getByTestId('login-submit').click();
    await page.waitForURL('**/certificates');
    const oldSerial = await masterCard(page).getByTestId('certificate-serial').textContent();

    await page.getByTestId('reissue-open').click();
    await page.getByTestId('reissue-password').fill(certificatePassword);
    await page.getByTestId('reissue-password-confirm').fill(certificatePassword);
    await page.getByTestId('reissue-submit').click();
    await page.locator('#reissue-confirm-error').waitFor();
    await page.getByTestId('reissue-confirm').check();
    await page.getByTestId('reissue-submit').click();
    await page.getByTestId('certificates-done').waitFor({ timeout: ISSUE_TIMEOUT_MS });

    await expect.poll(() => masterCard(page, '폐기됨').count()).toBe(1);
    expect(await masterCard(page, '폐기됨').getByTestId('certificate-serial').textContent()).toBe(oldSerial);
    await expect.poll(() => masterCard(page).getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 있음');
    await runTest(page, certificatePassword);
    await masterCard(page).getByTestId('certificate-test-success').waitFor();
    await page.screenshot({ path: `${SHOTS}/certificates-reissued-ko-phone.png`, fullPage: true });
    await context.close();
  });

  it('saw no CSP violation and no uncaught page error', () => {
    expect(problems).toEqual([]);
  });
});
