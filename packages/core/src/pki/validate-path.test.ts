import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName as AsnGeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints as AsnNameConstraints } from '@peculiar/asn1-x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { EKU } from './oids.js';
import { nameConstraintViolation, type GeneralName, type NameConstraints } from './path-names.js';
import { validatePath, type PathValidationInput, type PathValidationResult, type Purpose } from './validate-path.js';

x509.cryptoProvider.set(globalThis.crypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const AT = new Date('2030-06-01T00:00:00Z');
const NOT_BEFORE = new Date('2030-01-01T00:00:00Z');
const NOT_AFTER = new Date('2031-01-01T00:00:00Z');
const F = x509.KeyUsageFlags;

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  der: Uint8Array;
}

interface IssueOptions {
  name: string;
  issuer?: Issued;
  keys?: CryptoKeyPair;
  ca?: boolean;
  pathLength?: number;
  keyUsage?: number;
  eku?: string[];
  dnsNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  extra?: x509.Extension[];
  serial?: string;
}

let serialCounter = 1;

async function newKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** Issues a certificate (self-signed when no issuer) with the AKI/SKI a conforming CA adds. */
async function issue(options: IssueOptions): Promise<Issued> {
  const keys = options.keys ?? (await newKeys());
  const extensions: x509.Extension[] = [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)];
  if (options.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey));
  if (options.ca !== undefined) extensions.push(new x509.BasicConstraintsExtension(options.ca, options.pathLength, true));
  const keyUsage = options.keyUsage ?? (options.ca ? F.keyCertSign | F.cRLSign : undefined);
  if (keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(keyUsage, false));
  if (options.eku) extensions.push(new x509.ExtendedKeyUsageExtension(options.eku, false));
  if (options.dnsNames) extensions.push(new x509.SubjectAlternativeNameExtension(options.dnsNames.map((value) => ({ type: 'dns' as const, value }))));
  extensions.push(...(options.extra ?? []));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serial ?? (serialCounter++).toString(16).padStart(4, '0'),
    subject: `CN=${options.name}`,
    issuer: options.issuer ? options.issuer.cert.subject : `CN=${options.name}`,
    notBefore: options.notBefore ?? NOT_BEFORE,
    notAfter: options.notAfter ?? NOT_AFTER,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: (options.issuer?.keys ?? keys).privateKey,
    extensions,
  });
  return { cert, keys, der: new Uint8Array(cert.rawData) };
}

const LEAF_PROFILES: Record<Exclude<Purpose, 'issuing'>, { eku?: string[]; keyUsage: number }> = {
  payment: { eku: [EKU.paymentSigning], keyUsage: F.digitalSignature | F.nonRepudiation },
  receipt: { eku: [EKU.receiptSigning], keyUsage: F.digitalSignature | F.nonRepudiation },
  deviceApproval: { eku: [EKU.deviceApproval], keyUsage: F.digitalSignature },
  ocsp: { eku: [EKU.ocspSigning], keyUsage: F.digitalSignature },
  serverAuth: { eku: [EKU.serverAuth], keyUsage: F.digitalSignature },
  clientAuth: { eku: [EKU.clientAuth], keyUsage: F.digitalSignature },
  any: { keyUsage: F.digitalSignature },
};

async function crl(issuer: Issued, signer: CryptoKeyPair, revokedSerials: string[], options: { nextUpdate?: Date } = {}): Promise<Uint8Array> {
  const list = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate: new Date('2030-05-01T00:00:00Z'),
    nextUpdate: options.nextUpdate ?? new Date('2030-07-01T00:00:00Z'),
    signingAlgorithm: ALGORITHM,
    signingKey: signer.privateKey,
    extensions: [new x509.Extension('2.5.29.20', false, new Uint8Array([0x02, 0x01, 0x07]))],
    entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: new Date('2030-05-15T00:00:00Z') })),
  });
  return new Uint8Array(list.rawData);
}

function nameConstraintsExtension(permittedDns: string[], excludedDns: string[] = []): x509.Extension {
  const subtrees = (names: string[]) => (names.length === 0 ? undefined : new GeneralSubtrees(names.map((dNSName) => new GeneralSubtree({ base: new AsnGeneralName({ dNSName }) }))));
  const value = new AsnNameConstraints({ permittedSubtrees: subtrees(permittedDns), excludedSubtrees: subtrees(excludedDns) });
  return new x509.Extension('2.5.29.30', true, AsnConvert.serialize(value));
}

function details(result: PathValidationResult): string[] {
  return result.reasons.map((entry) => `${entry.code} ${entry.message.split(':')[0]}`);
}

let root: Issued;
let issuingCa: Issued;
const leaves = new Map<Purpose, Issued>();

function input(leaf: Issued, overrides: Partial<PathValidationInput> = {}): PathValidationInput {
  return { trustAnchors: [root.der], intermediates: [issuingCa.der], leaf: leaf.der, at: AT, purpose: 'payment', ...overrides };
}

beforeAll(async () => {
  root = await issue({ name: 'CoconutPay Test Root', ca: true });
  issuingCa = await issue({ name: 'CoconutPay Test Issuing CA', issuer: root, ca: true, pathLength: 0 });
  for (const [purpose, profile] of Object.entries(LEAF_PROFILES)) {
    leaves.set(purpose as Purpose, await issue({ name: `leaf ${purpose}`, issuer: issuingCa, ...profile }));
  }
});

describe('validatePath: valid three-level chains', () => {
  for (const purpose of Object.keys(LEAF_PROFILES) as Purpose[]) {
    it(`accepts a ${purpose} leaf → issuing CA → root`, async () => {
      const leaf = leaves.get(purpose) as Issued;
      const result = await validatePath(input(leaf, { purpose }));
      expect(result.reasons).toEqual([]);
      expect(result.valid).toBe(true);
      expect(result.chain).toEqual([leaf.der, issuingCa.der, root.der]);
    });
  }

  it('accepts the issuing CA itself for the issuing purpose, and refuses a leaf for it', async () => {
    const ok = await validatePath({ trustAnchors: [root.der], leaf: issuingCa.der, at: AT, purpose: 'issuing' });
    expect(ok.valid).toBe(true);
    const refused = await validatePath(input(leaves.get('payment') as Issued, { purpose: 'issuing' }));
    expect(refused.valid).toBe(false);
    expect(details(refused)).toContain('CERTIFICATE_CHAIN_INVALID NOT_A_CA');
  });

  it('finds the path whatever the order of intermediates, ignoring junk', async () => {
    const junk = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    const result = await validatePath(input(leaves.get('payment') as Issued, { intermediates: [junk, root.der, issuingCa.der, new Uint8Array()] }));
    expect(result.valid).toBe(true);
    expect(result.chain).toHaveLength(3);
  });

  it('gives the same result for the same input', async () => {
    const expired = await issue({ name: 'determinism', issuer: issuingCa, ...LEAF_PROFILES.payment, notAfter: new Date('2030-02-01T00:00:00Z') });
    const first = await validatePath(input(expired));
    const second = await validatePath(input(expired));
    expect(second).toEqual(first);
  });
});

describe('validatePath: validity period', () => {
  it('rejects an expired leaf as CERTIFICATE_EXPIRED', async () => {
    const leaf = await issue({ name: 'expired', issuer: issuingCa, ...LEAF_PROFILES.payment, notAfter: new Date('2030-05-31T23:59:59Z') });
    const result = await validatePath(input(leaf));
    expect(result.valid).toBe(false);
    expect(result.reasons[0]).toMatchObject({ code: 'CERTIFICATE_EXPIRED', depth: 0 });
  });

  it('rejects a not-yet-valid intermediate as CERTIFICATE_NOT_YET_VALID', async () => {
    const lateCa = await issue({ name: 'late CA', issuer: root, ca: true, notBefore: new Date('2030-06-01T00:00:01Z') });
    const leaf = await issue({ name: 'under late CA', issuer: lateCa, ...LEAF_PROFILES.payment });
    const result = await validatePath(input(leaf, { intermediates: [lateCa.der] }));
    expect(result.valid).toBe(false);
    expect(result.reasons).toContainEqual(expect.objectContaining({ code: 'CERTIFICATE_NOT_YET_VALID', depth: 1 }));
  });

  it('treats notAfter as inclusive and drops fractions of a second of the validation time', async () => {
    const leaf = await issue({ name: 'edge', issuer: issuingCa, ...LEAF_PROFILES.payment, notAfter: AT });
    expect((await validatePath(input(leaf, { at: new Date(AT.getTime() + 999) }))).valid).toBe(true);
    expect((await validatePath(input(leaf, { at: new Date(AT.getTime() + 1000) }))).valid).toBe(false);
  });
});

describe('validatePath: purpose, key usage and constraints', () => {
  it('rejects a receipt certificate used for payment (wrong EKU)', async () => {
    const result = await validatePath(input(leaves.get('receipt') as Issued, { purpose: 'payment' }));
    expect(result.valid).toBe(false);
    expect(details(result)).toContain('CERTIFICATE_CHAIN_INVALID EKU_MISSING');
  });

  it('does not let anyExtendedKeyUsage stand in for paymentSigning, but accepts it for serverAuth', async () => {
    const leaf = await issue({ name: 'any eku', issuer: issuingCa, eku: [EKU.any], keyUsage: F.digitalSignature | F.nonRepudiation });
    expect((await validatePath(input(leaf, { purpose: 'payment' }))).valid).toBe(false);
    expect((await validatePath(input(leaf, { purpose: 'serverAuth' }))).valid).toBe(true);
  });

  it('rejects a payment certificate without nonRepudiation', async () => {
    const leaf = await issue({ name: 'no nonRepudiation', issuer: issuingCa, eku: [EKU.paymentSigning], keyUsage: F.digitalSignature });
    const result = await validatePath(input(leaf));
    expect(result.valid).toBe(false);
    expect(details(result)).toContain('CERTIFICATE_CHAIN_INVALID KEY_USAGE_MISSING');
  });

  it('rejects an issuer whose EKU does not allow the purpose', async () => {
    const tlsCa = await issue({ name: 'TLS-only CA', issuer: root, ca: true, eku: [EKU.serverAuth] });
    const leaf = await issue({ name: 'payment under TLS CA', issuer: tlsCa, ...LEAF_PROFILES.payment });
    const result = await validatePath(input(leaf, { intermediates: [tlsCa.der] }));
    expect(details(result)).toContain('CERTIFICATE_CHAIN_INVALID EKU_NOT_ALLOWED_BY_ISSUER');
  });

  it('rejects a sub-CA below a pathLen 0 CA', async () => {
    const subCa = await issue({ name: 'sub CA', issuer: issuingCa, ca: true });
    const leaf = await issue({ name: 'under sub CA', issuer: subCa, ...LEAF_PROFILES.payment });
    const result = await validatePath(input(leaf, { intermediates: [issuingCa.der, subCa.der] }));
    expect(result.valid).toBe(false);
    expect(result.reasons).toContainEqual(expect.objectContaining({ code: 'CERTIFICATE_CHAIN_INVALID', depth: 1, message: expect.stringMatching(/^PATH_LENGTH_EXCEEDED/) }));
  });

  it('rejects an issuer that is not a CA', async () => {
    const notCa = await issue({ name: 'not a CA', issuer: root, ca: false, keyUsage: F.digitalSignature });
    const leaf = await issue({ name: 'under non-CA', issuer: notCa, ...LEAF_PROFILES.payment });
    const result = await validatePath(input(leaf, { intermediates: [notCa.der] }));
    expect(result.valid).toBe(false);
    expect(details(result)).toContain('CERTIFICATE_CHAIN_INVALID NOT_A_CA');
  });

  it('rejects an unknown critical extension and ignores an unknown non-critical one', async () => {
    const strange = '1.3.6.1.4.1.55738.666.1';
    const critical = await issue({ name: 'critical', issuer: issuingCa, ...LEAF_PROFILES.payment, extra: [new x509.Extension(strange, true, new Uint8Array([0x05, 0x00]))] });
    const relaxed = await issue({ name: 'relaxed', issuer: issuingCa, ...LEAF_PROFILES.payment, extra: [new x509.Extension(strange, false, new Uint8Array([0x05, 0x00]))] });
    expect(details(await validatePath(input(critical)))).toContain('CERTIFICATE_CHAIN_INVALID UNKNOWN_CRITICAL_EXTENSION');
    expect((await validatePath(input(relaxed))).valid).toBe(true);
  });

  it('applies name constraints of an intermediate to the leaf SAN', async () => {
    const constrained = await issue({ name: 'constrained CA', issuer: root, ca: true, extra: [nameConstraintsExtension(['coconutpay.example'], ['blocked.coconutpay.example'])] });
    const inside = await issue({ name: 'inside', issuer: constrained, ...LEAF_PROFILES.serverAuth, dnsNames: ['shop.coconutpay.example'] });
    const outside = await issue({ name: 'outside', issuer: constrained, ...LEAF_PROFILES.serverAuth, dnsNames: ['evil.example'] });
    const excluded = await issue({ name: 'excluded', issuer: constrained, ...LEAF_PROFILES.serverAuth, dnsNames: ['a.blocked.coconutpay.example'] });
    const run = (leaf: Issued) => validatePath(input(leaf, { intermediates: [constrained.der], purpose: 'serverAuth' }));
    expect((await run(inside)).valid).toBe(true);
    expect(details(await run(outside))).toContain('CERTIFICATE_CHAIN_INVALID NAME_CONSTRAINTS_VIOLATED');
    expect(details(await run(excluded))).toContain('CERTIFICATE_CHAIN_INVALID NAME_CONSTRAINTS_VIOLATED');
  });

  it('rejects a tampered signature', async () => {
    const leaf = leaves.get('payment') as Issued;
    const tampered = leaf.der.slice();
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 0x01;
    const result = await validatePath(input({ ...leaf, der: tampered }));
    expect(result.valid).toBe(false);
    expect(result.reasons.map((entry) => entry.message.split(':')[0])).toEqual(expect.arrayContaining(['NO_PATH_TO_ANCHOR', 'SIGNATURE_INVALID']));
  });

  it('uses a pluggable verifier, and fails when it says no', async () => {
    let calls = 0;
    const leaf = leaves.get('payment') as Issued;
    const counted = await validatePath(input(leaf, { verifySignature: async () => { calls++; return true; } }));
    expect(counted.valid).toBe(true);
    expect(calls).toBe(2);
    expect((await validatePath(input(leaf, { verifySignature: async () => false }))).valid).toBe(false);
  });
});

describe('validatePath: revocation', () => {
  it('rejects a certificate whose serial is on the issuer CRL as CERTIFICATE_REVOKED', async () => {
    const leaf = leaves.get('payment') as Issued;
    const list = await crl(issuingCa, issuingCa.keys, [leaf.cert.serialNumber]);
    const result = await validatePath(input(leaf, { crls: [list] }));
    expect(result.valid).toBe(false);
    expect(result.reasons[0]).toMatchObject({ code: 'CERTIFICATE_REVOKED', depth: 0 });
  });

  it('accepts a certificate absent from a valid CRL, even with revocation required', async () => {
    const leaf = leaves.get('payment') as Issued;
    const caList = await crl(issuingCa, issuingCa.keys, ['7777']);
    const rootList = await crl(root, root.keys, []);
    expect((await validatePath(input(leaf, { crls: [caList, rootList], revocation: 'require' }))).valid).toBe(true);
  });

  it('does not trust a CRL signed by another key: status unknown, rejected by default, ignored when unknown is accepted', async () => {
    const leaf = leaves.get('payment') as Issued;
    const forged = await crl(issuingCa, await newKeys(), [leaf.cert.serialNumber]);
    const strict = await validatePath(input(leaf, { crls: [forged] }));
    expect(strict.valid).toBe(false);
    expect(strict.reasons[0]?.message).toMatch(/^REVOCATION_UNKNOWN: .*signature does not verify/);
    expect((await validatePath(input(leaf, { crls: [forged], unknownStatus: 'accept' }))).valid).toBe(true);
  });

  it('does not use a stale CRL', async () => {
    const leaf = leaves.get('payment') as Issued;
    const stale = await crl(issuingCa, issuingCa.keys, [], { nextUpdate: new Date('2030-05-20T00:00:00Z') });
    const result = await validatePath(input(leaf, { crls: [stale] }));
    expect(result.reasons[0]?.message).toMatch(/^REVOCATION_UNKNOWN: .*stale/);
  });

  it('requires an answer for every certificate below the anchor when revocation is required', async () => {
    const result = await validatePath(input(leaves.get('payment') as Issued, { revocation: 'require' }));
    expect(result.valid).toBe(false);
    expect(result.reasons[0]?.message).toMatch(/^REVOCATION_UNKNOWN/);
    expect((await validatePath(input(leaves.get('payment') as Issued, { revocation: 'none', crls: [] }))).valid).toBe(true);
  });

  it('asks the OCSP hook: revoked rejects, unknown follows the policy, good accepts', async () => {
    const leaf = leaves.get('payment') as Issued;
    const asked: Uint8Array[] = [];
    const hook = (answer: 'good' | 'revoked' | 'unknown') => async (cert: Uint8Array) => {
      asked.push(cert);
      return answer;
    };
    const revoked = await validatePath(input(leaf, { ocsp: hook('revoked') }));
    expect(revoked.reasons[0]).toMatchObject({ code: 'CERTIFICATE_REVOKED', depth: 0 });
    expect(asked[0]).toEqual(leaf.der);
    const unknownRejected = await validatePath(input(leaf, { ocsp: hook('unknown'), unknownStatus: 'reject' }));
    expect(unknownRejected.valid).toBe(false);
    expect(unknownRejected.reasons[0]?.message).toMatch(/^REVOCATION_UNKNOWN/);
    expect((await validatePath(input(leaf, { ocsp: hook('unknown'), unknownStatus: 'accept' }))).valid).toBe(true);
    expect((await validatePath(input(leaf, { ocsp: hook('good') }))).valid).toBe(true);
  });
});

describe('validatePath: search limits', () => {
  it('ends a cycle of cross-signed CAs that never reaches the root', async () => {
    const aKeys = await newKeys();
    const bKeys = await newKeys();
    const aSelf = await issue({ name: 'Cycle A', keys: aKeys, ca: true });
    const bSelf = await issue({ name: 'Cycle B', keys: bKeys, ca: true });
    const aByB = await issue({ name: 'Cycle A', keys: aKeys, issuer: bSelf, ca: true });
    const bByA = await issue({ name: 'Cycle B', keys: bKeys, issuer: aSelf, ca: true });
    const leaf = await issue({ name: 'cycle leaf', issuer: aSelf, ...LEAF_PROFILES.payment });
    const result = await validatePath(input(leaf, { intermediates: [aByB.der, bByA.der, aSelf.der, bSelf.der], maxDepth: 64 }));
    expect(result.valid).toBe(false);
    expect(result.reasons[0]?.message).toMatch(/^NO_PATH_TO_ANCHOR/);
  });

  it('refuses a path longer than maxDepth and accepts it when the limit allows', async () => {
    let parent = root;
    const chain: Issued[] = [];
    for (let i = 0; i < 4; i++) {
      parent = await issue({ name: `level ${i}`, issuer: parent, ca: true });
      chain.push(parent);
    }
    const leaf = await issue({ name: 'deep leaf', issuer: parent, ...LEAF_PROFILES.payment });
    const intermediates = chain.map((entry) => entry.der);
    const tooDeep = await validatePath(input(leaf, { intermediates, maxDepth: 5 }));
    expect(tooDeep.valid).toBe(false);
    expect(tooDeep.reasons.map((entry) => entry.message.split(':')[0])).toContain('DEPTH_LIMIT');
    expect((await validatePath(input(leaf, { intermediates, maxDepth: 6 }))).valid).toBe(true);
  });

  it('fails closed when the time budget is used up', async () => {
    let now = 0;
    const result = await validatePath(input(leaves.get('payment') as Issued, { timeBudgetMs: 10, clock: () => (now += 50) }));
    expect(result.valid).toBe(false);
    expect(result.reasons).toEqual([expect.objectContaining({ code: 'CERTIFICATE_CHAIN_INVALID', message: expect.stringMatching(/^BUDGET_EXHAUSTED/) })]);
  });

  it('refuses malformed input instead of throwing', async () => {
    expect((await validatePath(input(leaves.get('payment') as Issued, { at: new Date('nope') }))).reasons[0]?.message).toMatch(/^INPUT_INVALID/);
    expect((await validatePath(input(leaves.get('payment') as Issued, { maxDepth: 0 }))).valid).toBe(false);
    const garbage = await validatePath({ trustAnchors: [root.der], leaf: new Uint8Array([1, 2, 3]), at: AT, purpose: 'payment' });
    expect(garbage.reasons[0]?.message).toMatch(/^CERTIFICATE_MALFORMED/);
  });
});

describe('nameConstraintViolation', () => {
  const ip = (...bytes: number[]): GeneralName => ({ kind: 'ip', bytes: Uint8Array.from(bytes) });
  const v6 = (last: number, prefix = 0x20): number[] => [prefix, 0x01, 0x0d, 0xb8, ...Array<number>(11).fill(0), last];
  const constraints = (permitted: GeneralName[], excluded: GeneralName[] = []): NameConstraints => ({
    permitted: permitted.map((base) => ({ base })),
    excluded: excluded.map((base) => ({ base })),
  });

  it('matches IPv4 and IPv6 subnets and keeps the two families apart', () => {
    const v4Net = constraints([ip(192, 0, 2, 0, 255, 255, 255, 0)]);
    expect(nameConstraintViolation(ip(192, 0, 2, 77), v4Net)).toBeUndefined();
    expect(nameConstraintViolation(ip(192, 0, 3, 1), v4Net)).toMatch(/outside/);
    const v6Net = constraints([ip(...v6(0), ...Array<number>(8).fill(0xff), ...Array<number>(8).fill(0))]);
    expect(nameConstraintViolation(ip(...v6(5)), v6Net)).toBeUndefined();
    expect(nameConstraintViolation(ip(...v6(5, 0x30)), v6Net)).toMatch(/outside/);
    expect(nameConstraintViolation(ip(192, 0, 2, 1), v6Net)).toMatch(/outside/);
  });

  it('matches mailboxes, hosts and domains of rfc822 constraints', () => {
    const byHost = constraints([{ kind: 'email', value: 'coconutpay.example' }]);
    expect(nameConstraintViolation({ kind: 'email', value: 'kim@coconutpay.example' }, byHost)).toBeUndefined();
    expect(nameConstraintViolation({ kind: 'email', value: 'kim@sub.coconutpay.example' }, byHost)).toMatch(/outside/);
    const byDomain = constraints([{ kind: 'email', value: '.coconutpay.example' }]);
    expect(nameConstraintViolation({ kind: 'email', value: 'kim@sub.coconutpay.example' }, byDomain)).toBeUndefined();
    const excluded = constraints([], [{ kind: 'email', value: 'kim@coconutpay.example' }]);
    expect(nameConstraintViolation({ kind: 'email', value: 'kim@COCONUTPAY.example' }, excluded)).toMatch(/excluded/);
    expect(nameConstraintViolation({ kind: 'email', value: 'lee@coconutpay.example' }, excluded)).toBeUndefined();
  });

  it('refuses a wildcard DNS name that might stand for an excluded host', () => {
    const excluded = constraints([], [{ kind: 'dns', value: 'pay.coconutpay.example' }]);
    expect(nameConstraintViolation({ kind: 'dns', value: '*.coconutpay.example' }, excluded)).toMatch(/excluded/);
    expect(nameConstraintViolation({ kind: 'dns', value: '*.other.example' }, excluded)).toBeUndefined();
  });
});
