/**
 * Certificate signing requests (PKCS#10, RFC 2986) for device keys, signed with
 * ECDSA-SHA256 through WebCrypto. The CA takes only the public key and proof of
 * possession from a CSR; everything else in the certificate is its own decision.
 */
import 'reflect-metadata';
import { Pkcs10CertificateRequest, Pkcs10CertificateRequestGenerator } from '@peculiar/x509';

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
