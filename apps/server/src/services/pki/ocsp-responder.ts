/**
 * OCSP responder (RFC 6960) for certificates of the issuing CA. Answers are signed
 * by the issuing CA itself (no delegated responder), fresh for every request, so a
 * revocation shows at once.
 */
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, CRLReason, Certificate, Extension } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse, CertStatus, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID, ResponseBytes, ResponseData,
  RevokedInfo, SingleResponse, id_pkix_ocsp_basic, id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import type { CertificatesRepository } from '../../db/certificates-repository.js';
import type { CertificateAuthority } from './certificate-authority.js';
import { ecdsaSignatureToDer, hex } from './x509.js';

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
/** How long an answer may be cached by a client. */
const VALIDITY_MS = 10 * 60_000;
/** Nonce ::= OCTET STRING (SIZE(1..32)) (RFC 9654 §2.1). */
const NONCE_LENGTH_MIN_BYTES = 1;
const NONCE_LENGTH_MAX_BYTES = 32;

const REASON_CODES: Record<string, number> = { unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 };

function withoutLeadingZeros(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return hex(bytes.subarray(i));
}

/**
 * Whether an OCSP nonce extension's value is a DER OCTET STRING of 1 to 32 bytes. A DER
 * length of 128 or more needs the long form, so any long form here is too long anyway;
 * a value that is not exactly one OCTET STRING is as malformed as one of a wrong size.
 */
function nonceValueAcceptable(extnValue: Uint8Array): boolean {
  if (extnValue.length < 2 || extnValue[0] !== 0x04 || (extnValue[1]! & 0x80) !== 0) return false;
  const lengthBytes = extnValue[1]!;
  return extnValue.length === 2 + lengthBytes && lengthBytes >= NONCE_LENGTH_MIN_BYTES && lengthBytes <= NONCE_LENGTH_MAX_BYTES;
}

/** Whole seconds: GeneralizedTime in OCSP answers carries no fraction. */
function toSecond(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

export class OcspResponder {
  private issuerHashes = new Map<string, { nameHash: string; keyHash: string }>();

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly certificates: CertificatesRepository,
    private readonly clock: () => number,
  ) {}

  private async hashesFor(algorithm: string): Promise<{ nameHash: string; keyHash: string } | undefined> {
    const name = algorithm === SHA1 ? 'SHA-1' : algorithm === SHA256 ? 'SHA-256' : undefined;
    if (!name) return undefined;
    const cached = this.issuerHashes.get(name);
    if (cached) return cached;
    const cert = AsnConvert.parse(this.ca.issuing.certificate.rawData, Certificate);
    const nameDer = AsnConvert.serialize(cert.tbsCertificate.subject);
    const keyBits = cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey;
    const hashes = {
      nameHash: hex(await crypto.subtle.digest(name, nameDer)),
      keyHash: hex(await crypto.subtle.digest(name, keyBits)),
    };
    this.issuerHashes.set(name, hashes);
    return hashes;
  }

  /** Answers a DER OCSPRequest with a DER OCSPResponse (errors are OCSP statuses, per RFC 6960). */
  async respond(requestDer: Uint8Array): Promise<Uint8Array> {
    let request: OCSPRequest;
    try {
      request = AsnConvert.parse(requestDer, OCSPRequest);
    } catch {
      return statusOnly(OCSPResponseStatus.malformedRequest);
    }
    const list = request.tbsRequest.requestList;
    if (list.length === 0 || list.length > 10) return statusOnly(OCSPResponseStatus.malformedRequest);
    const nonces = request.tbsRequest.requestExtensions?.filter((e) => e.extnID === id_pkix_ocsp_nonce) ?? [];
    // RFC 9654 §2.1: a nonce outside 1..32 bytes is answered with malformedRequest; a second
    // nonce extension breaks the at-most-once rule for extensions (RFC 5280 §4.2).
    if (nonces.length > 1) return statusOnly(OCSPResponseStatus.malformedRequest);
    const nonce = nonces[0];
    if (nonce && !nonceValueAcceptable(new Uint8Array(nonce.extnValue.buffer))) return statusOnly(OCSPResponseStatus.malformedRequest);
    const nowMs = this.clock();
    const responses: SingleResponse[] = [];
    for (const { reqCert } of list) {
      const hashes = await this.hashesFor(reqCert.hashAlgorithm.algorithm);
      const forUs = hashes && hex(reqCert.issuerNameHash.buffer) === hashes.nameHash && hex(reqCert.issuerKeyHash.buffer) === hashes.keyHash;
      // We answer only for the issuing CA's certificates; anything else is not ours to sign for.
      if (!forUs) return statusOnly(OCSPResponseStatus.unauthorized);
      const record = await this.certificates.findBySerial(this.ca.issuing.id, withoutLeadingZeros(new Uint8Array(reqCert.serialNumber)));
      let certStatus: CertStatus;
      if (!record) certStatus = new CertStatus({ unknown: null });
      else if (record.status === 'revoked' && record.revokedAtMs !== null) {
        const reason = REASON_CODES[record.revocationReason ?? 'unspecified'];
        certStatus = new CertStatus({ revoked: new RevokedInfo({ revocationTime: toSecond(record.revokedAtMs), ...(reason !== undefined ? { revocationReason: new CRLReason(reason) } : {}) }) });
      } else certStatus = new CertStatus({ good: null });
      responses.push(new SingleResponse({ certID: reqCert, certStatus, thisUpdate: toSecond(nowMs), nextUpdate: toSecond(nowMs + VALIDITY_MS) }));
    }
    const issuerCert = AsnConvert.parse(this.ca.issuing.certificate.rawData, Certificate);
    const keyHash = await crypto.subtle.digest('SHA-1', issuerCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
    const tbs = new ResponseData({
      responderID: new ResponderID({ byKey: new OctetString(keyHash) }),
      producedAt: toSecond(nowMs),
      responses,
      ...(nonce ? { responseExtensions: [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: nonce.extnValue })] } : {}),
    });
    const tbsDer = AsnConvert.serialize(tbs);
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, this.ca.issuing.privateKey, tbsDer);
    const basic = new BasicOCSPResponse({
      tbsResponseData: tbs,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
      signature: ecdsaSignatureToDer(signature),
      certs: [issuerCert],
    });
    const response = new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
    });
    return new Uint8Array(AsnConvert.serialize(response));
  }
}

function statusOnly(status: OCSPResponseStatus): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: status })));
}
