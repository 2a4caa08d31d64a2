/**
 * Additional certificates: a new device asks, the master device approves with a
 * signature of the master key, the service CA issues (docs/pki.md).
 *
 * Also the one gate every signature passes before it is trusted
 * ({@link DeviceCertificatesService.usable}): owner, status, validity, chain, and
 * for additional certificates the master's approval.
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import type { SessionsRepository } from '../db/sessions-repository.js';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import {
  approvalMessage, checkMasterApproval, deviceCode, encodeMasterApproval, revocationMessage,
} from '@coconutpay/core/pki/master-approval';
import { derUtf8String } from '@coconutpay/core/pki/der-writer';
import { EKU, EXTENSION } from '@coconutpay/core/pki/oids';
import type { Purpose } from '@coconutpay/core/pki/validate-path';
import type { CertificateRequestRecord, CertificateRequestsRepository } from '../db/certificate-requests-repository.js';
import type { CertificateRecord, CertificatesRepository } from '../db/certificates-repository.js';
import type { Database } from '../db/schema.js';
import type { UsersRepository } from '../db/users-repository.js';
import type { AuditSink } from './audit-log.js';
import type { Actor } from './actor.js';
import { EventHub, type HubRedis } from './event-hub.js';
import type { CertificateInfo, CertificatesService, IssuedCertificate, RevocationReason } from './certificates.js';
import type { CertificateAuthority } from './pki/certificate-authority.js';
import type { CertificateVerifier } from './pki/certificate-verifier.js';
import type { CrlPublisher } from './pki/crl-publisher.js';
import { x509 } from './pki/x509.js';

/** How long a new device's request waits for the master device. */
export const APPROVAL_REQUEST_TTL_MS = 10 * 60_000;
export const NICKNAME_LENGTH_MAX = 40;
const TEST_MESSAGE_PREFIX = 'coconutpay-certificate-test';

/** Where a request came from, for the user's history ("from where"). */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}

/** A pending request as the master device sees it: enough to recompute the code itself. */
export interface PendingRequestInfo {
  id: string;
  nickname: string;
  code: string;
  spkiBase64: string;
  spkiSha256Hex: string;
  serverNonce: string;
  createdAtMs: number;
  expiresAtMs: number;
  requestedFrom: string | null;
  requestedAgent: string | null;
}

/** The state of one request as the new device follows it. */
export interface RequestState {
  id: string;
  nickname: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  code: string;
  serverNonce: string;
  expiresAtMs: number;
  issued: IssuedCertificate | null;
}

export interface CertificateEventInfo {
  id: string;
  kind: string;
  certificateId: string | null;
  requestId: string | null;
  nickname: string | null;
  detail: string | null;
  ip: string | null;
  userAgent: string | null;
  atMs: number;
}

/** Proof from the master device for revoking an additional certificate. */
export interface MasterRevocationProof {
  masterCertificateId: string;
  challengeId: string;
  signature: string;
}

const DECISION_CHANNEL = 'coconutpay:device-decisions';

/**
 * Decisions fan out to the new device's event stream, keyed by request id; over Redis
 * when `REDIS_URL` is set, so the stream may be held by another server process than
 * the one that approved (event-hub.ts).
 */
export class DecisionHub extends EventHub<RequestState> {
  constructor(redis?: HubRedis) {
    super(DECISION_CHANNEL, redis);
  }
}


function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function der(record: CertificateRecord): Buffer<ArrayBuffer> {
  return Buffer.from(record.derBase64, 'base64');
}

function cleanNickname(raw: string): string {
  const nickname = raw.normalize('NFC').trim();
  // Control characters would let a nickname break the signed approval text or a list.
  if (nickname.length === 0 || nickname.length > NICKNAME_LENGTH_MAX || /\p{Cc}/u.test(nickname)) {
    throw new AppError('VALIDATION_FAILED', { detail: `A device nickname has 1 to ${NICKNAME_LENGTH_MAX} characters and no control characters.` });
  }
  return nickname;
}

export class DeviceCertificatesService {
  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      certificates: CertificatesRepository;
      requests: CertificateRequestsRepository;
      users: UsersRepository;
      certificateService: CertificatesService;
      /** Told after a revocation that ended sessions, so no process serves a copy of one. */
      sessions: Pick<SessionsRepository, 'forgetUser'>;
      ca: CertificateAuthority;
      crls: CrlPublisher;
      verifier: CertificateVerifier;
      hub: DecisionHub;
      clock: () => number;
      validityDays: number;
      maxAdditional: number;
      /** Approvals and revocations are recorded in the audit log, in their transactions. */
      audit: AuditSink;
    },
  ) {}

  /** The new device asks for a certificate for its own key. */
  async request(actor: Actor, input: { nickname: string; csrPem: string }, origin: RequestOrigin): Promise<RequestState> {
    const nowMs = this.deps.clock();
    const nickname = cleanNickname(input.nickname);
    const csr = await this.deps.certificateService.checkedCsr(input.csrPem);
    const master = await this.deps.certificates.activeMaster(this.deps.db, actor.userId);
    if (!master || master.notAfterMs <= nowMs) throw new AppError('MASTER_CERTIFICATE_MISSING');
    const spki = new Uint8Array(csr.publicKey.rawData);
    const nonce = randomBytes(16);
    const record: CertificateRequestRecord = {
      id: randomUUID(),
      userId: actor.userId,
      nickname,
      csrPem: input.csrPem,
      spkiBase64: Buffer.from(spki).toString('base64'),
      spkiSha256Hex: sha256Hex(spki),
      serverNonce: nonce.toString('base64url'),
      code: await deviceCode(spki, new Uint8Array(nonce)),
      status: 'pending',
      createdAtMs: nowMs,
      expiresAtMs: nowMs + APPROVAL_REQUEST_TTL_MS,
      decidedAtMs: null,
      certificateId: null,
      requestedFrom: origin.ip?.slice(0, 64) ?? null,
      requestedAgent: origin.userAgent?.slice(0, 200) ?? null,
    };
    await this.deps.db.transaction().execute(async (trx) => {
      if ((await this.deps.requests.nicknamesInUse(trx, actor.userId, nowMs)).includes(nickname)) throw new AppError('DEVICE_NICKNAME_TAKEN');
      if ((await this.deps.requests.devicesCounted(trx, actor.userId, nowMs)) >= this.deps.maxAdditional) throw new AppError('ADDITIONAL_CERTIFICATE_LIMIT');
      await this.deps.requests.insert(trx, record);
      await this.event(trx, actor.userId, 'device_requested', { requestId: record.id, nickname, ...origin }, nowMs);
    });
    return this.state(record, null);
  }

  /** Pending requests of the user, for the master device's approval list. */
  async pending(actor: Actor): Promise<PendingRequestInfo[]> {
    const rows = await this.deps.requests.pendingOf(actor.userId, this.deps.clock());
    return rows.map((r) => ({
      id: r.id, nickname: r.nickname, code: r.code, spkiBase64: r.spkiBase64, spkiSha256Hex: r.spkiSha256Hex, serverNonce: r.serverNonce,
      createdAtMs: r.createdAtMs, expiresAtMs: r.expiresAtMs, requestedFrom: r.requestedFrom, requestedAgent: r.requestedAgent,
    }));
  }

  /** One request's state (expiring it when its time is up). */
  async status(actor: Actor, id: string): Promise<RequestState> {
    const record = await this.owned(actor, id);
    return this.current(record);
  }

  /** Marks an overdue pending request expired, tells its listeners; returns the new state. */
  async expireIfDue(id: string): Promise<RequestState | undefined> {
    const record = await this.deps.requests.findById(this.deps.db, id);
    return record ? this.current(record) : undefined;
  }

  private async current(record: CertificateRequestRecord): Promise<RequestState> {
    const nowMs = this.deps.clock();
    if (record.status === 'pending' && record.expiresAtMs <= nowMs) {
      const changed = await this.deps.db.transaction().execute(async (trx) => {
        const done = await this.deps.requests.decide(trx, record.id, 'expired', nowMs, null);
        if (done) await this.event(trx, record.userId, 'device_expired', { requestId: record.id, nickname: record.nickname }, nowMs);
        return done;
      });
      const fresh = (await this.deps.requests.findById(this.deps.db, record.id))!;
      const state = await this.stateOf(fresh);
      if (changed) this.deps.hub.publish(record.id, state);
      return state;
    }
    return this.stateOf(record);
  }

  private async stateOf(record: CertificateRequestRecord): Promise<RequestState> {
    if (record.status !== 'approved' || !record.certificateId) return this.state(record, null);
    const certificate = await this.deps.certificates.findById(record.certificateId);
    if (!certificate) return this.state(record, null);
    return this.state(record, {
      certificate: this.deps.certificateService.info(certificate),
      certificatePem: new x509.X509Certificate(der(certificate)).toString('pem'),
      chainPem: this.deps.ca.chainPem(),
    });
  }

  private state(record: CertificateRequestRecord, issued: IssuedCertificate | null): RequestState {
    return { id: record.id, nickname: record.nickname, status: record.status, code: record.code, serverNonce: record.serverNonce, expiresAtMs: record.expiresAtMs, issued };
  }

  private async owned(actor: Actor, id: string): Promise<CertificateRequestRecord> {
    const record = await this.deps.requests.findById(this.deps.db, id);
    // Another user's request is "not found": its existence is not theirs to learn.
    if (!record || record.userId !== actor.userId) throw new AppError('APPROVAL_REQUEST_NOT_FOUND');
    return record;
  }

  /** The master certificate of this user that is to sign, checked for status, validity and chain. */
  private async signingMaster(actor: Actor, masterCertificateId: string, nowMs: number): Promise<CertificateRecord> {
    const master = await this.deps.certificates.findById(masterCertificateId);
    if (!master) throw new AppError('CERTIFICATE_NOT_FOUND');
    if (master.userId !== actor.userId) throw new AppError('CERTIFICATE_NOT_OWNED');
    if (master.kind !== 'master') throw new AppError('MASTER_CERTIFICATE_REQUIRED');
    if (master.status === 'revoked') throw new AppError('CERTIFICATE_REVOKED');
    if (nowMs >= master.notAfterMs) throw new AppError('CERTIFICATE_EXPIRED');
    await this.deps.verifier.assertValid(der(master), 'deviceApproval', nowMs);
    return master;
  }

  private async verifyMasterSignature(master: CertificateRecord, message: string, signatureB64u: string): Promise<void> {
    const key = await new x509.X509Certificate(der(master)).publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
    const signature = Buffer.from(signatureB64u, 'base64url');
    const ok = signature.length === 64 && (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, Buffer.from(message, 'utf8')));
    if (!ok) throw new AppError('SIGNATURE_INVALID');
  }

  /** The master device approves: its signature over the request is checked, then the CA issues. */
  async approve(actor: Actor, id: string, input: { masterCertificateId: string; signature: string }, origin: RequestOrigin): Promise<RequestState> {
    const nowMs = this.deps.clock();
    const request = await this.owned(actor, id);
    if (request.status === 'pending' && request.expiresAtMs <= nowMs) {
      await this.current(request);
      throw new AppError('APPROVAL_REQUEST_EXPIRED');
    }
    if (request.status === 'expired') throw new AppError('APPROVAL_REQUEST_EXPIRED');
    if (request.status !== 'pending') throw new AppError('APPROVAL_REQUEST_DECIDED');
    const master = await this.signingMaster(actor, input.masterCertificateId, nowMs);
    const message = approvalMessage({
      requestId: request.id, userId: request.userId, spkiSha256Hex: request.spkiSha256Hex, nickname: request.nickname, code: request.code, expiresAtMs: request.expiresAtMs,
    });
    await this.verifyMasterSignature(master, message, input.signature);

    const user = await this.deps.users.findById(actor.userId);
    if (!user) throw new AppError('SESSION_REVOKED');
    const masterDer = der(master);
    const masterCertificate = new x509.X509Certificate(masterDer);
    const csr = await this.deps.certificateService.checkedCsr(request.csrPem);
    const approval = encodeMasterApproval({
      masterCertSha256: new Uint8Array(createHash('sha256').update(masterDer).digest()),
      message,
      signature: new Uint8Array(Buffer.from(input.signature, 'base64url')),
    });
    const certificate = await this.deps.ca.issue({
      publicKey: csr.publicKey,
      subject: masterCertificate.subjectName.toJSON(),
      notBefore: new Date(nowMs - 60_000),
      // A device never outlives the master that let it in.
      notAfter: new Date(Math.min(nowMs + this.deps.validityDays * 86_400_000, master.notAfterMs)),
      keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
      extendedKeyUsage: [EKU.paymentSigning, ...(user.role === 'seller' ? [EKU.receiptSigning] : [])],
      extraExtensions: [
        new x509.Extension(EXTENSION.certificateKind, false, derUtf8String('additional')),
        new x509.Extension(EXTENSION.masterApproval, false, approval),
      ],
    });
    const certificateDer = Buffer.from(certificate.rawData);
    // The certificate must prove its own approval to anyone; check before it leaves.
    const problem = await checkMasterApproval(certificateDer, masterDer);
    if (problem) throw new Error(`issued certificate fails its approval check: ${problem.message}`);

    const record: CertificateRecord = {
      id: randomUUID(),
      userId: user.id,
      kind: 'additional',
      serialHex: certificate.serialNumber.toLowerCase(),
      issuerId: this.deps.ca.issuing.id,
      subject: certificate.subject,
      spkiSha256Hex: request.spkiSha256Hex,
      derBase64: Buffer.from(certificateDer).toString('base64'),
      status: 'active',
      activeMasterOf: null,
      notBeforeMs: certificate.notBefore.getTime(),
      notAfterMs: certificate.notAfter.getTime(),
      revokedAtMs: null,
      revocationReason: null,
      deviceNickname: request.nickname,
      approvedByCertificateId: master.id,
      lastUsedAtMs: null,
      createdAtMs: nowMs,
    };
    await this.deps.db.transaction().execute(async (trx) => {
      // Counted again inside the transaction: approvals racing each other cannot exceed the maximum.
      const others = (await this.deps.requests.devicesCounted(trx, user.id, nowMs)) - 1;
      if (others >= this.deps.maxAdditional) throw new AppError('ADDITIONAL_CERTIFICATE_LIMIT');
      if (!(await this.deps.requests.decide(trx, request.id, 'approved', nowMs, record.id))) throw new AppError('APPROVAL_REQUEST_DECIDED');
      await this.deps.certificates.insert(trx, record);
      await this.event(trx, user.id, 'device_approved', { requestId: request.id, certificateId: record.id, nickname: request.nickname, ...origin }, nowMs);
      await this.deps.audit.append('certificate.approved', {
        actor: user.id, subject: record.id, detail: { kind: 'additional', serialHex: record.serialHex, requestId: request.id, approvedByCertificateId: master.id },
      }, trx);
    });
    const state = await this.stateOf((await this.deps.requests.findById(this.deps.db, request.id))!);
    this.deps.hub.publish(request.id, state);
    return state;
  }

  async reject(actor: Actor, id: string, origin: RequestOrigin): Promise<RequestState> {
    const nowMs = this.deps.clock();
    const request = await this.owned(actor, id);
    if (request.status === 'pending' && request.expiresAtMs <= nowMs) {
      await this.current(request);
      throw new AppError('APPROVAL_REQUEST_EXPIRED');
    }
    await this.deps.db.transaction().execute(async (trx) => {
      if (!(await this.deps.requests.decide(trx, request.id, 'rejected', nowMs, null))) throw new AppError('APPROVAL_REQUEST_DECIDED');
      await this.event(trx, actor.userId, 'device_rejected', { requestId: request.id, nickname: request.nickname, ...origin }, nowMs);
    });
    const state = await this.stateOf((await this.deps.requests.findById(this.deps.db, request.id))!);
    this.deps.hub.publish(request.id, state);
    return state;
  }

  /**
   * Revokes one of the user's certificates. An additional certificate needs a
   * signature of the master key over a one-time challenge; a master (lost phone)
   * needs only the session, and takes its devices with it.
   */
  async revoke(actor: Actor, id: string, reason: RevocationReason, proof: MasterRevocationProof | undefined, origin: RequestOrigin): Promise<CertificateInfo> {
    const nowMs = this.deps.clock();
    const record = await this.deps.certificates.findById(id);
    if (!record) throw new AppError('CERTIFICATE_NOT_FOUND');
    if (record.userId !== actor.userId) throw new AppError('CERTIFICATE_NOT_OWNED');
    // A certificate-login session may give up its own certificate, nothing else.
    if (actor.certificateId !== undefined && actor.certificateId !== id) throw new AppError('CERTIFICATE_SESSION_RESTRICTED');
    if (record.status === 'revoked') throw new AppError('CERTIFICATE_REVOKED');
    if (record.kind === 'additional') {
      if (!proof) throw new AppError('MASTER_SIGNATURE_REQUIRED');
      const master = await this.signingMaster(actor, proof.masterCertificateId, nowMs);
      const challenge = await this.deps.certificates.consumeChallenge(proof.challengeId, actor.userId, nowMs);
      if (challenge === undefined) throw new AppError('CHALLENGE_INVALID');
      await this.verifyMasterSignature(master, revocationMessage({ certificateId: record.id, serialHex: record.serialHex, reason, challengeId: proof.challengeId, challenge }), proof.signature);
    }
    const cascaded = await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.certificates.revoke(trx, record.id, reason, nowMs);
      const more = record.kind === 'master' ? await this.deps.certificates.revokeApprovedBy(trx, record.id, reason, nowMs) : 0;
      await this.event(trx, actor.userId, 'revoked', {
        certificateId: record.id, nickname: record.deviceNickname, detail: `${record.kind} ${reason}${more > 0 ? `, ${more} device certificate(s) with it` : ''}`, ...origin,
      }, nowMs);
      await this.deps.audit.append('certificate.revoked', {
        actor: actor.userId, subject: record.id, detail: { kind: record.kind, serialHex: record.serialHex, reason, devicesRevokedWith: more },
      }, trx);
      return more;
    });
    void cascaded;
    // Sessions opened with it ended in the transaction; no process may serve a copy of one now.
    await this.deps.sessions.forgetUser(record.userId);
    // CRL and OCSP reflect it at once: OCSP reads the table, the CRL is re-signed on next fetch.
    this.deps.crls.invalidate(record.issuerId);
    return this.deps.certificateService.info((await this.deps.certificates.findById(id))!, nowMs);
  }

  /**
   * "Test my certificate": a signature over a one-time server challenge, made with
   * one of the user's certificates, must pass the same gate as a payment signature.
   */
  async proof(actor: Actor, id: string, challengeId: string, signatureB64u: string): Promise<{ valid: true; checkedAtMs: number }> {
    const nowMs = this.deps.clock();
    const challenge = await this.deps.certificates.consumeChallenge(challengeId, actor.userId, nowMs);
    if (challenge === undefined) throw new AppError('CHALLENGE_INVALID');
    const { record, certificateDer } = await this.usable(actor, id, 'payment', nowMs);
    const message = Buffer.from(`${TEST_MESSAGE_PREFIX}\n${challengeId}\n${challenge}`, 'utf8');
    const signature = Buffer.from(signatureB64u, 'base64url');
    const ok = this.deps.verifier.signatureValid(certificateDer, signature, message);
    if (!ok) throw new AppError('SIGNATURE_INVALID');
    await this.deps.certificates.touch(record.id, nowMs);
    return { valid: true, checkedAtMs: nowMs };
  }

  /** The DER of one certificate we issued, by id (for chains carried in evidence). */
  async certificateDer(id: string): Promise<Uint8Array | undefined> {
    const record = await this.deps.certificates.findById(id);
    return record ? new Uint8Array(der(record)) : undefined;
  }

  async history(actor: Actor): Promise<CertificateEventInfo[]> {
    return (await this.deps.requests.eventsOf(actor.userId)).map((e) => ({ ...e }));
  }

  /**
   * The gate before any signature of a user's certificate is trusted: it must be
   * this user's, active, inside its validity, with a valid chain for `purpose`; an
   * additional certificate must also carry a valid approval by the user's master,
   * and that master must not have been revoked. Never trusts which device the
   * client says it is: the certificate is looked up by id and judged here.
   */
  async usable(actor: Actor, certificateId: string, purpose: Purpose, nowMs = this.deps.clock()): Promise<{ record: CertificateRecord; certificateDer: Uint8Array }> {
    return this.usableBy(actor.userId, certificateId, purpose, nowMs);
  }

  /**
   * {@link usable} for a user known by id rather than by a session: a login that proves
   * possession of a certificate has no session yet.
   */
  async usableBy(userId: string, certificateId: string, purpose: Purpose, nowMs = this.deps.clock()): Promise<{ record: CertificateRecord; certificateDer: Uint8Array }> {
    const record = await this.deps.certificates.findById(certificateId);
    if (!record) throw new AppError('CERTIFICATE_NOT_FOUND');
    if (record.userId !== userId) throw new AppError('CERTIFICATE_NOT_OWNED');
    if (record.status === 'revoked') throw new AppError('CERTIFICATE_REVOKED');
    if (nowMs >= record.notAfterMs) throw new AppError('CERTIFICATE_EXPIRED');
    if (nowMs < record.notBeforeMs) throw new AppError('CERTIFICATE_NOT_YET_VALID');
    const certificateDer = der(record);
    await this.deps.verifier.assertValid(certificateDer, purpose, nowMs);
    if (record.kind === 'additional') {
      const master = record.approvedByCertificateId ? await this.deps.certificates.findById(record.approvedByCertificateId) : undefined;
      if (!master || master.userId !== record.userId) throw new AppError('MASTER_APPROVAL_INVALID');
      if (master.status === 'revoked') throw new AppError('CERTIFICATE_REVOKED', { detail: 'The master certificate that approved this device has been revoked.' });
      const problem = await this.deps.verifier.approval(certificateDer, der(master));
      if (problem) throw new AppError(problem.code, { detail: problem.message });
    }
    return { record, certificateDer };
  }

  /**
   * The gate's status check again, inside a caller's transaction (the payment's): which
   * of a certificate the gate passed, and its approving master, is no longer active.
   * One indexed read of the status column; nothing is parsed.
   */
  async revokedInChain(trx: Kysely<Database>, record: Pick<CertificateRecord, 'id' | 'kind' | 'approvedByCertificateId'>): Promise<'certificate' | 'master' | null> {
    const master = record.kind === 'additional' ? record.approvedByCertificateId : null;
    const notActive = await this.deps.certificates.notActiveAmong(trx, master ? [record.id, master] : [record.id]);
    if (notActive.includes(record.id)) return 'certificate';
    return master !== null && notActive.includes(master) ? 'master' : null;
  }

  private async event(
    trx: Parameters<CertificateRequestsRepository['addEvent']>[0],
    userId: string,
    kind: CertificateEventInfo['kind'],
    fields: { certificateId?: string | null; requestId?: string | null; nickname?: string | null; detail?: string | null; ip?: string | null; userAgent?: string | null },
    atMs: number,
  ): Promise<void> {
    await this.deps.requests.addEvent(trx, {
      id: randomUUID(), userId, kind: kind as never,
      certificateId: fields.certificateId ?? null, requestId: fields.requestId ?? null, nickname: fields.nickname ?? null,
      detail: fields.detail ?? null, ip: fields.ip?.slice(0, 64) ?? null, userAgent: fields.userAgent?.slice(0, 200) ?? null, atMs,
    });
  }
}
