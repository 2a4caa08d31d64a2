/**
 * Certificate revocation lists (RFC 5280 §5) as the path validator uses them:
 * decoded once, with the problems that make a CRL unusable listed instead of thrown.
 * Delta CRLs, indirect CRLs and partitioned CRLs (a critical issuingDistributionPoint)
 * are not supported and are reported as problems, so a caller never mistakes them
 * for complete revocation information.
 */
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
import { readDistinguishedName, type DistinguishedName } from './path-names.js';
import { readSigned } from './path-signature.js';

const CRL_EXTENSION = {
  crlNumber: OID.crlNumber,
  authorityKeyIdentifier: OID.authorityKeyIdentifier,
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCrl: '2.5.29.46',
  issuerAltName: '2.5.29.18',
  authorityInfoAccess: OID.authorityInfoAccess,
} as const;

const ENTRY_EXTENSION = {
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29',
} as const;

/** A decoded CRL. */
export interface ParsedCrl {
  readonly der: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly thisUpdateSeconds: number;
  readonly nextUpdateSeconds: number | undefined;
  /** Hex of each revoked serial number's INTEGER content octets. */
  readonly revokedSerials: ReadonlySet<string>;
  readonly authorityKeyId: Uint8Array | undefined;
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

/**
 * Decodes a CRL. Throws {@link DerError} when the outer structure cannot be read;
 * rule violations are collected in `problems`.
 *
 * @example
 * const crl = parseCrl(crlDer);
 * const usable = crl.problems.length === 0;
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
  const revokedSerials = new Set<string>();
  const entriesElement = fields[index];
  if (entriesElement && isUniversal(entriesElement, TAG.sequence)) {
    index++;
    for (const entry of sequence(entriesElement, 'revokedCertificates')) {
      const parts = sequence(entry, 'revoked certificate');
      revokedSerials.add(toHex(readIntegerBytes(parts[0], 'userCertificate')));
      readTimeSeconds(parts[1], 'revocationDate');
      if (parts[2]) {
        for (const extension of readExtensions(parts[2], 'crlEntryExtensions')) {
          if (extension.oid === ENTRY_EXTENSION.certificateIssuer) problems.push('indirect CRLs (certificateIssuer entries) are not supported');
          else if (extension.critical && extension.oid !== ENTRY_EXTENSION.reasonCode && extension.oid !== ENTRY_EXTENSION.invalidityDate) {
            problems.push(`critical CRL entry extension ${extension.oid} is not recognised`);
          }
        }
      }
      if (parts.length > 3) throw new DerError('revoked certificate: too many fields');
    }
  }
  let hasCrlNumber = false;
  let authorityKeyId: Uint8Array | undefined;
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
          // A partitioned or indirect CRL may not cover every certificate; without
          // distribution-point processing it is not trusted as complete.
          problems.push('CRLs with an issuingDistributionPoint are not supported');
          break;
        default:
          if (extension.critical) problems.push(`critical CRL extension ${extension.oid} is not recognised`);
      }
    }
  }
  if (fields.length !== index) throw new DerError('TBSCertList: unexpected trailing field');
  if (!hasCrlNumber) problems.push('the CRL has no cRLNumber (RFC 5280 §5.2.3)');
  if (version !== 2) problems.push(`CRL version ${version} is not accepted; v2 is required`);
  if (!bytesEqual(algorithm, signed.algorithm)) problems.push('CRL signatureAlgorithm differs from the signature field inside it');
  if (nextUpdateSeconds === undefined) problems.push('the CRL has no nextUpdate, so its freshness cannot be judged');
  return { der, issuer, thisUpdateSeconds, nextUpdateSeconds, revokedSerials, authorityKeyId, problems };
}
