/**
 * Builds and signs an X.509 certificate with ECDSA P-256 / SHA-256 (WebCrypto).
 */
import 'reflect-metadata';
import * as asn1X509 from '@peculiar/asn1-x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/x509';
import { readOid, readRoot, sequence } from './path-der.js';
import { p1363ToDer } from './signature.js';

const ECDSA_P256_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new RangeError('serial number must be hex octets');
  return new Uint8Array(hex.match(/../g)!.map((h) => Number.parseInt(h, 16)));
}

function extensionOid(extension: x509.Extension): string {
  return readOid(sequence(readRoot(new Uint8Array(extension.rawData)), 'Extension')[0], 'extnID');
}

/** What {@link createCertificate} signs. */
export interface CertificateParams {
  serialNumberHex: string;
  subject: x509.JsonName | string | x509.Name;
  issuer: string | x509.Name;
  notBefore: Date;
  notAfter: Date;
  publicKey: x509.PublicKey | CryptoKey;
  signingKey: CryptoKey;
  extensions: x509.Extension[];
}

/**
 * Builds and signs a certificate (ECDSA P-256, SHA-256).
 *
 * Why not `X509CertificateGenerator.create`: it re-parses every extension before
 * encoding, and asn1js decodes an OID arc above 2^53 into a private `{hex}` form that
 * it then encodes as a truncated OID — our private extensions (UUID arc 2.25.…)
 * would come out as `2.25`. Here each extension's OID is read from its own DER by
 * core's reader (exact for any arc) and handed to asn1js as a decimal string, which
 * it encodes correctly. (`Extension.type` cannot be used: it is the decoded form.)
 */
export async function createCertificate(params: CertificateParams): Promise<x509.X509Certificate> {
  const spki = params.publicKey instanceof x509.PublicKey ? params.publicKey.rawData : await crypto.subtle.exportKey('spki', params.publicKey);
  const name = (n: x509.JsonName | string | x509.Name) => AsnConvert.parse((n instanceof x509.Name ? n : new x509.Name(n)).toArrayBuffer(), asn1X509.Name);
  const algorithm = new asn1X509.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const tbs = new asn1X509.TBSCertificate({
    version: asn1X509.Version.v3,
    serialNumber: hexBytes(params.serialNumberHex).buffer,
    signature: algorithm,
    issuer: name(params.issuer),
    validity: new asn1X509.Validity({ notBefore: params.notBefore, notAfter: params.notAfter }),
    subject: name(params.subject),
    subjectPublicKeyInfo: AsnConvert.parse(spki, asn1X509.SubjectPublicKeyInfo),
    extensions: new asn1X509.Extensions(
      params.extensions.map((e) => new asn1X509.Extension({ extnID: extensionOid(e), critical: e.critical, extnValue: new OctetString(e.value) })),
    ),
  });
  const tbsDer = AsnConvert.serialize(tbs);
  const signature = await crypto.subtle.sign(ECDSA_P256_SHA256, params.signingKey, tbsDer);
  const certificate = new asn1X509.Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: p1363ToDer(new Uint8Array(signature)).buffer });
  return new x509.X509Certificate(AsnConvert.serialize(certificate));
}
