/**
 * RFC 5280 §6.3 CRL processing, rule by rule: for each rule of §6.3.3 and of the CRL
 * profile (§5.2, §5.3) a case that satisfies it and one that breaks it, run through
 * validatePath; then what parseCrl and crlStatusOf expose; then, for the cases
 * OpenSSL can judge, the same verdict from `openssl verify -crl_check_all`.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import * as asn from '@peculiar/asn1-x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_REASONS, CRL_REASON, REASON_FLAG, crlStatusOf, findCrlEntry, parseCrl } from './path-crl.js';
import { parseCertificate } from './path-certificate.js';
import { validatePath, type PathValidationInput, type PathValidationResult } from './validate-path.js';

x509.cryptoProvider.set(globalThis.crypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const AT = new Date('2030-06-01T00:00:00Z');
const NOT_BEFORE = new Date('2030-01-01T00:00:00Z');
const NOT_AFTER = new Date('2031-01-01T00:00:00Z');
const THIS_UPDATE = new Date('2030-05-01T00:00:00Z');
const NEXT_UPDATE = new Date('2030-07-01T00:00:00Z');
const REVOKED_AT = new Date('2030-05-15T00:00:00Z');
const F = x509.KeyUsageFlags;
const URI_I = 'http://crl.example/issuing.crl';
const URI_OTHER = 'http://crl.example/other.crl';

interface Keyed {
  readonly name: string;
  readonly keys: CryptoKeyPair;
}

interface Issued extends Keyed {
  readonly cert: x509.X509Certificate;
  readonly der: Uint8Array;
  readonly serial: string;
}

interface IssueOptions {
  name: string;
  /** Whose name goes into the issuer field and whose key signs; self-signed when absent. */
  issuer?: Keyed;
  keys?: CryptoKeyPair;
  ca?: boolean;
  keyUsage?: number;
  extra?: x509.Extension[];
}

let serialCounter = 0x100;

async function newKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function issue(options: IssueOptions): Promise<Issued> {
  const keys = options.keys ?? (await newKeys());
  const signer = options.issuer ?? { name: options.name, keys };
  const extensions: x509.Extension[] = [await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)];
  if (options.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey));
  if (options.ca) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  const keyUsage = options.keyUsage ?? (options.ca ? F.keyCertSign | F.cRLSign : F.digitalSignature);
  if (keyUsage !== 0) extensions.push(new x509.KeyUsagesExtension(keyUsage, false));
  extensions.push(...(options.extra ?? []));
  const serial = (serialCounter++).toString(16).padStart(4, '0');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: options.name,
    issuer: signer.name,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: signer.keys.privateKey,
    extensions,
  });
  return { name: options.name, keys, cert, der: new Uint8Array(cert.rawData), serial: cert.serialNumber };
}

function asnName(text: string): asn.Name {
  return AsnConvert.parse(new x509.Name(text).toArrayBuffer(), asn.Name);
}

function uri(value: string): asn.GeneralName {
  return new asn.GeneralName({ uniformResourceIdentifier: value });
}

function directory(text: string): asn.GeneralName {
  return new asn.GeneralName({ directoryName: asnName(text) });
}

function firstRdn(text: string): asn.RelativeDistinguishedName {
  return asnName(text)[0] as asn.RelativeDistinguishedName;
}

/** cRLDistributionPoints of a certificate. */
function cdp(...points: asn.DistributionPoint[]): x509.Extension {
  return new x509.Extension('2.5.29.31', false, AsnConvert.serialize(new asn.CRLDistributionPoints(points)));
}

function point(options: { uris?: string[]; relative?: string; crlIssuer?: string; reasons?: number }): asn.DistributionPoint {
  const name = options.uris
    ? new asn.DistributionPointName({ fullName: options.uris.map(uri) })
    : options.relative
      ? new asn.DistributionPointName({ nameRelativeToCRLIssuer: firstRdn(options.relative) })
      : undefined;
  return new asn.DistributionPoint({
    ...(name ? { distributionPoint: name } : {}),
    ...(options.reasons === undefined ? {} : { reasons: new asn.Reason(options.reasons) }),
    ...(options.crlIssuer ? { cRLIssuer: [directory(options.crlIssuer)] } : {}),
  });
}

interface IdpOptions {
  uris?: string[];
  directoryNames?: asn.Name[];
  relative?: string;
  onlyUser?: boolean;
  onlyCa?: boolean;
  onlyAttribute?: boolean;
  onlySomeReasons?: number;
  indirect?: boolean;
}

function idp(options: IdpOptions): x509.Extension {
  const fullName = [...(options.uris ?? []).map(uri), ...(options.directoryNames ?? []).map((directoryName) => new asn.GeneralName({ directoryName }))];
  const name = fullName.length > 0
    ? new asn.DistributionPointName({ fullName })
    : options.relative
      ? new asn.DistributionPointName({ nameRelativeToCRLIssuer: firstRdn(options.relative) })
      : undefined;
  const value = new asn.IssuingDistributionPoint({
    ...(name ? { distributionPoint: name } : {}),
    onlyContainsUserCerts: options.onlyUser ?? false,
    onlyContainsCACerts: options.onlyCa ?? false,
    onlyContainsAttributeCerts: options.onlyAttribute ?? false,
    indirectCRL: options.indirect ?? false,
    ...(options.onlySomeReasons === undefined ? {} : { onlySomeReasons: new asn.Reason(options.onlySomeReasons) }),
  });
  return new x509.Extension('2.5.29.28', true, AsnConvert.serialize(value));
}

function certificateIssuerExtension(name: string): x509.Extension {
  return new x509.Extension('2.5.29.29', true, AsnConvert.serialize(new asn.CertificateIssuer([directory(name)])));
}

interface EntryOptions {
  serial: string;
  reason?: number;
  invalidity?: Date;
  certificateIssuer?: string;
  extensions?: x509.Extension[];
}

interface CrlOptions {
  /** Name in the CRL's issuer field; the signer's name when absent. */
  issuerName?: string;
  entries?: EntryOptions[];
  thisUpdate?: Date;
  /** null for none. */
  nextUpdate?: Date | null;
  extensions?: x509.Extension[];
  /** The key named by authorityKeyIdentifier; the signing key when absent. */
  akiKey?: CryptoKey;
}

let crlNumber = 1;

async function makeCrl(signer: Keyed, options: CrlOptions = {}): Promise<Uint8Array> {
  const extensions = [
    new x509.Extension('2.5.29.20', false, AsnConvert.serialize(new asn.CRLNumber(crlNumber++))),
    await x509.AuthorityKeyIdentifierExtension.create(options.akiKey ?? signer.keys.publicKey),
    ...(options.extensions ?? []),
  ];
  const nextUpdate = options.nextUpdate === null ? undefined : (options.nextUpdate ?? NEXT_UPDATE);
  const list = await x509.X509CrlGenerator.create({
    issuer: options.issuerName ?? signer.name,
    thisUpdate: options.thisUpdate ?? THIS_UPDATE,
    ...(nextUpdate ? { nextUpdate } : {}),
    signingAlgorithm: ALGORITHM,
    signingKey: signer.keys.privateKey,
    extensions,
    entries: (options.entries ?? []).map((entry) => ({
      serialNumber: entry.serial,
      revocationDate: REVOKED_AT,
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      ...(entry.invalidity ? { invalidity: entry.invalidity } : {}),
      extensions: [...(entry.certificateIssuer ? [certificateIssuerExtension(entry.certificateIssuer)] : []), ...(entry.extensions ?? [])],
    })),
  });
  return new Uint8Array(list.rawData);
}

/** The distinguished name `base` with one more RDN, as a nameRelativeToCRLIssuer fragment stands for. */
function appended(base: string, rdn: string): asn.Name {
  return new asn.Name([...asnName(base), firstRdn(rdn)]);
}

// The PKI the cases use.
const ROOT = 'CN=CRL Test Root';
const ISSUING = 'CN=CRL Test Issuing CA';
const CRL_ISSUER = 'CN=CRL Test CRL Issuer';
let root: Issued;
let issuing: Issued;
let leaf: Issued;
/** The root's CRL, which gives the issuing CA (and other certificates the root issued) their status. */
let rootCrl: Uint8Array;
let issuingCrl: Uint8Array;

type Expected = 'valid' | 'revoked' | 'unknown';

interface Case {
  readonly name: string;
  readonly rule: string;
  readonly expected: Expected;
  /** Depth of the certificate the verdict is about, when not valid. */
  readonly depth?: number;
  /** Part of the first reason's message. */
  readonly message?: RegExp;
  /**
   * Why `openssl verify -crl_check_all -extended_crl` gives the other verdict, when it
   * does (the last describe checks that it still does). Cases of the 'mode' rule are
   * about CoconutPay's own modes and are not put to OpenSSL.
   */
  readonly opensslDiffers?: string;
  readonly input: () => Promise<PathValidationInput>;
}

function base(overrides: Partial<PathValidationInput> = {}): PathValidationInput {
  return { trustAnchors: [root.der], intermediates: [issuing.der], leaf: leaf.der, at: AT, purpose: 'any', revocation: 'require', ...overrides };
}

/** A small PKI of its own: root → issuing CA → leaf, with the leaf's extensions chosen by the case. */
async function pki(leafExtra: x509.Extension[] = [], leafOptions: Partial<IssueOptions> = {}): Promise<{ leaf: Issued }> {
  return { leaf: await issue({ name: `CN=leaf ${serialCounter}`, issuer: issuing, extra: leafExtra, ...leafOptions }) };
}

const cases: Case[] = [];
function rule(entry: Case): void {
  cases.push(entry);
}

// §6.3: a certificate whose status no CRL gives is not valid when revocation is asked for.
rule({ name: 'require, complete CRLs for every certificate', rule: '§6.3.3', expected: 'valid', input: async () => base({ crls: [issuingCrl, rootCrl] }) });
rule({ name: 'require, no CRL at all', rule: '§6.3.3 (k)', expected: 'unknown', depth: 0, message: /no CRL or OCSP answer/, input: async () => base({ crls: [] }) });
rule({ name: "require, the issuing CA's CRL missing", rule: '§6.3.3 (k)', expected: 'unknown', depth: 0, input: async () => base({ crls: [rootCrl] }) });
rule({ name: "require, the root's CRL missing (the issuing CA has no status)", rule: '§6.3.3 (k)', expected: 'unknown', depth: 1, input: async () => base({ crls: [issuingCrl] }) });
rule({ name: 'crl-if-present without any CRL: not checked', rule: 'mode', expected: 'valid', input: async () => base({ revocation: 'crl-if-present', crls: [] }) });
rule({ name: 'crl-if-present with a CRL for the leaf only: the issuing CA needs one too', rule: 'mode', expected: 'unknown', depth: 1, input: async () => base({ revocation: 'crl-if-present', crls: [issuingCrl] }) });
rule({ name: 'crl-if-present with CRLs for both', rule: 'mode', expected: 'valid', input: async () => base({ revocation: 'crl-if-present', crls: [issuingCrl, rootCrl] }) });
rule({ name: 'crl-if-present with an undecodable CRL only', rule: 'mode', expected: 'unknown', depth: 0, message: /cannot be decoded/, input: async () => base({ revocation: 'crl-if-present', crls: [new Uint8Array([0x30, 0x00])] }) });
rule({ name: 'unknown accepted when asked', rule: 'mode', expected: 'valid', input: async () => base({ crls: [issuingCrl], unknownStatus: 'accept' }) });
rule({ name: 'none ignores even a revoking CRL', rule: 'mode', expected: 'valid', input: async () => base({ revocation: 'none', crls: [await makeCrl(issuing, { entries: [{ serial: leaf.serial }] })] }) });

// §6.3.3 (g): the signature must verify with an authorized key.
rule({ name: 'CRL signed by another key under the right name', rule: '§6.3.3 (g)', expected: 'unknown', depth: 0, message: /signature does not verify/, input: async () => {
  const forged = await makeCrl({ name: ISSUING, keys: await newKeys() }, { akiKey: issuing.keys.publicKey, entries: [{ serial: leaf.serial }] });
  return base({ crls: [forged, rootCrl] });
} });
rule({ name: "CRL whose authorityKeyIdentifier names another key", rule: '§6.3.3 (f), §5.2.1', expected: 'unknown', depth: 0, message: /authorityKeyIdentifier/, input: async () => base({ crls: [await makeCrl(issuing, { akiKey: (await newKeys()).publicKey }), rootCrl] }) });

// §6.3.3 (b)(1): the CRL issuer is the certificate issuer (or a cRLIssuer of an indirect CRL).
rule({ name: 'CRL issued under another name (signed with the issuing key)', rule: '§6.3.3 (b)(1)', expected: 'unknown', depth: 0, input: async () => base({ crls: [await makeCrl(issuing, { issuerName: 'CN=Somebody Else' }), rootCrl] }) });

// §6.3.3 (a): freshness.
rule({ name: 'stale CRL (nextUpdate before the validation time)', rule: '§6.3.3 (a)', expected: 'unknown', depth: 0, message: /stale/, input: async () => base({ crls: [await makeCrl(issuing, { nextUpdate: new Date('2030-05-20T00:00:00Z') }), rootCrl] }) });
rule({ name: 'CRL not yet valid (thisUpdate after the validation time)', rule: '§5.1.2.4', expected: 'unknown', depth: 0, message: /not yet valid/, input: async () => base({ crls: [await makeCrl(issuing, { thisUpdate: new Date('2030-06-02T00:00:00Z') }), rootCrl] }) });
rule({ name: 'CRL without nextUpdate', opensslDiffers: 'OpenSSL treats a CRL without nextUpdate as current; CoconutPay cannot judge its freshness and refuses it', rule: '§5.1.2.5', expected: 'unknown', depth: 0, message: /nextUpdate/, input: async () => base({ crls: [await makeCrl(issuing, { nextUpdate: null }), rootCrl] }) });

// §5.2 and §5.3: critical extensions not understood make the CRL unusable.
rule({ name: 'unknown critical CRL extension', rule: '§5.2', expected: 'unknown', depth: 0, message: /critical CRL extension 1\.2\.3\.4 is not recognised/, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [new x509.Extension('1.2.3.4', true, new Uint8Array([0x05, 0x00]))] }), rootCrl] }) });
rule({ name: 'unknown non-critical CRL extension is ignored', rule: '§5.2', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { extensions: [new x509.Extension('1.2.3.4', false, new Uint8Array([0x05, 0x00]))] }), rootCrl] }) });
rule({ name: 'unknown critical entry extension (on another entry)', rule: '§5.3', expected: 'unknown', depth: 0, message: /critical CRL entry extension 1\.2\.3\.5/, input: async () => base({ crls: [await makeCrl(issuing, { entries: [{ serial: '7777', extensions: [new x509.Extension('1.2.3.5', true, new Uint8Array([0x05, 0x00]))] }] }), rootCrl] }) });
rule({ name: 'unknown non-critical entry extension is ignored', rule: '§5.3', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { entries: [{ serial: '7777', extensions: [new x509.Extension('1.2.3.5', false, new Uint8Array([0x05, 0x00]))] }] }), rootCrl] }) });
rule({ name: 'delta CRL is refused', rule: '§5.2.4', expected: 'unknown', depth: 0, message: /delta CRLs are not supported/, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [new x509.Extension('2.5.29.27', true, AsnConvert.serialize(new asn.BaseCRLNumber(1)))] }), rootCrl] }) });
rule({ name: 'complete CRL pointing to deltas (freshestCRL) is used as complete', rule: '§5.2.6', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { extensions: [new x509.Extension('2.5.29.46', false, AsnConvert.serialize(new asn.FreshestCRL([point({ uris: ['http://crl.example/delta.crl'] })])))] }), rootCrl] }) });
rule({ name: 'expiredCertsOnCRL is understood', rule: '§5.2 (X.509 expiredCertsOnCRL)', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { extensions: [new x509.Extension('2.5.29.60', false, AsnConvert.serialize(new asn.InvalidityDate(new Date('2029-01-01T00:00:00Z'))))] }), rootCrl] }) });
rule({ name: 'CRL without cRLNumber', opensslDiffers: 'OpenSSL does not demand the cRLNumber that RFC 5280 §5.2.3 makes mandatory (x509-limbo\'s crl::crlnumber-missing expects the refusal)', rule: '§5.2.3', expected: 'unknown', depth: 0, message: /cRLNumber/, input: async () => {
  const list = await x509.X509CrlGenerator.create({ issuer: ISSUING, thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE, signingAlgorithm: ALGORITHM, signingKey: issuing.keys.privateKey });
  return base({ crls: [new Uint8Array(list.rawData), rootCrl] });
} });

// §6.3.3 (b)(2)(ii)–(iv): the kinds of certificate an issuingDistributionPoint limits the CRL to.
rule({ name: 'onlyContainsUserCerts CRL for an end-entity certificate', rule: '§6.3.3 (b)(2)(ii)', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlyUser: true })] }), rootCrl] }) });
rule({ name: 'onlyContainsUserCerts CRL for a CA certificate', rule: '§6.3.3 (b)(2)(ii)', expected: 'unknown', depth: 1, message: /onlyContainsUserCerts/, input: async () => base({ crls: [issuingCrl, await makeCrl(root, { extensions: [idp({ onlyUser: true })] })] }) });
rule({ name: 'onlyContainsCACerts CRL for a CA certificate', rule: '§6.3.3 (b)(2)(iii)', expected: 'valid', input: async () => base({ crls: [issuingCrl, await makeCrl(root, { extensions: [idp({ onlyCa: true })] })] }) });
rule({ name: 'onlyContainsCACerts CRL for an end-entity certificate', rule: '§6.3.3 (b)(2)(iii)', expected: 'unknown', depth: 0, message: /onlyContainsCACerts/, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlyCa: true })] }), rootCrl] }) });
rule({ name: 'onlyContainsAttributeCerts CRL', rule: '§6.3.3 (b)(2)(iv)', expected: 'unknown', depth: 0, message: /attribute certificates/, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlyAttribute: true })] }), rootCrl] }) });

// §6.3.3 (d), (e), (j), (k): reasons accumulate across CRLs until every reason is covered.
const SOME = REASON_FLAG.keyCompromise | REASON_FLAG.cACompromise;
const REST = ALL_REASONS & ~SOME;
rule({ name: 'onlySomeReasons CRL alone covers only some reasons', rule: '§6.3.3 (d), (k)', expected: 'unknown', depth: 0, message: /only some revocation reasons; not covered: affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise/, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: SOME })] }), rootCrl] }) });
rule({ name: 'two onlySomeReasons CRLs that together cover every reason', rule: '§6.3.3 (j)', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: SOME })] }), await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: REST })] }), rootCrl] }) });
rule({ name: 'two onlySomeReasons CRLs that leave a reason uncovered', rule: '§6.3.3 (k)', expected: 'unknown', depth: 0, message: /not covered: aACompromise$/, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: SOME })] }), await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: REST & ~REASON_FLAG.aACompromise })] }), rootCrl] }) });
rule({ name: 'revoked on a CRL covering only some reasons', rule: '§6.3.3 (i)', expected: 'revoked', depth: 0, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: SOME })], entries: [{ serial: leaf.serial, reason: CRL_REASON.keyCompromise }] }), rootCrl] }) });
rule({ name: "a distribution point's reasons narrow what its CRL covers, a complete CRL still covers all", opensslDiffers: 'OpenSSL does not apply the §6.3.3 step for CRLs not named by a distribution point (a point named after the issuer, all reasons), so a complete CRL does not make up for a point that serves only some reasons', rule: '§6.3.3 (d)', expected: 'valid', input: async () => {
  const { leaf: narrowed } = await pki([cdp(point({ uris: [URI_I], reasons: REASON_FLAG.keyCompromise }))]);
  return base({ leaf: narrowed.der, crls: [issuingCrl, rootCrl] });
} });
rule({ name: "a partitioned CRL for a distribution point serving one reason covers only that reason", rule: '§6.3.3 (d)', expected: 'unknown', depth: 0, message: /only some revocation reasons; not covered: cACompromise/, input: async () => {
  const { leaf: narrowed } = await pki([cdp(point({ uris: [URI_I], reasons: REASON_FLAG.keyCompromise }))]);
  return base({ leaf: narrowed.der, crls: [await makeCrl(issuing, { extensions: [idp({ uris: [URI_I] })] }), rootCrl] });
} });

// §6.3.3 (b)(2)(i): distribution point names.
rule({ name: 'distribution point URI matches the CRL issuingDistributionPoint', rule: '§6.3.3 (b)(2)(i)', expected: 'valid', input: async () => {
  const { leaf: pointed } = await pki([cdp(point({ uris: [URI_I] }))]);
  return base({ leaf: pointed.der, crls: [await makeCrl(issuing, { extensions: [idp({ uris: [URI_OTHER, URI_I] })] }), rootCrl] });
} });
rule({ name: 'distribution point URI differs from the CRL issuingDistributionPoint', rule: '§6.3.3 (b)(2)(i)', expected: 'unknown', depth: 0, message: /distribution point name does not match/, input: async () => {
  const { leaf: pointed } = await pki([cdp(point({ uris: [URI_I] }))]);
  return base({ leaf: pointed.der, crls: [await makeCrl(issuing, { extensions: [idp({ uris: [URI_OTHER] })] }), rootCrl] });
} });
rule({ name: 'nameRelativeToCRLIssuer in the certificate matches a directoryName fullName in the CRL', rule: '§4.2.1.13, §6.3.3 (b)(2)(i)', expected: 'valid', input: async () => {
  const { leaf: pointed } = await pki([cdp(point({ relative: 'CN=partition 1' }))]);
  return base({ leaf: pointed.der, crls: [await makeCrl(issuing, { extensions: [idp({ directoryNames: [appended(ISSUING, 'CN=partition 1')] })] }), rootCrl] });
} });
rule({ name: 'nameRelativeToCRLIssuer names another partition', rule: '§6.3.3 (b)(2)(i)', expected: 'unknown', depth: 0, input: async () => {
  const { leaf: pointed } = await pki([cdp(point({ relative: 'CN=partition 1' }))]);
  return base({ leaf: pointed.der, crls: [await makeCrl(issuing, { extensions: [idp({ relative: 'CN=partition 2' })] }), rootCrl] });
} });
rule({ name: 'a partitioned CRL does not cover a certificate without distribution points', rule: '§6.3.3 (b)(2)(i)', expected: 'unknown', depth: 0, input: async () => base({ crls: [await makeCrl(issuing, { extensions: [idp({ uris: [URI_I] })] }), rootCrl] }) });
rule({ name: 'a CRL without issuingDistributionPoint covers a certificate that names a distribution point', rule: '§6.3.3 (b)(2)', expected: 'valid', input: async () => {
  const { leaf: pointed } = await pki([cdp(point({ uris: [URI_I] }))]);
  return base({ leaf: pointed.der, crls: [issuingCrl, rootCrl] });
} });

// Revocation itself, and the reason codes of §5.3.1.
rule({ name: 'leaf revoked by its issuer', rule: '§6.3.3 (i)', expected: 'revoked', depth: 0, message: /revoked since 2030-05-15T00:00:00Z \(keyCompromise\)/, input: async () => base({ crls: [await makeCrl(issuing, { entries: [{ serial: leaf.serial, reason: CRL_REASON.keyCompromise }] }), rootCrl] }) });
rule({ name: 'issuing CA revoked by the root', rule: '§6.3.3 (i)', expected: 'revoked', depth: 1, input: async () => base({ crls: [issuingCrl, await makeCrl(root, { entries: [{ serial: issuing.serial }] })] }) });
rule({ name: 'certificateHold is revoked for now', rule: '§5.3.1', expected: 'revoked', depth: 0, message: /on hold/, input: async () => base({ crls: [await makeCrl(issuing, { entries: [{ serial: leaf.serial, reason: CRL_REASON.certificateHold }] }), rootCrl] }) });
rule({ name: 'removeFromCRL is not a revocation', rule: '§6.3.3 (j)', expected: 'valid', input: async () => base({ crls: [await makeCrl(issuing, { entries: [{ serial: leaf.serial, reason: CRL_REASON.removeFromCRL }] }), rootCrl] }) });
rule({ name: 'of two usable CRLs, the one that revokes wins', opensslDiffers: 'OpenSSL picks one CRL by its own preference; CoconutPay reads every usable CRL and lets a revocation win', rule: '§6.3.3 (i)', expected: 'revoked', depth: 0, input: async () => base({ crls: [issuingCrl, await makeCrl(issuing, { entries: [{ serial: leaf.serial }] }), rootCrl] }) });
rule({ name: "a serial on another issuer's CRL does not revoke", rule: '§6.3.3 (b)(1)', expected: 'valid', input: async () => base({ crls: [issuingCrl, await makeCrl(root, { entries: [{ serial: leaf.serial }] })] }) });
rule({ name: 'a revoking CRL signed by the wrong key does not revoke (and gives no status)', rule: '§6.3.3 (g)', expected: 'unknown', depth: 0, input: async () => base({ crls: [await makeCrl({ name: ISSUING, keys: await newKeys() }, { entries: [{ serial: leaf.serial }] }), rootCrl] }) });

// §6.3.3 (b)(1), (f) and §5.3.3: indirect CRLs.
let crlIssuer: Issued;
let indirectLeaf: Issued;
const indirectPoint = () => cdp(point({ uris: ['http://crl.example/indirect.crl'], crlIssuer: CRL_ISSUER }));
function indirectBase(crls: Uint8Array[], overrides: Partial<PathValidationInput> = {}): PathValidationInput {
  return base({ leaf: indirectLeaf.der, intermediates: [issuing.der, crlIssuer.der], crls: [...crls, rootCrl], ...overrides });
}
rule({ name: 'indirect CRL by the cRLIssuer of the distribution point', rule: '§6.3.3 (b)(1), (f)', expected: 'valid', input: async () => indirectBase([await makeCrl(crlIssuer, { extensions: [idp({ uris: ['http://crl.example/indirect.crl'], indirect: true })], entries: [{ serial: '7777', certificateIssuer: ISSUING }] })]) });
rule({ name: 'CRL by the cRLIssuer without the indirectCRL flag', rule: '§6.3.3 (b)(1)', expected: 'unknown', depth: 0, input: async () => indirectBase([await makeCrl(crlIssuer, { extensions: [idp({ uris: ['http://crl.example/indirect.crl'] })] })]) });
rule({ name: 'indirect CRL by an issuer the distribution point does not name', rule: '§6.3.3 (b)(1)', expected: 'unknown', depth: 0, input: async () => {
  const stranger = await issue({ name: 'CN=Another CRL Issuer', issuer: root, keyUsage: F.cRLSign });
  return indirectBase([await makeCrl(stranger, { extensions: [idp({ indirect: true })] })], { intermediates: [issuing.der, crlIssuer.der, stranger.der] });
} });
rule({ name: 'indirect CRL revokes through a certificateIssuer entry', rule: '§5.3.3', expected: 'revoked', depth: 0, input: async () => indirectBase([await makeCrl(crlIssuer, { extensions: [idp({ indirect: true })], entries: [{ serial: indirectLeaf.serial, certificateIssuer: ISSUING }] })]) });
rule({ name: 'certificateIssuer carries over to the following entries', rule: '§5.3.3', expected: 'revoked', depth: 0, input: async () => indirectBase([await makeCrl(crlIssuer, { extensions: [idp({ indirect: true })], entries: [{ serial: '7777', certificateIssuer: ISSUING }, { serial: indirectLeaf.serial }] })]) });
rule({ name: "entries before any certificateIssuer are the CRL issuer's own", rule: '§5.3.3', expected: 'valid', input: async () => indirectBase([await makeCrl(crlIssuer, { extensions: [idp({ indirect: true })], entries: [{ serial: indirectLeaf.serial }, { serial: '7777', certificateIssuer: ISSUING }] })]) });
rule({ name: 'certificateIssuer in a CRL that is not indirect', opensslDiffers: 'OpenSSL reads a certificateIssuer entry without checking that the CRL is indirect; RFC 5280 §5.3.3 allows it only there', rule: '§5.3.3', expected: 'unknown', depth: 0, message: /not indirect/, input: async () => base({ crls: [await makeCrl(issuing, { entries: [{ serial: '7777', certificateIssuer: ROOT }] }), rootCrl] }) });
rule({ name: 'indirect CRL issuer certified under another trust anchor', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, message: /no valid path to the same trust anchor/, input: async () => {
  const otherRoot = await issue({ name: 'CN=Unrelated Root', ca: true });
  const impostor = await issue({ name: CRL_ISSUER, issuer: otherRoot, keyUsage: F.cRLSign });
  return indirectBase([await makeCrl(impostor, { extensions: [idp({ indirect: true })] })], { intermediates: [issuing.der, impostor.der, otherRoot.der] });
} });
rule({ name: 'indirect CRL issuer that is itself revoked', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, input: async () => indirectBase([await makeCrl(crlIssuer, { extensions: [idp({ indirect: true })] })], { crls: [await makeCrl(crlIssuer, { extensions: [idp({ indirect: true })] }), await makeCrl(root, { entries: [{ serial: crlIssuer.serial }] })] }) });

// §6.3.3 (f): a separate CRL-signing key of the same CA.
rule({ name: 'separate CRL-signing key certified by the same CA', rule: '§6.3.3 (f)', expected: 'valid', input: async () => {
  const { splitCa, splitLeaf, crlSigner } = await separateKeyPki(root);
  return { ...base(), intermediates: [splitCa.der, crlSigner.der], leaf: splitLeaf.der, crls: [await makeCrl(crlSigner), rootCrl] };
} });
rule({ name: 'revoked through a separate CRL-signing key', rule: '§6.3.3 (f), (i)', expected: 'revoked', depth: 0, input: async () => {
  const { splitCa, splitLeaf, crlSigner } = await separateKeyPki(root);
  return { ...base(), intermediates: [splitCa.der, crlSigner.der], leaf: splitLeaf.der, crls: [await makeCrl(crlSigner, { entries: [{ serial: splitLeaf.serial }] }), rootCrl] };
} });
rule({ name: 'separate CRL-signing key certified by another CA under the same root', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, message: /issued by another CA/, input: async () => {
  const { splitCa, splitLeaf } = await separateKeyPki(root);
  const otherCa = await issue({ name: 'CN=CRL Test Other CA', issuer: root, ca: true });
  const crlSigner = await issue({ name: splitCa.name, issuer: otherCa, keyUsage: F.cRLSign });
  return { ...base(), intermediates: [splitCa.der, otherCa.der, crlSigner.der], leaf: splitLeaf.der, crls: [await makeCrl(crlSigner), rootCrl] };
} });
rule({ name: 'separate CRL-signing key certified by an untrusted root', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, input: async () => {
  const { splitCa, splitLeaf } = await separateKeyPki(root);
  const otherRoot = await issue({ name: ROOT, ca: true });
  const crlSigner = await issue({ name: splitCa.name, issuer: otherRoot, keyUsage: F.cRLSign });
  return { ...base(), intermediates: [splitCa.der, otherRoot.der, crlSigner.der], leaf: splitLeaf.der, crls: [await makeCrl(crlSigner), rootCrl] };
} });
rule({ name: 'separate CRL signer whose keyUsage lacks cRLSign', opensslDiffers: 'the openssl verify command\'s callback lets a CRL-path purpose error pass (it prints \'[CRL path] error 26 ... unsuitable certificate purpose\' and goes on)', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, message: /cRLSign/, input: async () => {
  const { splitCa, splitLeaf } = await separateKeyPki(root);
  const crlSigner = await issue({ name: splitCa.name, issuer: root, keyUsage: F.digitalSignature });
  return { ...base(), intermediates: [splitCa.der, crlSigner.der], leaf: splitLeaf.der, crls: [await makeCrl(crlSigner), rootCrl] };
} });
rule({ name: 'issuer whose keyUsage lacks cRLSign signs its own CRL', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, message: /cRLSign/, input: async () => {
  const { splitCa, splitLeaf } = await separateKeyPki(root);
  return { ...base(), intermediates: [splitCa.der], leaf: splitLeaf.der, crls: [await makeCrl(splitCa), rootCrl] };
} });
rule({ name: 'separate CRL-signing key that is itself revoked', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, input: async () => {
  const { splitCa, splitLeaf, crlSigner } = await separateKeyPki(root);
  return { ...base(), intermediates: [splitCa.der, crlSigner.der], leaf: splitLeaf.der, crls: [await makeCrl(crlSigner), await makeCrl(root, { entries: [{ serial: crlSigner.serial }] })] };
} });

/** An issuing CA that signs certificates only (no cRLSign), its leaf, and a CRL-signing certificate of the same name from the root. */
async function separateKeyPki(parent: Issued): Promise<{ splitCa: Issued; splitLeaf: Issued; crlSigner: Issued }> {
  const splitCa = await issue({ name: `CN=Split CA ${serialCounter}`, issuer: parent, ca: true, keyUsage: F.keyCertSign });
  const splitLeaf = await issue({ name: 'CN=split leaf', issuer: splitCa });
  const crlSigner = await issue({ name: splitCa.name, issuer: parent, keyUsage: F.cRLSign });
  return { splitCa, splitLeaf, crlSigner };
}

// §6.3.3 (f): self-issued key rollover certificates.
interface Rollover {
  oldCa: Issued;
  newCa: Issued;
  newWithOld: Issued;
  oldWithNew: Issued;
  oldKey: Keyed;
  newKey: Keyed;
}

async function rollover(): Promise<Rollover> {
  const name = `CN=Rollover CA ${serialCounter}`;
  const oldKey: Keyed = { name, keys: await newKeys() };
  const newKey: Keyed = { name, keys: await newKeys() };
  const oldCa = await issue({ name, issuer: root, keys: oldKey.keys, ca: true });
  const newCa = await issue({ name, issuer: root, keys: newKey.keys, ca: true });
  const newWithOld = await issue({ name, issuer: oldKey, keys: newKey.keys, ca: true });
  const oldWithNew = await issue({ name, issuer: newKey, keys: oldKey.keys, ca: true });
  return { oldCa, newCa, newWithOld, oldWithNew, oldKey, newKey };
}

rule({ name: 'rollover: leaf under the old key, CRL signed by the new key, new-with-old certificate given', rule: '§6.3.3 (f)', expected: 'valid', input: async () => {
  const r = await rollover();
  const rolledLeaf = await issue({ name: 'CN=rolled leaf', issuer: r.oldKey });
  // The new key's CRL covers end-entity certificates; the old key's covers the CA certificates, the new-with-old one included.
  const crls = [await makeCrl(r.newKey, { extensions: [idp({ onlyUser: true })] }), await makeCrl(r.oldKey, { extensions: [idp({ onlyCa: true })] }), rootCrl];
  return { ...base(), intermediates: [r.oldCa.der, r.newWithOld.der], leaf: rolledLeaf.der, crls };
} });
rule({ name: 'rollover: the same without the new-with-old certificate', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, input: async () => {
  const r = await rollover();
  const rolledLeaf = await issue({ name: 'CN=rolled leaf', issuer: r.oldKey });
  const crls = [await makeCrl(r.newKey, { extensions: [idp({ onlyUser: true })] }), await makeCrl(r.oldKey, { extensions: [idp({ onlyCa: true })] }), rootCrl];
  return { ...base(), intermediates: [r.oldCa.der], leaf: rolledLeaf.der, crls };
} });
rule({ name: 'rollover: leaf under the new key, CRL signed by the old key, old-with-new certificate given', rule: '§6.3.3 (f)', expected: 'valid', input: async () => {
  const r = await rollover();
  const rolledLeaf = await issue({ name: 'CN=rolled leaf', issuer: r.newKey });
  const crls = [await makeCrl(r.oldKey, { extensions: [idp({ onlyUser: true })] }), await makeCrl(r.newKey, { extensions: [idp({ onlyCa: true })] }), rootCrl];
  return { ...base(), intermediates: [r.newCa.der, r.oldWithNew.der], leaf: rolledLeaf.der, crls };
} });
rule({ name: 'rollover: revoked on the CRL of the other key', rule: '§6.3.3 (f), (i)', expected: 'revoked', depth: 0, input: async () => {
  const r = await rollover();
  const rolledLeaf = await issue({ name: 'CN=rolled leaf', issuer: r.newKey });
  const crls = [await makeCrl(r.oldKey, { extensions: [idp({ onlyUser: true })], entries: [{ serial: rolledLeaf.serial }] }), await makeCrl(r.newKey, { extensions: [idp({ onlyCa: true })] }), rootCrl];
  return { ...base(), intermediates: [r.newCa.der, r.oldWithNew.der], leaf: rolledLeaf.der, crls };
} });
rule({ name: 'rollover in the path: leaf → new-with-old → old CA, CRL signed by the old key', rule: '§6.3.3 (f)', expected: 'valid', input: async () => {
  const r = await rollover();
  const rolledLeaf = await issue({ name: 'CN=rolled leaf', issuer: r.newKey });
  return { ...base(), intermediates: [r.newWithOld.der, r.oldCa.der], leaf: rolledLeaf.der, crls: [await makeCrl(r.oldKey), rootCrl] };
} });
rule({ name: 'a key cannot vouch for itself: the new key signs the only CRL covering new-with-old', rule: '§6.3.3 (f)', expected: 'unknown', depth: 0, input: async () => {
  const r = await rollover();
  const rolledLeaf = await issue({ name: 'CN=rolled leaf', issuer: r.oldKey });
  return { ...base(), intermediates: [r.oldCa.der, r.newWithOld.der], leaf: rolledLeaf.der, crls: [await makeCrl(r.newKey), rootCrl] };
} });

beforeAll(async () => {
  root = await issue({ name: ROOT, ca: true });
  issuing = await issue({ name: ISSUING, issuer: root, ca: true });
  leaf = await issue({ name: 'CN=crl test leaf', issuer: issuing });
  crlIssuer = await issue({ name: CRL_ISSUER, issuer: root, keyUsage: F.cRLSign });
  indirectLeaf = await issue({ name: 'CN=indirect leaf', issuer: issuing, extra: [indirectPoint()] });
  rootCrl = await makeCrl(root);
  issuingCrl = await makeCrl(issuing);
});

function verdict(result: PathValidationResult): { expected: Expected; depth?: number } {
  if (result.valid) return { expected: 'valid' };
  const first = result.reasons[0];
  const kind: Expected = first?.code === 'CERTIFICATE_REVOKED' ? 'revoked' : first?.message.startsWith('REVOCATION_UNKNOWN') ? 'unknown' : ('other' as Expected);
  return { expected: kind, ...(first?.depth === undefined ? {} : { depth: first.depth }) };
}

const inputs = new Map<string, PathValidationInput>();

describe('RFC 5280 §6.3 CRL processing in validatePath', () => {
  it('has a valid and an invalid case for the rules it covers', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((entry) => entry.name)).size).toBe(cases.length);
    expect(cases.some((entry) => entry.expected === 'valid')).toBe(true);
    expect(cases.filter((entry) => entry.expected === 'revoked').length).toBeGreaterThanOrEqual(8);
  });

  it.each(cases.map((entry): [string, Case] => [`${entry.rule}: ${entry.name} → ${entry.expected}`, entry]))('%s', async (_, entry) => {
    const input = await entry.input();
    inputs.set(entry.name, input);
    const result = await validatePath(input);
    const got = verdict(result);
    expect(got.expected, JSON.stringify(result.reasons)).toBe(entry.expected);
    if (entry.expected !== 'valid') {
      expect(got.depth, JSON.stringify(result.reasons)).toBe(entry.depth);
      if (entry.message) expect(result.reasons[0]?.message).toMatch(entry.message);
    }
  });
});

describe('parseCrl: entries and extensions', () => {
  it('exposes entries with their dates, reason codes, invalidity dates and certificate issuers, and expiredCertsOnCRL', async () => {
    const der = await makeCrl(crlIssuer, {
      extensions: [idp({ indirect: true }), new x509.Extension('2.5.29.60', false, AsnConvert.serialize(new asn.InvalidityDate(new Date('2029-01-01T00:00:00Z'))))],
      entries: [{ serial: '01', reason: CRL_REASON.certificateHold, invalidity: new Date('2030-05-10T00:00:00Z') }, { serial: '02', certificateIssuer: ISSUING }, { serial: '03' }],
    });
    const crl = parseCrl(der);
    expect(crl.problems).toEqual([]);
    expect(crl.expiredCertsOnCrlSeconds).toBe(Date.parse('2029-01-01T00:00:00Z') / 1000);
    expect(crl.issuingDistributionPoint?.indirectCrl).toBe(true);
    const held = crl.entries.get('01')?.[0];
    expect(held).toMatchObject({ serialHex: '01', revokedAtSeconds: REVOKED_AT.getTime() / 1000, reasonCode: 6, invalidityDateSeconds: Date.parse('2030-05-10T00:00:00Z') / 1000 });
    expect(held?.certificateIssuer).toBeUndefined();
    expect(crl.entries.get('02')?.[0]?.certificateIssuer?.key).toBe(parseCertificate(issuing.der).subject.key);
    // §5.3.3: the certificate issuer carries over to the next entry.
    expect(crl.entries.get('03')?.[0]?.certificateIssuer?.key).toBe(parseCertificate(issuing.der).subject.key);
    expect(findCrlEntry(crl, parseCertificate(issuing.der).subject, '03')?.serialHex).toBe('03');
    expect(findCrlEntry(crl, parseCertificate(crlIssuer.der).subject, '03')).toBeUndefined();
    expect(findCrlEntry(crl, parseCertificate(crlIssuer.der).subject, '01')?.reasonCode).toBe(6);
    expect([...crl.revokedSerials].sort()).toEqual(['01', '02', '03']);
  });

  it('keeps one serial apart per certificate issuer in an indirect CRL', async () => {
    const der = await makeCrl(crlIssuer, { extensions: [idp({ indirect: true })], entries: [{ serial: '05' }, { serial: '06', certificateIssuer: ISSUING }] });
    const crl = parseCrl(der);
    expect(findCrlEntry(crl, parseCertificate(crlIssuer.der).subject, '05')).toBeDefined();
    expect(findCrlEntry(crl, parseCertificate(issuing.der).subject, '05')).toBeUndefined();
    expect(findCrlEntry(crl, parseCertificate(issuing.der).subject, '06')).toBeDefined();
  });

  it('reports delta CRLs, critical freshestCRL, unknown critical extensions and bad reason codes as problems', async () => {
    const delta = parseCrl(await makeCrl(issuing, { extensions: [new x509.Extension('2.5.29.27', true, AsnConvert.serialize(new asn.BaseCRLNumber(1)))] }));
    expect(delta.problems).toContain('delta CRLs are not supported');
    const freshest = new x509.Extension('2.5.29.46', true, AsnConvert.serialize(new asn.FreshestCRL([point({ uris: ['http://crl.example/delta.crl'] })])));
    expect(parseCrl(await makeCrl(issuing, { extensions: [freshest] })).problems.join()).toMatch(/freshestCRL/);
    const nonCritical = parseCrl(await makeCrl(issuing, { extensions: [new x509.Extension('2.5.29.46', false, freshest.value)] }));
    expect(nonCritical.problems).toEqual([]);
    expect(nonCritical.pointsToDeltaCrl).toBe(true);
    const badReason = new x509.Extension('2.5.29.21', false, new Uint8Array([0x0a, 0x01, 0x07]));
    expect(parseCrl(await makeCrl(issuing, { entries: [{ serial: '09', extensions: [badReason] }] })).problems.join()).toMatch(/not a CRLReason/);
  });
});

describe('crlStatusOf: one CRL about one certificate', () => {
  it('says not revoked, for every reason, from a good complete CRL', async () => {
    const status = await crlStatusOf({ crl: issuingCrl, certificate: leaf.der, signer: issuing.der, at: AT });
    expect(status).toMatchObject({ usable: true, revoked: false, entry: undefined, reasonsMask: ALL_REASONS, allReasons: true });
  });

  it('gives the entry with its revocation date when revoked, from DER or parsed input', async () => {
    const der = await makeCrl(issuing, { entries: [{ serial: leaf.serial, reason: CRL_REASON.keyCompromise, invalidity: new Date('2030-05-14T00:00:00Z') }] });
    for (const crl of [der, parseCrl(der)]) {
      const status = await crlStatusOf({ crl, certificate: parseCertificate(leaf.der), signer: parseCertificate(issuing.der), at: AT });
      expect(status).toMatchObject({ usable: true, revoked: true, allReasons: true });
      if (!status.usable) throw new Error('unusable');
      expect(status.entry).toMatchObject({ revokedAtSeconds: REVOKED_AT.getTime() / 1000, reasonCode: 1, invalidityDateSeconds: Date.parse('2030-05-14T00:00:00Z') / 1000 });
    }
  });

  it('counts a hold as revoked and removeFromCRL as not revoked, with the entry either way', async () => {
    const held = await crlStatusOf({ crl: await makeCrl(issuing, { entries: [{ serial: leaf.serial, reason: CRL_REASON.certificateHold }] }), certificate: leaf.der, signer: issuing.der, at: AT });
    expect(held).toMatchObject({ usable: true, revoked: true, entry: { reasonCode: 6 } });
    const removed = await crlStatusOf({ crl: await makeCrl(issuing, { entries: [{ serial: leaf.serial, reason: CRL_REASON.removeFromCRL }] }), certificate: leaf.der, signer: issuing.der, at: AT });
    expect(removed).toMatchObject({ usable: true, revoked: false, entry: { reasonCode: 8 } });
  });

  it('reports partial reason coverage', async () => {
    const status = await crlStatusOf({ crl: await makeCrl(issuing, { extensions: [idp({ onlySomeReasons: SOME })] }), certificate: leaf.der, signer: issuing.der, at: AT });
    expect(status).toMatchObject({ usable: true, reasonsMask: SOME, allReasons: false });
  });

  it('is unusable with the wrong signer, out of scope, stale, or undecodable, and never throws', async () => {
    expect(await crlStatusOf({ crl: issuingCrl, certificate: leaf.der, signer: root.der, at: AT })).toMatchObject({ usable: false });
    const impostor = await issue({ name: ISSUING, issuer: root, ca: true });
    expect(await crlStatusOf({ crl: issuingCrl, certificate: leaf.der, signer: impostor.der, at: AT })).toMatchObject({ usable: false });
    expect(await crlStatusOf({ crl: rootCrl, certificate: leaf.der, signer: root.der, at: AT })).toMatchObject({ usable: false });
    expect(await crlStatusOf({ crl: issuingCrl, certificate: leaf.der, signer: issuing.der, at: new Date('2030-08-01T00:00:00Z') })).toMatchObject({ usable: false, problems: [expect.stringMatching(/stale/)] });
    expect(await crlStatusOf({ crl: new Uint8Array([1, 2, 3]), certificate: leaf.der, signer: issuing.der, at: AT })).toMatchObject({ usable: false });
    expect(await crlStatusOf({ crl: issuingCrl, certificate: leaf.der, signer: issuing.der, at: new Date(Number.NaN) })).toMatchObject({ usable: false });
  });
});

const opensslAvailable = spawnSync('openssl', ['version']).status === 0;
if (!opensslAvailable) process.stderr.write('\n*** SKIPPED: OpenSSL CRL agreement — no `openssl` on PATH ***\n\n');

describe.skipIf(!opensslAvailable)('OpenSSL agrees (openssl verify -crl_check_all -extended_crl)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'coconutpay-crl-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  const pem = (der: Uint8Array, label: string): string => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
  const agreeing = cases.filter((entry) => entry.rule !== 'mode');

  it('puts most of the table to OpenSSL, and OpenSSL agrees on most of it', () => {
    expect(agreeing.length).toBeGreaterThanOrEqual(50);
    expect(agreeing.filter((entry) => entry.opensslDiffers).length).toBeLessThanOrEqual(6);
  });

  it.each(agreeing.map((entry): [string, Case] => [entry.name, entry]))('%s', async (name, entry) => {
    const input = inputs.get(name) ?? (await entry.input());
    expect(input.revocation).toBe('require');
    const dir = mkdtempSync(path.join(work, 'case-'));
    const file = (base: string, text: string): string => {
      const target = path.join(dir, base);
      writeFileSync(target, text);
      return target;
    };
    const args = ['verify', '-crl_check_all', '-extended_crl', '-attime', String(Math.floor(input.at.getTime() / 1000)), '-purpose', 'any'];
    args.push('-CAfile', file('anchors.pem', input.trustAnchors.map((der) => pem(der, 'CERTIFICATE')).join('')));
    if ((input.intermediates ?? []).length > 0) args.push('-untrusted', file('untrusted.pem', (input.intermediates ?? []).map((der) => pem(der, 'CERTIFICATE')).join('')));
    (input.crls ?? []).forEach((der, index) => args.push('-CRLfile', file(`crl-${index}.pem`, pem(der, 'X509 CRL'))));
    args.push(file('leaf.pem', pem(input.leaf, 'CERTIFICATE')));
    const result = spawnSync('openssl', args, { encoding: 'utf8' });
    const opensslValid = result.status === 0;
    const agreed = opensslValid === (entry.expected === 'valid');
    if (entry.opensslDiffers) expect(agreed, `OpenSSL now agrees; drop opensslDiffers (${entry.opensslDiffers})`).toBe(false);
    else expect(agreed, `${result.stdout}${result.stderr}`).toBe(true);
  });
});
