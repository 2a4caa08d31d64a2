/**
 * The X.509 library, set up once for the server: @peculiar/x509 needs reflect-metadata
 * loaded first and a WebCrypto provider (Node's global `crypto`).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
export { createCertificate, type CertificateParams } from '@coconutpay/core/pki/certificate-builder';

/** ECDSA P-256 with SHA-256, the only algorithm the service CA signs with. */
export const ECDSA_P256_SHA256 = { name: 'ECDSA', hash: 'SHA-256', namedCurve: 'P-256' } as const;

/** Converts a WebCrypto (IEEE P1363) ECDSA signature to the DER form X.509, CRLs and OCSP carry. */
export function ecdsaSignatureToDer(p1363: ArrayBuffer): ArrayBuffer {
  const der = new x509.AsnEcSignatureFormatter().toAsnSignature(ECDSA_P256_SHA256, p1363);
  if (!der) throw new Error('cannot encode ECDSA signature');
  return der;
}

/** Lower-case hex of bytes. */
export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
}

/** A positive serial number of 16 random bytes (128 bits; at least 64 are required). */
export function randomSerialHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Clear the top bit so the DER INTEGER is positive without padding, and keep the
  // first byte non-zero so the length is always 16 bytes.
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return hex(bytes);
}

