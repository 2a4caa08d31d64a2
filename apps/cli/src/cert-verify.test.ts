import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { EKU } from '@coconutpay/core/pki/oids';
import { toPem } from '@coconutpay/core/pki/pem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedVectorPath } from '../../../test-support/shared-vectors.js';

x509.cryptoProvider.set(globalThis.crypto);

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/coconutpay.mjs', import.meta.url));
const LIMBO_PATH = sharedVectorPath('x509-limbo/limbo.json');
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const F = x509.KeyUsageFlags;

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function issue(name: string, issuer: Issued | undefined, extensions: x509.Extension[], serial: string): Promise<Issued> {
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const identifiers: x509.Extension[] = [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)];
  if (issuer) identifiers.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${name}`,
    issuer: issuer ? issuer.cert.subject : `CN=${name}`,
    notBefore: new Date('2030-01-01T00:00:00Z'),
    notAfter: new Date('2031-01-01T00:00:00Z'),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: (issuer ?? { keys }).keys.privateKey,
    extensions: [...identifiers, ...extensions],
  });
  return { cert, keys };
}

const pem = (issued: Issued): string => toPem(new Uint8Array(issued.cert.rawData), 'CERTIFICATE');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], stdin?: string): Run {
  const child = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, input: stdin, encoding: 'utf8', timeout: 60_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

let dir: string;
const file = (name: string): string => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coconutpay-cert-verify-'));
  const root = await issue('CLI Test Root', undefined, [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign)], '01');
  const ca = await issue('CLI Test Issuing CA', root, [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(F.keyCertSign | F.cRLSign)], '02');
  const leaf = await issue('CLI Test Payer', ca, [new x509.KeyUsagesExtension(F.digitalSignature | F.nonRepudiation), new x509.ExtendedKeyUsageExtension([EKU.paymentSigning])], '0a');
  writeFileSync(file('ca.pem'), pem(root));
  writeFileSync(file('chain.pem'), pem(leaf) + pem(ca));
  writeFileSync(file('other-ca.pem'), pem(await issue('Unrelated Root', undefined, [new x509.BasicConstraintsExtension(true, undefined, true)], '03')));
  const revocations = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date('2030-03-01T00:00:00Z'),
    nextUpdate: new Date('2030-09-01T00:00:00Z'),
    signingAlgorithm: ALGORITHM,
    signingKey: ca.keys.privateKey,
    extensions: [new x509.Extension('2.5.29.20', false, new Uint8Array([0x02, 0x01, 0x01]))],
    entries: [{ serialNumber: '0a', revocationDate: new Date('2030-04-01T00:00:00Z') }],
  });
  writeFileSync(file('revoked.crl'), new Uint8Array(revocations.rawData));
  writeFileSync(file('revoked.crl.pem'), toPem(new Uint8Array(revocations.rawData), 'X509 CRL'));
  writeFileSync(file('not-pem.pem'), 'hello');
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const AT = '2030-06-01T00:00:00Z';

describe('coconutpay cert verify (real bin)', () => {
  it('exits 0 and prints the verdict for a valid payment chain', () => {
    const result = run(['cert', 'verify', '--trust', file('ca.pem'), '--chain', file('chain.pem'), '--at', AT, '--purpose', 'payment']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const verdict = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(verdict).sort()).toEqual(['at', 'chain', 'purpose', 'reasons', 'valid']);
    expect(verdict).toMatchObject({ valid: true, purpose: 'payment', at: '2030-06-01T00:00:00.000Z', reasons: [] });
    expect(verdict.chain).toEqual([
      { subject: 'CN=CLI Test Payer', serialHex: '0a', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z' },
      { subject: 'CN=CLI Test Issuing CA', serialHex: '02', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z' },
      { subject: 'CN=CLI Test Root', serialHex: '01', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2031-01-01T00:00:00.000Z' },
    ]);
  });

  it('exits 1 for the wrong purpose, an untrusted root and an expired chain', () => {
    const wrongPurpose = run(['cert', 'verify', '--trust', file('ca.pem'), '--chain', file('chain.pem'), '--at', AT, '--purpose', 'receipt']);
    expect(wrongPurpose.status).toBe(1);
    const verdict = JSON.parse(wrongPurpose.stdout) as { valid: boolean; reasons: { code: string; message: string }[] };
    expect(verdict.valid).toBe(false);
    expect(verdict.reasons[0]).toMatchObject({ code: 'CERTIFICATE_CHAIN_INVALID', message: expect.stringMatching(/^EKU_MISSING/) });

    const untrusted = run(['cert', 'verify', '--trust', file('other-ca.pem'), '--chain', file('chain.pem'), '--at', AT]);
    expect(untrusted.status).toBe(1);
    expect(JSON.parse(untrusted.stdout)).toMatchObject({ valid: false, chain: [] });

    const expired = run(['cert', 'verify', '--trust', file('ca.pem'), '--chain', file('chain.pem'), '--at', '2031-06-01T00:00:00Z']);
    expect(expired.status).toBe(1);
    expect((JSON.parse(expired.stdout) as { reasons: { code: string }[] }).reasons[0]?.code).toBe('CERTIFICATE_EXPIRED');
  });

  it('exits 1 with CERTIFICATE_REVOKED for a CRL in DER or PEM', () => {
    for (const crl of ['revoked.crl', 'revoked.crl.pem']) {
      const result = run(['cert', 'verify', '--trust', file('ca.pem'), '--chain', file('chain.pem'), '--crl', file(crl), '--at', AT]);
      expect(result.status, crl).toBe(1);
      expect((JSON.parse(result.stdout) as { reasons: { code: string }[] }).reasons[0]?.code).toBe('CERTIFICATE_REVOKED');
    }
  });

  it.each([
    ['no --trust', ['cert', 'verify', '--chain', 'chain.pem'], /--trust is required/],
    ['unreadable file', ['cert', 'verify', '--trust', '/nonexistent/ca.pem', '--chain', 'chain.pem'], /cannot read --trust file/],
    ['file without PEM', ['cert', 'verify', '--trust', 'not-pem.pem', '--chain', 'chain.pem'], /holds no "CERTIFICATE" PEM block/],
    ['bad purpose', ['cert', 'verify', '--trust', 'ca.pem', '--chain', 'chain.pem', '--purpose', 'shopping'], /--purpose must be one of/],
    ['bad time', ['cert', 'verify', '--trust', 'ca.pem', '--chain', 'chain.pem', '--at', 'yesterday'], /--at must be an ISO 8601 time/],
    ['unknown flag', ['cert', 'verify', '--trust', 'ca.pem', '--chain', 'chain.pem', '--verbose'], /unknown argument "--verbose"/],
    ['unknown command', ['cert', 'sign'], /unknown command/],
  ])('exits 2 with a message on stderr: %s', (_name, args, message) => {
    const absolute = args.map((arg) => (arg.endsWith('.pem') && !arg.startsWith('/') ? file(arg) : arg));
    const result = run(absolute);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });

  it('prints help with exit 0', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/coconutpay cert verify --trust/);
    expect(result.stdout).toMatch(/x509 limbo-harness/);
  });
});

describe('coconutpay x509 limbo-harness (real bin)', () => {
  it('answers the harness protocol for cases read from stdin', () => {
    const suite = JSON.parse(readFileSync(LIMBO_PATH, 'utf8')) as { version: number; testcases: { id: string; expected_result: string }[] };
    const picked = suite.testcases.filter((testCase) => ['pathlen::intermediate-violates-pathlen-0', 'pathlen::ee-with-intermediate-pathlen-0', 'webpki::cn::case-mismatch'].includes(testCase.id));
    expect(picked).toHaveLength(3);
    const result = run(['x509', 'limbo-harness'], JSON.stringify({ version: suite.version, testcases: picked }));
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as { version: number; harness: string; results: { id: string; actual_result: string; context: string }[] };
    expect(output.version).toBe(1);
    expect(output.harness).toBe('coconutpay');
    const expected: Record<string, string> = {
      'pathlen::ee-with-intermediate-pathlen-0': 'SUCCESS',
      'pathlen::intermediate-violates-pathlen-0': 'FAILURE',
      'webpki::cn::case-mismatch': 'SKIPPED',
    };
    // Results come back in input order.
    expect(output.results.map((entry) => [entry.id, entry.actual_result])).toEqual(picked.map((testCase) => [testCase.id, expected[testCase.id]]));
    for (const entry of output.results) expect(entry.context.length).toBeGreaterThan(0);
  });

  it('exits 2 when stdin is not a suite', () => {
    const result = run(['x509', 'limbo-harness'], 'not json');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/stdin is not JSON/);
  });
});
