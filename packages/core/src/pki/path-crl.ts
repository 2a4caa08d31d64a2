/**
 * Certificate revocation lists (RFC 5280 §5) as the path validator uses them:
 * decoded once, with the problems that make a CRL unusable listed instead of thrown,
 * and the scope rules of RFC 5280 §6.3.3 (b) and (d) that decide whether a CRL can
 * speak about a given certificate and for which revocation reasons.
 *
 * What is understood:
 * - Complete CRLs, direct (issued under the certificate issuer's name) and indirect
 *   (issuingDistributionPoint with indirectCRL, entries attributed to other issuers by
 *   the certificateIssuer entry extension, which carries over to the entries after it,
 *   §5.3.3).
 * - issuingDistributionPoint: the distribution point name (fullName or
 *   nameRelativeToCRLIssuer), onlyContainsUserCerts, onlyContainsCACerts and
 *   onlySomeReasons. onlyContainsAttributeCerts makes a CRL useless for public-key
 *   certificates and is reported as a problem.
 * - Entry extensions reasonCode, invalidityDate and certificateIssuer.
 * - CRL extensions cRLNumber (required, non-critical), authorityKeyIdentifier,
 *   issuingDistributionPoint, freshestCRL (non-critical only), authorityInfoAccess
 *   and issuerAltName (non-critical only), and expiredCertsOnCRL (2.5.29.60, X.509
 *   §9.6.2.9, which RFC 5280 §5.2 refers to).
 *
 * What is refused: delta CRLs (deltaCRLIndicator). A complete CRL that points to
 * delta CRLs with a non-critical freshestCRL is still a complete CRL and is used as
 * one: the delta would only add revocations made after its thisUpdate, and the
 * freshness rule (thisUpdate ≤ validation time ≤ nextUpdate) already bounds how old
 * the information is. Any other critical CRL or entry extension makes the whole CRL
 * unusable (§5.2, §5.3).
 *
 * Reason codes: removeFromCRL (8) is not a revocation (§6.3.3 j; in a complete CRL it
 * should not appear at all). certificateHold (6) is a revocation for as long as the
 * entry is listed (§5.3.1: a held certificate has the status revoked).
 */
import { KEY_USAGE, parseCertificate, type ParsedCertificate } from './path-certificate.js';
import { tlv } from './der-writer.js';
import { OID } from './oids.js';
import {
  DerError,
  TAG,
  TAG_CLASS,
  bytesEqual,
  children,
  content,
  encoding,
  expectUniversal,
  isContext,
  isUniversal,
  readBoolean,
  readIntegerBytes,
  readOid,
  readRoot,
  readSmallInteger,
  readTimeSeconds,
  sequence,
  toHex,
  type DerElement,
} from './path-der.js';
import { namesEqual, readDistinguishedName, readGeneralName, type DistinguishedName, type GeneralName } from './path-names.js';
import { createWebCryptoVerifier, readSigned, type SignedVerifier } from './path-signature.js';

const CRL_EXTENSION = {
  crlNumber: OID.crlNumber,
  authorityKeyIdentifier: OID.authorityKeyIdentifier,
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCrl: '2.5.29.46',
  issuerAltName: '2.5.29.18',
  authorityInfoAccess: OID.authorityInfoAccess,
  expiredCertsOnCrl: '2.5.29.60',
} as const;

const ENTRY_EXTENSION = {
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29',
} as const;

const ISSUER_ALT_NAME = '2.5.29.18';

/** CRLReason values of the reasonCode entry extension (RFC 5280 §5.3.1). */
export const CRL_REASON = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

const KNOWN_REASON_CODES: ReadonlySet<number> = new Set(Object.values(CRL_REASON));

/**
 * ReasonFlags bits (RFC 5280 §4.2.1.13) as a mask: bit n of the BIT STRING is `1 << n`.
 * Bit 0 (`unused`) names no reason.
 */
export const REASON_FLAG = {
  keyCompromise: 1 << 1,
  cACompromise: 1 << 2,
  affiliationChanged: 1 << 3,
  superseded: 1 << 4,
  cessationOfOperation: 1 << 5,
  certificateHold: 1 << 6,
  privilegeWithdrawn: 1 << 7,
  aACompromise: 1 << 8,
} as const;

/** Every revocation reason: the `all-reasons` of RFC 5280 §6.3.3. */
export const ALL_REASONS = Object.values(REASON_FLAG).reduce((mask, bit) => mask | bit, 0);

/** One revoked certificate as a CRL lists it. */
export interface CrlEntry {
  /** Hex of the serial number's INTEGER content octets, as `ParsedCertificate.serialHex`. */
  readonly serialHex: string;
  readonly revokedAtSeconds: number;
  /** The reasonCode entry extension, when present (see {@link CRL_REASON}). */
  readonly reasonCode?: number;
  readonly invalidityDateSeconds?: number;
  /**
   * In an indirect CRL, the issuer of the revoked certificate named by the
   * certificateIssuer extension of this entry or of an earlier one (RFC 5280 §5.3.3).
   * Absent means the CRL issuer.
   */
  readonly certificateIssuer?: DistinguishedName;
}

/** A distributionPoint name as written: general names, or an RDN to append to a base name. */
export type DistributionPointName =
  | { readonly kind: 'fullName'; readonly names: readonly GeneralName[] }
  | { readonly kind: 'nameRelativeToCRLIssuer'; /** DER of the RDN as a SET. */ readonly rdnDer: Uint8Array };

/** A decoded issuingDistributionPoint CRL extension (RFC 5280 §5.2.5). */
export interface IssuingDistributionPoint {
  readonly name: DistributionPointName | undefined;
  readonly onlyContainsUserCerts: boolean;
  readonly onlyContainsCaCerts: boolean;
  /** ReasonFlags mask, or undefined when the CRL covers every reason. */
  readonly onlySomeReasons: number | undefined;
  readonly indirectCrl: boolean;
  readonly onlyContainsAttributeCerts: boolean;
}

/** One DistributionPoint of a certificate's cRLDistributionPoints (RFC 5280 §4.2.1.13). */
export interface CertificateDistributionPoint {
  readonly name: DistributionPointName | undefined;
  /** ReasonFlags mask, or undefined when the point serves every reason. */
  readonly reasons: number | undefined;
  readonly crlIssuer: readonly GeneralName[] | undefined;
}

/** A decoded CRL. */
export interface ParsedCrl {
  readonly der: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly thisUpdateSeconds: number;
  readonly nextUpdateSeconds: number | undefined;
  /**
   * The entries by serial hex. A serial maps to more than one entry only in an
   * indirect CRL that lists the same serial for different certificate issuers; use
   * {@link findCrlEntry} to look one up.
   */
  readonly entries: ReadonlyMap<string, readonly CrlEntry[]>;
  /** Hex of every serial number listed, whatever its certificate issuer. Prefer {@link findCrlEntry}. */
  readonly revokedSerials: ReadonlySet<string>;
  readonly authorityKeyId: Uint8Array | undefined;
  readonly issuingDistributionPoint: IssuingDistributionPoint | undefined;
  /** expiredCertsOnCRL: entries of certificates that expired at or after this time are kept on the CRL. */
  readonly expiredCertsOnCrlSeconds: number | undefined;
  /** A non-critical freshestCRL names delta CRLs; this CRL is still used as a complete one. */
  readonly pointsToDeltaCrl: boolean;
  /** Reasons this CRL cannot be relied on, empty when it is usable. */
  readonly problems: readonly string[];
}

function isTime(element: DerElement | undefined): boolean {
  return !!element && element.tagClass === TAG_CLASS.universal && (element.tagNumber === TAG.utcTime || element.tagNumber === TAG.generalizedTime);
}

interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

function readExtensions(list: DerElement | undefined, what: string): RawExtension[] {
  const result: RawExtension[] = [];
  for (const item of sequence(list, what)) {
    const parts = sequence(item, `${what} extension`);
    const oid = readOid(parts[0], 'extnID');
    let at = 1;
    let critical = false;
    const second = parts[1];
    if (second && isUniversal(second, TAG.boolean)) {
      critical = readBoolean(second, 'critical');
      at = 2;
    }
    const value = content(expectUniversal(parts[at], TAG.octetString, 'extnValue'));
    if (parts.length !== at + 1) throw new DerError(`${what}: extension has too many fields`);
    result.push({ oid, critical, value });
  }
  return result;
}

/** An IMPLICIT [n] BOOLEAN. */
function readImplicitBoolean(element: DerElement, what: string): boolean {
  const bytes = content(element);
  if (element.constructed || bytes.length !== 1 || (bytes[0] !== 0 && bytes[0] !== 0xff)) throw new DerError(`${what}: not a DER BOOLEAN`);
  return bytes[0] === 0xff;
}

/** An IMPLICIT [n] ReasonFlags BIT STRING, as a mask of {@link REASON_FLAG} bits. */
function readImplicitReasonFlags(element: DerElement, what: string): number {
  const bytes = content(element);
  if (element.constructed || bytes.length === 0 || (bytes[0] as number) > 7) throw new DerError(`${what}: not a BIT STRING`);
  let mask = 0;
  for (let index = 1; index < bytes.length; index++) {
    for (let bit = 0; bit < 8; bit++) {
      const position = (index - 1) * 8 + bit;
      if (((bytes[index] as number) & (0x80 >> bit)) !== 0 && position <= 8) mask |= 1 << position;
    }
  }
  return mask;
}

function readGeneralNames(element: DerElement, what: string): GeneralName[] {
  const names = children(element).map((item) => readGeneralName(item, what));
  if (names.length === 0) throw new DerError(`${what}: no name`);
  return names;
}

/** DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] RDN }, inside an explicit [0]. */
function readDistributionPointName(wrapper: DerElement, what: string): DistributionPointName {
  const [choice, extra] = children(wrapper);
  if (!choice || extra) throw new DerError(`${what}: expected one name`);
  if (isContext(choice, 0) && choice.constructed) return { kind: 'fullName', names: readGeneralNames(choice, `${what} fullName`) };
  if (isContext(choice, 1) && choice.constructed) {
    if (children(choice).length === 0) throw new DerError(`${what}: empty nameRelativeToCRLIssuer`);
    return { kind: 'nameRelativeToCRLIssuer', rdnDer: tlv(0x31, content(choice)) };
  }
  throw new DerError(`${what}: unknown DistributionPointName`);
}

function readIssuingDistributionPoint(value: Uint8Array): IssuingDistributionPoint {
  const fields = sequence(readRoot(value), 'issuingDistributionPoint');
  // §5.2.5: an empty issuingDistributionPoint MUST NOT be issued.
  if (fields.length === 0) throw new DerError('issuingDistributionPoint: empty');
  let name: DistributionPointName | undefined;
  let onlyContainsUserCerts = false;
  let onlyContainsCaCerts = false;
  let onlySomeReasons: number | undefined;
  let indirectCrl = false;
  let onlyContainsAttributeCerts = false;
  let lastTag = -1;
  for (const field of fields) {
    if (field.tagClass !== TAG_CLASS.contextSpecific || field.tagNumber <= lastTag || field.tagNumber > 5) throw new DerError('issuingDistributionPoint: unexpected field');
    lastTag = field.tagNumber;
    switch (field.tagNumber) {
      case 0:
        name = readDistributionPointName(field, 'issuingDistributionPoint distributionPoint');
        break;
      case 1:
        onlyContainsUserCerts = readImplicitBoolean(field, 'onlyContainsUserCerts');
        break;
      case 2:
        onlyContainsCaCerts = readImplicitBoolean(field, 'onlyContainsCACerts');
        break;
      case 3:
        onlySomeReasons = readImplicitReasonFlags(field, 'onlySomeReasons');
        break;
      case 4:
        indirectCrl = readImplicitBoolean(field, 'indirectCRL');
        break;
      default:
        onlyContainsAttributeCerts = readImplicitBoolean(field, 'onlyContainsAttributeCerts');
    }
  }
  return { name, onlyContainsUserCerts, onlyContainsCaCerts, onlySomeReasons, indirectCrl, onlyContainsAttributeCerts };
}

/** ENUMERATED CRLReason. */
function readReasonCode(value: Uint8Array): number {
  const element = readRoot(value);
  const bytes = content(element);
  if (element.tagClass !== TAG_CLASS.universal || element.tagNumber !== 10 || element.constructed || bytes.length !== 1) throw new DerError('reasonCode: not a small ENUMERATED');
  const code = bytes[0] as number;
  if (!KNOWN_REASON_CODES.has(code)) throw new DerError(`reasonCode: ${code} is not a CRLReason`);
  return code;
}

/**
 * Decodes a CRL. Throws {@link DerError} when the outer structure cannot be read;
 * rule violations are collected in `problems`.
 *
 * @example
 * const crl = parseCrl(crlDer);
 * const usable = crl.problems.length === 0;
 * const entry = findCrlEntry(crl, certificate.issuer, certificate.serialHex);
 */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const problems: string[] = [];
  const signed = readSigned(der);
  const fields = sequence(readRoot(signed.tbs), 'TBSCertList');
  let index = 0;
  let version = 1;
  if (fields[0] && isUniversal(fields[0], TAG.integer)) {
    version = readSmallInteger(fields[0], 'version') + 1;
    index = 1;
  }
  const algorithm = encoding(expectUniversal(fields[index++], TAG.sequence, 'signature'));
  const issuer = readDistinguishedName(fields[index++], 'CRL issuer');
  const thisUpdateSeconds = readTimeSeconds(fields[index++], 'thisUpdate');
  let nextUpdateSeconds: number | undefined;
  if (isTime(fields[index])) nextUpdateSeconds = readTimeSeconds(fields[index++], 'nextUpdate');

  // Entries are attributed to issuers only once the issuingDistributionPoint is known, so they are read after the extensions.
  let entriesElement: DerElement | undefined;
  const maybeEntries = fields[index];
  if (maybeEntries && isUniversal(maybeEntries, TAG.sequence)) {
    entriesElement = maybeEntries;
    index++;
  }

  let hasCrlNumber = false;
  let authorityKeyId: Uint8Array | undefined;
  let issuingDistributionPoint: IssuingDistributionPoint | undefined;
  let expiredCertsOnCrlSeconds: number | undefined;
  let pointsToDeltaCrl = false;
  const extensionsElement = fields[index];
  if (extensionsElement) {
    if (!isContext(extensionsElement, 0)) throw new DerError('TBSCertList: unexpected trailing field');
    index++;
    const [list, extra] = children(extensionsElement);
    if (extra) throw new DerError('crlExtensions: too many fields');
    const seen = new Set<string>();
    for (const extension of readExtensions(list, 'crlExtensions')) {
      if (seen.has(extension.oid)) problems.push(`CRL extension ${extension.oid} appears more than once`);
      seen.add(extension.oid);
      switch (extension.oid) {
        case CRL_EXTENSION.crlNumber:
          hasCrlNumber = true;
          // RFC 5280 §5.2.3: the CRL number is mandatory and MUST be non-critical.
          if (extension.critical) problems.push('cRLNumber must not be critical (RFC 5280 §5.2.3)');
          try {
            readIntegerBytes(readRoot(extension.value), 'cRLNumber');
          } catch {
            problems.push('cRLNumber cannot be decoded');
          }
          break;
        case CRL_EXTENSION.authorityKeyIdentifier:
          try {
            for (const field of sequence(readRoot(extension.value), 'authorityKeyIdentifier')) {
              if (isContext(field, 0) && !field.constructed) authorityKeyId = content(field);
            }
          } catch {
            problems.push('authorityKeyIdentifier of the CRL cannot be decoded');
          }
          break;
        case CRL_EXTENSION.deltaCrlIndicator:
          problems.push('delta CRLs are not supported');
          break;
        case CRL_EXTENSION.issuingDistributionPoint:
          try {
            issuingDistributionPoint = readIssuingDistributionPoint(extension.value);
          } catch (error) {
            problems.push(`issuingDistributionPoint cannot be decoded: ${error instanceof Error ? error.message : 'unreadable'}`);
            break;
          }
          if (issuingDistributionPoint.onlyContainsAttributeCerts) problems.push('the CRL lists only attribute certificates (onlyContainsAttributeCerts)');
          if ([issuingDistributionPoint.onlyContainsUserCerts, issuingDistributionPoint.onlyContainsCaCerts, issuingDistributionPoint.onlyContainsAttributeCerts].filter(Boolean).length > 1) {
            problems.push('issuingDistributionPoint asserts more than one of the onlyContains booleans (RFC 5280 §5.2.5)');
          }
          break;
        case CRL_EXTENSION.freshestCrl:
          // A critical freshestCRL demands delta processing, which is not done.
          if (extension.critical) problems.push('a critical freshestCRL asks for delta CRLs, which are not supported');
          pointsToDeltaCrl = true;
          break;
        case CRL_EXTENSION.expiredCertsOnCrl:
          try {
            expiredCertsOnCrlSeconds = readTimeSeconds(readRoot(extension.value), 'expiredCertsOnCRL');
          } catch {
            problems.push('expiredCertsOnCRL cannot be decoded');
          }
          break;
        default:
          if (extension.critical) problems.push(`critical CRL extension ${extension.oid} is not recognised`);
      }
    }
  }
  if (fields.length !== index) throw new DerError('TBSCertList: unexpected trailing field');

  const indirect = issuingDistributionPoint?.indirectCrl === true;
  const entries = new Map<string, CrlEntry[]>();
  const revokedSerials = new Set<string>();
  if (entriesElement) {
    let currentIssuer: DistinguishedName | undefined;
    for (const entryElement of sequence(entriesElement, 'revokedCertificates')) {
      const parts = sequence(entryElement, 'revoked certificate');
      const serialHex = toHex(readIntegerBytes(parts[0], 'userCertificate'));
      const revokedAtSeconds = readTimeSeconds(parts[1], 'revocationDate');
      let reasonCode: number | undefined;
      let invalidityDateSeconds: number | undefined;
      if (parts[2]) {
        const seen = new Set<string>();
        for (const extension of readExtensions(parts[2], 'crlEntryExtensions')) {
          if (seen.has(extension.oid)) problems.push(`CRL entry extension ${extension.oid} appears more than once`);
          seen.add(extension.oid);
          try {
            switch (extension.oid) {
              case ENTRY_EXTENSION.reasonCode:
                reasonCode = readReasonCode(extension.value);
                break;
              case ENTRY_EXTENSION.invalidityDate:
                invalidityDateSeconds = readTimeSeconds(readRoot(extension.value), 'invalidityDate');
                break;
              case ENTRY_EXTENSION.certificateIssuer: {
                // §5.3.3: only an indirect CRL may attribute entries to another issuer.
                if (!indirect) {
                  problems.push('a certificateIssuer entry extension appears in a CRL that is not indirect');
                  break;
                }
                const names = sequence(readRoot(extension.value), 'certificateIssuer').map((element) => readGeneralName(element, 'certificateIssuer'));
                const directory = names.find((name) => name.kind === 'directory');
                if (!directory || directory.kind !== 'directory') problems.push('a certificateIssuer names no directoryName, so its entries cannot be attributed');
                else currentIssuer = directory.name;
                break;
              }
              default:
                if (extension.critical) problems.push(`critical CRL entry extension ${extension.oid} is not recognised`);
            }
          } catch (error) {
            problems.push(`CRL entry extension ${extension.oid} cannot be decoded: ${error instanceof Error ? error.message : 'unreadable'}`);
          }
        }
      }
      if (parts.length > 3) throw new DerError('revoked certificate: too many fields');
      const entry: CrlEntry = {
        serialHex,
        revokedAtSeconds,
        ...(reasonCode === undefined ? {} : { reasonCode }),
        ...(invalidityDateSeconds === undefined ? {} : { invalidityDateSeconds }),
        ...(currentIssuer === undefined ? {} : { certificateIssuer: currentIssuer }),
      };
      const list = entries.get(serialHex) ?? [];
      if (list.some((other) => sameEntryIssuer(other, entry, issuer))) problems.push(`serial ${serialHex} is listed twice for the same issuer`);
      list.push(entry);
      entries.set(serialHex, list);
      revokedSerials.add(serialHex);
    }
  }

  if (!hasCrlNumber) problems.push('the CRL has no cRLNumber (RFC 5280 §5.2.3)');
  if (version !== 2) problems.push(`CRL version ${version} is not accepted; v2 is required`);
  if (!bytesEqual(algorithm, signed.algorithm)) problems.push('CRL signatureAlgorithm differs from the signature field inside it');
  if (nextUpdateSeconds === undefined) problems.push('the CRL has no nextUpdate, so its freshness cannot be judged');
  return {
    der,
    issuer,
    thisUpdateSeconds,
    nextUpdateSeconds,
    entries,
    revokedSerials,
    authorityKeyId,
    issuingDistributionPoint,
    expiredCertsOnCrlSeconds,
    pointsToDeltaCrl,
    problems,
  };
}

function sameEntryIssuer(a: CrlEntry, b: CrlEntry, crlIssuer: DistinguishedName): boolean {
  return namesEqual(a.certificateIssuer ?? crlIssuer, b.certificateIssuer ?? crlIssuer);
}

/**
 * The entry of a CRL for the certificate with this issuer and serial, if listed
 * (whatever its reason code; removeFromCRL included).
 *
 * @example
 * const entry = findCrlEntry(crl, certificate.issuer, certificate.serialHex);
 * if (entry) console.log(new Date(entry.revokedAtSeconds * 1000));
 */
export function findCrlEntry(crl: ParsedCrl, certificateIssuer: DistinguishedName, serialHex: string): CrlEntry | undefined {
  return crl.entries.get(serialHex)?.find((entry) => namesEqual(entry.certificateIssuer ?? crl.issuer, certificateIssuer));
}

/**
 * Reads a certificate's cRLDistributionPoints (RFC 5280 §4.2.1.13). An absent
 * extension gives no points; one that cannot be decoded gives a problem.
 *
 * @example
 * const { points, problem } = readCrlDistributionPoints(certificate);
 */
export function readCrlDistributionPoints(certificate: ParsedCertificate): { points: CertificateDistributionPoint[]; problem?: string } {
  const extension = certificate.extensions.find((item) => item.oid === OID.crlDistributionPoints);
  if (!extension) return { points: [] };
  try {
    const items = sequence(readRoot(extension.value), 'cRLDistributionPoints');
    if (items.length === 0) throw new DerError('cRLDistributionPoints: empty');
    const points = items.map((item): CertificateDistributionPoint => {
      let name: DistributionPointName | undefined;
      let reasons: number | undefined;
      let crlIssuer: GeneralName[] | undefined;
      let lastTag = -1;
      for (const field of sequence(item, 'DistributionPoint')) {
        if (field.tagClass !== TAG_CLASS.contextSpecific || field.tagNumber <= lastTag || field.tagNumber > 2) throw new DerError('DistributionPoint: unexpected field');
        lastTag = field.tagNumber;
        if (field.tagNumber === 0) name = readDistributionPointName(field, 'DistributionPoint distributionPoint');
        else if (field.tagNumber === 1) reasons = readImplicitReasonFlags(field, 'DistributionPoint reasons');
        else crlIssuer = readGeneralNames(field, 'DistributionPoint cRLIssuer');
      }
      // §4.2.1.13: a point names where to look, or who issues, or both.
      if (!name && !crlIssuer) throw new DerError('DistributionPoint: neither distributionPoint nor cRLIssuer');
      return { name, reasons, crlIssuer };
    });
    return { points };
  } catch (error) {
    return { points: [], problem: `the certificate's cRLDistributionPoints cannot be decoded: ${error instanceof Error ? error.message : 'unreadable'}` };
  }
}

function issuerAltNames(certificate: ParsedCertificate): GeneralName[] {
  const extension = certificate.extensions.find((item) => item.oid === ISSUER_ALT_NAME);
  if (!extension) return [];
  try {
    return sequence(readRoot(extension.value), 'issuerAltName').map((element) => readGeneralName(element, 'issuerAltName'));
  } catch {
    return [];
  }
}

/** The name a nameRelativeToCRLIssuer fragment stands for: `base` with the RDN appended (§4.2.1.13, §5.2.5). */
function resolveName(name: DistributionPointName, base: DistinguishedName | undefined): GeneralName[] {
  if (name.kind === 'fullName') return [...name.names];
  if (!base) return [];
  const nameDer = tlv(0x30, content(readRoot(base.der)), name.rdnDer);
  return [{ kind: 'directory', name: readDistinguishedName(readRoot(nameDer), 'distribution point name') }];
}

function generalNamesEqual(a: GeneralName, b: GeneralName): boolean {
  switch (a.kind) {
    case 'dns':
    case 'email':
      return b.kind === a.kind && a.value.toLowerCase() === b.value.toLowerCase();
    case 'uri':
      return b.kind === 'uri' && a.value === b.value;
    case 'ip':
      return b.kind === 'ip' && bytesEqual(a.bytes, b.bytes);
    case 'directory':
      return b.kind === 'directory' && namesEqual(a.name, b.name);
    default:
      // Names the validator does not interpret never match: a CRL is not put in scope on a guess.
      return false;
  }
}

function anyNameMatches(a: readonly GeneralName[], b: readonly GeneralName[]): boolean {
  return a.some((left) => b.some((right) => generalNamesEqual(left, right)));
}

function firstDirectoryName(names: readonly GeneralName[] | undefined): DistinguishedName | undefined {
  const found = names?.find((name) => name.kind === 'directory');
  return found && found.kind === 'directory' ? found.name : undefined;
}

/** Why `crl` is out of scope for `certificate` through distribution point `point` (§6.3.3 b), or undefined. */
function pointProblem(crl: ParsedCrl, certificate: ParsedCertificate, point: CertificateDistributionPoint): string | undefined {
  const idp = crl.issuingDistributionPoint;
  if (point.crlIssuer) {
    if (!point.crlIssuer.some((name) => name.kind === 'directory' && namesEqual(name.name, crl.issuer))) return 'the CRL issuer is not the cRLIssuer of the distribution point';
    if (!idp?.indirectCrl) return 'the distribution point names a cRLIssuer but the CRL is not an indirect CRL';
  } else if (!namesEqual(crl.issuer, certificate.issuer)) {
    return "the CRL issuer is not the certificate's issuer";
  }
  if (!idp) return undefined;
  if (idp.name) {
    const idpNames = resolveName(idp.name, crl.issuer);
    const pointNames = point.name ? resolveName(point.name, firstDirectoryName(point.crlIssuer) ?? certificate.issuer) : (point.crlIssuer ?? []);
    if (!anyNameMatches(idpNames, pointNames)) return "the CRL's distribution point name does not match the certificate's";
  }
  if (idp.onlyContainsUserCerts && certificate.isCa) return 'the CRL covers only end-entity certificates (onlyContainsUserCerts) and this is a CA certificate';
  if (idp.onlyContainsCaCerts && !certificate.isCa) return 'the CRL covers only CA certificates (onlyContainsCACerts) and this is not one';
  if (idp.onlyContainsAttributeCerts) return 'the CRL covers only attribute certificates';
  return undefined;
}

/** What a CRL may say about a certificate: the reasons it covers, or why it covers none. */
export interface CrlScope {
  /** ReasonFlags mask of the reasons this CRL decides for the certificate (§6.3.3 d); 0 when out of scope. */
  readonly reasonsMask: number;
  /** Why the CRL is out of scope, when `reasonsMask` is 0. */
  readonly problems: readonly string[];
}

/**
 * The scope rules of RFC 5280 §6.3.3 (b) and (d) for one CRL and one certificate:
 * the certificate's distribution points are tried, then (as §6.3.3 says for CRLs not
 * named by a distribution point) a point named after the certificate issuer with
 * every reason and no cRLIssuer. The reasons of all points that match are united.
 * Says nothing about the CRL's signature, freshness or `problems`.
 *
 * @example
 * const scope = crlScopeOf(crl, certificate);
 * if (scope.reasonsMask === ALL_REASONS) console.log('this CRL alone decides the status');
 */
export function crlScopeOf(crl: ParsedCrl, certificate: ParsedCertificate): CrlScope {
  const read = readCrlDistributionPoints(certificate);
  if (read.problem) return { reasonsMask: 0, problems: [read.problem] };
  const fallback: CertificateDistributionPoint = {
    name: { kind: 'fullName', names: [{ kind: 'directory', name: certificate.issuer }, ...issuerAltNames(certificate)] },
    reasons: undefined,
    crlIssuer: undefined,
  };
  const problems: string[] = [];
  let reasonsMask = 0;
  for (const point of [...read.points, fallback]) {
    const why = pointProblem(crl, certificate, point);
    if (why) {
      if (!problems.includes(why)) problems.push(why);
      continue;
    }
    reasonsMask |= (crl.issuingDistributionPoint?.onlySomeReasons ?? ALL_REASONS) & (point.reasons ?? ALL_REASONS) & ALL_REASONS;
  }
  if (reasonsMask !== 0) return { reasonsMask, problems: [] };
  if (problems.length === 0) problems.push('the CRL covers none of the reasons its distribution point serves for this certificate');
  return { reasonsMask: 0, problems };
}

/**
 * Why a CRL is not current at `atSeconds` (RFC 5280 §6.3.3 a, with thisUpdate also
 * required to be no later than the validation time), or undefined.
 *
 * @example
 * const stale = crlFreshnessProblem(crl, Math.floor(Date.now() / 1000));
 */
export function crlFreshnessProblem(crl: ParsedCrl, atSeconds: number): string | undefined {
  if (atSeconds < crl.thisUpdateSeconds) return 'the CRL is not yet valid (thisUpdate is after the validation time)';
  if (crl.nextUpdateSeconds === undefined) return 'the CRL has no nextUpdate, so its freshness cannot be judged';
  if (atSeconds > crl.nextUpdateSeconds) return 'the CRL is stale (nextUpdate is before the validation time)';
  return undefined;
}

/**
 * Why `signer` cannot have signed `crl`, judged from the certificate alone: its
 * subject must be the CRL issuer, its keyUsage (if present) must assert cRLSign
 * (§6.3.3 f), and the CRL's authorityKeyIdentifier (if present) must be its
 * subjectKeyIdentifier (if present). The signature itself is not checked here.
 *
 * @example
 * const why = crlSignerProblem(crl, issuerCertificate);
 */
export function crlSignerProblem(crl: ParsedCrl, signer: ParsedCertificate): string | undefined {
  if (!namesEqual(signer.subject, crl.issuer)) return "the signer certificate's subject is not the CRL issuer";
  if (signer.keyUsage && !signer.keyUsage.has(KEY_USAGE.cRLSign)) return "the CRL signer's keyUsage does not assert cRLSign (RFC 5280 §6.3.3 f)";
  if (crl.authorityKeyId && signer.subjectKeyId && toHex(crl.authorityKeyId) !== toHex(signer.subjectKeyId)) return 'the CRL was signed under another key of its issuer (authorityKeyIdentifier)';
  if (!signer.publicKey) return "the CRL signer's key is refused";
  return undefined;
}

/** What {@link crlStatusOf} found. */
export type CrlStatus =
  | { readonly usable: false; readonly problems: readonly string[] }
  | {
      readonly usable: true;
      /** Listed with any reason but removeFromCRL; certificateHold counts as revoked. */
      readonly revoked: boolean;
      /** The certificate's entry, when listed (also for removeFromCRL). */
      readonly entry: CrlEntry | undefined;
      /** Reasons this CRL decides for the certificate (REASON_FLAG bits). */
      readonly reasonsMask: number;
      /** Whether the CRL covers every reason, so that "not revoked" is a complete answer. */
      readonly allReasons: boolean;
    };

/** Inputs of {@link crlStatusOf}: DER or already decoded. */
export interface CrlStatusInput {
  readonly crl: Uint8Array | ParsedCrl;
  /** The certificate asked about. */
  readonly certificate: Uint8Array | ParsedCertificate;
  /**
   * The certificate whose key signed the CRL: the certificate's issuer, or a CRL
   * signer the caller has already validated (this function does not build its path).
   */
  readonly signer: Uint8Array | ParsedCertificate;
  /** The time the CRL must be current at (thisUpdate ≤ at ≤ nextUpdate), at whole seconds. */
  readonly at: Date;
  /** Default: WebCrypto. */
  readonly verifySignature?: SignedVerifier;
}

/**
 * What one CRL says about one certificate, without a whole path: the CRL must be
 * decodable and free of problems, in scope for the certificate ({@link crlScopeOf}),
 * current at `at`, and signed by `signer`, which must be allowed to sign it
 * ({@link crlSignerProblem}) and valid at `at`. Never throws for bad input.
 *
 * A CRL current at `at` was issued while the certificate could still be listed, so
 * an absence is meaningful then; `entry.revokedAtSeconds` tells when a revocation
 * took effect, for callers comparing it with the time of a signature.
 *
 * @example
 * const status = await crlStatusOf({ crl: crlDer, certificate: userDer, signer: issuingCaDer, at: new Date() });
 * if (status.usable && status.revoked) console.log(status.entry?.revokedAtSeconds);
 */
export async function crlStatusOf(input: CrlStatusInput): Promise<CrlStatus> {
  let crl: ParsedCrl;
  let certificate: ParsedCertificate;
  let signer: ParsedCertificate;
  try {
    crl = input.crl instanceof Uint8Array ? parseCrl(input.crl) : input.crl;
    certificate = input.certificate instanceof Uint8Array ? parseCertificate(input.certificate) : input.certificate;
    signer = input.signer instanceof Uint8Array ? parseCertificate(input.signer) : input.signer;
  } catch (error) {
    return { usable: false, problems: [`cannot be decoded: ${error instanceof Error ? error.message : 'unreadable'}`] };
  }
  const atMs = input.at instanceof Date ? input.at.getTime() : Number.NaN;
  if (!Number.isFinite(atMs)) return { usable: false, problems: ['at is not a valid date'] };
  const atSeconds = Math.floor(atMs / 1000);
  if (crl.problems.length > 0) return { usable: false, problems: crl.problems };
  const scope = crlScopeOf(crl, certificate);
  if (scope.reasonsMask === 0) return { usable: false, problems: scope.problems };
  const stale = crlFreshnessProblem(crl, atSeconds);
  if (stale) return { usable: false, problems: [stale] };
  const signerWhy = crlSignerProblem(crl, signer);
  if (signerWhy) return { usable: false, problems: [signerWhy] };
  if (atSeconds < signer.notBeforeSeconds || atSeconds > signer.notAfterSeconds) return { usable: false, problems: ['the CRL signer certificate is not valid at that time'] };
  const verify = input.verifySignature ?? createWebCryptoVerifier();
  let verified = false;
  try {
    verified = (await verify(crl.der, signer.spki)) === true;
  } catch {
    verified = false;
  }
  if (!verified) return { usable: false, problems: ["the CRL signature does not verify with the signer's key"] };
  const entry = findCrlEntry(crl, certificate.issuer, certificate.serialHex);
  return {
    usable: true,
    revoked: !!entry && entry.reasonCode !== CRL_REASON.removeFromCRL,
    entry,
    reasonsMask: scope.reasonsMask,
    allReasons: scope.reasonsMask === ALL_REASONS,
  };
}
