/**
 * Additional certificates across two devices of one user, in a real Chromium: a
 * "PC" (desktop viewport) holds the master certificate issued through the UI; a
 * "phone" (mobile viewport, touch) asks for an additional certificate. Both
 * screens show the same 6-digit code, each computed on its own device; the PC
 * approves with the master password; the phone receives its certificate pushed
 * over the event stream, checks its chain and stores it; its signature passes.
 * The PC then revokes it with the master password, and the phone's next
 * signature is refused with CERTIFICATE_REVOKED. A second request survives a
 * reload of the phone and, rejected on the PC, leaves nothing on the phone.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserUnavailableReason, launchBrowser, startServer, type E2eServer } from './harness.js';
import { announceSkip } from '../apps/server/test/announce-skip.js';

const unavailable = browserUnavailableReason();
if (unavailable) announceSkip('device certificate end-to-end', unavailable);

const SHOTS = 'test-results/screenshots';
// Korean, as the assertions read; the language follows the browser's.
const PC = { locale: 'ko-KR', viewport: { width: 1280, height: 900 } } as const;
const PHONE = { locale: 'ko-KR', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
/** Key encryption runs 600,000 PBKDF2 iterations in the page; room for a slow CI machine. */
const CRYPTO_TIMEOUT_MS = 30_000;
/** The master device refreshes its pending list every 3 s. */
const POLL_TIMEOUT_MS = 15_000;

function watchPage(page: Page, problems: string[], name: string): void {
  page.on('pageerror', (error) => problems.push(`${name} page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name} CSP: ${message.text()}`);
  });
}

/** What the phone's IndexedDB holds: certificate key records and waiting-request keys. */
function storedKeys(page: Page): Promise<{ certificates: { kind: string; certificateId: string }[]; pending: string[] }> {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const request = indexedDB.open('coconutpay-keys');
        request.onsuccess = () => {
          const db = request.result;
          const names = Array.from(db.objectStoreNames);
          const tx = db.transaction(names, 'readonly');
          const certificates = tx.objectStore('certificate-keys').getAll();
          const pending = names.includes('pending-requests') ? tx.objectStore('pending-requests').getAllKeys() : null;
          tx.oncomplete = () => {
            resolve({
              certificates: (certificates.result as { kind: string; certificateId: string }[]).map((r) => ({ kind: r.kind, certificateId: r.certificateId })),
              pending: pending ? (pending.result as string[]) : [],
            });
            db.close();
          };
          tx.onerror = () => reject(tx.error);
        };
        request.onerror = () => reject(request.error);
      }),
  );
}

describe.skipIf(unavailable !== undefined)('additional certificates on two devices in Chromium', () => {
  let server: E2eServer;
  let browser: Browser;
  let pcContext: BrowserContext;
  let phoneContext: BrowserContext;
  let pc: Page;
  let phone: Page;
  const problems: string[] = [];
  const stamp = Date.now().toString(36);
  const loginId = `devices${stamp}`;
  const loginPassword = 'login password e2e';
  const masterPassword = '마스터 인증서 비밀번호';
  const phonePassword = '휴대폰 인증서 비밀번호';
  const nickname = '내 휴대폰';
  let phoneCertificateId = '';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    pcContext = await browser.newContext(PC);
    phoneContext = await browser.newContext(PHONE);
    pc = await pcContext.newPage();
    phone = await phoneContext.newPage();
    watchPage(pc, problems, 'pc');
    watchPage(phone, problems, 'phone');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const additionalCard = (page: Page) => page.locator('[data-testid="certificate-card"][data-kind="additional"]');

  it('the PC registers and issues the master certificate through the UI', async () => {
    await pc.goto(`${server.baseUrl}/register`);
    await pc.getByTestId('register-role-buyer').check();
    await pc.getByTestId('register-login-id').fill(loginId);
    await pc.getByTestId('register-password').fill(loginPassword);
    await pc.getByTestId('register-password-confirm').fill(loginPassword);
    await pc.getByTestId('register-name').fill('두기기');
    await pc.getByTestId('register-phone').fill('010-2222-3333');
    await pc.getByTestId('register-address').fill('서울시 중구 1');
    await pc.getByTestId('register-email').fill(`${loginId}@example.test`);
    await pc.getByTestId('register-submit').click();
    await pc.waitForURL((url) => url.pathname === '/');

    await pc.getByTestId('nav-certificates').click();
    await pc.waitForURL('**/certificates');
    await pc.getByTestId('issue-password').fill(masterPassword);
    await pc.getByTestId('issue-password-confirm').fill(masterPassword);
    await pc.getByTestId('issue-submit').click();
    await pc.getByTestId('certificates-done').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    // This is the master device now: the approval panel is here, the request form is not.
    await pc.getByTestId('master-device').waitFor();
    await pc.getByTestId('pending-empty').waitFor();
    expect(await pc.getByTestId('additional-section').count()).toBe(0);
  });

  it('the phone asks, both screens show the same code, the PC approves, the phone gets its certificate pushed', async () => {
    await phone.goto(`${server.baseUrl}/login?redirect=/certificates`);
    await phone.getByTestId('login-id').fill(loginId);
    await phone.getByTestId('login-password').fill(loginPassword);
    await phone.getByTestId('login-submit').click();
    await phone.waitForURL('**/certificates');
    await phone.getByTestId('additional-section').waitFor();
    expect(await phone.getByTestId('pending-requests').count()).toBe(0);

    // The form's own checks first: a nickname is required, the passwords must match.
    await phone.getByTestId('additional-password').fill(phonePassword);
    await phone.getByTestId('additional-password-confirm').fill(`${phonePassword}x`);
    await phone.getByTestId('additional-submit').tap();
    await phone.locator('#additional-nickname-error').waitFor();
    await phone.locator('#additional-password-confirm-error').waitFor();

    await phone.getByTestId('additional-nickname').fill(nickname);
    await phone.getByTestId('additional-password-confirm').fill(phonePassword);
    const requestedAt = Date.now();
    await phone.getByTestId('additional-submit').tap();
    const phoneCode = phone.getByTestId('device-code');
    await phoneCode.waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    const codeShownMs = Date.now() - requestedAt;
    const codeOnPhone = await phoneCode.getAttribute('data-code');
    expect(codeOnPhone).toMatch(/^\d{6}$/);
    // The digits are on screen, large and grouped.
    expect((await phoneCode.innerText()).replace(/\s/g, '')).toContain(codeOnPhone!);
    await phone.getByTestId('device-request-waiting').waitFor();
    await expect.poll(() => phone.getByTestId('device-request-remaining').textContent()).toMatch(/^(10:00|9:[0-5]\d)$/);
    const requestId = await phone.getByTestId('device-request').getAttribute('data-request-id');
    expect((await storedKeys(phone)).pending).toEqual([requestId]);
    await phone.screenshot({ path: `${SHOTS}/device-request-code-ko-phone.png`, fullPage: true });

    // The PC sees the request (polling) and shows the code it computed itself.
    const row = pc.locator(`[data-testid="pending-request"][data-request-id="${requestId}"]`);
    await row.waitFor({ timeout: POLL_TIMEOUT_MS });
    const codeOnPc = await row.getByTestId('pending-code').getAttribute('data-code');
    expect(codeOnPc).toBe(codeOnPhone);
    expect((await row.getByTestId('pending-code').innerText()).replace(/\s/g, '')).toContain(codeOnPc!);
    expect(await row.textContent()).toContain(nickname);
    expect(await row.getByTestId('pending-mismatch').count()).toBe(0);
    await pc.screenshot({ path: `${SHOTS}/device-request-pending-ko-pc.png`, fullPage: true });

    // A wrong master password changes nothing.
    await row.getByTestId('pending-password').fill('틀린 마스터 비밀번호');
    await row.getByTestId('pending-approve').click();
    await expect.poll(() => row.locator('.field-error').textContent(), { timeout: CRYPTO_TIMEOUT_MS }).toContain('인증서 비밀번호가 올바르지 않습니다');
    expect(await phone.getByTestId('device-request').getAttribute('data-status')).toBe('pending');

    await row.getByTestId('pending-password').fill(masterPassword);
    const approvedAt = Date.now();
    await row.getByTestId('pending-approve').click();
    await phone.locator('[data-testid="device-request"][data-status="approved"]').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await phone.getByTestId('device-request-outcome').waitFor();
    const pushedMs = Date.now() - approvedAt;
    await pc.getByTestId('certificates-done').filter({ hasText: nickname }).waitFor();
    console.log(`[timing] phone: request submitted → code shown ${codeShownMs} ms; PC approve click → phone shows the stored certificate ${pushedMs} ms`);

    expect(await phone.getByTestId('device-request-outcome').textContent()).toContain('승인되었습니다');
    const card = additionalCard(phone);
    await expect.poll(() => card.getByTestId('certificate-device').textContent()).toContain('이 기기에 키가 있음');
    expect(await card.getByTestId('certificate-status').textContent()).toBe('유효');
    expect(await card.getByTestId('certificate-nickname').textContent()).toBe(nickname);
    phoneCertificateId = (await card.getAttribute('data-certificate-id'))!;
    const stored = await storedKeys(phone);
    expect(stored.pending).toEqual([]);
    expect(stored.certificates).toEqual([{ kind: 'additional', certificateId: phoneCertificateId }]);
    await phone.screenshot({ path: `${SHOTS}/device-request-approved-ko-phone.png`, fullPage: true });

    // The phone's key signs and the server accepts it.
    await card.getByTestId('certificate-test-open').tap();
    await card.getByTestId('certificate-test-password').fill(phonePassword);
    await card.getByTestId('certificate-test-submit').tap();
    await card.getByTestId('certificate-test-success').waitFor({ timeout: CRYPTO_TIMEOUT_MS });

    // The PC lists the new device, no longer pending, and the history says who was let in.
    await expect.poll(() => pc.locator(`[data-testid="certificate-card"][data-certificate-id="${phoneCertificateId}"]`).count()).toBe(1);
    expect(await pc.locator(`[data-testid="pending-request"][data-request-id="${requestId}"]`).count()).toBe(0);
    await expect.poll(() => pc.locator('[data-testid="history-event"][data-kind="device_approved"]').count()).toBe(1);
  });

  it('the PC revokes the phone with the master password; the phone’s next signature is refused', async () => {
    const pcCard = pc.locator(`[data-testid="certificate-card"][data-certificate-id="${phoneCertificateId}"]`);
    await pcCard.getByTestId('certificate-revoke-open').click();
    await pcCard.getByTestId('revoke-reason').selectOption('keyCompromise');
    await pcCard.getByTestId('revoke-password').fill('틀린 마스터 비밀번호');
    await pcCard.getByTestId('revoke-submit').click();
    await expect.poll(() => pcCard.locator('.field-error').textContent(), { timeout: CRYPTO_TIMEOUT_MS }).toContain('인증서 비밀번호가 올바르지 않습니다');
    expect(await pcCard.getByTestId('certificate-status').textContent()).toBe('유효');

    await pcCard.getByTestId('revoke-password').fill(masterPassword);
    await pcCard.getByTestId('revoke-submit').click();
    await pc.getByTestId('certificates-done').filter({ hasText: '폐기' }).waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    await expect.poll(() => pcCard.getByTestId('certificate-status').textContent()).toBe('폐기됨');
    expect(await pcCard.getByTestId('certificate-revoke-open').count()).toBe(0);
    await expect.poll(() => pc.locator('[data-testid="history-event"][data-kind="revoked"]').count()).toBe(1);
    await pc.screenshot({ path: `${SHOTS}/device-revoked-ko-pc.png`, fullPage: true });

    // The phone's page still shows the certificate as valid; the server has the last word.
    const card = additionalCard(phone);
    expect(await card.getByTestId('certificate-status').textContent()).toBe('유효');
    await card.getByTestId('certificate-test-password').fill(phonePassword);
    await card.getByTestId('certificate-test-submit').tap();
    await expect.poll(() => card.getByTestId('form-error').textContent(), { timeout: CRYPTO_TIMEOUT_MS }).toContain('폐기된 인증서입니다');
    await expect.poll(() => card.getByTestId('certificate-status').textContent()).toBe('폐기됨');
    await phone.screenshot({ path: `${SHOTS}/device-revoked-refused-ko-phone.png`, fullPage: true });
  });

  it('a rejected request leaves nothing usable on the phone', async () => {
    // With its only certificate revoked, the phone may ask again.
    await phone.getByTestId('device-request-dismiss').tap();
    await phone.getByTestId('additional-form').waitFor();
    await phone.getByTestId('additional-nickname').fill('휴대폰 두 번째');
    await phone.getByTestId('additional-password').fill(phonePassword);
    await phone.getByTestId('additional-password-confirm').fill(phonePassword);
    await phone.getByTestId('additional-submit').tap();
    await phone.getByTestId('device-code').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    const requestId = await phone.getByTestId('device-request').getAttribute('data-request-id');
    const code = await phone.getByTestId('device-code').getAttribute('data-code');
    expect((await storedKeys(phone)).pending).toEqual([requestId]);
    // The wait survives a reload: the same request, the same code, listened to again.
    await phone.reload();
    await phone.locator(`[data-testid="device-request"][data-request-id="${requestId}"][data-status="pending"]`).waitFor();
    expect(await phone.getByTestId('device-code').getAttribute('data-code')).toBe(code);
    await expect.poll(() => phone.locator(`[data-testid="certificate-pending-entry"][data-request-id="${requestId}"]`).count()).toBe(1);

    const row = pc.locator(`[data-testid="pending-request"][data-request-id="${requestId}"]`);
    await row.waitFor({ timeout: POLL_TIMEOUT_MS });
    await row.getByTestId('pending-reject').click();
    await phone.locator('[data-testid="device-request"][data-status="rejected"]').waitFor({ timeout: CRYPTO_TIMEOUT_MS });
    expect(await phone.getByTestId('device-request-outcome').textContent()).toContain('거절');
    const stored = await storedKeys(phone);
    expect(stored.pending).toEqual([]);
    expect(stored.certificates.map((c) => c.certificateId)).toEqual([phoneCertificateId]);
    await expect.poll(() => pc.locator('[data-testid="history-event"][data-kind="device_rejected"]').count()).toBe(1);
  });

  it('speaks English on the switch', async () => {
    await pc.getByTestId('lang-switch').click();
    await expect.poll(() => pc.locator('#pending-heading').textContent()).toBe('Devices waiting for approval');
    await expect.poll(() => pc.locator('#history-heading').textContent()).toBe('Certificate history');
    await pc.screenshot({ path: `${SHOTS}/device-certificates-en-pc.png`, fullPage: true });
    await phone.getByTestId('lang-switch').tap();
    await expect.poll(() => phone.getByTestId('device-request-outcome').textContent()).toContain('rejected');
    await phone.screenshot({ path: `${SHOTS}/device-certificates-en-phone.png`, fullPage: true });
  });

  it('saw no CSP violation and no uncaught page error', () => {
    expect(problems).toEqual([]);
  });
});
