/**
 * Certificate signing requests (PKCS#10, RFC 2986) for device keys, signed with
 * ECDSA-SHA256 through WebCrypto. The CA takes only the public key and proof of
 * possession from a CSR; everything else in the certificate is its own decision.
 */
import 'reflect-metadata';
import { Pkcs10CertificateRequest, Pkcs10CertificateRequestGenerator } from '@peculiar/x509';
import { fromPem } from './pem.js';
import { children, isContext, readOid, readRoot, sequence } from './path-der.js';

/** Longest common name (X.520 `ub-common-name`). */
export const CSR_COMMON_NAME_LENGTH_MAX = 64;

/**
 * Builds a PEM `CERTIFICATE REQUEST` for the key pair with subject `CN=<subjectCn>`
 * (a UTF8String, so Hangul and any punctuation need no escaping).
 *
 * @example
 * const csrPem = await buildCsr(keys, 'buyer1');
 */
export async function buildCsr(keys: CryptoKeyPair, subjectCn: string): Promise<string> {
  if (subjectCn.length === 0 || subjectCn.length > CSR_COMMON_NAME_LENGTH_MAX) {
    throw new RangeError(`the common name must be 1 to ${CSR_COMMON_NAME_LENGTH_MAX} characters`);
  }
  const request = await Pkcs10CertificateRequestGenerator.create(
    {
      // The JSON form of a name sidesteps RFC 4514 string escaping entirely.
      name: [{ CN: [subjectCn] }],
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    },
    crypto,
  );
  return request.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n';
}

/** Verifies the self-signature of a PEM or DER CSR (proof that its maker holds the key). */
export function verifyCsrSignature(csr: string | Uint8Array): Promise<boolean> {
  const request = typeof csr === 'string' ? new Pkcs10CertificateRequest(csr) : new Pkcs10CertificateRequest(new Uint8Array(csr));
  return request.verify(crypto);
}

/**
 * Signature algorithms whose digest is SHA-1 or weaker, by OID. Collisions of these
 * digests are practical, so a signature made with one proves nothing about which
 * request the key holder signed; the CA refuses such requests whatever the key.
 */
export const CSR_SIGNATURE_ALGORITHMS_WEAK: Readonly<Record<string, string>> = Object.freeze({
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSAEncryption (OIW)',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.3': 'md4WithRSAEncryption',
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
});

const RSASSA_PSS = '1.2.840.113549.1.1.10';
/** Digests no signature should rest on (RSASSA-PSS names its digest in its parameters). */
const DIGESTS_WEAK: Readonly<Record<string, string>> = { '1.3.14.3.2.26': 'SHA-1', '1.2.840.113549.2.5': 'MD5', '1.2.840.113549.2.4': 'MD4', '1.2.840.113549.2.2': 'MD2' };

/**
 * The name of the CSR's signature algorithm when its digest is SHA-1 or weaker, else
 * `undefined`. Reads the outer `signatureAlgorithm` of the PKCS#10 structure with core's
 * strict DER reader; throws `PemError` or `DerError` when the request is not one.
 *
 * @example
 * weakCsrSignatureAlgorithm(await buildCsr(keys, 'buyer1')); // undefined
 * weakCsrSignatureAlgorithm(pemMadeWithOpensslSha1); // 'ecdsa-with-SHA1'
 */
export function weakCsrSignatureAlgorithm(csr: string | Uint8Array): string | undefined {
  const der = typeof csr === 'string' ? fromPem(csr, 'CERTIFICATE REQUEST') : csr;
  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature }
  const [, algorithm] = sequence(readRoot(der), 'CertificationRequest');
  const [oidElement, parameters] = sequence(algorithm, 'signatureAlgorithm');
  const oid = readOid(oidElement, 'signatureAlgorithm');
  const named = CSR_SIGNATURE_ALGORITHMS_WEAK[oid];
  if (named) return named;
  if (oid !== RSASSA_PSS) return undefined;
  // RSASSA-PSS-params: hashAlgorithm [0] EXPLICIT DEFAULT sha1, so absent means SHA-1 (RFC 8017 A.2.3).
  const hashField = parameters ? sequence(parameters, 'RSASSA-PSS-params').find((e) => isContext(e, 0)) : undefined;
  const digestOid = hashField ? readOid(sequence(children(hashField)[0], 'hashAlgorithm')[0], 'hashAlgorithm') : '1.3.14.3.2.26';
  const digest = DIGESTS_WEAK[digestOid];
  return digest ? `RSASSA-PSS with ${digest}` : undefined;
}
