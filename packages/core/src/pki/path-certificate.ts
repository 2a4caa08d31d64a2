/**
 * A certificate as path validation sees it: decoded once, with the extensions the
 * validator acts on, and a list of profile problems (RFC 5280 §4 rules that do not
 * depend on the certificate's place in a path). Problems do not stop decoding:
 * a certificate with problems can still be a candidate, and fails only when a path
 * actually uses it.
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
  readBitString,
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
import {
  EMAIL_ADDRESS_ATTRIBUTE,
  generalNameProblem,
  readDistinguishedName,
  readGeneralName,
  readNameConstraints,
  subtreeProblem,
  namesEqual,
  type DistinguishedName,
  type GeneralName,
  type NameConstraints,
} from './path-names.js';
import { readPublicKeyInfo, readSigned, signatureScheme, type PublicKeyInfo, type SignatureScheme } from './path-signature.js';

/** Key usage bits (RFC 5280 §4.2.1.3), as bit positions. */
export const KEY_USAGE = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

/** Extensions the validator reads beyond those in {@link OID}. */
const EXTRA_OID = {
  issuerAltName: '2.5.29.18',
  freshestCrl: '2.5.29.46',
  subjectInfoAccess: '1.3.6.1.5.5.7.1.11',
  signedCertificateTimestamps: '1.3.6.1.4.1.11129.2.4.2',
  anyPolicy: '2.5.29.32.0',
} as const;

/**
 * Extensions whose meaning the validator applies, so they may be critical.
 * Anything else marked critical makes the certificate unusable (RFC 5280 §4.2).
 */
const PROCESSED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.nameConstraints,
  OID.certificatePolicies,
  OID.policyConstraints,
  OID.inhibitAnyPolicy,
  OID.policyMappings,
  EXTRA_OID.issuerAltName,
]);

/** Extensions RFC 5280 requires to be non-critical. */
const MUST_BE_NON_CRITICAL: ReadonlySet<string> = new Set([
  OID.authorityKeyIdentifier,
  OID.subjectKeyIdentifier,
  OID.authorityInfoAccess,
  EXTRA_OID.subjectInfoAccess,
  EXTRA_OID.freshestCrl,
]);

/** Longest serial number RFC 5280 §4.1.2.2 allows, in octets. */
export const SERIAL_OCTETS_MAX = 20;

/** A profile problem found while decoding: a detail code and a sentence. */
export interface CertificateProblem {
  readonly detail: string;
  readonly message: string;
}

/** One certificate extension. */
export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** Policy-related extension values (RFC 5280 §4.2.1.4, .5, .11, .14). */
export interface CertificatePolicyInfo {
  /** Policy OIDs of certificatePolicies, or undefined when the extension is absent. */
  readonly policies: readonly string[] | undefined;
  readonly requireExplicitPolicy: number | undefined;
  readonly inhibitPolicyMapping: number | undefined;
  readonly inhibitAnyPolicy: number | undefined;
  readonly hasPolicyMappings: boolean;
}

/** A decoded certificate. */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  /** Hex of the DER, used as an identity key. */
  readonly id: string;
  readonly version: number;
  readonly serial: Uint8Array;
  readonly serialHex: string;
  readonly signatureAlgorithm: Uint8Array;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBeforeSeconds: number;
  readonly notAfterSeconds: number;
  readonly spki: Uint8Array;
  readonly publicKey: PublicKeyInfo | undefined;
  readonly publicKeyProblem: string | undefined;
  readonly scheme: SignatureScheme | undefined;
  readonly schemeProblem: string | undefined;
  readonly extensions: readonly CertificateExtension[];
  readonly isCa: boolean;
  readonly hasBasicConstraints: boolean;
  readonly pathLength: number | undefined;
  /** Key usage bits, or undefined when the extension is absent. */
  readonly keyUsage: ReadonlySet<number> | undefined;
  /** EKU OIDs, or undefined when the extension is absent. */
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly subjectAltNames: readonly GeneralName[];
  readonly nameConstraints: NameConstraints | undefined;
  readonly authorityKeyId: Uint8Array | undefined;
  readonly subjectKeyId: Uint8Array | undefined;
  /** Subject and issuer are the same name (RFC 5280 §6.1: such certificates do not count towards path length). */
  readonly selfIssued: boolean;
  readonly policy: CertificatePolicyInfo;
  readonly problems: readonly CertificateProblem[];
}

function readKeyUsage(value: Uint8Array): Set<number> {
  const bits = readBitString(readRoot(value), 'keyUsage');
  const set = new Set<number>();
  bits.bytes.forEach((octet, index) => {
    for (let bit = 0; bit < 8; bit++) if ((octet & (0x80 >> bit)) !== 0) set.add(index * 8 + bit);
  });
  return set;
}

/** Reads an IMPLICIT [n] INTEGER (SkipCerts) as a small non-negative number. */
function readImplicitSkipCerts(element: DerElement): number {
  const bytes = content(element);
  if (element.constructed || bytes.length === 0 || bytes.length > 4 || ((bytes[0] as number) & 0x80) !== 0) throw new DerError('SkipCerts: not a small INTEGER');
  if (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] as number) & 0x80) === 0) throw new DerError('SkipCerts: not minimal');
  let value = 0;
  for (const octet of bytes) value = value * 256 + octet;
  return value;
}

/**
 * Decodes a certificate. Throws {@link DerError} only when the outer structure
 * cannot be read at all; profile problems are collected in `problems`.
 *
 * @example
 * const certificate = parseCertificate(der);
 * if (certificate.problems.length > 0) console.log(certificate.problems);
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const problems: CertificateProblem[] = [];
  const problem = (detail: string, message: string): void => {
    problems.push({ detail, message });
  };
  const signed = readSigned(der);
  const fields = sequence(readRoot(signed.tbs), 'TBSCertificate');
  let index = 0;
  let version = 1;
  const first = fields[0];
  if (first && isContext(first, 0)) {
    const [versionElement, extra] = children(first);
    if (extra) throw new DerError('version: too many fields');
    version = readSmallInteger(versionElement, 'version') + 1;
    if (version === 1) problem('CERTIFICATE_MALFORMED', 'an explicit v1 version is not DER (DEFAULT must be omitted)');
    index = 1;
  }
  const serial = readIntegerBytes(fields[index++], 'serialNumber');
  const tbsAlgorithm = encoding(expectUniversal(fields[index++], TAG.sequence, 'signature'));
  const issuer = readDistinguishedName(fields[index++], 'issuer');
  const validity = sequence(fields[index++], 'validity');
  if (validity.length !== 2) throw new DerError('validity: expected two times');
  const notBeforeSeconds = readTimeSeconds(validity[0], 'notBefore');
  const notAfterSeconds = readTimeSeconds(validity[1], 'notAfter');
  const subject = readDistinguishedName(fields[index++], 'subject');
  const spkiElement = expectUniversal(fields[index++], TAG.sequence, 'subjectPublicKeyInfo');
  const spki = encoding(spkiElement);
  const extensions: CertificateExtension[] = [];
  let lastTag = 0;
  for (const field of fields.slice(index)) {
    if (field.tagClass !== TAG_CLASS.contextSpecific || field.tagNumber < 1 || field.tagNumber > 3 || field.tagNumber <= lastTag) {
      throw new DerError('TBSCertificate: unexpected trailing field');
    }
    lastTag = field.tagNumber;
    if (field.tagNumber !== 3) {
      problem('CERTIFICATE_MALFORMED', 'unique identifiers are not allowed in this profile');
      continue;
    }
    const [list, extra] = children(field);
    if (extra) throw new DerError('extensions: too many fields');
    const items = sequence(list, 'extensions');
    if (items.length === 0) problem('CERTIFICATE_MALFORMED', 'the extensions field is present but empty');
    for (const item of items) {
      const parts = sequence(item, 'extension');
      const oid = readOid(parts[0], 'extnID');
      let critical = false;
      let valueIndex = 1;
      const second = parts[1];
      if (second && isUniversal(second, TAG.boolean)) {
        critical = readBoolean(second, 'critical');
        valueIndex = 2;
      }
      const valueElement = expectUniversal(parts[valueIndex], TAG.octetString, 'extnValue');
      if (parts.length !== valueIndex + 1) throw new DerError('extension: too many fields');
      extensions.push({ oid, critical, value: content(valueElement) });
    }
  }

  if (version !== 3) problem('VERSION_NOT_V3', `version ${version} certificates are not accepted; v3 is required`);
  if (!bytesEqual(signed.algorithm, tbsAlgorithm)) {
    problem('SIGNATURE_ALGORITHM_MISMATCH', 'signatureAlgorithm differs from the signature field inside the certificate (RFC 5280 §4.1.1.2)');
  }
  if (((serial[0] as number) & 0x80) !== 0) problem('SERIAL_INVALID', 'the serial number is negative (RFC 5280 §4.1.2.2)');
  else if (serial.every((octet) => octet === 0)) problem('SERIAL_INVALID', 'the serial number is zero (RFC 5280 §4.1.2.2)');
  if (serial.length > SERIAL_OCTETS_MAX) problem('SERIAL_INVALID', `the serial number has ${serial.length} octets; at most ${SERIAL_OCTETS_MAX} are allowed`);
  if (issuer.rdns.length === 0) problem('ISSUER_EMPTY', 'the issuer name is empty (RFC 5280 §4.1.2.4)');

  let scheme: SignatureScheme | undefined;
  let schemeProblem: string | undefined;
  try {
    scheme = signatureScheme(signed.algorithm);
  } catch (error) {
    schemeProblem = error instanceof Error ? error.message : 'unknown signature algorithm';
  }
  let publicKey: PublicKeyInfo | undefined;
  let publicKeyProblem: string | undefined;
  try {
    publicKey = readPublicKeyInfo(spki);
  } catch (error) {
    publicKeyProblem = error instanceof Error ? error.message : 'unreadable public key';
    problem('KEY_UNSUPPORTED', `the subject public key is refused: ${publicKeyProblem}`);
  }

  const seen = new Set<string>();
  let isCa = false;
  let hasBasicConstraints = false;
  let basicConstraintsCritical = false;
  let pathLength: number | undefined;
  let keyUsage: Set<number> | undefined;
  let extendedKeyUsage: string[] | undefined;
  let subjectAltNames: GeneralName[] = [];
  let sanCritical = false;
  let hasSan = false;
  let nameConstraints: NameConstraints | undefined;
  let hasNameConstraints = false;
  let authorityKeyId: Uint8Array | undefined;
  let hasAuthorityKeyIdentifier = false;
  let subjectKeyId: Uint8Array | undefined;
  let policies: string[] | undefined;
  let requireExplicitPolicy: number | undefined;
  let inhibitPolicyMapping: number | undefined;
  let inhibitAnyPolicy: number | undefined;
  let hasPolicyMappings = false;

  for (const extension of extensions) {
    if (seen.has(extension.oid)) {
      problem('EXTENSION_DUPLICATE', `extension ${extension.oid} appears more than once (RFC 5280 §4.2)`);
      continue;
    }
    seen.add(extension.oid);
    if (extension.critical && !PROCESSED_EXTENSIONS.has(extension.oid) && !MUST_BE_NON_CRITICAL.has(extension.oid)) {
      problem('UNKNOWN_CRITICAL_EXTENSION', `critical extension ${extension.oid} is not recognised`);
    }
    if (extension.critical && MUST_BE_NON_CRITICAL.has(extension.oid)) {
      problem('EXTENSION_CRITICALITY', `extension ${extension.oid} must not be critical`);
    }
    try {
      switch (extension.oid) {
        case OID.basicConstraints: {
          hasBasicConstraints = true;
          basicConstraintsCritical = extension.critical;
          const parts = sequence(readRoot(extension.value), 'basicConstraints');
          let at = 0;
          const head = parts[0];
          if (head && isUniversal(head, TAG.boolean)) {
            isCa = readBoolean(head, 'cA');
            at = 1;
          }
          if (parts[at]) pathLength = readSmallInteger(parts[at], 'pathLenConstraint');
          if (parts.length > at + 1) throw new DerError('basicConstraints: too many fields');
          break;
        }
        case OID.keyUsage:
          keyUsage = readKeyUsage(extension.value);
          if (keyUsage.size === 0) problem('KEY_USAGE_INVALID', 'keyUsage is present with no bit set (RFC 5280 §4.2.1.3)');
          break;
        case OID.extKeyUsage: {
          extendedKeyUsage = sequence(readRoot(extension.value), 'extKeyUsage').map((element) => readOid(element, 'KeyPurposeId'));
          if (extendedKeyUsage.length === 0) problem('EKU_INVALID', 'extKeyUsage is present but lists no purpose (RFC 5280 §4.2.1.12)');
          break;
        }
        case OID.subjectAltName: {
          hasSan = true;
          sanCritical = extension.critical;
          subjectAltNames = sequence(readRoot(extension.value), 'subjectAltName').map((element) => readGeneralName(element, 'subjectAltName'));
          if (subjectAltNames.length === 0) problem('SAN_INVALID', 'subjectAltName is present but empty');
          for (const name of subjectAltNames) {
            const why = generalNameProblem(name);
            if (why) problem('SAN_INVALID', `subjectAltName: ${why}`);
          }
          break;
        }
        case OID.nameConstraints: {
          hasNameConstraints = true;
          if (!extension.critical) problem('EXTENSION_CRITICALITY', 'nameConstraints must be critical (RFC 5280 §4.2.1.10)');
          nameConstraints = readNameConstraints(readRoot(extension.value));
          for (const subtree of [...nameConstraints.permitted, ...nameConstraints.excluded]) {
            const why = subtreeProblem(subtree.base);
            if (why) problem('NAME_CONSTRAINTS_INVALID', why);
          }
          break;
        }
        case OID.authorityKeyIdentifier: {
          hasAuthorityKeyIdentifier = true;
          for (const field of sequence(readRoot(extension.value), 'authorityKeyIdentifier')) {
            if (isContext(field, 0) && !field.constructed) authorityKeyId = content(field);
            else if (!(isContext(field, 1) || isContext(field, 2))) throw new DerError('authorityKeyIdentifier: unexpected field');
          }
          break;
        }
        case OID.subjectKeyIdentifier:
          subjectKeyId = content(expectUniversal(readRoot(extension.value), TAG.octetString, 'subjectKeyIdentifier'));
          break;
        case OID.authorityInfoAccess: {
          const descriptions = sequence(readRoot(extension.value), 'authorityInfoAccess');
          if (descriptions.length === 0) throw new DerError('authorityInfoAccess: no access description');
          for (const description of descriptions) {
            const [method, location, extra] = sequence(description, 'AccessDescription');
            readOid(method, 'accessMethod');
            if (!location || extra) throw new DerError('AccessDescription: expected method and location');
            readGeneralName(location, 'accessLocation');
          }
          break;
        }
        case OID.certificatePolicies: {
          policies = sequence(readRoot(extension.value), 'certificatePolicies').map((element) => readOid(sequence(element, 'PolicyInformation')[0], 'policyIdentifier'));
          if (policies.length === 0) throw new DerError('certificatePolicies: empty');
          if (new Set(policies).size !== policies.length) problem('CERTIFICATE_MALFORMED', 'certificatePolicies repeats a policy (RFC 5280 §4.2.1.4)');
          break;
        }
        case OID.policyConstraints: {
          if (!extension.critical) problem('EXTENSION_CRITICALITY', 'policyConstraints must be critical (RFC 5280 §4.2.1.11)');
          const parts = sequence(readRoot(extension.value), 'policyConstraints');
          if (parts.length === 0) throw new DerError('policyConstraints: empty');
          for (const part of parts) {
            const value = readImplicitSkipCerts(part);
            if (isContext(part, 0)) requireExplicitPolicy = value;
            else if (isContext(part, 1)) inhibitPolicyMapping = value;
            else throw new DerError('policyConstraints: unexpected field');
          }
          break;
        }
        case OID.inhibitAnyPolicy:
          inhibitAnyPolicy = readSmallInteger(readRoot(extension.value), 'inhibitAnyPolicy');
          break;
        case OID.policyMappings:
          hasPolicyMappings = true;
          if (sequence(readRoot(extension.value), 'policyMappings').length === 0) throw new DerError('policyMappings: empty');
          break;
        default:
          break;
      }
    } catch (error) {
      const why = error instanceof Error ? error.message : 'unreadable';
      const detail = extension.oid === OID.subjectAltName ? 'SAN_INVALID' : extension.oid === OID.nameConstraints ? 'NAME_CONSTRAINTS_INVALID' : 'EXTENSION_MALFORMED';
      problem(detail, `extension ${extension.oid} cannot be decoded: ${why}`);
    }
  }

  const selfIssued = namesEqual(subject, issuer);
  // Position-independent profile rules of RFC 5280 §4.2.
  if (isCa && !basicConstraintsCritical) problem('EXTENSION_CRITICALITY', 'basicConstraints of a CA certificate must be critical (RFC 5280 §4.2.1.9)');
  if (isCa && subject.rdns.length === 0) problem('SUBJECT_EMPTY', 'a CA certificate must have a non-empty subject (RFC 5280 §4.1.2.6)');
  if (isCa && !subjectKeyId) problem('SKI_MISSING', 'a CA certificate must carry subjectKeyIdentifier (RFC 5280 §4.2.1.2)');
  if (!selfIssued && !authorityKeyId) {
    problem('AKI_MISSING', hasAuthorityKeyIdentifier
      ? 'authorityKeyIdentifier has no keyIdentifier (RFC 5280 §4.2.1.1)'
      : 'a certificate that is not self-issued must carry authorityKeyIdentifier (RFC 5280 §4.2.1.1)');
  }
  if (keyUsage?.has(KEY_USAGE.keyCertSign) && !isCa) problem('KEY_USAGE_INCONSISTENT', 'keyCertSign is asserted but basicConstraints cA is not (RFC 5280 §4.2.1.9)');
  if (isCa && keyUsage && !keyUsage.has(KEY_USAGE.keyCertSign)) problem('KEY_USAGE_INCONSISTENT', 'a CA certificate with keyUsage must assert keyCertSign');
  if (pathLength !== undefined && (!isCa || (keyUsage !== undefined && !keyUsage.has(KEY_USAGE.keyCertSign)))) {
    problem('KEY_USAGE_INCONSISTENT', 'pathLenConstraint requires cA and keyCertSign (RFC 5280 §4.2.1.9)');
  }
  if (hasNameConstraints && !isCa) problem('NAME_CONSTRAINTS_IN_END_ENTITY', 'nameConstraints may only appear in CA certificates (RFC 5280 §4.2.1.10)');
  if (subject.rdns.length === 0) {
    if (!hasSan) problem('SUBJECT_EMPTY', 'the subject is empty and there is no subjectAltName (RFC 5280 §4.1.2.6)');
    else if (!sanCritical) problem('EXTENSION_CRITICALITY', 'subjectAltName must be critical when the subject is empty (RFC 5280 §4.2.1.6)');
  }
  for (const rdn of subject.rdns) {
    for (const attribute of rdn) {
      if (attribute.type === EMAIL_ADDRESS_ATTRIBUTE && attribute.text === undefined) problem('CERTIFICATE_MALFORMED', 'emailAddress in the subject is not a string');
    }
  }

  return {
    der,
    id: toHex(der),
    version,
    serial,
    serialHex: toHex(serial),
    signatureAlgorithm: signed.algorithm,
    issuer,
    subject,
    notBeforeSeconds,
    notAfterSeconds,
    spki,
    publicKey,
    publicKeyProblem,
    scheme,
    schemeProblem,
    extensions,
    isCa,
    hasBasicConstraints,
    pathLength,
    keyUsage,
    extendedKeyUsage,
    subjectAltNames,
    nameConstraints,
    authorityKeyId,
    subjectKeyId,
    selfIssued,
    policy: { policies, requireExplicitPolicy, inhibitPolicyMapping, inhibitAnyPolicy, hasPolicyMappings },
    problems,
  };
}

/** The names of a certificate that name constraints apply to (RFC 5280 §4.2.1.10). */
export function constrainedNames(certificate: ParsedCertificate): GeneralName[] {
  const names: GeneralName[] = [...certificate.subjectAltNames];
  if (certificate.subject.rdns.length > 0) names.push({ kind: 'directory', name: certificate.subject });
  for (const rdn of certificate.subject.rdns) {
    for (const attribute of rdn) {
      if (attribute.type === EMAIL_ADDRESS_ATTRIBUTE && attribute.text !== undefined) names.push({ kind: 'email', value: attribute.text });
    }
  }
  return names;
}
