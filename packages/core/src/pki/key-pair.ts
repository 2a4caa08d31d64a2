/**
 * The device key of a certificate: an ECDSA P-256 key pair made in WebCrypto.
 *
 * Its life: {@link generateSigningKeyPair} makes an extractable pair, whose private
 * half is exported exactly once by {@link exportPrivateKeyPkcs8} to be encrypted
 * under the certificate password, then dropped. Each later use decrypts the
 * PKCS#8 and imports it with {@link importSigningKey} as a non-extractable key.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { ECParameters } from '@peculiar/asn1-ecc';
import { PrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import type { Bytes } from '../encoding/index.js';
import { OID } from './oids.js';
import { importVerifyingKey, signP1363, verifyP1363 } from './signature.js';

const ECDSA_P256: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** The key is not an ECDSA P-256 key, or the certificate cannot be read. */
export class KeyMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyMismatchError';
  }
}

/**
 * A fresh ECDSA P-256 key pair. The private key is extractable only so that it can
 * be exported once for encryption; keep it no longer than that.
 *
 * @example
 * const keys = await generateSigningKeyPair();
 * const pkcs8 = await exportPrivateKeyPkcs8(keys.privateKey);
 */
export function generateSigningKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
}

/** The PKCS#8 `PrivateKeyInfo` DER of an extractable private key. */
export async function exportPrivateKeyPkcs8(privateKey: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
}

/** The DER SubjectPublicKeyInfo of a public key (public keys are always exportable). */
export async function exportPublicKeySpki(publicKey: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
}

/**
 * Checks that a PKCS#8 `PrivateKeyInfo` holds an EC key on P-256. Throws
 * {@link KeyMismatchError} otherwise.
 */
export function assertP256PrivateKeyInfo(pkcs8Der: Uint8Array): void {
  let info: PrivateKeyInfo;
  try {
    info = AsnConvert.parse(pkcs8Der, PrivateKeyInfo);
  } catch {
    throw new KeyMismatchError('not a PKCS#8 PrivateKeyInfo');
  }
  const algorithm = info.privateKeyAlgorithm;
  if (algorithm.algorithm !== OID.ecPublicKey || !algorithm.parameters) throw new KeyMismatchError('not an EC private key');
  let curve: ECParameters;
  try {
    curve = AsnConvert.parse(algorithm.parameters, ECParameters);
  } catch {
    throw new KeyMismatchError('unreadable EC parameters');
  }
  if (curve.namedCurve !== OID.prime256v1) throw new KeyMismatchError('the EC key is not on P-256');
}

/**
 * Imports a decrypted PKCS#8 as a non-extractable ECDSA P-256 signing key: from
 * then on page scripts can sign with it but never read it out.
 *
 * @example
 * const signingKey = await importSigningKey(await decryptPrivateKey(encrypted, password));
 */
export async function importSigningKey(pkcs8Der: Uint8Array): Promise<CryptoKey> {
  assertP256PrivateKeyInfo(pkcs8Der);
  return crypto.subtle.importKey('pkcs8', new Uint8Array(pkcs8Der), ECDSA_P256, false, ['sign']);
}

/** What {@link readCertificate} returns. */
export interface CertificateFacts {
  /** DER SubjectPublicKeyInfo of the certified key. */
  spkiDer: Bytes;
  /** Serial number, lower-case hex without leading zero bytes. */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** The subject's first common name (our user certificates carry the login id there), or null. */
  subjectCommonName: string | null;
}

/**
 * The public key, serial number and validity of a DER X.509 certificate. This only
 * reads; it checks no signature (the chain validator does that).
 */
export function readCertificate(certificateDer: Uint8Array): CertificateFacts {
  let certificate: Certificate;
  try {
    certificate = AsnConvert.parse(certificateDer, Certificate);
  } catch {
    throw new KeyMismatchError('not an X.509 certificate');
  }
  const tbs = certificate.tbsCertificate;
  let serial = new Uint8Array(tbs.serialNumber);
  while (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  let serialHex = '';
  for (const byte of serial) serialHex += byte.toString(16).padStart(2, '0');
  return {
    spkiDer: new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    serialHex,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    subjectCommonName: tbs.subject.flatMap((rdn) => [...rdn]).find((attribute) => attribute.type === '2.5.4.3')?.value.toString() ?? null,
  };
}

/** True when two byte strings are equal (not constant-time; for public data only). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Proves that a private signing key belongs to a public key: signs a fixed probe
 * and verifies it. Works for non-extractable keys, whose public half cannot be
 * derived in WebCrypto.
 *
 * @example
 * if (!(await keyMatchesPublicKey(signingKey, readCertificate(der).spkiDer))) throw …
 */
export async function keyMatchesPublicKey(privateKey: CryptoKey, spkiDer: Uint8Array): Promise<boolean> {
  const probe = new TextEncoder().encode('coconutpay key match probe');
  const publicKey = await importVerifyingKey(spkiDer);
  return verifyP1363(publicKey, await signP1363(privateKey, probe), probe);
}
