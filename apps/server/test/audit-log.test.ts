/**
 * The audit log on every engine: security events land in one hash chain even when
 * appended all at once, the server signs its head, and `coconutpay audit verify` accepts
 * the untouched log and names the first bad entry after rows are edited, deleted or
 * moved directly in the database (docs/admin.md).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditExport, verifyAuditChain } from '@coconutpay/core/audit';
import { AuditLogRepository } from '../src/db/audit-log-repository.js';
import { runWriteTransaction } from '../src/db/write-transaction.js';
import { AuditLog } from '../src/services/audit-log.js';
import { ECDSA_P256_SHA256, x509 } from '../src/services/pki/x509.js';
import { buyerRegistration, enginesUnderTest, GOOD_PASSWORD, newClient, startTestApp, type TestApp } from './helpers.js';
import { authorizationBody, buyerWithCertificate, codeOf, requestCommand } from './payment-client.js';

const CLI = fileURLToPath(new URL('../../cli/bin/coconutpay.mjs', import.meta.url));
const EXPORT_TOKEN = 'audit-export-token-for-tests-0123456789abcdef';
const auth = { authorization: `Bearer ${EXPORT_TOKEN}` };

/** The whole log through the export endpoint, as the console and the CLI read it. */
async function exportText(t: TestApp): Promise<string> {
  let text = '';
  for (let after = 0; ; ) {
    const res = await t.app.inject({ method: 'GET', url: `/admin/api/audit/export?after=${after}&limit=7`, headers: auth });
    expect(res.statusCode, res.body).toBe(200);
    const page = parseAuditExport(res.body);
    if (page.entries.length === 0) return text;
    text += res.body;
    after = page.entries.at(-1)!.sequence;
  }
}

function cliVerify(args: string[]): { exitCode: number | null; verdict: { valid: boolean; problem?: { code: string; sequence: number }; heads: number; headSignaturesChecked: boolean } } {
  const run = spawnSync(process.execPath, [CLI, 'audit', 'verify', ...args], { encoding: 'utf8' });
  if (run.status === 2) throw new Error(`usage error: ${run.stderr}`);
  return { exitCode: run.status, verdict: JSON.parse(run.stdout) };
}

for (const engine of enginesUnderTest()) {
  describe(`audit log on ${engine.engine}`, () => {
    let t: TestApp;
    let dir: string;
    let rootPem: string;

    beforeAll(async () => {
      t = await startTestApp({ engine, env: { AUDIT_EXPORT_TOKEN: EXPORT_TOKEN } });
      dir = mkdtempSync(path.join(tmpdir(), 'cp-audit-'));
      rootPem = path.join(dir, 'root.pem');
      writeFileSync(rootPem, t.app.internals.ca.root.certificate.toString('pem'));
    });
    afterAll(async () => {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('records logins and failures, and concurrent appends form one chain', async () => {
      const registration = buyerRegistration();
      expect((await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration })).statusCode).toBe(201);
      const ok = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: registration.loginId, password: GOOD_PASSWORD } });
      expect(ok.statusCode).toBe(200);
      expect((await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: registration.loginId, password: 'wrong password here' } })).statusCode).toBe(401);
      const { audit } = t.app.internals;
      const logged = await audit.list({});
      expect(logged.map((e) => e.kind)).toEqual(['login.succeeded', 'login.failed']);
      expect(logged[0]).toMatchObject({ actor: ok.json().user.id, subject: registration.loginId, detail: { method: 'password' } });
      // No secret in the record.
      expect(JSON.stringify(logged)).not.toContain(GOOD_PASSWORD);

      // Three writers at once, as three server processes would be: this server's batches,
      // a second server's batches (its own AuditLog on the same database), and appends
      // inside other transactions. The tip's row lock makes them one chain.
      const { database } = t.app.internals;
      const second = new AuditLog({
        db: database.db, engine: database.engine, repo: new AuditLogRepository(database.db, database.engine), clock: Date.now,
        signer: t.app.internals.roles.auth, onError: (error) => { throw error; },
      });
      const sequences = await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => audit.append('login.failed', { subject: `racer${i}`, detail: { i } })),
        ...Array.from({ length: 30 }, (_, i) => second.append('login.failed', { subject: `other${i}`, detail: { i } })),
        ...Array.from({ length: 10 }, (_, i) => runWriteTransaction(database.db, database.engine, (trx) => audit.append('login.failed', { subject: `inside${i}` }, trx))),
      ]);
      expect(sequences.every((n) => typeof n === 'number')).toBe(true);
      expect(new Set(sequences).size).toBe(70);
      const all = await audit.list({});
      expect(all.map((e) => e.sequence)).toEqual(Array.from({ length: 72 }, (_, i) => i + 1));
      expect((await verifyAuditChain(all, [])).valid).toBe(true);
    });

    it('bounds the queue of batched appends: beyond it an append waits for room, in order, and none is dropped', async () => {
      const { audit, database } = t.app.internals;
      const errors: unknown[] = [];
      const bounded = new AuditLog({
        db: database.db, engine: database.engine, repo: new AuditLogRepository(database.db, database.engine), clock: Date.now,
        signer: t.app.internals.roles.auth, onError: (error) => errors.push(error), queueEntriesMax: 5,
      });
      const before = (await audit.tip()).lastSequence;
      let queuedMost = 0;
      // 40 appends at once, none awaited before the next: without the bound all 40 would sit in memory.
      const admitted = Array.from({ length: 40 }, (_, i) =>
        bounded.enqueue('login.failed', { subject: `bounded${i}`, detail: { i } }).then(({ written }) => {
          queuedMost = Math.max(queuedMost, bounded.queuedEntries);
          return written;
        }));
      expect(bounded.queuedEntries).toBeLessThanOrEqual(5);
      const sequences = await Promise.all(await Promise.all(admitted));
      expect(queuedMost).toBeLessThanOrEqual(5);
      expect(errors).toEqual([]);
      // Every entry written, in the order the appends were made.
      expect(sequences).toEqual(Array.from({ length: 40 }, (_, i) => before + 1 + i));
      const written = await audit.list({ afterSequence: before });
      expect(written.map((e) => e.detail.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect((await verifyAuditChain(await audit.list({}), [])).valid).toBe(true);
      // The same through append, which waits for the write as before.
      expect(await Promise.all(Array.from({ length: 12 }, () => bounded.append('login.failed', { subject: 'again' })))).toEqual(Array.from({ length: 12 }, (_, i) => before + 41 + i));
    });

    it('signs the head; the untouched log verifies with the signatures checked to the root', async () => {
      const head = await t.app.internals.audit.signHead();
      expect(head?.sequence).toBe((await t.app.internals.audit.tip()).lastSequence);
      // Nothing new: nothing to sign.
      expect(await t.app.internals.audit.signHead()).toBeUndefined();
      const file = path.join(dir, 'untouched.jsonl');
      writeFileSync(file, await exportText(t));
      const { exitCode, verdict } = cliVerify(['--export', file, '--ca', rootPem]);
      expect(verdict).toMatchObject({ valid: true, heads: 1, headSignaturesChecked: true });
      expect(exitCode).toBe(0);
      // A root that is not ours does not vouch for the heads.
      const otherRoot = path.join(dir, 'other-root.pem');
      const keys = (await crypto.subtle.generateKey(ECDSA_P256_SHA256, true, ['sign', 'verify'])) as CryptoKeyPair;
      const stranger = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01', name: 'CN=Not CoconutPay', notBefore: new Date(t.clock.nowMs - 86_400_000), notAfter: new Date(t.clock.nowMs + 86_400_000),
        keys, signingAlgorithm: ECDSA_P256_SHA256, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
      });
      writeFileSync(otherRoot, stranger.toString('pem'));
      expect(cliVerify(['--export', file, '--ca', otherRoot]).verdict.problem?.code).toBe('AUDIT_HEAD_SIGNATURE_INVALID');
    });

    it('names the first bad entry after rows are edited, deleted or moved in the database', async () => {
      const { db } = t.app.internals.database;
      const original = await db.selectFrom('auditLog').selectAll().orderBy('sequence').execute();
      const check = async (name: string, sequence: number, code: string) => {
        const file = path.join(dir, `${name}.jsonl`);
        writeFileSync(file, await exportText(t));
        const { exitCode, verdict } = cliVerify(['--export', file, '--ca', rootPem]);
        expect(verdict.problem, name).toMatchObject({ code, sequence });
        expect(exitCode, name).toBe(1);
      };

      await db.updateTable('auditLog').set({ detail: '{"i":999}' }).where('sequence', '=', 7).execute();
      await check('edited', 7, 'AUDIT_ENTRY_ALTERED');
      await db.updateTable('auditLog').set({ detail: original[6]!.detail }).where('sequence', '=', 7).execute();

      await db.deleteFrom('auditLog').where('sequence', '=', 5).execute();
      await check('deleted', 5, 'AUDIT_ENTRY_MISSING');
      await db.insertInto('auditLog').values(original[4]!).execute();

      // Two rows trade places (their sequence numbers swapped).
      await db.updateTable('auditLog').set({ sequence: 1_000_000 }).where('sequence', '=', 3).execute();
      await db.updateTable('auditLog').set({ sequence: 3 }).where('sequence', '=', 4).execute();
      await db.updateTable('auditLog').set({ sequence: 4 }).where('sequence', '=', 1_000_000).execute();
      await check('reordered', 3, 'AUDIT_ENTRY_OUT_OF_ORDER');
      await db.updateTable('auditLog').set({ sequence: 1_000_000 }).where('sequence', '=', 4).execute();
      await db.updateTable('auditLog').set({ sequence: 4 }).where('sequence', '=', 3).execute();
      await db.updateTable('auditLog').set({ sequence: 3 }).where('sequence', '=', 1_000_000).execute();

      // The end of the log cut off, below the signed head.
      const signed = Number((await t.app.internals.audit.tip()).signedSequence);
      await db.deleteFrom('auditLog').where('sequence', '>=', signed - 1).where('sequence', '<=', signed).execute();
      await check('truncated', signed - 1, 'AUDIT_ENTRY_MISSING');
      for (const row of original.filter((r) => Number(r.sequence) >= signed - 1 && Number(r.sequence) <= signed)) await db.insertInto('auditLog').values(row).execute();

      // Put back as it was, the log verifies again.
      const file = path.join(dir, 'restored.jsonl');
      writeFileSync(file, await exportText(t));
      expect(cliVerify(['--export', file, '--ca', rootPem]).verdict.valid).toBe(true);
      // The tables hold what the test put back (no leftover from the swaps).
      expect((await sql<{ n: number | string }>`select count(*) as n from audit_log where sequence >= 1000000`.execute(db)).rows[0]?.n).toSatisfy((n: unknown) => Number(n) === 0);
    });
  });
}

describe('audit log, signing and the online check', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { AUDIT_EXPORT_TOKEN: EXPORT_TOKEN }, configOverrides: { auditHeadIntervalMs: 40 } });
  });
  afterAll(async () => t.close());

  it('signs the head on its interval while entries arrive, and only then', async () => {
    const { audit } = t.app.internals;
    await audit.append('login.failed', { subject: 'someone' });
    await expect.poll(async () => (await audit.tip()).signedSequence, { timeout: 5_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const heads = await t.app.internals.database.db.selectFrom('auditHeads').select('sequence').execute();
    expect(heads.map((h) => Number(h.sequence))).toEqual([1]);
    await audit.append('login.failed', { subject: 'someone else' });
    await expect.poll(async () => (await audit.tip()).signedSequence, { timeout: 5_000 }).toBe(2);
  });

  it('refuses the export with another token, and without one to anybody but an operator (admin.test.ts)', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/admin/api/audit/export' })).json().code).toBe('AUTH_REQUIRED');
    expect((await t.app.inject({ method: 'GET', url: '/admin/api/audit/export', headers: { authorization: 'Bearer x' } })).json().code).toBe('AUDIT_EXPORT_TOKEN_INVALID');
    expect((await t.app.inject({ method: 'GET', url: '/admin/api/audit/export', headers: { authorization: `Bearer ${EXPORT_TOKEN}x` } })).statusCode).toBe(401);
  });

  it('coconutpay audit verify --online reads the log over HTTP and checks it to the served root', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    await t.app.internals.audit.signHead();
    const run = await promisify(execFile)(process.execPath, [CLI, 'audit', 'verify', '--online', address], { encoding: 'utf8', env: { ...process.env, COCONUTPAY_AUDIT_TOKEN: EXPORT_TOKEN } });
    const verdict = JSON.parse(run.stdout);
    expect(verdict).toMatchObject({ valid: true, trustAnchorFrom: `${address}/pki/root.pem`, headSignaturesChecked: true });
    expect(verdict.heads).toBeGreaterThanOrEqual(2);
    // The export itself is an audited event.
    expect((await t.app.internals.audit.list({ kind: 'audit.exported' })).length).toBe(1);
  });
});

describe('audit log of certificates and payments', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('records the master certificate issued, a refused factor and the payment, without the code', async () => {
    const seller = await newClient(t, 'seller');
    const product = (await seller.request('POST', '/api/seller/products', { name: '바나나', category: 'food', description: '', priceWon: 12_000, stock: 10 })).json().id as string;
    const buyer = await buyerWithCertificate(t);
    expect((await buyer.client.request('POST', '/api/me/wallet/top-ups', { amountWon: 100_000 })).statusCode).toBe(201);
    const order = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId: product, quantity: 1 })).json();
    const opened = await requestCommand(t, buyer, order.id);
    const code = await codeOf(t, opened.comId);
    const wrong = code === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA';
    expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code: wrong }))).json().code).toBe('PAYMENT_AUTHORIZATION_FAILED');
    expect((await buyer.client.request('POST', '/api/payments/authorizations', await authorizationBody(t, buyer, opened, { code }))).statusCode).toBe(200);
    const { audit } = t.app.internals;
    await audit.settled();

    const ofBuyer = await audit.list({ actor: buyer.client.userId });
    expect(ofBuyer.map((e) => e.kind)).toEqual(['login.succeeded', 'certificate.issued', 'payment.refused', 'payment.authorized']);
    expect(ofBuyer[1]).toMatchObject({ subject: buyer.certificateId, detail: { kind: 'master' } });
    expect(ofBuyer[2]!.detail).toMatchObject({ consecutiveFailures: 1, lockedUntilMs: null });
    expect(ofBuyer[3]).toMatchObject({ subject: order.id, detail: { orderNumber: order.orderNumber, amountWon: '12000', channel: 'direct', certificateId: buyer.certificateId, codeRequired: true } });
    expect(JSON.stringify(ofBuyer)).not.toContain(code);
    expect((await verifyAuditChain(await audit.list({}), [])).valid).toBe(true);
  });
});
