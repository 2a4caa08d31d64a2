/**
 * The operators' use cases behind `/admin/api/…` (docs/admin.md): who may act as an
 * operator, the user list and a user's security picture, locks, forced logouts and
 * certificate revocation. Every change is written to the audit log in the transaction
 * that makes it; the actor always comes from the session.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import type { AuditEntry } from '@coconutpay/core/audit';
import type { DatabaseEngine } from '../config.js';
import type { AccountControl, AccountControlsRepository } from '../db/account-controls-repository.js';
import type { CertificateRequestsRepository } from '../db/certificate-requests-repository.js';
import type { CertificatesRepository } from '../db/certificates-repository.js';
import type { Database, Role } from '../db/schema.js';
import type { SessionsRepository } from '../db/sessions-repository.js';
import type { UserSummary, UsersRepository } from '../db/users-repository.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import type { Actor } from './actor.js';
import type { AuditLog, AuditKind } from './audit-log.js';
import type { CertificateInfo, CertificatesService } from './certificates.js';
import type { CrlPublisher } from './pki/crl-publisher.js';

/** RFC 5280 §5.3.1 reasons an operator may give (those our CRLs and OCSP answers carry). */
export const OPERATOR_REVOCATION_REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'] as const;
export type OperatorRevocationReason = (typeof OPERATOR_REVOCATION_REASONS)[number];

/** Largest page of the user list. */
export const USER_PAGE_MAX = 100;

/** Kinds shown as a user's recent logins and failures. */
const LOGIN_KINDS: readonly AuditKind[] = ['login.succeeded', 'login.failed', 'login.locked', 'certificate-login.succeeded'];

export interface UserDetail {
  user: UserSummary & { phone: string; address: string };
  certificates: CertificateInfo[];
  control: AccountControl;
  /** Newest first, at most 20: logins, failures and locks of this login id. */
  recentLogins: AuditEntry[];
}

/** The dashboard's figures (docs/admin.md, "The console"). */
export interface Dashboard {
  atMs: number;
  /** Sessions live now (not revoked, expired or idle). */
  activeSessions: number;
  /** The last 24 hours by hour, oldest first: authorized payments and their amount in won. */
  paymentsPerHour: { hourStartMs: number; count: number; amountWon: number }[];
  /** How long a trivial query took just now. */
  databaseLatencyMs: number;
  /** The event loop's delay (p99 since the last reading), or null where it is not measured. */
  eventLoopLagMs: number | null;
}

/** Payments read for the dashboard's 24 hours; beyond it the chart says "at least". */
const DASHBOARD_PAYMENTS_MAX = 20_000;

export interface AdminDeps {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  users: UsersRepository;
  sessions: SessionsRepository;
  controls: AccountControlsRepository;
  certificates: CertificatesRepository;
  certificateService: CertificatesService;
  requests: CertificateRequestsRepository;
  crls: CrlPublisher;
  audit: AuditLog;
  clock: () => number;
  /** Idle timeout of ordinary sessions, for counting the live ones. */
  sessionIdleTimeoutMs: number;
  /** A trivial round trip to the database (the dashboard times it). */
  ping: () => Promise<void>;
  /** The event loop's delay p99 in ms since the last call, when measured. */
  eventLoopLagMs?: () => number;
}

export class AdminService {
  constructor(private readonly deps: AdminDeps) {}

  /**
   * Admits an operator's request: the admin role, a session opened by certificate login,
   * the one-time password changed, the account not locked, and the account password
   * confirmed again in this session — checked in that order, each with its own code.
   */
  async requireAdmin(actor: Actor): Promise<void> {
    if (actor.role !== 'admin') throw new AppError('ADMIN_ONLY');
    if (actor.certificateId === undefined) throw new AppError('ADMIN_CERTIFICATE_REQUIRED');
    const control = await this.deps.controls.of(actor.userId);
    if (control.passwordChangeRequired) throw new AppError('ADMIN_PASSWORD_CHANGE_REQUIRED');
    if (control.lockedAtMs !== null) throw new AppError('ACCOUNT_LOCKED');
    if (!(await this.deps.controls.sessionConfirmed(actor.sessionId, actor.userId))) throw new AppError('ADMIN_PASSWORD_CONFIRMATION_REQUIRED');
  }

  async listUsers(actor: Actor, filter: { query?: string; role?: Role; afterLoginId?: string; limit?: number }): Promise<UserSummary[]> {
    await this.requireAdmin(actor);
    return this.deps.users.search({ ...filter, limit: Math.min(Math.max(filter.limit ?? 50, 1), USER_PAGE_MAX) });
  }

  async userDetail(actor: Actor, userId: string): Promise<UserDetail> {
    await this.requireAdmin(actor);
    const user = await this.deps.users.findById(userId);
    if (!user) throw new AppError('USER_NOT_FOUND');
    const nowMs = this.deps.clock();
    const [control, certificates, recentLogins] = await Promise.all([
      this.deps.controls.of(userId),
      this.deps.certificates.listByUser(userId),
      this.deps.audit.list({ subject: user.loginId, kinds: LOGIN_KINDS, newestFirst: true, limit: 20 }),
    ]);
    return {
      user: {
        id: user.id, loginId: user.loginId, role: user.role, name: user.name, email: user.email, phone: user.phone, address: user.address,
        createdAtMs: user.createdAtMs, lockedAtMs: control.lockedAtMs, lockReason: control.lockReason,
      },
      certificates: certificates.map((c) => this.deps.certificateService.info(c, nowMs)),
      control,
      recentLogins,
    };
  }

  private async target(actor: Actor, userId: string): Promise<{ id: string; loginId: string }> {
    await this.requireAdmin(actor);
    const user = await this.deps.users.findById(userId);
    if (!user) throw new AppError('USER_NOT_FOUND');
    // An operator who locks or logs out their own account would lock the console with it.
    if (user.id === actor.userId) throw new AppError('VALIDATION_FAILED', { detail: 'An operator cannot lock or log out their own account here.' });
    return user;
  }

  /** Locks an account (no login, no payment) and ends all its sessions. */
  async lock(actor: Actor, userId: string, reason: string): Promise<{ sessionsRevoked: number }> {
    const user = await this.target(actor, userId);
    const nowMs = this.deps.clock();
    await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
      const control = await this.deps.controls.of(user.id, trx);
      await this.deps.controls.put(trx, user.id, { ...control, lockedAtMs: nowMs, lockReason: reason, lockedBy: actor.userId }, nowMs);
      await this.deps.audit.append('admin.user-locked', { actor: actor.userId, subject: user.id, detail: { loginId: user.loginId, reason } }, trx);
    });
    // After the lock is committed: a login racing this either meets the lock in its own
    // re-check after opening its session (accounts.ts) or opened it before this revocation.
    return { sessionsRevoked: await this.deps.sessions.revokeAll(user.id, 'account_locked', nowMs) };
  }

  async unlock(actor: Actor, userId: string, reason: string): Promise<void> {
    const user = await this.target(actor, userId);
    const nowMs = this.deps.clock();
    await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
      const control = await this.deps.controls.of(user.id, trx);
      await this.deps.controls.put(trx, user.id, { ...control, lockedAtMs: null, lockReason: null, lockedBy: null }, nowMs);
      await this.deps.audit.append('admin.user-unlocked', { actor: actor.userId, subject: user.id, detail: { loginId: user.loginId, reason, wasLockedAtMs: control.lockedAtMs } }, trx);
    });
  }

  /** Ends every session of the account (it may log in again). */
  async forceLogout(actor: Actor, userId: string, reason: string): Promise<{ sessionsRevoked: number }> {
    const user = await this.target(actor, userId);
    const sessionsRevoked = await this.deps.sessions.revokeAll(user.id, 'operator_logout', this.deps.clock());
    await this.deps.audit.append('admin.sessions-revoked', { actor: actor.userId, subject: user.id, detail: { loginId: user.loginId, reason, sessionsRevoked } });
    return { sessionsRevoked };
  }

  /** Revokes any user's certificate with an RFC 5280 reason; a master takes its devices with it. */
  async revokeCertificate(actor: Actor, certificateId: string, reason: OperatorRevocationReason, note: string): Promise<CertificateInfo> {
    await this.requireAdmin(actor);
    const record = await this.deps.certificates.findById(certificateId);
    if (!record) throw new AppError('CERTIFICATE_NOT_FOUND');
    if (record.status === 'revoked') throw new AppError('CERTIFICATE_REVOKED');
    const nowMs = this.deps.clock();
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.certificates.revoke(trx, record.id, reason, nowMs);
      const more = record.kind === 'master' ? await this.deps.certificates.revokeApprovedBy(trx, record.id, reason, nowMs) : 0;
      await this.deps.requests.addEvent(trx, {
        id: randomUUID(), userId: record.userId, kind: 'revoked', certificateId: record.id, requestId: null, nickname: record.deviceNickname,
        detail: `${record.kind} ${reason} by an operator${more > 0 ? `, ${more} device certificate(s) with it` : ''}`, ip: null, userAgent: null, atMs: nowMs,
      });
      await this.deps.audit.append('certificate.revoked', {
        actor: actor.userId, subject: record.id, detail: { kind: record.kind, serialHex: record.serialHex, reason, note, by: 'operator', owner: record.userId, devicesRevokedWith: more },
      }, trx);
    });
    // Sessions opened with it ended in the transaction; no process may serve a copy of one now.
    await this.deps.sessions.forgetUser(record.userId);
    this.deps.crls.invalidate(record.issuerId);
    return this.deps.certificateService.info((await this.deps.certificates.findById(record.id))!, nowMs);
  }

  /** Live figures for the console's dashboard. */
  async dashboard(actor: Actor): Promise<Dashboard> {
    await this.requireAdmin(actor);
    const atMs = this.deps.clock();
    const pingStarted = performance.now();
    await this.deps.ping();
    const databaseLatencyMs = performance.now() - pingStarted;
    const dayStartMs = atMs - 24 * 3_600_000;
    const [activeSessions, payments] = await Promise.all([
      this.deps.sessions.countActive(atMs, this.deps.sessionIdleTimeoutMs),
      this.deps.audit.list({ kind: 'payment.authorized', fromMs: dayStartMs, untilMs: atMs + 1, newestFirst: true, limit: DASHBOARD_PAYMENTS_MAX }),
    ]);
    const paymentsPerHour = Array.from({ length: 24 }, (_, i) => ({ hourStartMs: dayStartMs + i * 3_600_000, count: 0, amountWon: 0 }));
    for (const entry of payments) {
      const hour = paymentsPerHour[Math.min(23, Math.floor((entry.atMs - dayStartMs) / 3_600_000))];
      if (!hour) continue;
      hour.count += 1;
      hour.amountWon += Number(entry.detail.amountWon ?? 0);
    }
    return { atMs, activeSessions, paymentsPerHour, databaseLatencyMs, eventLoopLagMs: this.deps.eventLoopLagMs?.() ?? null };
  }

  /** The audit log for the console, filtered, newest first. */
  async auditEntries(actor: Actor, filter: { kind?: string; actor?: string; subject?: string; beforeSequence?: number; limit?: number }): Promise<AuditEntry[]> {
    await this.requireAdmin(actor);
    return this.deps.audit.list({ ...filter, newestFirst: true, limit: Math.min(Math.max(filter.limit ?? 100, 1), 1000) });
  }
}
