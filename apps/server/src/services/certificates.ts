/**
 * Users' certificates: issuing the master certificate from a browser-made CSR,
 * listing, revoking, and "test my certificate" (sign a one-time server challenge).
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import type { SessionsRepository } from '../db/sessions-repository.js';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { weakCsrSignatureAlgorithm } from '@coconutpay/core/pki/csr';
import { derUtf8String } from '@coconutpay/core/pki/der-writer';
import { EKU, EXTENSION } from '@coconutpay/core/pki/oids';
import type { CertificateRequestsRepository } from '../db/certificate-requests-repository.js';
import type { CertificateRecord, CertificatesRepository } from '../db/certificates-repository.js';
import type { Database } from '../db/schema.js';
import type { UsersRepository } from '../db/users-repository.js';
import type { AuditSink } from './audit-log.js';
import type { Actor } from './actor.js';
import type { CertificateAuthority } from './pki/certificate-authority.js';
import type { CrlPublisher } from './pki/crl-publisher.js';
import { x509 } from './pki/x509.js';

export type RevocationReason = 'keyCompromise' | 'superseded' | 'cessationOfOperation';

/** A certificate as its owner sees it in lists. */
export interface CertificateInfo {
  id: string;
  serialHex: string;
  kind: 'master' | 'additional';
  subject: string;
  status: 'active' | 'revoked' | 'expired';
  notBeforeMs: number;
  notAfterMs: number;
  revokedAtMs: number | null;
  revocationReason: string | null;
  deviceNickname: string | null;
  /** For an additional certificate, the master that approved it (revoking that master revokes this one too). */
  approvedByCertificateId: string | null;
  spkiSha256Hex: string;
  lastUsedAtMs: number | null;
  createdAtMs: number;
}

export interface IssuedCertificate {
  certificate: CertificateInfo;
  certificatePem: string;
  chainPem: string;
}

const CHALLENGE_TTL_MS = 5 * 60_000;

function pem(record: CertificateRecord): string {
  return new x509.X509Certificate(Buffer.from(record.derBase64, 'base64')).toString('pem');
}

export class CertificatesService {
  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      certificates: CertificatesRepository;
      users: UsersRepository;
      /** Told after a master is replaced, so no process serves a copy of a session that ended with it. */
      sessions: Pick<SessionsRepository, 'forgetUser'>;
      ca: CertificateAuthority;
      crls: CrlPublisher;
      requests: CertificateRequestsRepository;
      clock: () => number;
      validityDays: number;
      /** Issuance is recorded in the audit log, in the issuing transaction. */
      audit: AuditSink;
    },
  ) {}

  info(record: CertificateRecord, nowMs = this.deps.clock()): CertificateInfo {
    const status = record.status === 'revoked' ? 'revoked' : nowMs >= record.notAfterMs ? 'expired' : 'active';
    return {
      id: record.id, serialHex: record.serialHex, kind: record.kind, subject: record.subject, status,
      notBeforeMs: record.notBeforeMs, notAfterMs: record.notAfterMs, revokedAtMs: record.revokedAtMs, revocationReason: record.revocationReason,
      deviceNickname: record.deviceNickname, approvedByCertificateId: record.approvedByCertificateId, spkiSha256Hex: record.spkiSha256Hex, lastUsedAtMs: record.lastUsedAtMs, createdAtMs: record.createdAtMs,
    };
  }

  /** Parses and checks a CSR: a signature digest stronger than SHA-1, proof of possession and an ECDSA P-256 key. */
  async checkedCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
    let csr: x509.Pkcs10CertificateRequest;
    let weakAlgorithm: string | undefined;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
      weakAlgorithm = weakCsrSignatureAlgorithm(new Uint8Array(csr.rawData));
    } catch (cause) {
      throw new AppError('CSR_INVALID', { cause });
    }
    // Checked before the signature: with SHA-1 a verifying signature proves nothing anyway.
    if (weakAlgorithm) throw new AppError('CSR_SIGNATURE_ALGORITHM_WEAK', { detail: `The request is signed with ${weakAlgorithm}; sign it with SHA-256 or stronger.` });
    const algorithm = csr.publicKey.algorithm as EcKeyAlgorithm;
    if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') throw new AppError('CERTIFICATE_KEY_UNSUPPORTED');
    let verified = false;
    try {
      verified = await csr.verify();
    } catch (cause) {
      throw new AppError('CSR_INVALID', { cause });
    }
    if (!verified) throw new AppError('CSR_INVALID', { detail: 'The request signature does not verify.' });
    return csr;
  }

  /**
   * Issues the user's master certificate. The subject comes from the user's record,
   * never from the CSR. With an active master, `replace` (lost device) revokes it and
   * every certificate it approved; without `replace` the request is refused.
   */
  async issueMaster(actor: Actor, csrPem: string, replace: boolean): Promise<IssuedCertificate> {
    // One device and its PIN must not mint a new master (and revoke the real one): that takes the password.
    if (actor.certificateId !== undefined) throw new AppError('CERTIFICATE_SESSION_RESTRICTED');
    const csr = await this.checkedCsr(csrPem);
    const user = await this.deps.users.findById(actor.userId);
    if (!user) throw new AppError('SESSION_REVOKED');
    const nowMs = this.deps.clock();
    const existing = await this.deps.certificates.activeMaster(this.deps.db, user.id);
    if (existing && existing.notAfterMs > nowMs && !replace) throw new AppError('MASTER_CERTIFICATE_EXISTS');

    const subject: x509.JsonName = [{ C: ['KR'] }, { O: ['CoconutPay'] }, { OU: ['Users'] }, { CN: [user.loginId] }, { '2.5.4.5': [user.id] }];
    const ekus = [EKU.paymentSigning, EKU.deviceApproval, ...(user.role === 'seller' ? [EKU.receiptSigning] : [])];
    const certificate = await this.deps.ca.issue({
      publicKey: csr.publicKey,
      subject,
      notBefore: new Date(nowMs - 60_000),
      notAfter: new Date(nowMs + this.deps.validityDays * 86_400_000),
      keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
      extendedKeyUsage: ekus,
      extraExtensions: [new x509.Extension(EXTENSION.certificateKind, false, derUtf8String('master'))],
    });
    const spki = new Uint8Array(csr.publicKey.rawData);
    const record: CertificateRecord = {
      id: randomUUID(),
      userId: user.id,
      kind: 'master',
      serialHex: certificate.serialNumber.toLowerCase(),
      issuerId: this.deps.ca.issuing.id,
      subject: certificate.subject,
      spkiSha256Hex: createHash('sha256').update(spki).digest('hex'),
      derBase64: Buffer.from(certificate.rawData).toString('base64'),
      status: 'active',
      activeMasterOf: user.id,
      notBeforeMs: certificate.notBefore.getTime(),
      notAfterMs: certificate.notAfter.getTime(),
      revokedAtMs: null,
      revocationReason: null,
      deviceNickname: null,
      approvedByCertificateId: null,
      lastUsedAtMs: null,
      createdAtMs: nowMs,
    };
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        const current = await this.deps.certificates.activeMaster(trx, user.id);
        if (current) {
          if (current.notAfterMs > nowMs && !replace) throw new AppError('MASTER_CERTIFICATE_EXISTS');
          await this.deps.certificates.revoke(trx, current.id, 'superseded', nowMs);
          await this.deps.certificates.revokeApprovedBy(trx, current.id, 'superseded', nowMs);
        }
        await this.deps.certificates.insert(trx, record);
        await this.deps.requests.addEvent(trx, {
          id: randomUUID(), userId: user.id, kind: 'master_issued', certificateId: record.id, requestId: null, nickname: null,
          detail: current ? 'replaces the previous master and its devices' : null, ip: null, userAgent: null, atMs: nowMs,
        });
        await this.deps.audit.append('certificate.issued', {
          actor: user.id, subject: record.id, detail: { kind: 'master', serialHex: record.serialHex, replacedCertificateId: current?.id ?? null },
        }, trx);
      });
    } catch (error) {
      // Two parallel requests: the unique "active master" column lets only one win.
      if (error instanceof AppError) throw error;
      const again = await this.deps.certificates.activeMaster(this.deps.db, user.id);
      if (again && again.id !== record.id) throw new AppError('MASTER_CERTIFICATE_EXISTS', { cause: error });
      throw error;
    }
    if (existing) this.deps.crls.invalidate(this.deps.ca.issuing.id);
    // A replaced master's certificate-login sessions ended in the transaction; no process may serve a copy of one now.
    await this.deps.sessions.forgetUser(user.id);
    return { certificate: this.info(record, nowMs), certificatePem: certificate.toString('pem'), chainPem: this.deps.ca.chainPem() };
  }

  async list(actor: Actor): Promise<CertificateInfo[]> {
    const nowMs = this.deps.clock();
    return (await this.deps.certificates.listByUser(actor.userId)).map((r) => this.info(r, nowMs));
  }

  private async owned(actor: Actor, id: string): Promise<CertificateRecord> {
    const record = await this.deps.certificates.findById(id);
    if (!record) throw new AppError('CERTIFICATE_NOT_FOUND');
    if (record.userId !== actor.userId) throw new AppError('CERTIFICATE_NOT_OWNED');
    return record;
  }

  async get(actor: Actor, id: string): Promise<IssuedCertificate> {
    const record = await this.owned(actor, id);
    return { certificate: this.info(record), certificatePem: pem(record), chainPem: this.deps.ca.chainPem() };
  }

  async challenge(actor: Actor): Promise<{ challengeId: string; challenge: string; expiresAtMs: number }> {
    const nowMs = this.deps.clock();
    const challenge = { id: randomUUID(), userId: actor.userId, challenge: randomBytes(32).toString('base64url'), expiresAtMs: nowMs + CHALLENGE_TTL_MS };
    await this.deps.certificates.insertChallenge(challenge);
    return { challengeId: challenge.id, challenge: challenge.challenge, expiresAtMs: challenge.expiresAtMs };
  }
}
