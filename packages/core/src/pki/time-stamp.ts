/**
 * RFC 3161 time-stamps: the request a client sends, the token a time-stamp
 * authority (TSA) answers with, and the verifier that decides what a token proves.
 *
 * A token is a CMS SignedData (RFC 5652) whose content is a TSTInfo: the digest of
 * the stamped data (the message imprint), the TSA's time (genTime), a serial
 * number and the TSA's policy. CoconutPay's TSA stamps the signature value of each
 * payment's evidence (CAdES `signatureTimeStampToken`), so a signature keeps
 * verifying after the payer's certificate expires: what counts is the time the
 * token proves.
 *
 * Everything here is pure DER: no clock, no randomness, WebCrypto for digests and
 * signature checks. The server's TSA (apps/server) adds the clock, the serial
 * numbers and the signing key, and uses {@link timeStampAuthorityProfile},
 * {@link encodeTstInfo}, {@link timeStampSignedAttributes} and
 * {@link assembleTimeStampToken} to lay out the bytes.
 *
 * @example
 * const query = timeStampRequest({ digest: sha256OfData, nonce: randomBytes, certReq: true });
 * // POST query to /pki/tsa as application/timestamp-query, then:
 * const { token } = parseTimeStampResponse(replyDer);
 * const verdict = await verifyTimeStampToken(token!, { trustAnchors: [rootDer], expectedImprint: sha256OfData, expectedNonce: randomBytes });
 */
import { concatBytes, derOctetString, derOid, derSequence, derSetOf, derSmallInteger, derUtf8String, flatten, pending, tlv } from './der-writer.js';
import {
  bytesEqual,
  children,
  content,
  DerError,
  type DerElement,
  encoding,
  expectUniversal,
  isContext,
  isUniversal,
  readBitString,
  readBoolean,
  readIntegerBytes,
  readOid,
  readRoot,
  readSmallInteger,
  readString,
  sequence,
  TAG,
  toHex,
} from './path-der.js';
import { parseCertificate, type ParsedCertificate } from './path-certificate.js';
import { namesEqual, readDistinguishedName } from './path-names.js';
import { ecdsaDerToRaw, readPublicKeyInfo } from './path-signature.js';
import { validatePath } from './validate-path.js';

/** Object identifiers of RFC 3161, RFC 5035 and the algorithms a token may use. */
export const OID_TSP = {
  /** id-ct-TSTInfo: the eContentType of a time-stamp token. */
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  /** id-aa-signingCertificate (RFC 2634, ESSCertID with SHA-1). */
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  /** id-aa-signingCertificateV2 (RFC 5035). */
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  /** id-aa-signatureTimeStampToken: where a token over a signature value sits in CAdES evidence. */
  signatureTimeStampToken: '1.2.840.113549.1.9.16.2.14',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
} as const;

/** Hash algorithms a message imprint may use, with their digest lengths in bytes. SHA-1 is refused. */
export const IMPRINT_HASH_LENGTHS: Readonly<Record<string, number>> = {
  [OID_TSP.sha256]: 32,
  [OID_TSP.sha384]: 48,
  [OID_TSP.sha512]: 64,
};

/** PKIStatus values (RFC 3161 §2.4.2). */
export const PKI_STATUS = { granted: 0, grantedWithMods: 1, rejection: 2, waiting: 3, revocationWarning: 4, revocationNotification: 5 } as const;

/** PKIFailureInfo bit numbers (RFC 3161 §2.4.2). */
export const PKI_FAILURE = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;

/** A PKIFailureInfo name. */
export type PkiFailure = keyof typeof PKI_FAILURE;

/** Largest time-stamp request read, in bytes (a request is about 60 bytes). */
export const TIME_STAMP_REQUEST_LENGTH_MAX = 8 * 1024;
/** Largest time-stamp token or response read, in bytes (ours are about 1.5 KB with two certificates). */
export const TIME_STAMP_TOKEN_LENGTH_MAX = 64 * 1024;
/** Longest nonce accepted, in INTEGER content octets (RFC 3161 suggests 64 bits). */
export const NONCE_OCTETS_MAX = 32;
/** Most certificates, attributes, ESS certificate ids or extensions read from one token. */
const LIST_ITEMS_MAX = 16;

const HASH_NAMES: Readonly<Record<string, 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512'>> = {
  [OID_TSP.sha1]: 'SHA-1',
  [OID_TSP.sha256]: 'SHA-256',
  [OID_TSP.sha384]: 'SHA-384',
  [OID_TSP.sha512]: 'SHA-512',
};

/** Signature algorithms a token may be signed with: the curve they need, and the hash. */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { curve: 'P-256' | 'P-384'; hashOid: string; scalarBytes: number }>> = {
  [OID_TSP.ecdsaWithSha256]: { curve: 'P-256', hashOid: OID_TSP.sha256, scalarBytes: 32 },
  [OID_TSP.ecdsaWithSha384]: { curve: 'P-384', hashOid: OID_TSP.sha384, scalarBytes: 48 },
};

async function digest(hashOid: string, bytes: Uint8Array): Promise<Uint8Array> {
  const name = HASH_NAMES[hashOid];
  if (!name) throw new DerError(`hash ${hashOid} is not supported`);
  return new Uint8Array(await crypto.subtle.digest(name, bytes as Uint8Array<ArrayBuffer>));
}

/** The content octets of a minimal non-negative INTEGER holding `magnitude` (big-endian, unsigned). */
function unsignedIntegerContent(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return new Uint8Array([0]);
  return ((trimmed[0] as number) & 0x80) !== 0 ? concatBytes([new Uint8Array([0]), trimmed]) : new Uint8Array(trimmed);
}

/** The content octets of a minimal INTEGER holding `value` (two's complement). */
function bigintIntegerContent(value: bigint): Uint8Array {
  const octets: number[] = [];
  let v = value;
  for (;;) {
    const octet = Number(v & 0xffn);
    octets.unshift(octet);
    v >>= 8n;
    if ((v === 0n && (octet & 0x80) === 0) || (v === -1n && (octet & 0x80) !== 0)) break;
  }
  return new Uint8Array(octets);
}

/** A nonce as INTEGER content octets: bytes are read as an unsigned number, a bigint as itself. */
function nonceContent(nonce: Uint8Array | bigint): Uint8Array {
  return typeof nonce === 'bigint' ? bigintIntegerContent(nonce) : unsignedIntegerContent(nonce);
}

/** `AlgorithmIdentifier` of a hash, without parameters (RFC 5754 §2). */
function hashAlgorithm(hashOid: string): Uint8Array<ArrayBuffer> {
  return derSequence(derOid(hashOid));
}

/**
 * DER `MessageImprint ::= SEQUENCE { hashAlgorithm, hashedMessage }`.
 *
 * @example
 * const imprint = encodeMessageImprint(OID_TSP.sha256, sha256OfSignatureValue);
 */
export function encodeMessageImprint(hashOid: string, digestBytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return derSequence(hashAlgorithm(hashOid), derOctetString(digestBytes));
}

/** What {@link timeStampRequest} encodes. */
export interface TimeStampRequestInput {
  /** The digest of the data to stamp. */
  digest: Uint8Array;
  /** Its hash algorithm; default SHA-256. */
  hashOid?: string;
  /** A fresh random value (bytes are read as an unsigned number); the token echoes it. */
  nonce?: Uint8Array | bigint;
  /** Ask the TSA to put its certificate in the token. */
  certReq: boolean;
  /** A TSA policy the token must be issued under. */
  reqPolicy?: string;
}

/**
 * A DER `TimeStampReq` (RFC 3161 §2.4.1), the body of `application/timestamp-query`.
 *
 * @example
 * const query = timeStampRequest({ digest: await sha256(data), nonce: crypto.getRandomValues(new Uint8Array(8)), certReq: true });
 */
export function timeStampRequest(input: TimeStampRequestInput): Uint8Array<ArrayBuffer> {
  const hashOid = input.hashOid ?? OID_TSP.sha256;
  const expectedLength = IMPRINT_HASH_LENGTHS[hashOid];
  if (expectedLength !== undefined && input.digest.length !== expectedLength) throw new RangeError(`a digest of ${hashOid} is ${expectedLength} bytes`);
  const parts: Uint8Array[] = [derSmallInteger(1), encodeMessageImprint(hashOid, input.digest)];
  if (input.reqPolicy) parts.push(derOid(input.reqPolicy));
  if (input.nonce !== undefined) {
    const nonce = nonceContent(input.nonce);
    if (nonce.length > NONCE_OCTETS_MAX) throw new RangeError(`a nonce has at most ${NONCE_OCTETS_MAX} octets`);
    parts.push(tlv(0x02, nonce));
  }
  // certReq DEFAULT FALSE: DER leaves the default out.
  if (input.certReq) parts.push(new Uint8Array([0x01, 0x01, 0xff]));
  return derSequence(...parts);
}

/** One extension as read. */
export interface TimeStampExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

/** A `TimeStampReq`, read without judging it. */
export interface ParsedTimeStampRequest {
  version: number;
  hashOid: string;
  /** False when the hash AlgorithmIdentifier carries parameters other than NULL. */
  hashParametersAcceptable: boolean;
  digest: Uint8Array;
  /** The request's MessageImprint exactly as sent: the token repeats it. */
  messageImprintDer: Uint8Array;
  reqPolicy: string | undefined;
  /** The nonce's INTEGER content octets, as sent. */
  nonce: Uint8Array | undefined;
  certReq: boolean;
  extensions: TimeStampExtension[];
}

function readExtensions(element: DerElement): TimeStampExtension[] {
  const list = children(element);
  if (list.length === 0) throw new DerError('extensions: present but empty');
  if (list.length > LIST_ITEMS_MAX) throw new DerError('extensions: too many');
  return list.map((item) => {
    const fields = sequence(item, 'Extension');
    const oid = readOid(fields[0], 'extnID');
    let index = 1;
    let critical = false;
    if (fields[index] && isUniversal(fields[index]!, TAG.boolean)) critical = readBoolean(fields[index++], 'critical');
    const value = content(expectUniversal(fields[index++], TAG.octetString, 'extnValue'));
    if (fields[index]) throw new DerError('Extension: too many fields');
    return { oid, critical, value };
  });
}

function readMessageImprint(element: DerElement | undefined): { hashOid: string; hashParametersAcceptable: boolean; digest: Uint8Array; der: Uint8Array } {
  const [algorithm, hashed, extra] = sequence(element, 'MessageImprint');
  if (extra) throw new DerError('MessageImprint: too many fields');
  const [oidElement, parameters, more] = sequence(algorithm, 'hashAlgorithm');
  if (more) throw new DerError('hashAlgorithm: too many fields');
  const hashOid = readOid(oidElement, 'hashAlgorithm');
  const hashParametersAcceptable = !parameters || (isUniversal(parameters, TAG.null) && parameters.end === parameters.contentStart);
  const digestBytes = content(expectUniversal(hashed, TAG.octetString, 'hashedMessage'));
  return { hashOid, hashParametersAcceptable, digest: digestBytes, der: encoding(element!) };
}

/**
 * Reads a DER `TimeStampReq`. Throws {@link DerError} when the bytes are not one;
 * whether the request is acceptable (hash, policy, extensions) is the TSA's call.
 */
export function parseTimeStampRequest(der: Uint8Array): ParsedTimeStampRequest {
  if (der.length > TIME_STAMP_REQUEST_LENGTH_MAX) throw new DerError('the request is too large');
  const fields = sequence(readRoot(der), 'TimeStampReq');
  const version = readSmallInteger(fields[0], 'version');
  const imprint = readMessageImprint(fields[1]);
  let index = 2;
  let reqPolicy: string | undefined;
  let nonce: Uint8Array | undefined;
  let certReq = false;
  let extensions: TimeStampExtension[] = [];
  if (fields[index] && isUniversal(fields[index]!, TAG.oid)) reqPolicy = readOid(fields[index++], 'reqPolicy');
  if (fields[index] && isUniversal(fields[index]!, TAG.integer)) nonce = readIntegerBytes(fields[index++], 'nonce');
  // An explicit FALSE is not DER, but it says the same as the default; it is taken.
  if (fields[index] && isUniversal(fields[index]!, TAG.boolean)) certReq = readBoolean(fields[index++], 'certReq');
  if (fields[index] && isContext(fields[index]!, 0)) extensions = readExtensions(fields[index++]!);
  if (fields[index]) throw new DerError('TimeStampReq: unexpected field');
  return { version, hashOid: imprint.hashOid, hashParametersAcceptable: imprint.hashParametersAcceptable, digest: imprint.digest, messageImprintDer: imprint.der, reqPolicy, nonce, certReq, extensions };
}

// ---------------------------------------------------------------------------
// The TSA side: constant parts encoded once, then a few bytes per token.
// ---------------------------------------------------------------------------

/** How exact genTime is (RFC 3161 `Accuracy`); each part optional. */
export interface TimeStampAccuracy {
  seconds?: number;
  /** 1 to 999. */
  millis?: number;
  /** 1 to 999. */
  micros?: number;
}

/** What {@link timeStampAuthorityProfile} needs. */
export interface TimeStampAuthorityProfileInput {
  /** The TSA certificate, DER (ECDSA P-256). */
  certificate: Uint8Array;
  /** Certificates carried after it when the request asks for certificates (the issuing CA). */
  otherCertificates?: readonly Uint8Array[];
  policyOid: string;
  accuracy: TimeStampAccuracy;
  /** Name the TSA (its certificate's subject) in TSTInfo's `tsa` field. Default true. */
  includeTsaName?: boolean;
}

/** One TSA's constant DER pieces, built once by {@link timeStampAuthorityProfile}. */
export interface TimeStampAuthorityProfile {
  readonly policyOid: string;
  /** version and policy. */
  readonly tstInfoHead: Uint8Array;
  readonly accuracy: Uint8Array;
  /** The `tsa` field, or empty. */
  readonly tsaName: Uint8Array;
  readonly contentTypeAttribute: Uint8Array;
  readonly signingCertificateAttribute: Uint8Array;
  /** messageDigest attribute up to the 32 digest octets. */
  readonly messageDigestAttributeHead: Uint8Array;
  /** SignerInfo version, sid and digestAlgorithm. */
  readonly signerInfoHead: Uint8Array;
  readonly signatureAlgorithm: Uint8Array;
  /** SignedData version, digestAlgorithms. */
  readonly signedDataHead: Uint8Array;
  readonly eContentType: Uint8Array;
  /** `[0] IMPLICIT CertificateSet`: the TSA certificate and the others. */
  readonly certificates: Uint8Array;
}

function encodeAccuracy(accuracy: TimeStampAccuracy): Uint8Array {
  const parts: Uint8Array[] = [];
  const check = (value: number, min: number, max: number, what: string) => {
    if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`accuracy ${what} must be an integer from ${min} to ${max}`);
  };
  if (accuracy.seconds !== undefined) {
    check(accuracy.seconds, 0, 2 ** 31 - 1, 'seconds');
    parts.push(derSmallInteger(accuracy.seconds));
  }
  if (accuracy.millis !== undefined) {
    check(accuracy.millis, 1, 999, 'millis');
    parts.push(tlv(0x80, content(readRoot(derSmallInteger(accuracy.millis)))));
  }
  if (accuracy.micros !== undefined) {
    check(accuracy.micros, 1, 999, 'micros');
    parts.push(tlv(0x81, content(readRoot(derSmallInteger(accuracy.micros)))));
  }
  if (parts.length === 0) throw new RangeError('accuracy needs seconds, millis or micros');
  return derSequence(...parts);
}

/**
 * Encodes a TSA's constant parts: TSTInfo's version, policy, accuracy and `tsa`;
 * the signed attributes contentType and ESS signing-certificate-v2 (RFC 5035:
 * SHA-256 of the TSA certificate, the default hash algorithm left out as DER
 * demands, and issuerSerial); the SignerInfo's identifier and algorithms; the
 * certificates. Tokens are then ECDSA P-256 with SHA-256.
 */
export async function timeStampAuthorityProfile(input: TimeStampAuthorityProfileInput): Promise<TimeStampAuthorityProfile> {
  const certificate = parseCertificate(input.certificate);
  if (certificate.publicKey?.kind !== 'ec' || certificate.publicKey.curve !== 'P-256') throw new RangeError('the TSA key must be ECDSA P-256');
  const certHash = await digest(OID_TSP.sha256, input.certificate);
  const serialInteger = tlv(0x02, certificate.serial);
  const issuerSerial = derSequence(derSequence(tlv(0xa4, certificate.issuer.der)), serialInteger);
  const essCertIdV2 = derSequence(derOctetString(certHash), issuerSerial);
  const signingCertificateV2 = derSequence(derSequence(essCertIdV2));
  const attribute = (oid: string, value: Uint8Array) => derSequence(derOid(oid), derSetOf([value]));
  const zeroDigest = attribute(OID_TSP.messageDigest, derOctetString(new Uint8Array(32)));
  const tsaName = input.includeTsaName === false ? new Uint8Array(0) : tlv(0xa0, tlv(0xa4, certificate.subject.der));
  return {
    policyOid: input.policyOid,
    tstInfoHead: concatBytes([derSmallInteger(1), derOid(input.policyOid)]),
    accuracy: encodeAccuracy(input.accuracy),
    tsaName,
    contentTypeAttribute: attribute(OID_TSP.contentType, derOid(OID_TSP.tstInfo)),
    signingCertificateAttribute: attribute(OID_TSP.signingCertificateV2, signingCertificateV2),
    messageDigestAttributeHead: zeroDigest.subarray(0, zeroDigest.length - 32),
    signerInfoHead: concatBytes([derSmallInteger(1), derSequence(certificate.issuer.der, serialInteger), hashAlgorithm(OID_TSP.sha256)]),
    signatureAlgorithm: derSequence(derOid(OID_TSP.ecdsaWithSha256)),
    signedDataHead: concatBytes([derSmallInteger(3), derSetOf([hashAlgorithm(OID_TSP.sha256)])]),
    eContentType: derOid(OID_TSP.tstInfo),
    certificates: tlv(0xa0, input.certificate, ...(input.otherCertificates ?? [])),
  };
}

const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * DER GeneralizedTime as RFC 3161 §2.4.2 writes genTime: UTC, `Z`, the millisecond
 * fraction without trailing zeros, no fraction at all when it is zero.
 *
 * @example
 * encodeGeneralizedTime(Date.UTC(2026, 0, 2, 3, 4, 5, 120)); // "20260102030405.12Z"
 */
export function encodeGeneralizedTime(timeMs: number): Uint8Array<ArrayBuffer> {
  const date = new Date(timeMs);
  const year = date.getUTCFullYear();
  if (!Number.isFinite(timeMs) || year < 1970 || year > 9999) throw new RangeError('genTime must be between 1970 and 9999');
  let text = `${year}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}`;
  const millis = date.getUTCMilliseconds();
  if (millis !== 0) text += `.${String(millis).padStart(3, '0').replace(/0+$/, '')}`;
  text += 'Z';
  const bytes = new Uint8Array(2 + text.length);
  bytes[0] = TAG.generalizedTime;
  bytes[1] = text.length;
  for (let i = 0; i < text.length; i++) bytes[2 + i] = text.charCodeAt(i);
  return bytes;
}

/** The per-token fields of a TSTInfo. */
export interface TstInfoFields {
  /** The MessageImprint (DER): the request's, as sent. */
  messageImprintDer: Uint8Array;
  /** The serial number's INTEGER content octets (positive, minimal); unique per TSA. */
  serial: Uint8Array;
  genTimeMs: number;
  /** The request's nonce, INTEGER content octets, echoed. */
  nonce?: Uint8Array;
}

/** The DER TSTInfo of one token. */
export function encodeTstInfo(profile: TimeStampAuthorityProfile, fields: TstInfoFields): Uint8Array<ArrayBuffer> {
  return flatten(
    pending(
      0x30,
      profile.tstInfoHead,
      fields.messageImprintDer,
      pending(0x02, fields.serial),
      encodeGeneralizedTime(fields.genTimeMs),
      profile.accuracy,
      // ordering DEFAULT FALSE is left out.
      ...(fields.nonce ? [pending(0x02, fields.nonce)] : []),
      profile.tsaName,
    ),
  );
}

/**
 * The DER `SET OF Attribute` the TSA signs: contentType id-ct-TSTInfo,
 * messageDigest = SHA-256(TSTInfo), signing-certificate-v2.
 */
export function timeStampSignedAttributes(profile: TimeStampAuthorityProfile, tstInfoSha256: Uint8Array): Uint8Array<ArrayBuffer> {
  if (tstInfoSha256.length !== 32) throw new RangeError('the TSTInfo digest is a SHA-256 digest');
  return derSetOf([profile.contentTypeAttribute, concatBytes([profile.messageDigestAttributeHead, tstInfoSha256]), profile.signingCertificateAttribute]);
}

/** What {@link assembleTimeStampToken} wraps. */
export interface TimeStampTokenParts {
  tstInfoDer: Uint8Array;
  /** Exactly what {@link timeStampSignedAttributes} returned and the TSA signed. */
  signedAttributesDer: Uint8Array;
  /** ECDSA signature, DER `Ecdsa-Sig-Value`. */
  signatureDer: Uint8Array;
  /** Carry the TSA certificate and the others (certReq). */
  includeCertificates: boolean;
}

/** The DER TimeStampToken: ContentInfo holding the SignedData over the TSTInfo. */
export function assembleTimeStampToken(profile: TimeStampAuthorityProfile, parts: TimeStampTokenParts): Uint8Array<ArrayBuffer> {
  // In SignerInfo the signed SET is tagged [0] IMPLICIT: same content, tag 0xa0.
  const attributes = pending(0xa0, content(readRoot(parts.signedAttributesDer)));
  const signerInfo = pending(0x30, profile.signerInfoHead, attributes, profile.signatureAlgorithm, pending(0x04, parts.signatureDer));
  const signedData = pending(
    0x30,
    profile.signedDataHead,
    pending(0x30, profile.eContentType, pending(0xa0, pending(0x04, parts.tstInfoDer))),
    ...(parts.includeCertificates ? [profile.certificates] : []),
    pending(0x31, signerInfo),
  );
  return flatten(pending(0x30, derOid(OID_TSP.signedData), pending(0xa0, signedData)));
}

/** A `BIT STRING` with one named bit set (X.690 §11.2.2: no trailing zero bits). */
function namedBit(bit: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(2 + (bit >> 3));
  bytes[0] = 7 - (bit & 7);
  bytes[1 + (bit >> 3)] = 0x80 >> (bit & 7);
  return tlv(0x03, bytes);
}

/**
 * A DER `TimeStampResp`: granted with the token, or a rejection naming the failure
 * and saying why in a sentence.
 */
export function timeStampResponse(result: { token: Uint8Array } | { failure: PkiFailure; text: string }): Uint8Array<ArrayBuffer> {
  if ('token' in result) return derSequence(derSequence(derSmallInteger(PKI_STATUS.granted)), result.token);
  return derSequence(derSequence(derSmallInteger(PKI_STATUS.rejection), derSequence(derUtf8String(result.text)), namedBit(PKI_FAILURE[result.failure])));
}

/** A `TimeStampResp`, read. */
export interface ParsedTimeStampResponse {
  status: number;
  statusStrings: string[];
  failures: PkiFailure[];
  /** The token's DER, when one came. */
  token: Uint8Array | undefined;
}

/** Reads a DER `TimeStampResp`. Throws {@link DerError} when it is not one. */
export function parseTimeStampResponse(der: Uint8Array): ParsedTimeStampResponse {
  if (der.length > TIME_STAMP_TOKEN_LENGTH_MAX) throw new DerError('the response is too large');
  const [statusInfo, token, extra] = sequence(readRoot(der), 'TimeStampResp');
  if (extra) throw new DerError('TimeStampResp: too many fields');
  const fields = sequence(statusInfo, 'PKIStatusInfo');
  const status = readSmallInteger(fields[0], 'status');
  let index = 1;
  const statusStrings: string[] = [];
  if (fields[index] && isUniversal(fields[index]!, TAG.sequence)) {
    for (const text of sequence(fields[index++], 'PKIFreeText')) statusStrings.push(readString(expectUniversal(text, TAG.utf8String, 'PKIFreeText')));
  }
  const failures: PkiFailure[] = [];
  if (fields[index] && isUniversal(fields[index]!, TAG.bitString)) {
    const bits = readBitString(fields[index++], 'failInfo');
    for (const [name, bit] of Object.entries(PKI_FAILURE) as [PkiFailure, number][]) {
      if ((bit >> 3) < bits.bytes.length && ((bits.bytes[bit >> 3] as number) & (0x80 >> (bit & 7))) !== 0) failures.push(name);
    }
  }
  if (fields[index]) throw new DerError('PKIStatusInfo: unexpected field');
  if (token) expectUniversal(token, TAG.sequence, 'timeStampToken');
  return { status, statusStrings, failures, token: token ? encoding(token) : undefined };
}

// ---------------------------------------------------------------------------
// Reading and verifying tokens.
// ---------------------------------------------------------------------------

/** One ESSCertID or ESSCertIDv2. */
export interface EssCertificateId {
  /** 1: signing-certificate (SHA-1); 2: signing-certificate-v2. */
  version: 1 | 2;
  hashOid: string;
  hash: Uint8Array;
  issuerSerial: { directoryNames: Uint8Array[]; serial: Uint8Array } | undefined;
}

/** What a TSTInfo says. */
export interface TstInfo {
  version: number;
  policyOid: string;
  hashOid: string;
  digest: Uint8Array;
  serial: Uint8Array;
  serialHex: string;
  /** genTime in milliseconds since the epoch (a finer fraction is cut off). */
  genTimeMs: number;
  /** genTime as written. */
  genTimeText: string;
  /** seconds + millis + micros, in seconds; undefined when the token states none. */
  accuracySeconds: number | undefined;
  ordering: boolean;
  /** INTEGER content octets. */
  nonce: Uint8Array | undefined;
  /** The `tsa` GeneralName, DER. */
  tsaName: Uint8Array | undefined;
  extensions: TimeStampExtension[];
}

/** A time-stamp token, read without judging it. */
export interface ParsedTimeStampToken {
  /** The encapsulated TSTInfo, DER: what messageDigest covers. */
  tstInfoDer: Uint8Array;
  tstInfo: TstInfo;
  certificates: Uint8Array[];
  signer: { issuerDer: Uint8Array; serial: Uint8Array } | { subjectKeyId: Uint8Array };
  digestAlgorithmOid: string;
  /** The signed attributes re-tagged as the SET that was signed. */
  signedAttributesDer: Uint8Array;
  signatureAlgorithmOid: string;
  signatureDer: Uint8Array;
  contentTypeOid: string;
  messageDigest: Uint8Array;
  /** ESSCertIDs of signing-certificate-v2 then of signing-certificate, each list in its own order. */
  essCertificateIds: EssCertificateId[];
}

/**
 * Reads GeneralizedTime as RFC 3161 allows it for genTime: `YYYYMMDDhhmmss[.f…]Z`,
 * with no trailing zero in the fraction (X.690 §11.7).
 */
function readGeneralizedTimeMs(element: DerElement | undefined): { ms: number; text: string } {
  const bytes = content(expectUniversal(element, TAG.generalizedTime, 'genTime'));
  let text = '';
  for (const octet of bytes) text += String.fromCharCode(octet);
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(text);
  if (!match) throw new DerError('genTime: must be YYYYMMDDhhmmss[.fraction]Z');
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) throw new DerError('genTime: out of range');
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number((match[7] ?? '').slice(0, 3).padEnd(3, '0')));
  if (date.getUTCDate() !== day) throw new DerError('genTime: no such day');
  return { ms: date.getTime(), text };
}

function readAccuracy(element: DerElement): number {
  let seconds = 0;
  let millis = 0;
  let micros = 0;
  let last = -1;
  for (const field of children(element)) {
    const order = isUniversal(field, TAG.integer) ? 0 : isContext(field, 0) ? 1 : isContext(field, 1) ? 2 : -1;
    if (order <= last) throw new DerError('Accuracy: unexpected field');
    last = order;
    if (order === 0) seconds = readSmallInteger(field, 'accuracy seconds');
    else {
      // [0] and [1] IMPLICIT INTEGER (1..999): one or two content octets, positive, minimal.
      const bytes = content(field);
      if (field.constructed || bytes.length === 0 || bytes.length > 2 || (bytes.length === 2 && bytes[0] === 0 && ((bytes[1] as number) & 0x80) === 0)) {
        throw new DerError('Accuracy: millis and micros must be minimal INTEGERs');
      }
      const value = bytes.length === 1 ? (bytes[0] as number) : (bytes[0] as number) * 256 + (bytes[1] as number);
      if (value < 1 || value > 999) throw new DerError('Accuracy: millis and micros are 1 to 999');
      if (order === 1) millis = value;
      else micros = value;
    }
  }
  return seconds + millis / 1e3 + micros / 1e6;
}

function readTstInfo(der: Uint8Array): TstInfo {
  const fields = sequence(readRoot(der), 'TSTInfo');
  const version = readSmallInteger(fields[0], 'version');
  const policyOid = readOid(fields[1], 'policy');
  const imprint = readMessageImprint(fields[2]);
  const serial = readIntegerBytes(fields[3], 'serialNumber');
  const genTime = readGeneralizedTimeMs(fields[4]);
  let index = 5;
  let accuracySeconds: number | undefined;
  let ordering = false;
  let nonce: Uint8Array | undefined;
  let tsaName: Uint8Array | undefined;
  let extensions: TimeStampExtension[] = [];
  if (fields[index] && isUniversal(fields[index]!, TAG.sequence)) accuracySeconds = readAccuracy(fields[index++]!);
  if (fields[index] && isUniversal(fields[index]!, TAG.boolean)) ordering = readBoolean(fields[index++], 'ordering');
  if (fields[index] && isUniversal(fields[index]!, TAG.integer)) nonce = readIntegerBytes(fields[index++], 'nonce');
  if (fields[index] && isContext(fields[index]!, 0)) {
    const [name, more] = children(fields[index++]!);
    if (!name || more) throw new DerError('tsa: one GeneralName expected');
    tsaName = encoding(name);
  }
  if (fields[index] && isContext(fields[index]!, 1)) extensions = readExtensions(fields[index++]!);
  if (fields[index]) throw new DerError('TSTInfo: unexpected field');
  return {
    version, policyOid, hashOid: imprint.hashOid, digest: imprint.digest, serial, serialHex: toHex(serial),
    genTimeMs: genTime.ms, genTimeText: genTime.text, accuracySeconds, ordering, nonce, tsaName, extensions,
  };
}

function readIssuerSerial(element: DerElement | undefined): EssCertificateId['issuerSerial'] {
  if (!element) return undefined;
  const [names, serialElement, extra] = sequence(element, 'IssuerSerial');
  if (extra) throw new DerError('IssuerSerial: too many fields');
  const directoryNames: Uint8Array[] = [];
  for (const name of sequence(names, 'GeneralNames')) {
    if (!isContext(name, 4)) continue;
    const [dn] = children(name);
    if (dn) directoryNames.push(encoding(expectUniversal(dn, TAG.sequence, 'directoryName')));
  }
  return { directoryNames, serial: readIntegerBytes(serialElement, 'IssuerSerial serialNumber') };
}

function readEssCertificateIds(value: DerElement, version: 1 | 2): EssCertificateId[] {
  const [certs] = sequence(value, version === 2 ? 'SigningCertificateV2' : 'SigningCertificate');
  const list = sequence(certs, 'certs');
  if (list.length === 0 || list.length > LIST_ITEMS_MAX) throw new DerError('signing certificate: 1 to 16 certificate ids expected');
  return list.map((item) => {
    const fields = sequence(item, 'ESSCertID');
    let index = 0;
    let hashOid: string = version === 2 ? OID_TSP.sha256 : OID_TSP.sha1;
    if (version === 2 && fields[0] && isUniversal(fields[0], TAG.sequence)) {
      const [oid, parameters, more] = sequence(fields[index++], 'ESSCertIDv2 hashAlgorithm');
      if (more || (parameters && !isUniversal(parameters, TAG.null))) throw new DerError('ESSCertIDv2 hashAlgorithm: unexpected parameters');
      hashOid = readOid(oid, 'ESSCertIDv2 hashAlgorithm');
    }
    const hash = content(expectUniversal(fields[index++], TAG.octetString, 'certHash'));
    const issuerSerial = readIssuerSerial(fields[index++]);
    if (fields[index]) throw new DerError('ESSCertID: too many fields');
    return { version, hashOid, hash, issuerSerial };
  });
}

/**
 * Reads a DER TimeStampToken (ContentInfo / SignedData / TSTInfo, one signer).
 * Throws {@link DerError} when it is not one; whether it proves anything is
 * {@link verifyTimeStampToken}'s question.
 */
export function parseTimeStampToken(der: Uint8Array): ParsedTimeStampToken {
  if (der.length > TIME_STAMP_TOKEN_LENGTH_MAX) throw new DerError('the token is too large');
  const [contentType, wrapper, extra] = sequence(readRoot(der), 'ContentInfo');
  if (readOid(contentType, 'contentType') !== OID_TSP.signedData) throw new DerError('not a SignedData');
  if (!wrapper || !isContext(wrapper, 0) || extra) throw new DerError('ContentInfo: content missing');
  const [signedDataElement, more] = children(wrapper);
  if (more) throw new DerError('ContentInfo: too many fields');
  const fields = sequence(signedDataElement, 'SignedData');
  const version = readSmallInteger(fields[0], 'SignedData version');
  if (version < 3 || version > 5) throw new DerError('SignedData version must be 3 or more for a TSTInfo (RFC 5652 §5.1)');
  children(expectUniversal(fields[1], TAG.set, 'digestAlgorithms'));
  const encap = sequence(fields[2], 'EncapsulatedContentInfo');
  if (readOid(encap[0], 'eContentType') !== OID_TSP.tstInfo) throw new DerError('the content type is not id-ct-TSTInfo');
  if (!encap[1] || !isContext(encap[1], 0) || encap[2]) throw new DerError('the TSTInfo is missing');
  const eContent = children(encap[1]);
  if (eContent.length !== 1) throw new DerError('eContent: one OCTET STRING expected');
  const tstInfoDer = content(expectUniversal(eContent[0], TAG.octetString, 'eContent'));
  const tstInfo = readTstInfo(tstInfoDer);

  let index = 3;
  const certificates: Uint8Array[] = [];
  if (fields[index] && isContext(fields[index]!, 0)) {
    const list = children(fields[index++]!);
    if (list.length > LIST_ITEMS_MAX) throw new DerError('too many certificates');
    // Attribute and other certificate forms are not ours to use; only X.509 certificates are kept.
    for (const item of list) if (isUniversal(item, TAG.sequence)) certificates.push(encoding(item));
  }
  if (fields[index] && isContext(fields[index]!, 1)) index++;
  const signerInfos = children(expectUniversal(fields[index++], TAG.set, 'signerInfos'));
  if (fields[index]) throw new DerError('SignedData: unexpected field');
  // RFC 3161 §2.4.2: the token carries the TSA's signature and no other.
  if (signerInfos.length !== 1) throw new DerError('exactly one signer expected');
  const info = sequence(signerInfos[0], 'SignerInfo');
  const signerVersion = readSmallInteger(info[0], 'SignerInfo version');
  let signer: ParsedTimeStampToken['signer'];
  if (signerVersion === 1) {
    const [issuer, serial, tail] = sequence(info[1], 'IssuerAndSerialNumber');
    if (tail) throw new DerError('IssuerAndSerialNumber: too many fields');
    signer = { issuerDer: encoding(expectUniversal(issuer, TAG.sequence, 'issuer')), serial: readIntegerBytes(serial, 'serialNumber') };
  } else if (signerVersion === 3) {
    if (!info[1] || !isContext(info[1], 0) || info[1].constructed) throw new DerError('SignerInfo version 3 names its signer by subjectKeyIdentifier');
    signer = { subjectKeyId: content(info[1]) };
  } else throw new DerError('SignerInfo version must be 1 or 3');
  const [digestOid, digestParameters] = sequence(info[2], 'digestAlgorithm');
  if (digestParameters && !isUniversal(digestParameters, TAG.null)) throw new DerError('digestAlgorithm: unexpected parameters');
  const digestAlgorithmOid = readOid(digestOid, 'digestAlgorithm');
  const attributesElement = info[3];
  if (!attributesElement || !isContext(attributesElement, 0)) throw new DerError('signed attributes are missing');
  const signedAttributesDer = new Uint8Array(encoding(attributesElement));
  signedAttributesDer[0] = 0x31;
  const [signatureOid, signatureParameters] = sequence(info[4], 'signatureAlgorithm');
  if (signatureParameters) throw new DerError('signatureAlgorithm: ECDSA takes no parameters');
  const signatureAlgorithmOid = readOid(signatureOid, 'signatureAlgorithm');
  const signatureDer = content(expectUniversal(info[5], TAG.octetString, 'signature'));
  if (info[6] && !isContext(info[6], 1)) throw new DerError('SignerInfo: unexpected field');
  if (info[7]) throw new DerError('SignerInfo: too many fields');

  let contentTypeOid: string | undefined;
  let messageDigest: Uint8Array | undefined;
  const v2: EssCertificateId[] = [];
  const v1: EssCertificateId[] = [];
  const seen = new Set<string>();
  const attributes = children(attributesElement);
  if (attributes.length > LIST_ITEMS_MAX) throw new DerError('too many signed attributes');
  for (const attribute of attributes) {
    const [oidElement, values, tail] = sequence(attribute, 'Attribute');
    if (tail) throw new DerError('Attribute: too many fields');
    const oid = readOid(oidElement, 'attrType');
    if (seen.has(oid)) throw new DerError(`signed attribute ${oid} appears twice`);
    seen.add(oid);
    const valueList = children(expectUniversal(values, TAG.set, 'attrValues'));
    if (valueList.length !== 1) throw new DerError('a signed attribute must have one value');
    const value = valueList[0]!;
    if (oid === OID_TSP.contentType) contentTypeOid = readOid(value, 'contentType');
    else if (oid === OID_TSP.messageDigest) messageDigest = content(expectUniversal(value, TAG.octetString, 'messageDigest'));
    else if (oid === OID_TSP.signingCertificateV2) v2.push(...readEssCertificateIds(value, 2));
    else if (oid === OID_TSP.signingCertificate) v1.push(...readEssCertificateIds(value, 1));
  }
  if (!contentTypeOid || !messageDigest) throw new DerError('contentType and messageDigest are required');
  return {
    tstInfoDer, tstInfo, certificates, signer, digestAlgorithmOid, signedAttributesDer, signatureAlgorithmOid, signatureDer,
    contentTypeOid, messageDigest, essCertificateIds: [...v2, ...v1],
  };
}

/** Error codes {@link verifyTimeStampToken} answers with (registered in core/errors). */
export type TimeStampFailureCode = 'TIME_STAMP_INVALID' | 'TIME_STAMP_IMPRINT_MISMATCH' | 'TIME_STAMP_AUTHORITY_UNTRUSTED';

/** What {@link verifyTimeStampToken} checks a token against. */
export interface TimeStampVerificationOptions {
  /** DER certificates trusted to end the TSA's path (our root). */
  trustAnchors: Uint8Array[];
  /** Further DER certificates: the TSA certificate when the token does not carry it, intermediates. */
  intermediates?: Uint8Array[];
  /** The digest the token must cover: SHA-256 of the stamped data (for evidence, of the signature value). */
  expectedImprint: Uint8Array;
  /** The hash of {@link expectedImprint}; default SHA-256. */
  expectedHashOid?: string;
  /** The nonce sent in the request, when the token answers one. */
  expectedNonce?: Uint8Array | bigint;
  /** TSA policies accepted; default any. */
  acceptedPolicies?: readonly string[];
  /** DER CRLs, judged at genTime. */
  crls?: Uint8Array[];
  /** As validatePath's; default 'crl-if-present'. */
  revocation?: 'none' | 'crl-if-present' | 'require';
}

/** What a verified token proves. */
export interface TimeStampVerified {
  ok: true;
  genTime: Date;
  genTimeSeconds: number;
  /** The stated accuracy in seconds, undefined when the token states none. */
  accuracySeconds: number | undefined;
  serialHex: string;
  policyOid: string;
  tsaCertificate: Uint8Array;
  /** TSA certificate → trust anchor, as validated at genTime. */
  chain: Uint8Array[];
}

/** The verdict of {@link verifyTimeStampToken}. */
export type TimeStampVerification = TimeStampVerified | { ok: false; code: TimeStampFailureCode; message: string };

function fail(code: TimeStampFailureCode, message: string): { ok: false; code: TimeStampFailureCode; message: string } {
  return { ok: false, code, message };
}

function tryParseCertificate(der: Uint8Array): ParsedCertificate | undefined {
  try {
    return parseCertificate(der);
  } catch {
    return undefined;
  }
}

async function essMatches(id: EssCertificateId, certificate: ParsedCertificate): Promise<boolean> {
  if (!HASH_NAMES[id.hashOid]) return false;
  if (!bytesEqual(id.hash, await digest(id.hashOid, certificate.der))) return false;
  if (!id.issuerSerial) return true;
  if (toHex(id.issuerSerial.serial) !== certificate.serialHex) return false;
  return id.issuerSerial.directoryNames.some((der) => {
    try {
      return namesEqual(readDistinguishedName(readRoot(der)), certificate.issuer);
    } catch {
      return false;
    }
  });
}

/**
 * Verifies an RFC 3161 time-stamp token: its shape (one signer, id-ct-TSTInfo,
 * TSTInfo version 1), the messageDigest over the TSTInfo, the TSA's ECDSA
 * signature (P-256 with SHA-256, or P-384 with SHA-384), the ESS signing
 * certificate (v2 or v1) naming the signer, the message imprint, and the TSA's
 * certificate path for the `timeStamping` purpose **at genTime**, with the CRLs
 * given — so a token keeps verifying after the TSA certificate expires. Never
 * throws for a bad token; failures are codes.
 *
 * @example
 * const verdict = await verifyTimeStampToken(token, { trustAnchors: [rootDer], expectedImprint: await sha256(signatureValue) });
 * if (verdict.ok) console.log(verdict.genTime.toISOString());
 */
export async function verifyTimeStampToken(tokenDer: Uint8Array, options: TimeStampVerificationOptions): Promise<TimeStampVerification> {
  let token: ParsedTimeStampToken;
  try {
    token = parseTimeStampToken(tokenDer);
  } catch (error) {
    return fail('TIME_STAMP_INVALID', `the token is not a DER TimeStampToken: ${error instanceof Error ? error.message : 'unreadable'}`);
  }
  const { tstInfo } = token;
  if (tstInfo.version !== 1) return fail('TIME_STAMP_INVALID', 'TSTInfo version must be 1');
  if (token.contentTypeOid !== OID_TSP.tstInfo) return fail('TIME_STAMP_INVALID', 'the signed content type is not id-ct-TSTInfo');
  const unknownCritical = tstInfo.extensions.find((extension) => extension.critical);
  if (unknownCritical) return fail('TIME_STAMP_INVALID', `the TSTInfo carries an unknown critical extension ${unknownCritical.oid}`);

  const pool = [...token.certificates, ...(options.intermediates ?? [])];
  let signer: ParsedCertificate | undefined;
  for (const der of pool) {
    const certificate = tryParseCertificate(der);
    if (!certificate) continue;
    const matches =
      'subjectKeyId' in token.signer
        ? certificate.subjectKeyId !== undefined && bytesEqual(certificate.subjectKeyId, token.signer.subjectKeyId)
        : bytesEqual(certificate.issuer.der, token.signer.issuerDer) && toHex(certificate.serial) === toHex(token.signer.serial);
    if (matches) {
      signer = certificate;
      break;
    }
  }
  if (!signer) return fail('TIME_STAMP_INVALID', 'the TSA certificate is neither in the token nor among the intermediates');

  // RFC 5035 §5.4: the first ESSCertID names the signing certificate.
  const firstV2 = token.essCertificateIds.find((id) => id.version === 2);
  const firstV1 = token.essCertificateIds.find((id) => id.version === 1);
  if (!firstV2 && !firstV1) return fail('TIME_STAMP_INVALID', 'the signed attributes carry no ESS signing certificate');
  for (const id of [firstV2, firstV1]) {
    if (id && !(await essMatches(id, signer))) return fail('TIME_STAMP_INVALID', 'the ESS signing certificate does not name the signer certificate');
  }

  const algorithm = SIGNATURE_ALGORITHMS[token.signatureAlgorithmOid];
  if (!algorithm) return fail('TIME_STAMP_INVALID', `signature algorithm ${token.signatureAlgorithmOid} is not accepted`);
  if (token.digestAlgorithmOid !== algorithm.hashOid) return fail('TIME_STAMP_INVALID', 'the digest algorithm does not match the signature algorithm');
  let key: ReturnType<typeof readPublicKeyInfo>;
  try {
    key = readPublicKeyInfo(signer.spki);
  } catch {
    return fail('TIME_STAMP_INVALID', 'the TSA key is not an accepted EC key');
  }
  if (key.kind !== 'ec' || key.curve !== algorithm.curve) return fail('TIME_STAMP_INVALID', `the signature algorithm needs a ${algorithm.curve} key`);
  if (!bytesEqual(token.messageDigest, await digest(algorithm.hashOid, token.tstInfoDer))) return fail('TIME_STAMP_INVALID', 'the TSTInfo does not match its signed digest');
  const raw = ecdsaDerToRaw(token.signatureDer, algorithm.scalarBytes);
  let valid = false;
  if (raw) {
    try {
      const publicKey = await crypto.subtle.importKey('spki', new Uint8Array(signer.spki), { name: 'ECDSA', namedCurve: algorithm.curve }, false, ['verify']);
      valid = await crypto.subtle.verify({ name: 'ECDSA', hash: HASH_NAMES[algorithm.hashOid]! }, publicKey, raw as Uint8Array<ArrayBuffer>, token.signedAttributesDer as Uint8Array<ArrayBuffer>);
    } catch {
      valid = false;
    }
  }
  // One fixed sentence: no detail about why a signature fails.
  if (!valid) return fail('TIME_STAMP_INVALID', 'the signature does not verify');

  const expectedHashOid = options.expectedHashOid ?? OID_TSP.sha256;
  if (tstInfo.hashOid !== expectedHashOid || !bytesEqual(tstInfo.digest, options.expectedImprint)) {
    return fail('TIME_STAMP_IMPRINT_MISMATCH', 'the token covers other data than the expected digest');
  }
  if (options.expectedNonce !== undefined && (!tstInfo.nonce || !bytesEqual(tstInfo.nonce, nonceContent(options.expectedNonce)))) {
    return fail('TIME_STAMP_INVALID', 'the token does not carry the nonce of the request');
  }
  if (options.acceptedPolicies && !options.acceptedPolicies.includes(tstInfo.policyOid)) {
    return fail('TIME_STAMP_INVALID', `the token was issued under policy ${tstInfo.policyOid}, which is not accepted`);
  }

  const genTime = new Date(tstInfo.genTimeMs);
  const path = await validatePath({
    trustAnchors: options.trustAnchors,
    intermediates: pool,
    leaf: signer.der,
    at: genTime,
    purpose: 'timeStamping',
    ...(options.crls ? { crls: options.crls } : {}),
    ...(options.revocation ? { revocation: options.revocation } : {}),
  });
  if (!path.valid) {
    const first = path.reasons[0];
    return fail('TIME_STAMP_AUTHORITY_UNTRUSTED', `the TSA certificate does not validate at genTime: ${first ? `${first.code} ${first.message}` : 'no path'}`);
  }
  return {
    ok: true,
    genTime,
    genTimeSeconds: Math.floor(tstInfo.genTimeMs / 1000),
    accuracySeconds: tstInfo.accuracySeconds,
    serialHex: tstInfo.serialHex,
    policyOid: tstInfo.policyOid,
    tsaCertificate: signer.der,
    chain: path.chain,
  };
}
