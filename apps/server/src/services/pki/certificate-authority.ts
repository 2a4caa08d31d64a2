/**
 * The service CA: a root and an issuing CA (ECDSA P-256, SHA-256), created at first
 * start. Keys are stored under `DATA_DIR/pki` as PKCS#8 EncryptedPrivateKeyInfo
 * (PBES2) under the CA passphrase, files 0600; loaded keys are non-extractable.
 *
 * The root signs only the issuing CA and its own CRL; the issuing CA signs user
 * certificates, their CRL and OCSP answers.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber } from '@peculiar/asn1-x509';
import { decryptPrivateKey, encryptPrivateKey } from '@coconutpay/core/pki/private-key-encryption';
import { fromPem, toPem } from '@coconutpay/core/pki/pem';
import { createCertificate, ECDSA_P256_SHA256, hex, randomSerialHex, x509 } from './x509.js';
import { writeSecretFile } from '../write-secret-file.js';

const DAY_MS = 86_400_000;
const CA_KEY_ITERATIONS = 600_000;

/** One CA: its certificate, its private key, and the id used in URLs. */
export interface Issuer {
  /** First 8 bytes of the subject key identifier, hex: the `<issuer-id>` of CRL URLs. */
  id: string;
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

/** What a user certificate says; the CA adds the rest of the profile. */
export interface IssueRequest {
  publicKey: x509.PublicKey;
  subject: x509.JsonName;
  notBefore: Date;
  notAfter: Date;
  keyUsage: number;
  extendedKeyUsage: string[];
  /** Marks extKeyUsage critical; RFC 3161 §2.3 requires it of a time-stamping certificate. Default false. */
  extendedKeyUsageCritical?: boolean;
  extraExtensions?: x509.Extension[];
}

export class CertificateAuthority {
  private constructor(
    readonly root: Issuer,
    readonly issuing: Issuer,
    private readonly publicUrl: string,
  ) {}

  /** Loads the CA from `dataDir`, creating it on first start. */
  static async open(params: { dataDir: string; passphrase: string; publicUrl: string; nowMs: number }): Promise<CertificateAuthority> {
    const dir = path.join(params.dataDir, 'pki');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = { rootKey: path.join(dir, 'root-key.pem'), rootCert: path.join(dir, 'root.pem'), issuingKey: path.join(dir, 'issuing-key.pem'), issuingCert: path.join(dir, 'issuing.pem') };
    if (!existsSync(files.issuingCert)) await CertificateAuthority.create(files, params);
    const load = async (keyFile: string, certFile: string): Promise<Issuer> => {
      const certificate = new x509.X509Certificate(readFileSync(certFile, 'utf8'));
      const pkcs8 = await decryptPrivateKey(fromPem(readFileSync(keyFile, 'utf8'), 'ENCRYPTED PRIVATE KEY'), params.passphrase);
      const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
      pkcs8.fill(0);
      return { id: await issuerIdOf(certificate), certificate, privateKey };
    };
    return new CertificateAuthority(await load(files.rootKey, files.rootCert), await load(files.issuingKey, files.issuingCert), params.publicUrl);
  }

  private static async create(files: Record<'rootKey' | 'rootCert' | 'issuingKey' | 'issuingCert', string>, params: { passphrase: string; publicUrl: string; nowMs: number }): Promise<void> {
    const keyParams = { name: 'ECDSA', namedCurve: 'P-256' };
    const rootKeys = (await crypto.subtle.generateKey(keyParams, true, ['sign', 'verify'])) as CryptoKeyPair;
    const issuingKeys = (await crypto.subtle.generateKey(keyParams, true, ['sign', 'verify'])) as CryptoKeyPair;
    const notBefore = new Date(params.nowMs - 60_000);
    const rootName: x509.JsonName = [{ C: ['KR'] }, { O: ['CoconutPay'] }, { CN: ['CoconutPay Root CA'] }];
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialHex(),
      name: rootName,
      notBefore,
      notAfter: new Date(params.nowMs + 20 * 365 * DAY_MS),
      signingAlgorithm: ECDSA_P256_SHA256,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    const rootId = await issuerIdOf(root);
    const issuing = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: [{ C: ['KR'] }, { O: ['CoconutPay'] }, { CN: ['CoconutPay Issuing CA 1'] }],
      issuer: root.subject,
      notBefore,
      notAfter: new Date(params.nowMs + 10 * 365 * DAY_MS),
      signingAlgorithm: ECDSA_P256_SHA256,
      publicKey: issuingKeys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
        new x509.CRLDistributionPointsExtension([`${params.publicUrl}/pki/crl/${rootId}.crl`]),
      ],
    });
    const writeKey = async (file: string, key: CryptoKey) => {
      const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
      const encrypted = await encryptPrivateKey(pkcs8, params.passphrase, {
        salt: crypto.getRandomValues(new Uint8Array(16)),
        iv: crypto.getRandomValues(new Uint8Array(16)),
        iterations: CA_KEY_ITERATIONS,
      });
      pkcs8.fill(0);
      writeSecretFile(file, toPem(encrypted, 'ENCRYPTED PRIVATE KEY'));
    };
    await writeKey(files.rootKey, rootKeys.privateKey);
    await writeKey(files.issuingKey, issuingKeys.privateKey);
    writeSecretFile(files.rootCert, root.toString('pem'));
    // The issuing certificate is written last: its presence marks a complete CA.
    writeSecretFile(files.issuingCert, issuing.toString('pem'));
  }

  /** The issuer with `id`, or undefined. */
  issuer(id: string): Issuer | undefined {
    return id === this.root.id ? this.root : id === this.issuing.id ? this.issuing : undefined;
  }

  /** PEM chain: issuing CA, then root. */
  chainPem(): string {
    return `${this.issuing.certificate.toString('pem')}\n${this.root.certificate.toString('pem')}\n`;
  }

  crlUrl(issuer: Issuer): string {
    return `${this.publicUrl}/pki/crl/${issuer.id}.crl`;
  }

  /** Issues an end-entity certificate under the issuing CA. */
  async issue(request: IssueRequest): Promise<x509.X509Certificate> {
    const issuingNotAfter = this.issuing.certificate.notAfter.getTime();
    const notAfter = new Date(Math.min(request.notAfter.getTime(), issuingNotAfter));
    return createCertificate({
      serialNumberHex: randomSerialHex(),
      subject: request.subject,
      issuer: this.issuing.certificate.subjectName,
      notBefore: request.notBefore,
      notAfter,
      publicKey: request.publicKey,
      signingKey: this.issuing.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(request.keyUsage, true),
        new x509.ExtendedKeyUsageExtension(request.extendedKeyUsage, request.extendedKeyUsageCritical ?? false),
        await x509.SubjectKeyIdentifierExtension.create(request.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.issuing.certificate.publicKey),
        new x509.CRLDistributionPointsExtension([this.crlUrl(this.issuing)]),
        new x509.AuthorityInfoAccessExtension({ ocsp: [`${this.publicUrl}/pki/ocsp`], caIssuers: [`${this.publicUrl}/pki/ca/${this.issuing.id}.cer`] }),
        ...(request.extraExtensions ?? []),
      ],
    });
  }

  /**
   * A signed CRL of `issuer` listing `entries`, with a CRL number, an authority key id and
   * expiredCertsOnCRL: the entries include every revoked certificate that expired at or
   * after `expiredKeptSince` (the caller's promise; the CA only signs it).
   */
  async crl(
    issuer: Issuer,
    entries: { serialHex: string; revokedAt: Date; reason?: x509.X509CrlReason }[],
    crlNumber: number,
    thisUpdate: Date,
    nextUpdate: Date,
    expiredKeptSince: Date,
  ): Promise<ArrayBuffer> {
    // ExpiredCertsOnCRL ::= GeneralizedTime, DER: YYYYMMDDHHMMSSZ, whole seconds (X.690 §11.7).
    const keptSinceIso = new Date(Math.floor(expiredKeptSince.getTime() / 1000) * 1000).toISOString();
    if (!/^\d{4}-/.test(keptSinceIso)) throw new RangeError('expiredCertsOnCRL needs a year from 0000 to 9999');
    const keptSinceText = keptSinceIso.replace(/\.000Z$/, 'Z').replace(/[-:T]/g, '');
    const crl = await x509.X509CrlGenerator.create({
      issuer: issuer.certificate.subject,
      thisUpdate,
      nextUpdate,
      signingAlgorithm: ECDSA_P256_SHA256,
      signingKey: issuer.privateKey,
      entries: entries.map((e) => ({ serialNumber: e.serialHex, revocationDate: e.revokedAt, ...(e.reason !== undefined ? { reason: e.reason } : {}) })),
      extensions: [
        new x509.Extension('2.5.29.20', false, AsnConvert.serialize(new CRLNumber(crlNumber))),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate.publicKey),
        // expiredCertsOnCRL (2.5.29.60); the value is 15 ASCII octets, so the length fits one octet.
        new x509.Extension('2.5.29.60', false, new Uint8Array([0x18, keptSinceText.length, ...new TextEncoder().encode(keptSinceText)])),
      ],
    });
    return crl.rawData;
  }
}

/** The id of an issuer: hex of the first 8 bytes of its subject key identifier. */
export async function issuerIdOf(certificate: x509.X509Certificate): Promise<string> {
  const ski = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski ? ski.keyId : hex(await certificate.publicKey.getThumbprint('SHA-1'));
  return keyId.slice(0, 16).toLowerCase();
}

