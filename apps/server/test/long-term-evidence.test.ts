/**
 * A payment verified long after every certificate involved expired: the service runs
 * on a clock in 2001, so by the time this test runs the root (20 years), the issuing
 * CA, A, the TSA and the payer's certificate have all expired; the payer's
 * certificate is also revoked after the payment. The OpenSSL commands of docs/pki.md
 * ("With OpenSSL alone") are taken from the page itself and must accept the file;
 * plain verification without the trusted time must not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEvidence } from '@coconutpay/core/payment/evidence';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { parseSignedData } from '@coconutpay/core/pki/cms';
import { newClient, SignedClient, startTestApp, TestClock, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, deviceKeys, requestCommand, rootDer, type Holder } from './payment-client.js';

const PKI_DOC = fileURLToPath(new URL('../../../docs/pki.md', import.meta.url));
const SERVICE_START_MS = Date.parse('2001-03-01T09:00:00Z');

/** The shell block of docs/pki.md that starts with `# verify-evidence-with-openssl`. */
function documentedCommands(): string {
  const text = readFileSync(PKI_DOC, 'utf8');
  const match = /```sh\n(# verify-evidence-with-openssl\n[\s\S]*?)```/.exec(text);
  if (!match) throw new Error('docs/pki.md has no "verify-evidence-with-openssl" block');
  return match[1]!;
}

function runDocumented(p7s: Uint8Array, rootPem: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-lt-'));
  writeFileSync(path.join(dir, 'evidence.p7s'), p7s);
  writeFileSync(path.join(dir, 'root.pem'), rootPem);
  const result = spawnSync('sh', ['-c', documentedCommands()], {
    cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', P7S: 'evidence.p7s', ROOT: 'root.pem', LC_ALL: 'C' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('evidence checked with OpenSSL alone, years after every certificate expired', () => {
  let t: TestApp;
  let buyer: Holder;
  let evidence: Uint8Array;
  let orderNumber: string;
  let rootPem: string;

  beforeAll(async () => {
    t = await startTestApp({ clock: new TestClock(SERVICE_START_MS) });
    const seller = await newClient(t, 'seller');
    const product = await seller.request('POST', '/api/seller/products', { name: '한라봉 3kg', category: 'food', description: '', priceWon: 39_000, stock: 10 });
    buyer = await buyerWithCertificate(t);
    expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
    const created = await buyer.client.request('POST', '/api/orders', { source: 'product', productId: product.json().id, quantity: 1 });
    orderNumber = created.json().orderNumber;
    const opened = await requestCommand(t, buyer, created.json().id);
    const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
    const paid = await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }));
    expect(paid.statusCode, paid.body).toBe(200);
    evidence = new Uint8Array((await buyer.client.get(`/api/orders/${created.json().id}/evidence.p7s`)).rawPayload);
    rootPem = t.app.internals.ca.root.certificate.toString('pem');
    // Weeks later the payer loses the phone and re-issues the master: the old certificate is revoked.
    const loginId = (await buyer.client.get('/api/me')).json().user.loginId as string;
    t.clock.advance(30 * 86_400_000);
    const again = await SignedClient.login(t, loginId);
    const replacement = await deviceKeys();
    const reissued = await again.request('POST', '/api/certificates/master', { csrPem: replacement.csrPem, replace: true });
    expect(reissued.statusCode, reissued.body).toBe(201);
  });
  afterAll(async () => t.close());

  it('every certificate in the file has expired by now, the root included', () => {
    const now = Date.now() / 1000;
    const certificates = parseSignedData(evidence).certificates.map(parseCertificate);
    expect(certificates.length).toBeGreaterThanOrEqual(3);
    for (const certificate of certificates) expect(certificate.notAfterSeconds).toBeLessThan(now);
    expect(parseCertificate(rootDer(t)).notAfterSeconds).toBeLessThan(now);
  });

  it('the documented OpenSSL commands accept the file at its time-stamp’s time', () => {
    const result = runDocumented(evidence, rootPem);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/evidence verified: signed by the payer, time-stamped at .*2001/);
    // ts -verify, cms -verify and verify each said yes.
    expect(`${result.stdout}${result.stderr}`).toMatch(/Verification: OK/);
    expect(result.stderr).toMatch(/CMS Verification successful/);
    expect(result.stdout).toMatch(/payment-server.pem: OK/);
    expect(result.stdout).toMatch(/Verified OK/);
  });

  it('without the trusted time, OpenSSL refuses the same file: its certificates have expired', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-lt-now-'));
    writeFileSync(path.join(dir, 'e.p7s'), evidence);
    writeFileSync(path.join(dir, 'root.pem'), rootPem);
    const result = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'e.p7s', '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null'], { cwd: dir, encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/certificate has expired/);
  });

  it('the documented commands refuse a file whose content or time-stamp was altered', () => {
    const content = Buffer.from(evidence);
    const at = content.indexOf(Buffer.from(`"orderNumber":"${orderNumber}"`));
    expect(at).toBeGreaterThan(0);
    const altered = Buffer.from(content);
    altered[at + 16] = altered[at + 16] === 0x31 ? 0x32 : 0x31;
    expect(runDocumented(altered, rootPem).status).not.toBe(0);
    // One byte of the token's signature (the file's last bytes) changed.
    const badToken = Buffer.from(content);
    badToken[badToken.length - 2] = badToken[badToken.length - 2]! ^ 0x01;
    expect(runDocumented(badToken, rootPem).status).not.toBe(0);
  });

  it('our verifier agrees today: valid, and with the current CRLs it shows the revocation that came after the payment', async () => {
    const crls = await Promise.all([t.app.internals.ca.issuing, t.app.internals.ca.root].map(async (issuer) => new Uint8Array((await t.app.inject({ method: 'GET', url: `/pki/crl/${issuer.id}.crl` })).rawPayload)));
    const verdict = await verifyEvidence(evidence, [rootDer(t)], { currentCrls: crls, now: new Date(t.clock.nowMs), expectedOrderNumber: orderNumber });
    expect(verdict.valid, JSON.stringify(verdict.reasons)).toBe(true);
    expect(verdict.statusNow).toMatchObject({ status: 'revoked', revokedAfterTimeStamp: true });
    expect(verdict.timeStamp?.time.startsWith('2001-03-01')).toBe(true);
  });
});
