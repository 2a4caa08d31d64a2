/**
 * The server's own identities (seed 004's two servers): S, the authentication
 * server, and A, the application (payment) server, plus A's time-stamp authority
 * (TSA), which stamps the signature of each accepted payment (RFC 3161). Each has a
 * P-256 signing key with a certificate from the service CA; A also has an ECDH P-256
 * key that browsers encrypt payment requests to. Identities missing from an existing
 * data folder (the TSA, for data made before it existed) are created at start. Keys are made at first start and kept
 * like the CA's (encrypted PKCS#8 under the CA passphrase, files 0600);
 * certificates are re-issued at start when they are within 30 days of expiry.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decryptPrivateKey, encryptPrivateKey } from '@coconutpay/core/pki/private-key-encryption';
import { EKU } from '@coconutpay/core/pki/oids';
import { fromPem, toPem } from '@coconutpay/core/pki/pem';
import type { CertificateAuthority } from './certificate-authority.js';
import { writeSecretFile } from '../write-secret-file.js';
import { x509 } from './x509.js';

const ITERATIONS = 600_000;
const DAY_MS = 86_400_000;
const VALIDITY_DAYS = 365;
const RENEW_BEFORE_MS = 30 * DAY_MS;

export interface RoleIdentity {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  /** Certificate then issuing CA, DER: the JWS `x5c`. */
  x5c: Uint8Array[];
}

export interface ServerRoles {
  /** S: authentication server. */
  auth: RoleIdentity;
  /** A: application (payment) server; signs payment commands. */
  payment: RoleIdentity;
  /** The time-stamp authority: signs RFC 3161 tokens (EKU id-kp-timeStamping only, critical). */
  tsa: RoleIdentity;
  /** A's key agreement key: payment requests are encrypted to it. */
  paymentAgreement: { privateKey: CryptoKey; publicJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string } };
  /** S's key agreement key: message (1) of the certificate login is encrypted to it. */
  authAgreement: { privateKey: CryptoKey; publicJwk: { kty: 'EC'; crv: 'P-256'; x: string; y: string } };
}

async function loadOrCreateKey(file: string, passphrase: string, algorithm: EcKeyImportParams, usages: KeyUsage[]): Promise<CryptoKeyPair> {
  if (!existsSync(file)) {
    const pair = (await crypto.subtle.generateKey(algorithm, true, usages.includes('sign') ? ['sign', 'verify'] : ['deriveBits'])) as CryptoKeyPair;
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    const encrypted = await encryptPrivateKey(pkcs8, passphrase, { salt: crypto.getRandomValues(new Uint8Array(16)), iv: crypto.getRandomValues(new Uint8Array(16)), iterations: ITERATIONS });
    pkcs8.fill(0);
    writeSecretFile(file, toPem(encrypted, 'ENCRYPTED PRIVATE KEY'));
  }
  const pkcs8 = await decryptPrivateKey(fromPem(readFileSync(file, 'utf8'), 'ENCRYPTED PRIVATE KEY'), passphrase);
  const extractable = await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, true, usages);
  // The public half comes from the private JWK; the private key itself is re-imported non-extractable.
  const jwk = await crypto.subtle.exportKey('jwk', extractable);
  const publicKey = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true }, algorithm, true, usages.includes('sign') ? ['verify'] : []);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, usages);
  pkcs8.fill(0);
  return { privateKey, publicKey };
}

/** What a role's certificate says besides its subject and key. */
interface RoleProfile {
  /** Base name of the key and certificate files. */
  name: string;
  subjectCn: string;
  eku: string;
  /** Default digitalSignature. */
  keyUsage?: number;
  /** Default false. */
  ekuCritical?: boolean;
}

async function identity(dir: string, profile: RoleProfile, ca: CertificateAuthority, passphrase: string, nowMs: number): Promise<RoleIdentity> {
  const { name, subjectCn, eku } = profile;
  const keys = await loadOrCreateKey(path.join(dir, `${name}-key.pem`), passphrase, { name: 'ECDSA', namedCurve: 'P-256' }, ['sign']);
  const certFile = path.join(dir, `${name}.pem`);
  let certificate = existsSync(certFile) ? new x509.X509Certificate(readFileSync(certFile, 'utf8')) : undefined;
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey));
  const stale =
    !certificate ||
    certificate.notAfter.getTime() - nowMs < RENEW_BEFORE_MS ||
    Buffer.compare(Buffer.from(certificate.publicKey.rawData), Buffer.from(spki)) !== 0 ||
    certificate.issuer !== ca.issuing.certificate.subject;
  if (stale) {
    certificate = await ca.issue({
      publicKey: new x509.PublicKey(spki),
      subject: [{ C: ['KR'] }, { O: ['CoconutPay'] }, { OU: ['Servers'] }, { CN: [subjectCn] }],
      notBefore: new Date(nowMs - 60_000),
      notAfter: new Date(nowMs + VALIDITY_DAYS * DAY_MS),
      keyUsage: profile.keyUsage ?? x509.KeyUsageFlags.digitalSignature,
      extendedKeyUsage: [eku],
      extendedKeyUsageCritical: profile.ekuCritical ?? false,
    });
    writeSecretFile(certFile, certificate.toString('pem'));
  }
  return { certificate: certificate!, privateKey: keys.privateKey, x5c: [new Uint8Array(certificate!.rawData), new Uint8Array(ca.issuing.certificate.rawData)] };
}

/** Loads S's, A's and the TSA's identities from `DATA_DIR/pki/roles`, creating any that are missing. */
export async function openServerRoles(params: { dataDir: string; passphrase: string; ca: CertificateAuthority; nowMs: number }): Promise<ServerRoles> {
  const dir = path.join(params.dataDir, 'pki', 'roles');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const auth = await identity(dir, { name: 'auth-server', subjectCn: 'CoconutPay Authentication Server (S)', eku: EKU.sessionAuthority }, params.ca, params.passphrase, params.nowMs);
  const payment = await identity(dir, { name: 'payment-server', subjectCn: 'CoconutPay Payment Server (A)', eku: EKU.commandIssuing }, params.ca, params.passphrase, params.nowMs);
  // RFC 3161 §2.3: id-kp-timeStamping as the only EKU, critical. nonRepudiation too: a
  // token is evidence of when a payment was signed, kept for years.
  const tsa = await identity(
    dir,
    {
      name: 'time-stamp-authority',
      subjectCn: 'CoconutPay Time-Stamp Authority',
      eku: EKU.timeStamping,
      keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
      ekuCritical: true,
    },
    params.ca, params.passphrase, params.nowMs,
  );
  const agreementKey = async (file: string) => {
    const pair = await loadOrCreateKey(path.join(dir, file), params.passphrase, { name: 'ECDH', namedCurve: 'P-256' }, ['deriveBits']);
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    return { privateKey: pair.privateKey, publicJwk: { kty: 'EC' as const, crv: 'P-256' as const, x: jwk.x!, y: jwk.y! } };
  };
  return { auth, payment, tsa, paymentAgreement: await agreementKey('payment-agreement-key.pem'), authAgreement: await agreementKey('auth-agreement-key.pem') };
}
