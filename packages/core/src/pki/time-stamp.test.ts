import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as pkijs from 'pkijs';
import { beforeAll, describe, expect, it } from 'vitest';
import { derOid, derSequence, derSetOf, derUtcTime } from './der-writer.js';
import { EKU, POLICY } from './oids.js';
import { children, DerError, readRoot } from './path-der.js';
import { parseCertificate } from './path-certificate.js';
import { p1363ToDer } from './signature.js';
import {
  assembleTimeStampToken, encodeGeneralizedTime, encodeMessageImprint, encodeTstInfo, OID_TSP, parseTimeStampRequest, parseTimeStampResponse,
  parseTimeStampToken, PKI_STATUS, timeStampAuthorityProfile, timeStampRequest, timeStampResponse, timeStampSignedAttributes, verifyTimeStampToken,
  type TimeStampAuthorityProfile, type TimeStampVerificationOptions,
} from './time-stamp.js';
import { validatePath } from './validate-path.js';

x509.cryptoProvider.set(globalThis.crypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOT_BEFORE = new Date('2030-01-01T00:00:00Z');
const NOT_AFTER = new Date('2031-01-01T00:00:00Z');
/** A genTime inside the TSA certificate's validity. */
const GEN_TIME_MS = Date.UTC(2030, 5, 1, 12, 30, 45, 120);
const F = x509.KeyUsageFlags;

interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  der: Uint8Array;
}

let serialCounter = 0x1000;

async function issue(options: {
  name: string;
  issuer?: Issued;
  ca?: boolean;
  keyUsage?: number;
  eku?: string[];
  ekuCritical?: boolean;
  notAfter?: Date;
}): Promise<Issued> {
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)];
  if (options.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey));
  extensions.push(new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true));
  const keyUsage = options.keyUsage ?? (options.ca ? F.keyCertSign | F.cRLSign : undefined);
  if (keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  if (options.eku) extensions.push(new x509.ExtendedKeyUsageExtension(options.eku, options.ekuCritical ?? true));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serialCounter++).toString(16),
    subject: `CN=${options.name}`,
    issuer: options.issuer ? options.issuer.cert.subject : `CN=${options.name}`,
    notBefore: NOT_BEFORE,
    notAfter: options.notAfter ?? NOT_AFTER,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: (options.issuer?.keys ?? keys).privateKey,
    extensions,
  });
  return { cert, keys, der: new Uint8Array(cert.rawData) };
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

interface TokenOptions {
  imprint?: Uint8Array;
  genTimeMs?: number;
  nonce?: Uint8Array;
  includeCertificates?: boolean;
  profile?: TimeStampAuthorityProfile;
  /** Changes the TSTInfo after messageDigest was computed over it. */
  alterTstInfo?: (tstInfo: Uint8Array) => Uint8Array;
}

let root: Issued;
let issuingCa: Issued;
let tsa: Issued;
let profile: TimeStampAuthorityProfile;
let imprint: Uint8Array;
let serial = 1;

/** A token the way the server makes one, signed with WebCrypto. */
async function token(by: Issued, options: TokenOptions = {}): Promise<Uint8Array> {
  const usedProfile = options.profile ?? (await timeStampAuthorityProfile({ certificate: by.der, otherCertificates: [issuingCa.der], policyOid: POLICY.timeStamping, accuracy: { seconds: 1 } }));
  const tstInfoDer = encodeTstInfo(usedProfile, {
    messageImprintDer: encodeMessageImprint(OID_TSP.sha256, options.imprint ?? imprint),
    serial: new Uint8Array([0x01, serial++]),
    genTimeMs: options.genTimeMs ?? GEN_TIME_MS,
    ...(options.nonce ? { nonce: options.nonce } : {}),
  });
  const signedAttributesDer = timeStampSignedAttributes(usedProfile, await sha256(tstInfoDer));
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, by.keys.privateKey, signedAttributesDer));
  return assembleTimeStampToken(usedProfile, {
    tstInfoDer: options.alterTstInfo ? options.alterTstInfo(tstInfoDer) : tstInfoDer,
    signedAttributesDer,
    signatureDer: p1363ToDer(signature),
    includeCertificates: options.includeCertificates ?? true,
  });
}

function options(overrides: Partial<TimeStampVerificationOptions> = {}): TimeStampVerificationOptions {
  return { trustAnchors: [root.der], expectedImprint: imprint, ...overrides };
}

beforeAll(async () => {
  root = await issue({ name: 'Test Root', ca: true });
  issuingCa = await issue({ name: 'Test Issuing CA', issuer: root, ca: true });
  tsa = await issue({ name: 'Test TSA', issuer: issuingCa, keyUsage: F.digitalSignature | F.nonRepudiation, eku: [EKU.timeStamping] });
  profile = await timeStampAuthorityProfile({ certificate: tsa.der, otherCertificates: [issuingCa.der], policyOid: POLICY.timeStamping, accuracy: { seconds: 1 } });
  imprint = await sha256(new Uint8Array([1, 2, 3]));
});

describe('verifyTimeStampToken', () => {
  it('accepts a token and says what it proves', async () => {
    const verdict = await verifyTimeStampToken(await token(tsa), options());
    expect(verdict).toMatchObject({ ok: true, genTimeSeconds: Math.floor(GEN_TIME_MS / 1000), accuracySeconds: 1, policyOid: POLICY.timeStamping, tsaCertificate: tsa.der });
    if (!verdict.ok) return;
    expect(verdict.genTime.getTime()).toBe(GEN_TIME_MS);
    expect(verdict.chain).toEqual([tsa.der, issuingCa.der, root.der]);
    expect(verdict.serialHex).toMatch(/^01[0-9a-f]{2}$/);
  });

  it('refuses a token over other data (TIME_STAMP_IMPRINT_MISMATCH), and a SHA-256 digest claimed for another hash', async () => {
    const other = await sha256(new Uint8Array([1, 2, 4]));
    expect(await verifyTimeStampToken(await token(tsa), options({ expectedImprint: other }))).toMatchObject({ ok: false, code: 'TIME_STAMP_IMPRINT_MISMATCH' });
    expect(await verifyTimeStampToken(await token(tsa), options({ expectedHashOid: OID_TSP.sha384 }))).toMatchObject({ ok: false, code: 'TIME_STAMP_IMPRINT_MISMATCH' });
  });

  it('refuses a TSTInfo changed after signing, and a changed TSTInfo with a matching digest but the old signature', async () => {
    // Flip the last octet of the imprint digest inside the TSTInfo.
    const flip = (tstInfo: Uint8Array) => {
      const copy = new Uint8Array(tstInfo);
      const at = copy.findIndex((_, i) => imprint.every((octet, j) => copy[i + j] === octet)) + imprint.length - 1;
      copy[at] = (copy[at] as number) ^ 1;
      return copy;
    };
    const altered = await verifyTimeStampToken(await token(tsa, { alterTstInfo: flip }), options());
    expect(altered).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID', message: 'the TSTInfo does not match its signed digest' });

    // Same change, and the messageDigest attribute recomputed: the signature no longer covers it.
    const good = parseTimeStampToken(await token(tsa));
    const changed = flip(good.tstInfoDer);
    const attributes = timeStampSignedAttributes(profile, await sha256(changed));
    const forged = assembleTimeStampToken(profile, { tstInfoDer: changed, signedAttributesDer: attributes, signatureDer: good.signatureDer, includeCertificates: true });
    const verdict = await verifyTimeStampToken(forged, options({ expectedImprint: parseTimeStampToken(forged).tstInfo.digest }));
    expect(verdict).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID', message: 'the signature does not verify' });
  });

  it('refuses a token whose ESS signing certificate names another certificate, or is missing', async () => {
    const otherTsa = await issue({ name: 'Other TSA', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping] });
    const otherProfile = await timeStampAuthorityProfile({ certificate: otherTsa.der, policyOid: POLICY.timeStamping, accuracy: { seconds: 1 } });
    const wrongEss = await token(tsa, { profile: { ...profile, signingCertificateAttribute: otherProfile.signingCertificateAttribute } });
    expect(await verifyTimeStampToken(wrongEss, options())).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID', message: 'the ESS signing certificate does not name the signer certificate' });

    const signingTime = derSequence(derOid('1.2.840.113549.1.9.5'), derSetOf([derUtcTime(new Date(GEN_TIME_MS))]));
    const noEss = await token(tsa, { profile: { ...profile, signingCertificateAttribute: signingTime } });
    expect(await verifyTimeStampToken(noEss, options())).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID', message: 'the signed attributes carry no ESS signing certificate' });
  });

  it('refuses a signature by a key other than the certificate the token names', async () => {
    const impostor = await issue({ name: 'Test TSA', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping] });
    // Signed by the impostor's key, but naming (sid and ESS) the real TSA certificate.
    const forged = await token({ ...impostor, der: tsa.der, cert: tsa.cert }, { profile });
    expect(await verifyTimeStampToken(forged, options())).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID', message: 'the signature does not verify' });
  });

  it('validates the TSA path at genTime: still valid after the certificate expired, refused when made after expiry', async () => {
    const stamped = await token(tsa);
    const later = new Date('2035-01-01T00:00:00Z');
    // What the path says at a later time, and what the token proves regardless.
    expect((await validatePath({ trustAnchors: [root.der], intermediates: [issuingCa.der], leaf: tsa.der, at: later, purpose: 'timeStamping' })).valid).toBe(false);
    expect(await verifyTimeStampToken(stamped, options())).toMatchObject({ ok: true });

    const afterExpiry = await token(tsa, { genTimeMs: Date.UTC(2031, 0, 2) });
    const verdict = await verifyTimeStampToken(afterExpiry, options());
    expect(verdict).toMatchObject({ ok: false, code: 'TIME_STAMP_AUTHORITY_UNTRUSTED' });
    expect(verdict.ok ? '' : verdict.message).toContain('CERTIFICATE_EXPIRED');
  });

  it('refuses a TSA outside the trust anchors', async () => {
    const otherRoot = await issue({ name: 'Test Root', ca: true });
    expect(await verifyTimeStampToken(await token(tsa), options({ trustAnchors: [otherRoot.der] }))).toMatchObject({ ok: false, code: 'TIME_STAMP_AUTHORITY_UNTRUSTED' });
  });

  it('uses CRLs at genTime: a revoked TSA certificate is refused; require without CRLs is refused', async () => {
    const crl = await x509.X509CrlGenerator.create({
      issuer: issuingCa.cert.subject,
      thisUpdate: new Date('2030-05-01T00:00:00Z'),
      nextUpdate: new Date('2030-07-01T00:00:00Z'),
      signingAlgorithm: ALGORITHM,
      signingKey: issuingCa.keys.privateKey,
      extensions: [new x509.Extension('2.5.29.20', false, new Uint8Array([0x02, 0x01, 0x07]))],
      entries: [{ serialNumber: tsa.cert.serialNumber, revocationDate: new Date('2030-05-15T00:00:00Z') }],
    });
    const revoked = await verifyTimeStampToken(await token(tsa), options({ crls: [new Uint8Array(crl.rawData)] }));
    expect(revoked).toMatchObject({ ok: false, code: 'TIME_STAMP_AUTHORITY_UNTRUSTED' });
    expect(revoked.ok ? '' : revoked.message).toContain('CERTIFICATE_REVOKED');
    expect(await verifyTimeStampToken(await token(tsa), options({ revocation: 'require' }))).toMatchObject({ ok: false, code: 'TIME_STAMP_AUTHORITY_UNTRUSTED' });
  });

  it('finds the TSA certificate among the intermediates when the token does not carry it', async () => {
    const bare = await token(tsa, { includeCertificates: false });
    expect(parseTimeStampToken(bare).certificates).toEqual([]);
    expect(await verifyTimeStampToken(bare, options())).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID' });
    expect(await verifyTimeStampToken(bare, options({ intermediates: [tsa.der, issuingCa.der] }))).toMatchObject({ ok: true });
  });

  it('checks the nonce echo and the policy when asked', async () => {
    const nonce = new Uint8Array([0x9a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
    // As INTEGER content a nonce with its top bit set gets a leading zero octet.
    const stamped = await token(tsa, { nonce: new Uint8Array([0, ...nonce]) });
    expect(parseTimeStampToken(stamped).tstInfo.nonce).toEqual(new Uint8Array([0, ...nonce]));
    expect(await verifyTimeStampToken(stamped, options({ expectedNonce: nonce }))).toMatchObject({ ok: true });
    expect(await verifyTimeStampToken(stamped, options({ expectedNonce: 0x9a01020304050607n }))).toMatchObject({ ok: true });
    expect(await verifyTimeStampToken(stamped, options({ expectedNonce: new Uint8Array([1]) }))).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID' });
    expect(await verifyTimeStampToken(await token(tsa), options({ expectedNonce: nonce }))).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID' });
    expect(await verifyTimeStampToken(stamped, options({ acceptedPolicies: [POLICY.timeStamping] }))).toMatchObject({ ok: true });
    expect(await verifyTimeStampToken(stamped, options({ acceptedPolicies: ['1.2.3.4'] }))).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID' });
  });

  it('refuses bytes that are not a token, never throwing', async () => {
    const good = await token(tsa);
    for (const bad of [new Uint8Array(), good.subarray(0, good.length - 1), new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), new Uint8Array([...good, 0])]) {
      expect(await verifyTimeStampToken(bad, options())).toMatchObject({ ok: false, code: 'TIME_STAMP_INVALID' });
    }
  });
});

describe('the timeStamping purpose (RFC 3161 §2.3)', () => {
  const judge = async (leaf: Issued) => validatePath({ trustAnchors: [root.der], intermediates: [issuingCa.der], leaf: leaf.der, at: new Date(GEN_TIME_MS), purpose: 'timeStamping' });
  const detailsOf = (result: Awaited<ReturnType<typeof judge>>) => result.reasons.map((entry) => entry.message.split(':')[0]);

  it('accepts id-kp-timeStamping alone and critical, with digitalSignature or nonRepudiation', async () => {
    expect((await judge(tsa)).valid).toBe(true);
    expect((await judge(await issue({ name: 'ds only', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping] }))).valid).toBe(true);
    expect((await judge(await issue({ name: 'nr only', issuer: issuingCa, keyUsage: F.nonRepudiation, eku: [EKU.timeStamping] }))).valid).toBe(true);
  });

  it('refuses a non-critical EKU, an extra EKU, no EKU, other key usages, and a CA certificate', async () => {
    const cases: [string, Parameters<typeof issue>[0], string][] = [
      ['non-critical', { name: 'n', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping], ekuCritical: false }, 'EXTENSION_CRITICALITY'],
      ['extra EKU', { name: 'e', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping, EKU.serverAuth] }, 'EKU_NOT_ALLOWED'],
      ['anyExtendedKeyUsage', { name: 'a', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.any] }, 'EKU_MISSING'],
      ['no EKU', { name: 'x', issuer: issuingCa, keyUsage: F.digitalSignature }, 'EKU_MISSING'],
      ['no key usage', { name: 'k', issuer: issuingCa, eku: [EKU.timeStamping] }, 'KEY_USAGE_MISSING'],
      ['keyEncipherment too', { name: 'ke', issuer: issuingCa, keyUsage: F.digitalSignature | F.keyEncipherment, eku: [EKU.timeStamping] }, 'KEY_USAGE_NOT_ALLOWED'],
      ['keyAgreement only', { name: 'ka', issuer: issuingCa, keyUsage: F.keyAgreement, eku: [EKU.timeStamping] }, 'KEY_USAGE_MISSING'],
      ['a CA', { name: 'ca', issuer: issuingCa, ca: true, keyUsage: F.digitalSignature, eku: [EKU.timeStamping] }, 'LEAF_IS_CA'],
    ];
    for (const [label, profileOptions, detail] of cases) {
      const result = await judge(await issue(profileOptions));
      expect(result.valid, label).toBe(false);
      expect(detailsOf(result), label).toContain(detail);
    }
  });

  it('makes the token verifier refuse a TSA certificate without a critical EKU or with an extra EKU', async () => {
    for (const leafOptions of [
      { name: 'n', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping], ekuCritical: false },
      { name: 'e', issuer: issuingCa, keyUsage: F.digitalSignature, eku: [EKU.timeStamping, EKU.clientAuth] },
    ]) {
      const verdict = await verifyTimeStampToken(await token(await issue(leafOptions)), options());
      expect(verdict).toMatchObject({ ok: false, code: 'TIME_STAMP_AUTHORITY_UNTRUSTED' });
    }
  });
});

describe('requests, responses and encodings', () => {
  it('builds a request that parses back, with DER defaults left out', () => {
    const nonce = new Uint8Array([0x80, 0, 0, 0, 0, 0, 0, 1]);
    const der = timeStampRequest({ digest: imprint, nonce, certReq: true, reqPolicy: POLICY.timeStamping });
    expect(parseTimeStampRequest(der)).toMatchObject({ version: 1, hashOid: OID_TSP.sha256, digest: imprint, reqPolicy: POLICY.timeStamping, nonce: new Uint8Array([0, ...nonce]), certReq: true, extensions: [] });
    const plain = timeStampRequest({ digest: imprint, certReq: false });
    expect(parseTimeStampRequest(plain)).toMatchObject({ certReq: false, nonce: undefined, reqPolicy: undefined });
    // certReq FALSE is the default: not encoded, so only version and messageImprint remain.
    expect(children(readRoot(plain))).toHaveLength(2);
    expect(() => timeStampRequest({ digest: new Uint8Array(31), certReq: true })).toThrow(RangeError);
    expect(() => parseTimeStampRequest(new Uint8Array([0x30, 0x00]))).toThrow(new DerError('version: unexpected element'));
  });

  it('parses its request the way pkijs does', () => {
    const der = timeStampRequest({ digest: imprint, nonce: 42n, certReq: true });
    const request = pkijs.TimeStampReq.fromBER(der);
    expect(request.version).toBe(1);
    expect(request.messageImprint.hashAlgorithm.algorithmId).toBe(OID_TSP.sha256);
    expect(request.nonce?.valueBlock.valueDec).toBe(42);
    expect(request.certReq).toBe(true);
  });

  it('writes genTime with the millisecond fraction and no trailing zeros', () => {
    const text = (ms: number) => new TextDecoder().decode(encodeGeneralizedTime(ms).subarray(2));
    expect(text(Date.UTC(2030, 0, 2, 3, 4, 5, 120))).toBe('20300102030405.12Z');
    expect(text(Date.UTC(2030, 0, 2, 3, 4, 5, 7))).toBe('20300102030405.007Z');
    expect(text(Date.UTC(2030, 0, 2, 3, 4, 5, 0))).toBe('20300102030405Z');
  });

  it('lays out a token pkijs reads: TSTInfo fields, one signer, ESSCertIDv2 with the default hash left out', async () => {
    const nonce = new Uint8Array([0x12, 0x34]);
    const der = await token(tsa, { nonce });
    const info = new pkijs.ContentInfo({ schema: pkijs.ContentInfo.fromBER(der).toSchema() });
    expect(info.contentType).toBe(OID_TSP.signedData);
    const signedData = new pkijs.SignedData({ schema: info.content });
    expect(signedData.version).toBe(3);
    expect(signedData.encapContentInfo.eContentType).toBe(OID_TSP.tstInfo);
    expect(signedData.certificates).toHaveLength(2);
    expect(signedData.signerInfos).toHaveLength(1);
    const tstInfo = pkijs.TSTInfo.fromBER(signedData.encapContentInfo.eContent!.getValue());
    expect(tstInfo.version).toBe(1);
    // asn1js prints arcs above 2^53 in its own `{hex}` form (docs/pki.md); core's reader decodes them exactly.
    expect(tstInfo.policy).toMatch(/^2\.25\.\{[0-9a-f]+\}\.3\.1$/);
    expect(parseTimeStampToken(der).tstInfo.policyOid).toBe(POLICY.timeStamping);
    expect(tstInfo.genTime.getTime()).toBe(GEN_TIME_MS);
    expect(tstInfo.accuracy?.seconds).toBe(1);
    expect(tstInfo.nonce?.valueBlock.valueDec).toBe(0x1234);
    expect(tstInfo.ordering).toBeFalsy();
    const attributes = signedData.signerInfos[0]!.signedAttrs!.attributes;
    expect(attributes.map((a) => a.type).sort()).toEqual([OID_TSP.contentType, OID_TSP.messageDigest, OID_TSP.signingCertificateV2].sort());
    const ess = parseTimeStampToken(der).essCertificateIds;
    expect(ess).toHaveLength(1);
    expect(ess[0]).toMatchObject({ version: 2, hashOid: OID_TSP.sha256, hash: await sha256(tsa.der) });
    // ESSCertIDv2 ::= SEQUENCE { certHash OCTET STRING, issuerSerial }: no AlgorithmIdentifier first.
    const essValue = profile.signingCertificateAttribute;
    const certHashAt = essValue.findIndex((_, i) => essValue[i] === 0x04 && essValue[i + 1] === 0x20);
    expect(essValue[certHashAt - 2]).toBe(0x30);
    expect(ess[0]!.issuerSerial!.serial).toEqual(parseCertificate(tsa.der).serial);
    expect(ess[0]!.issuerSerial!.directoryNames).toEqual([parseCertificate(tsa.der).issuer.der]);
  });

  it('encodes granted and rejected responses that parse back', async () => {
    const stamped = await token(tsa);
    const granted = parseTimeStampResponse(timeStampResponse({ token: stamped }));
    expect(granted).toMatchObject({ status: PKI_STATUS.granted, failures: [], token: stamped });
    for (const failure of ['badAlg', 'badRequest', 'badDataFormat', 'unacceptedPolicy', 'unacceptedExtension', 'systemFailure'] as const) {
      const rejected = parseTimeStampResponse(timeStampResponse({ failure, text: 'Why.' }));
      expect(rejected).toMatchObject({ status: PKI_STATUS.rejection, statusStrings: ['Why.'], failures: [failure], token: undefined });
      const viaPkijs = pkijs.TimeStampResp.fromBER(timeStampResponse({ failure, text: 'Why.' }));
      expect(viaPkijs.status.status).toBe(PKI_STATUS.rejection);
    }
  });
});
