/**
 * Payment evidence a third party can rely on: every forgery a payer, another user or
 * an outsider can build from real parts (real certificates, real commands, real
 * time-stamps from our public TSA, real CRLs) is refused by core's verifier, the
 * public verify endpoint and the CLI, each with its own code; the genuine file stays
 * valid after the payer's certificate is revoked later, and says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationContent, COMMAND_TTL_MS, type PaymentAuthorization, type PaymentCommand } from '@coconutpay/core/payment';
import { verifyEvidence, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { assembleSignedData, OID_CMS, parseSignedData, signedAttributes } from '@coconutpay/core/pki/cms';
import { fromPem } from '@coconutpay/core/pki/pem';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import { newClient, type SignedClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, deviceKeys, requestCommand, rootDer, type Holder, type OpenedCommand } from './payment-client.js';

const CLI = fileURLToPath(new URL('../../cli/bin/coconutpay.mjs', import.meta.url));
const DAY_MS = 86_400_000;
const work = mkdtempSync(path.join(tmpdir(), 'cp-evidence-'));
let fileCount = 0;
const write = (data: string | Uint8Array, name = `f${fileCount++}.p7s`) => {
  const p = path.join(work, name);
  writeFileSync(p, data);
  return p;
};

/** The codes of the failed checks, by check name. */
function failures(verdict: EvidenceVerdict): Record<string, string[]> {
  return Object.fromEntries(verdict.checks.filter((c) => c.outcome === 'failed').map((c) => [c.name, c.codes]));
}

describe('evidence you can rely on', () => {
  let t: TestApp;
  let seller: SignedClient;
  let productId: string;
  let alice: Holder;
  let bob: Holder;
  let rootPemFile: string;

  async function paid(holder: Holder): Promise<{ orderId: string; orderNumber: string; opened: OpenedCommand; der: Uint8Array }> {
    const created = await holder.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
    expect(created.statusCode, created.body).toBe(201);
    const opened = await requestCommand(t, holder, created.json().id);
    const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
    const res = await holder.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, holder, opened, { code }));
    expect(res.statusCode, res.body).toBe(200);
    const evidence = await holder.client.get(`/api/orders/${created.json().id}/evidence.p7s`);
    return { orderId: created.json().id, orderNumber: created.json().orderNumber, opened, der: new Uint8Array(evidence.rawPayload) };
  }

  async function currentCrls(): Promise<Uint8Array[]> {
    const ca = t.app.internals.ca;
    return Promise.all([ca.issuing, ca.root].map(async (issuer) => new Uint8Array((await t.app.inject({ method: 'GET', url: `/pki/crl/${issuer.id}.crl` })).rawPayload)));
  }

  /**
   * Evidence as a forger would build it from real parts: `signer`'s key signs the
   * authorization `content` at `signingTime`; our public TSA stamps the signature now;
   * the CRLs are today's (or `crls`).
   */
  async function forge(options: {
    content: Uint8Array; signer: Holder; signingTimeMs?: number; crls?: Uint8Array[]; stamp?: boolean; attributesFor?: Uint8Array;
  }): Promise<Uint8Array> {
    const signerDer = fromPem(options.signer.certificatePem, 'CERTIFICATE');
    const attributes = await signedAttributes(options.content, new Date(options.signingTimeMs ?? t.clock.nowMs), options.attributesFor ?? signerDer);
    const signature = p1363ToDer(new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, options.signer.keys.privateKey, attributes)));
    const token = options.stamp === false ? undefined : await t.app.internals.tsa.stampSignature(signature);
    return assembleSignedData({
      content: options.content, signedAttributesDer: attributes, signatureDer: signature, signerCertificate: signerDer,
      otherCertificates: [new Uint8Array(t.app.internals.ca.issuing.certificate.rawData), rootDer(t)],
      crls: options.crls ?? (await currentCrls()),
      ...(token ? { unsignedAttributes: [{ oid: OID_CMS.signatureTimeStampToken, values: [token] }] } : {}),
    });
  }

  const authorizationOf = (command: PaymentCommand, jws: string, codeProof: string | null = null): Uint8Array =>
    authorizationContent({ v: 1, type: 'coconutpay-payment-authorization', command, commandJws: jws, codeProof } satisfies PaymentAuthorization);

  /** Core offline, the public endpoint and the CLI must agree on the verdict's failures. */
  async function judged(der: Uint8Array, expectedOrderNumber?: string) {
    const offline = await verifyEvidence(der, [rootDer(t)], expectedOrderNumber ? { expectedOrderNumber } : {});
    const online = (await t.app.inject({ method: 'POST', url: '/api/evidence/verify', payload: { cmsBase64: Buffer.from(der).toString('base64'), ...(expectedOrderNumber ? { expectedOrderNumber } : {}) } })).json() as EvidenceVerdict;
    const cli = spawnSync(process.execPath, [CLI, 'verify', write(der), '--trust', rootPemFile, ...(expectedOrderNumber ? ['--order', expectedOrderNumber] : [])], { encoding: 'utf8' });
    const byCli = JSON.parse(cli.stdout) as EvidenceVerdict;
    expect(cli.status, cli.stderr).toBe(byCli.valid ? 0 : 1);
    expect(failures(byCli)).toEqual(failures(offline));
    return { offline, online, cli: byCli };
  }

  beforeAll(async () => {
    t = await startTestApp();
    seller = await newClient(t, 'seller');
    const product = await seller.request('POST', '/api/seller/products', { name: '제주 감귤 5kg', category: 'food', description: '', priceWon: 25_000, stock: 1000 });
    productId = product.json().id;
    alice = await buyerWithCertificate(t);
    bob = await buyerWithCertificate(t);
    for (const holder of [alice, bob]) expect((await holder.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 1_000_000 })).statusCode).toBe(201);
    rootPemFile = write(t.app.internals.ca.root.certificate.toString('pem'), 'root.pem');
  });
  afterAll(async () => t.close());

  it('a genuine payment passes every check everywhere, with its trusted time from our TSA', async () => {
    const { der, orderNumber } = await paid(alice);
    const { offline, online, cli } = await judged(der, orderNumber);
    for (const verdict of [offline, online, cli]) {
      expect(verdict.valid, JSON.stringify(verdict.reasons)).toBe(true);
      expect(verdict.timeStamp?.tsa).toMatch(/Time-Stamp Authority/);
      expect(Date.parse(verdict.timeStamp!.time)).toBeGreaterThanOrEqual(Date.parse(verdict.payment!.issuedAt));
    }
    expect(online.checks.find((c) => c.name === 'record')?.outcome).toBe('passed');
    expect(online.statusNow).toMatchObject({ status: 'good' });
    // What the file carries: the chain up to the root, the two CRLs, one time-stamp.
    const parsed = parseSignedData(der);
    expect(parsed.certificates.map((c) => Buffer.from(c).toString('hex'))).toContain(Buffer.from(rootDer(t)).toString('hex'));
    expect(parsed.crls).toHaveLength(2);
    expect(parsed.unsignedAttributes.map((a) => a.oid)).toEqual([OID_CMS.signatureTimeStampToken]);
  });

  it("(a) Alice's exact authorization signed with Bob's valid certificate → EVIDENCE_SIGNER_NOT_PAYER", async () => {
    const { opened } = await paid(alice);
    const forged = await forge({ content: authorizationOf(opened.command, opened.jws, null), signer: bob });
    const { offline, online } = await judged(forged);
    expect(failures(offline)).toEqual({ payer: ['EVIDENCE_SIGNER_NOT_PAYER'] });
    expect(online.valid).toBe(false);
    expect(failures(online)).toMatchObject({ payer: ['EVIDENCE_SIGNER_NOT_PAYER'], record: ['EVIDENCE_NOT_ON_RECORD'] });
  });

  it('(b) a signingTime 200 days after the command expired → EVIDENCE_SIGNING_TIME_OUTSIDE_COMMAND (and a time-stamp outside it)', async () => {
    const { opened } = await paid(alice);
    const late = opened.command.expiresAtMs + 200 * DAY_MS;
    // Signed with a claimed late time but stamped now: the claimed time alone is refused.
    const claimed = await forge({ content: authorizationOf(opened.command, opened.jws), signer: alice, signingTimeMs: late });
    expect(failures((await judged(claimed)).offline)).toMatchObject({ signingTime: ['EVIDENCE_SIGNING_TIME_OUTSIDE_COMMAND'] });
    // Signed and stamped 200 days later: both times are outside the command.
    const saved = t.clock.nowMs;
    t.clock.nowMs = late;
    try {
      const later = await forge({ content: authorizationOf(opened.command, opened.jws), signer: alice });
      const { offline } = await judged(later);
      expect(failures(offline)).toMatchObject({ signingTime: ['EVIDENCE_SIGNING_TIME_OUTSIDE_COMMAND'], timeStamp: ['EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND'] });
    } finally {
      t.clock.nowMs = saved;
    }
  });

  it('a swapped payee or amount: the content no longer matches its signature; re-signed by the payer, it no longer matches the command A signed', async () => {
    const { der, opened } = await paid(alice);
    const text = Buffer.from(der).toString('latin1');
    const swapped = Buffer.from(text.replace(`"amountWon":${opened.command.amountWon}`, `"amountWon":${opened.command.amountWon - 1}`), 'latin1');
    expect(failures((await judged(new Uint8Array(swapped))).offline)).toEqual({ signature: ['SIGNATURE_INVALID'] });
    const payeeChanged = { ...opened.command, payee: { ...opened.command.payee, storeName: '다른 상점' } };
    const resigned = await forge({ content: authorizationOf(payeeChanged, opened.jws), signer: alice, signingTimeMs: opened.command.issuedAtMs + 1000 });
    expect(failures((await judged(resigned)).offline)).toMatchObject({ command: ['COMMAND_SIGNATURE_INVALID'] });
    const amountChanged = { ...opened.command, amountWon: 1 };
    const cheaper = await forge({ content: authorizationOf(amountChanged, opened.jws), signer: alice, signingTimeMs: opened.command.issuedAtMs + 1000 });
    expect(failures((await judged(cheaper)).offline)).toMatchObject({ command: ['COMMAND_SIGNATURE_INVALID'] });
  });

  it("a command from another order: A's JWS of one order with another order's command → COMMAND_SIGNATURE_INVALID; a genuine file offered for another order → EVIDENCE_ORDER_MISMATCH", async () => {
    const first = await paid(alice);
    const second = await paid(alice);
    const mixed = await forge({ content: authorizationOf(second.opened.command, first.opened.jws), signer: alice, signingTimeMs: second.opened.command.issuedAtMs + 1000 });
    expect(failures((await judged(mixed)).offline)).toMatchObject({ command: ['COMMAND_SIGNATURE_INVALID'] });
    const { offline, online } = await judged(first.der, second.orderNumber);
    expect(failures(offline), JSON.stringify(offline.reasons)).toEqual({ order: ["EVIDENCE_ORDER_MISMATCH"] });
    expect(failures(online)).toEqual({ order: ['EVIDENCE_ORDER_MISMATCH'] });
  });

  it('a reused command: the payer signs a paid command a second time → valid as a signature offline, EVIDENCE_NOT_ON_RECORD at the service', async () => {
    const { opened } = await paid(alice);
    const again = await forge({ content: authorizationOf(opened.command, opened.jws, null), signer: alice });
    const { offline, online } = await judged(again);
    // Offline the file is the payer's own signature of a real command, made while it was open;
    // only the service knows which signature paid, and this is not it.
    expect(offline.valid).toBe(true);
    expect(failures(online)).toEqual({ record: ['EVIDENCE_NOT_ON_RECORD'] });
  });

  it('a re-signed old command: a command that expired unpaid, signed later with a back-dated signingTime → EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND', async () => {
    const created = await alice.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
    const opened = await requestCommand(t, alice, created.json().id);
    t.clock.advance(COMMAND_TTL_MS + 60_000);
    const forged = await forge({ content: authorizationOf(opened.command, opened.jws), signer: alice, signingTimeMs: opened.command.issuedAtMs + 5_000 });
    const { offline, online } = await judged(forged);
    expect(failures(offline)).toEqual({ timeStamp: ['EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND'] });
    expect(failures(online)).toMatchObject({ timeStamp: ['EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND'], record: ['EVIDENCE_NOT_ON_RECORD'] });
  });

  it('without a time-stamp, without CRLs, or with a signing-certificate attribute naming another certificate: each refused with its code', async () => {
    const { opened } = await paid(alice);
    const content = authorizationOf(opened.command, opened.jws);
    expect(failures((await judged(await forge({ content, signer: alice, stamp: false }))).offline)).toEqual({
      timeStamp: ['EVIDENCE_TIMESTAMP_MISSING'], chain: ['EVIDENCE_TIMESTAMP_MISSING'],
    });
    expect(failures((await judged(await forge({ content, signer: alice, crls: [] }))).offline)).toMatchObject({ chain: ['EVIDENCE_REVOCATION_UNPROVEN'] });
    const otherCertificate = fromPem(bob.certificatePem, 'CERTIFICATE');
    expect(failures((await judged(await forge({ content, signer: alice, attributesFor: otherCertificate }))).offline)).toEqual({
      signingCertificate: ['EVIDENCE_SIGNING_CERTIFICATE_MISMATCH'],
    });
  });

  it('a signed file whose content is no payment authorization (a command without payee) → EVIDENCE_INVALID, answered, not a server error', async () => {
    const { opened } = await paid(alice);
    const { payee: _payee, ...withoutPayee } = opened.command;
    const forged = await forge({ content: authorizationOf(withoutPayee as PaymentCommand, opened.jws), signer: alice });
    const { offline, online } = await judged(forged);
    expect(failures(offline)).toEqual({ format: ['EVIDENCE_INVALID'] });
    expect(failures(online)).toEqual({ format: ['EVIDENCE_INVALID'] });
  });

  it('A refuses an authorization whose signed attributes do not name the signing certificate (counted as a failed try)', async () => {
    const created = await bob.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 });
    const opened = await requestCommand(t, bob, created.json().id);
    const code = opened.codeRequired ? await codeOf(t, opened.comId) : null;
    const body = await authorizationBody(t, bob, opened, { code, signingCertificate: fromPem(alice.certificatePem, 'CERTIFICATE') });
    const res = await bob.client.request('POST', '/api/payments/authorizations', body);
    expect(res.json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
  });
  // Last: it moves the clock hours ahead.
  it('(c) evidence signed with a certificate revoked since → refused; the genuine file made before stays valid and shows the later revocation', async () => {
    const carol = await buyerWithCertificate(t);
    expect((await carol.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
    const genuine = await paid(carol);
    const oldCrls = await currentCrls();
    t.clock.advance(60_000);
    // Carol re-issues her master (a lost phone): the old one is revoked.
    const replacement = await deviceKeys();
    expect((await carol.client.request('POST', '/api/certificates/master', { csrPem: replacement.csrPem, replace: true })).statusCode).toBe(201);
    t.clock.advance(COMMAND_TTL_MS);
    // The old key signs the old command's authorization again, inside its window as far as the device claims.
    const withTodaysCrl = await forge({ content: authorizationOf(genuine.opened.command, genuine.opened.jws), signer: carol, signingTimeMs: genuine.opened.command.issuedAtMs + 1000 });
    expect(failures((await judged(withTodaysCrl)).offline)).toMatchObject({ chain: ['CERTIFICATE_REVOKED'], timeStamp: ['EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND'] });
    // With the CRL from before the revocation: no longer current at the time-stamp, so nothing is proven.
    t.clock.advance(3 * 3_600_000);
    const withOldCrl = await forge({ content: authorizationOf(genuine.opened.command, genuine.opened.jws), signer: carol, signingTimeMs: genuine.opened.command.issuedAtMs + 1000, crls: oldCrls });
    expect(failures((await judged(withOldCrl)).offline)).toMatchObject({ chain: ['EVIDENCE_REVOCATION_UNPROVEN'] });

    // The genuine evidence: valid offline, and online it tells of the revocation after the payment.
    const { offline, online } = await judged(genuine.der);
    expect(offline.valid, JSON.stringify(offline.reasons)).toBe(true);
    expect(online.valid, JSON.stringify(online.reasons)).toBe(true);
    expect(online.statusNow).toMatchObject({ status: 'revoked', revokedAfterTimeStamp: true });
    expect(online.checks.find((c) => c.name === 'statusNow')?.outcome).toBe('passed');
    // The CLI with today's CRL says the same.
    const crlFiles = (await currentCrls()).map((crl, i) => write(crl, `now-${i}.crl`));
    const cli = spawnSync(process.execPath, [CLI, 'verify', write(genuine.der), '--trust', rootPemFile, ...crlFiles.flatMap((f) => ['--crl', f]), '--status-at', new Date(t.clock.nowMs).toISOString()], { encoding: 'utf8' });
    expect(cli.status, cli.stdout).toBe(0);
    expect(JSON.parse(cli.stdout).statusNow).toMatchObject({ status: 'revoked', revokedAfterTimeStamp: true });
  });
});
