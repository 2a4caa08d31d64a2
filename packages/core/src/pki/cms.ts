/**
 * CMS SignedData (RFC 5652) for payment evidence: one signer, ECDSA P-256 with
 * SHA-256, signed attributes (contentType, signingTime, messageDigest and the ESS
 * signing-certificate-v2 of RFC 5035, which binds the signer's certificate itself
 * into what is signed), the content encapsulated, the signer's chain and root
 * included, and — for long-term evidence — the CRLs that prove the chain's status
 * and an RFC 3161 time-stamp token over the signature as an unsigned attribute.
 * OpenSSL checks it with `openssl cms -verify -binary -inform DER -CAfile root.pem
 * -purpose any -crl_check_all -attime <time-stamp time>` (docs/pki.md).
 *
 * The signature is made where the key is (the browser): {@link signedAttributes}
 * gives the exact bytes to sign; {@link assembleSignedData} wraps content,
 * attributes, signature and certificates without re-encoding any of them.
 */
import { toHex } from '../encoding/index.js';
import { derOctetString, derOid, derSequence, derSetOf, derSetOrder, derSmallInteger, derUtcTime, flatten, pending, type Pending, tlv } from './der-writer.js';
import { bytesEqual, children, content, DerError, type DerElement, encoding, expectUniversal, isContext, isUniversal, readOid, readRoot, readSmallInteger, readTimeSeconds, sequence, TAG } from './path-der.js';
import { parseCertificate } from './path-certificate.js';

/** What the parsers here throw on malformed DER; re-exported so callers need no internal module. */
export { DerError } from './path-der.js';
import { derToP1363, importVerifyingKey, verifyP1363 } from './signature.js';

export const OID_CMS = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  /** ESS signing-certificate-v2 (RFC 5035). */
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  /** Unsigned attribute carrying an RFC 3161 token over the signature (RFC 3161 Appendix A). */
  signatureTimeStampToken: '1.2.840.113549.1.9.16.2.14',
} as const;

/** Largest CMS file we read (evidence is a few kilobytes). */
export const CMS_LENGTH_MAX = 1_000_000;

async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * The value of an ESS signing-certificate-v2 attribute naming one certificate:
 * `SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 }` with the certificate's
 * SHA-256 hash (the default algorithm, so omitted as DER asks) and its issuer and
 * serial number, as RFC 5035 §3 recommends.
 */
export async function signingCertificateV2Value(certificateDer: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const certificate = parseCertificate(certificateDer);
  const issuerSerial = derSequence(derSequence(tlv(0xa4, certificate.issuer.der)), tlv(0x02, certificate.serial));
  return derSequence(derSequence(derSequence(derOctetString(await sha256(certificateDer)), issuerSerial)));
}

/**
 * The DER `SET OF Attribute` the signer signs: contentType id-data, signingTime,
 * messageDigest = SHA-256(content), and signing-certificate-v2 naming the signer's
 * certificate (so a verifier cannot be handed another certificate with the same key).
 */
export async function signedAttributes(contentBytes: Uint8Array, signingTime: Date, signerCertificateDer: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return derSetOf([
    attribute(OID_CMS.contentType, derOid(OID_CMS.data)),
    attribute(OID_CMS.signingTime, derUtcTime(new Date(Math.floor(signingTime.getTime() / 1000) * 1000))),
    attribute(OID_CMS.messageDigest, derOctetString(await sha256(contentBytes))),
    attribute(OID_CMS.signingCertificateV2, await signingCertificateV2Value(signerCertificateDer)),
  ]);
}

function attribute(oid: string, ...values: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return derSequence(derOid(oid), derSetOf(values));
}

/** An attribute outside the signature (RFC 5652 §5.3 unsignedAttrs): its type and DER values. */
export interface UnsignedAttribute {
  oid: string;
  values: Uint8Array[];
}

export interface SignedDataParts {
  content: Uint8Array;
  /** Exactly the bytes {@link signedAttributes} returned and the signer signed. */
  signedAttributesDer: Uint8Array;
  /** The ECDSA signature, DER-encoded (`Ecdsa-Sig-Value`). */
  signatureDer: Uint8Array;
  signerCertificate: Uint8Array;
  /** Further certificates to carry (issuing CA, the master of an additional certificate, the root…). */
  otherCertificates: readonly Uint8Array[];
  /** DER CRLs to carry in `crls` (revocation data proving the chain's status). */
  crls?: readonly Uint8Array[];
  /** Unsigned attributes of the signer (the signature time-stamp token). */
  unsignedAttributes?: readonly UnsignedAttribute[];
  /**
   * The signer certificate's issuer name (DER) and serial, when the caller has them
   * already: a server assembling evidence for every payment keeps them per certificate
   * instead of parsing the certificate each time.
   */
  signer?: SignerIdentifier;
}

/** What names the signer in a SignerInfo (`IssuerAndSerialNumber`). */
export interface SignerIdentifier {
  issuerDer: Uint8Array;
  /** The serial's INTEGER content bytes. */
  serial: Uint8Array;
}

/** The issuer and serial of a certificate, as {@link assembleSignedData} names its signer. */
export function signerIdentifier(certificateDer: Uint8Array): SignerIdentifier {
  const certificate = parseCertificate(certificateDer);
  return { issuerDer: certificate.issuer.der, serial: certificate.serial };
}

const SHA256_ALGORITHM = derSequence(derOid(OID_CMS.sha256));
const ECDSA_WITH_SHA256_ALGORITHM = derSequence(derOid(OID_CMS.ecdsaWithSha256));
const VERSION_1 = derSmallInteger(1);
const DIGEST_ALGORITHMS = derSetOf([SHA256_ALGORITHM]);
/** The identifier octet of signedAttrs in a SignerInfo: [0] IMPLICIT SET OF Attribute. */
const SIGNED_ATTRIBUTES_TAG = new Uint8Array([0xa0]);

/**
 * The DER ContentInfo holding the SignedData. Written once into one buffer (see
 * der-writer's `pending`): the evidence nests its kilobytes of certificates, CRLs and
 * time-stamp token five levels deep, and writing each level as it was made copied them
 * all at every level — as much CPU per payment as the SHA-256 of the content. The bytes
 * are the same (a test holds them to the level-by-level encoding).
 */
export function assembleSignedData(parts: SignedDataParts): Uint8Array<ArrayBuffer> {
  const signer = parts.signer ?? signerIdentifier(parts.signerCertificate);
  const attributes = parts.signedAttributesDer;
  if (attributes[0] !== 0x31) throw new DerError('signed attributes must be a DER SET');
  const unsigned = parts.unsignedAttributes ?? [];
  const signerInfo = pending(
    0x30,
    VERSION_1,
    pending(0x30, signer.issuerDer, pending(0x02, signer.serial)),
    SHA256_ALGORITHM,
    // In SignerInfo the SET is tagged [0] IMPLICIT: same length and content after the tag.
    SIGNED_ATTRIBUTES_TAG,
    attributes.subarray(1),
    ECDSA_WITH_SHA256_ALGORITHM,
    pending(0x04, parts.signatureDer),
    // unsignedAttrs [1] IMPLICIT SET OF Attribute: DER sorts it like any SET OF (by encoding,
    // so with more than one attribute each is written first to be compared).
    ...(unsigned.length === 1
      ? [pending(0xa1, pendingAttribute(unsigned[0]!))]
      : unsigned.length > 1
        ? [pending(0xa1, ...derSetOrder(unsigned.map((a) => flatten(pendingAttribute(a)))))]
        : []),
  );
  const signedData = pending(
    0x30,
    VERSION_1,
    DIGEST_ALGORITHMS,
    pending(0x30, derOid(OID_CMS.data), pending(0xa0, pending(0x04, parts.content))),
    pending(0xa0, parts.signerCertificate, ...parts.otherCertificates),
    // crls [1] IMPLICIT RevocationInfoChoices (a SET OF CertificateList): sorted as DER asks.
    ...(parts.crls && parts.crls.length > 0 ? [pending(0xa1, ...derSetOrder(parts.crls))] : []),
    pending(0x31, signerInfo),
  );
  return flatten(pending(0x30, derOid(OID_CMS.signedData), pending(0xa0, signedData)));
}

function pendingAttribute(a: UnsignedAttribute): Pending {
  return pending(0x30, derOid(a.oid), pending(0x31, ...derSetOrder(a.values)));
}

/** What a SignedData holds, read without judging it. */
export interface ParsedSignedData {
  content: Uint8Array;
  certificates: Uint8Array[];
  /** DER CRLs carried in `crls` (other revocation formats are skipped). */
  crls: Uint8Array[];
  /** The signer's unsigned attributes, in file order. */
  unsignedAttributes: UnsignedAttribute[];
  /** SHA-256 of the signer's certificate from the signing-certificate-v2 attribute, when present. */
  signingCertificateHash: Uint8Array | undefined;
  signer: { issuerDer: Uint8Array; serial: Uint8Array };
  /** The signed attributes re-tagged as the SET that was signed. */
  signedAttributesDer: Uint8Array;
  signatureDer: Uint8Array;
  messageDigest: Uint8Array;
  signingTimeSeconds: number;
  contentTypeOid: string;
}

/** What the signed attributes say. */
export interface SignedAttributeValues {
  messageDigest: Uint8Array;
  signingTimeSeconds: number;
  contentTypeOid: string;
  /** The first ESSCertIDv2's SHA-256 certificate hash, when the attribute is present. */
  signingCertificateHash: Uint8Array | undefined;
}

/** The certificate hash of the first ESSCertIDv2 (SHA-256 only: another hash algorithm is refused). */
function readSigningCertificateV2(value: DerElement): Uint8Array {
  const [certs] = sequence(value, 'SigningCertificateV2');
  const [first] = sequence(certs, 'certs');
  const fields = sequence(first, 'ESSCertIDv2');
  let at = 0;
  if (fields[0] && isUniversal(fields[0], TAG.sequence)) {
    if (readOid(sequence(fields[0], 'hashAlgorithm')[0]) !== OID_CMS.sha256) throw new DerError('signing-certificate-v2 must use SHA-256');
    at = 1;
  }
  const hash = content(expectUniversal(fields[at], TAG.octetString, 'certHash'));
  if (hash.length !== 32) throw new DerError('certHash must be a SHA-256 hash');
  return hash;
}

function readAttributes(attributes: DerElement): SignedAttributeValues {
  let messageDigest: Uint8Array | undefined;
  let signingTimeSeconds: number | undefined;
  let contentTypeOid: string | undefined;
  let signingCertificateHash: Uint8Array | undefined;
  const seen = new Set<string>();
  for (const attribute of children(attributes)) {
    const [oidElement, values] = sequence(attribute, 'Attribute');
    const oid = readOid(oidElement);
    // RFC 5652 §5.3: each of these attribute types appears at most once, with one value.
    if (seen.has(oid)) throw new DerError(`signed attribute ${oid} appears twice`);
    seen.add(oid);
    const valueList = children(expectUniversal(values, TAG.set, 'attribute values'));
    if (valueList.length !== 1) throw new DerError('an attribute must have one value');
    if (oid === OID_CMS.messageDigest) messageDigest = content(expectUniversal(valueList[0], TAG.octetString, 'messageDigest'));
    else if (oid === OID_CMS.signingTime) signingTimeSeconds = readTimeSeconds(valueList[0], 'signingTime');
    else if (oid === OID_CMS.contentType) contentTypeOid = readOid(valueList[0]);
    else if (oid === OID_CMS.signingCertificateV2) signingCertificateHash = readSigningCertificateV2(valueList[0]!);
  }
  if (!messageDigest || signingTimeSeconds === undefined || !contentTypeOid) throw new DerError('contentType, signingTime and messageDigest are required');
  return { messageDigest, signingTimeSeconds, contentTypeOid, signingCertificateHash };
}

function readUnsignedAttributes(element: DerElement): UnsignedAttribute[] {
  const result: UnsignedAttribute[] = [];
  for (const item of children(element)) {
    const [oidElement, values] = sequence(item, 'unsigned Attribute');
    result.push({ oid: readOid(oidElement), values: children(expectUniversal(values, TAG.set, 'attribute values')).map(encoding) });
  }
  return result;
}

/**
 * Reads the DER `SET OF Attribute` a signer signed (as {@link signedAttributes} makes
 * it, tag 0x31), without the SignedData around it: a server that assembles the file
 * itself checks the attributes and the signature before it does. Throws DerError.
 */
export function parseSignedAttributes(setDer: Uint8Array): SignedAttributeValues {
  const root = readRoot(setDer);
  if (setDer[0] !== 0x31) throw new DerError('signed attributes must be a DER SET');
  return readAttributes(root);
}

/** Reads a DER ContentInfo/SignedData with one signer (the shape we produce). Throws DerError otherwise. */
export function parseSignedData(der: Uint8Array): ParsedSignedData {
  if (der.length > CMS_LENGTH_MAX) throw new DerError('the file is too large');
  const outer = sequence(readRoot(der), 'ContentInfo');
  if (readOid(outer[0], 'contentType') !== OID_CMS.signedData) throw new DerError('not a SignedData');
  const wrapper = outer[1];
  if (!wrapper || !isContext(wrapper, 0)) throw new DerError('ContentInfo: content missing');
  const fields = sequence(children(wrapper)[0], 'SignedData');
  readSmallInteger(fields[0], 'version');
  const encap = sequence(fields[2], 'EncapsulatedContentInfo');
  if (readOid(encap[0], 'eContentType') !== OID_CMS.data) throw new DerError('content type is not id-data');
  if (!encap[1] || !isContext(encap[1], 0)) throw new DerError('the content is detached');
  const contentBytes = content(expectUniversal(children(encap[1])[0], TAG.octetString, 'eContent'));
  let index = 3;
  const certificates: Uint8Array[] = [];
  if (fields[index] && isContext(fields[index]!, 0)) {
    for (const c of children(fields[index]!)) certificates.push(encoding(c));
    index++;
  }
  const crls: Uint8Array[] = [];
  if (fields[index] && isContext(fields[index]!, 1)) {
    // RevocationInfoChoice: a CertificateList is a SEQUENCE; `other` ([1]) formats are skipped.
    for (const c of children(fields[index]!)) if (isUniversal(c, TAG.sequence)) crls.push(encoding(c));
    index++;
  }
  const signerInfos = children(expectUniversal(fields[index], TAG.set, 'signerInfos'));
  if (signerInfos.length !== 1) throw new DerError('exactly one signer expected');
  const info = sequence(signerInfos[0], 'SignerInfo');
  if (readSmallInteger(info[0], 'SignerInfo version') !== 1) throw new DerError('signer must be named by issuer and serial number');
  const sid = sequence(info[1], 'IssuerAndSerialNumber');
  const issuerDer = encoding(expectUniversal(sid[0], TAG.sequence, 'issuer'));
  const serial = content(expectUniversal(sid[1], TAG.integer, 'serialNumber'));
  if (readOid(sequence(info[2], 'digestAlgorithm')[0]) !== OID_CMS.sha256) throw new DerError('digest must be SHA-256');
  const attrsElement = info[3];
  if (!attrsElement || !isContext(attrsElement, 0)) throw new DerError('signed attributes missing');
  const signedAttributesDer = new Uint8Array(encoding(attrsElement));
  signedAttributesDer[0] = 0x31;
  if (readOid(sequence(info[4], 'signatureAlgorithm')[0]) !== OID_CMS.ecdsaWithSha256) throw new DerError('signature must be ECDSA with SHA-256');
  const signatureDer = content(expectUniversal(info[5], TAG.octetString, 'signature'));
  let unsignedAttributes: UnsignedAttribute[] = [];
  if (info[6]) {
    if (!isContext(info[6], 1)) throw new DerError('SignerInfo: unexpected trailing field');
    unsignedAttributes = readUnsignedAttributes(info[6]);
  }
  if (info.length > 7) throw new DerError('SignerInfo: too many fields');
  const { messageDigest, signingTimeSeconds, contentTypeOid, signingCertificateHash } = readAttributes(attrsElement);
  return {
    content: contentBytes, certificates, crls, unsignedAttributes, signingCertificateHash, signer: { issuerDer, serial }, signedAttributesDer, signatureDer,
    messageDigest, signingTimeSeconds, contentTypeOid,
  };
}

/**
 * The two primitives a signature check needs. The default is WebCrypto; a server
 * checking many files of the same signers may pass its own (one that keeps each
 * certificate's imported key, say).
 */
export interface SignatureCheckPrimitives {
  sha256(bytes: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** Whether `signatureP1363` (ECDSA P-256 with SHA-256) by the key of `certificateDer` verifies over `data`. */
  verify(certificateDer: Uint8Array, signatureP1363: Uint8Array, data: Uint8Array): Promise<boolean> | boolean;
}

const WEB_CRYPTO_PRIMITIVES: SignatureCheckPrimitives = {
  sha256,
  verify: async (certificateDer, signatureP1363, data) => verifyP1363(await importVerifyingKey(parseCertificate(certificateDer).spki), signatureP1363, data),
};

/**
 * Checks the signature of a SignedData: the signer's certificate is among those
 * carried, the digest matches the content, and the signer's key signed the
 * attributes. The certificate path is a separate question (validatePath).
 */
export async function checkSignedDataSignature(
  parsed: ParsedSignedData,
  primitives: SignatureCheckPrimitives = WEB_CRYPTO_PRIMITIVES,
): Promise<{ ok: true; signerCertificate: Uint8Array } | { ok: false; reason: string }> {
  const signerCertificate = parsed.certificates.find((c) => {
    try {
      const certificate = parseCertificate(c);
      return bytesEqual(certificate.issuer.der, parsed.signer.issuerDer) && toHex(certificate.serial) === toHex(parsed.signer.serial);
    } catch {
      return false;
    }
  });
  if (!signerCertificate) return { ok: false, reason: 'the signer certificate is not in the file' };
  if (parsed.signingCertificateHash && !bytesEqual(parsed.signingCertificateHash, await primitives.sha256(signerCertificate))) {
    return { ok: false, reason: 'the signing-certificate attribute names another certificate than the signer' };
  }
  if (parsed.contentTypeOid !== OID_CMS.data) return { ok: false, reason: 'the signed content type is not id-data' };
  if (!bytesEqual(parsed.messageDigest, await primitives.sha256(parsed.content))) return { ok: false, reason: 'the content does not match its signed digest' };
  let valid = false;
  try {
    valid = await primitives.verify(signerCertificate, derToP1363(parsed.signatureDer), parsed.signedAttributesDer);
  } catch {
    valid = false;
  }
  return valid ? { ok: true, signerCertificate } : { ok: false, reason: 'the signature does not verify' };
}

