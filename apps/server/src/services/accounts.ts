/**
 * Accounts: registration, login with throttling, the dual-token session, logout,
 * profile and password change.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { SignJWT } from 'jose';
import { AppError } from '@coconutpay/core/errors';
import { deriveSecretToken } from '@coconutpay/core/protocol';
import type { CertificateLoginProof } from '@coconutpay/core/pki/possession-proof';
import { isUniqueViolation } from '../db/database.js';
import { NO_CONTROL, type AccountControlsRepository } from '../db/account-controls-repository.js';
import type { LedgerRepository } from '../db/ledger-repository.js';
import type { LoginThrottleLimits, LoginThrottlesRepository } from '../db/login-throttles-repository.js';
import type { Database, Role } from '../db/schema.js';
import type { SessionsRepository } from '../db/sessions-repository.js';
import type { StoreProfile, UserRecord, UsersRepository } from '../db/users-repository.js';
import type { AuditSink } from './audit-log.js';
import type { Actor } from './actor.js';
import type { CertificatePossession } from './certificate-possession.js';
import { passwordPolicyViolations, type PasswordHasher } from './password-hasher.js';
import type { TokenKeyRing } from './token-keys.js';
import { TOKEN_ISSUER } from './request-authenticator.js';

export interface RegistrationInput {
  role: 'buyer' | 'seller';
  loginId: string;
  password: string;
  name: string;
  phone: string;
  address: string;
  email: string;
  store?: StoreProfile;
}

/** A user as others may see it: no password hash. */
export type PublicUser = Omit<UserRecord, 'passwordHash'>;

export interface LoginResult {
  publicToken: string;
  secretToken: string;
  sessionId: string;
  expiresAtMs: number;
  idleTimeoutMs: number;
  user: PublicUser;
}

export interface AccountsDeps {
  db: Kysely<Database>;
  users: UsersRepository;
  sessions: SessionsRepository;
  throttles: LoginThrottlesRepository;
  /** Checks a login's certificate proof (the per-account lock lets a proven device pass). */
  possession: Pick<CertificatePossession, 'verify'>;
  ledger: LedgerRepository;
  hasher: PasswordHasher;
  keys: TokenKeyRing;
  clock: () => number;
  limits: { sessionIdleTimeoutMs: number; adminSessionIdleTimeoutMs: number; sessionLifetimeMs: number } & LoginThrottleLimits;
  /** Logins, failures and locks go to the audit log. */
  audit: AuditSink;
  /** Operator locks and the one-time password's required change. */
  controls: AccountControlsRepository;
}

/** Characters of an operator's one-time password (base64url of 18 random bytes: 144 bits). */
const ONE_TIME_PASSWORD_BYTES = 18;

function publicUser(user: UserRecord): PublicUser {
  const { passwordHash: _hidden, ...rest } = user;
  return rest;
}

export class AccountsService {
  constructor(private readonly deps: AccountsDeps) {}

  async register(input: RegistrationInput): Promise<PublicUser> {
    if ((input.role === 'seller') !== (input.store !== undefined)) {
      throw new AppError('VALIDATION_FAILED', { detail: 'store is required for sellers and only for sellers' });
    }
    if (passwordPolicyViolations(input.password, input.loginId).length > 0) throw new AppError('PASSWORD_POLICY_VIOLATED');
    const nowMs = this.deps.clock();
    const user = {
      id: randomUUID(),
      loginId: input.loginId,
      passwordHash: await this.deps.hasher.hash(input.password),
      role: input.role as Role,
      name: input.name,
      phone: input.phone,
      address: input.address,
      email: input.email,
      createdAtMs: nowMs,
      store: input.store ?? null,
    };
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        await this.deps.users.insert(trx, user);
        await this.deps.ledger.createWallet(trx, user.id, nowMs);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('LOGIN_ID_TAKEN');
      throw error;
    }
    return publicUser(user);
  }

  /**
   * Logs in from the client address `clientAddress`. Unknown id and wrong password give
   * the same answer, after the same work; both count towards the id's lock, so the lock
   * says nothing about existence either. The attempt is counted before the password is
   * checked, so attempts arriving together meet the limits as attempts one after another do.
   *
   * Anyone who knows a login id can lock it; so a `certificateProof` (a signature over a
   * login challenge with the key of one of the account's certificates, see
   * CertificatePossession) lets the attempt pass a running lock of the id. The proof is
   * read only when the lock refuses: it is no second factor, the password is still
   * checked, and the address limit still applies. A proof that fails refuses with its own
   * code (CHALLENGE_INVALID, CERTIFICATE_REVOKED, SIGNATURE_INVALID, ...) so the device
   * learns why its certificate did not help.
   */
  async login(loginId: string, password: string, clientAddress: string, certificateProof?: CertificateLoginProof): Promise<LoginResult> {
    const { users, hasher } = this.deps;
    const { audit } = this.deps;
    const nowMs = this.deps.clock();
    try {
      await this.admitLoginAttempt(loginId, clientAddress, nowMs, certificateProof);
    } catch (error) {
      // The login id is the subject: an attempt on an unknown id is recorded as such, without saying so.
      const code = error instanceof AppError ? error.code : 'INTERNAL_ERROR';
      await audit.append(code === 'LOGIN_THROTTLED' || code === 'LOGIN_ADDRESS_THROTTLED' ? 'login.locked' : 'login.failed', { subject: loginId, detail: { address: clientAddress, code } });
      throw error;
    }
    const user = await users.findByLoginId(loginId);
    const ok = user ? await hasher.verify(password, user.passwordHash) : await hasher.verifyNothing(password);
    // A failure is already counted by the reservation.
    if (!user || !ok) {
      await audit.append('login.failed', { subject: loginId, detail: { address: clientAddress, code: 'LOGIN_FAILED' } });
      throw new AppError('LOGIN_FAILED');
    }
    await this.refuseIfLocked(user, clientAddress);
    await this.deps.throttles.recordSuccess(loginId, clientAddress, nowMs);
    const result = await this.openUnlockedSession(user, nowMs, clientAddress);
    await audit.append('login.succeeded', { actor: user.id, subject: loginId, detail: { address: clientAddress, method: 'password', sessionId: result.sessionId } });
    return result;
  }

  /**
   * Counts one login attempt of `loginId` from `clientAddress` toward both locks, or refuses
   * it while a lock runs (LOGIN_THROTTLED, LOGIN_ADDRESS_THROTTLED). The attempt stays
   * counted as a failure until {@link recordLoginSuccess}.
   */
  async admitLoginAttempt(loginId: string, clientAddress: string, nowMs: number, certificateProof?: CertificateLoginProof): Promise<void> {
    const { throttles, limits } = this.deps;
    let reservation = await throttles.reserveAttempt(loginId, clientAddress, nowMs, limits);
    if (!reservation.allowed && reservation.limit === 'login_id' && certificateProof !== undefined) {
      await this.deps.possession.verify(loginId, certificateProof, nowMs);
      reservation = await throttles.reserveAttempt(loginId, clientAddress, nowMs, limits, { passIdLock: true });
    }
    if (!reservation.allowed) this.refuseAttempt(reservation, nowMs);
  }

  /** The refusal of an attempt a lock stopped: until when, why, and whether a certificate passes it. */
  private refuseAttempt(reservation: { limit: string; retryAtMs: number }, nowMs: number): never {
    const { limits } = this.deps;
    const detail = `Try again after ${Math.ceil((reservation.retryAtMs - nowMs) / 60_000)} minutes.`;
    const byAddress = reservation.limit === 'address';
    throw new AppError(byAddress ? 'LOGIN_ADDRESS_THROTTLED' : 'LOGIN_THROTTLED', {
      detail,
      lock: {
        reason: byAddress ? 'address-failures' : 'login-failures',
        untilMs: reservation.retryAtMs,
        failuresMax: byAddress ? limits.loginAddressFailuresMax : limits.loginFailuresMax,
        // Only the per-account lock can be passed with a certificate (see above).
        certificatePasses: !byAddress,
      },
    });
  }

  /**
   * Step (4) of the certificate login: the attempt succeeded; a session bound to the
   * certificate that logged in (its id rides in the public token, so every request of the
   * session knows it without a lookup). `admittedAddress` is the address the attempt was
   * counted against at message (1): its success gives that address its place back.
   */
  async openCertificateSession(userId: string, certificateId: string, loginId: string, clientAddress: string, admittedAddress: string): Promise<LoginResult> {
    const nowMs = this.deps.clock();
    const user = await this.deps.users.findById(userId);
    if (!user || user.loginId !== loginId) throw new AppError('CERTIFICATE_LOGIN_INVALID');
    await this.refuseIfLocked(user, clientAddress);
    await this.deps.throttles.recordSuccess(loginId, admittedAddress, nowMs);
    const result = await this.openUnlockedSession(user, nowMs, clientAddress, certificateId);
    await this.deps.audit.append('certificate-login.succeeded', { actor: user.id, subject: loginId, detail: { address: clientAddress, method: 'certificate', certificateId, sessionId: result.sessionId } });
    return result;
  }

  /**
   * An operator's lock refuses the login. Checked only after the password (or the
   * certificate and its PIN) passed: whoever does not hold them learns nothing of it.
   */
  private async refuseIfLocked(user: UserRecord, clientAddress: string): Promise<void> {
    const control = await this.deps.controls.of(user.id);
    if (control.lockedAtMs === null) return;
    await this.deps.audit.append('login.failed', { subject: user.loginId, detail: { address: clientAddress, code: 'ACCOUNT_LOCKED' } });
    throw new AppError('ACCOUNT_LOCKED', { detail: `Locked by an operator: ${control.lockReason ?? ''}`.trim() });
  }

  /**
   * Opens the session, then reads the lock once more: an operator's lock commits before
   * it revokes the account's sessions, so a login that slipped between the first check
   * and that revocation sees the lock here and its session is ended at once.
   */
  private async openUnlockedSession(user: UserRecord, nowMs: number, clientAddress: string, certificateId?: string): Promise<LoginResult> {
    const result = await this.openSession(user, nowMs, certificateId);
    if ((await this.deps.controls.of(user.id)).lockedAtMs !== null) {
      await this.deps.sessions.revoke(result.sessionId, 'account_locked', nowMs);
      await this.refuseIfLocked(user, clientAddress);
    }
    return result;
  }

  /**
   * `npm run admin -- create <loginId>`: a new operator with a random one-time password,
   * answered once and stored only as its hash. It logs in like any password, but every
   * admin route refuses (ADMIN_PASSWORD_CHANGE_REQUIRED) until the operator changed it.
   */
  async createAdmin(loginId: string): Promise<{ user: PublicUser; oneTimePassword: string }> {
    if (!/^[a-z0-9][a-z0-9_.-]{3,31}$/.test(loginId)) throw new AppError('VALIDATION_FAILED', { detail: 'A login id has 4-32 lower-case letters, digits, _ . -' });
    const oneTimePassword = randomBytes(ONE_TIME_PASSWORD_BYTES).toString('base64url');
    const nowMs = this.deps.clock();
    const user = {
      id: randomUUID(), loginId, passwordHash: await this.deps.hasher.hash(oneTimePassword), role: 'admin' as Role,
      name: loginId, phone: '', address: '', email: '', createdAtMs: nowMs, store: null,
    };
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        await this.deps.users.insert(trx, user);
        await this.deps.controls.put(trx, user.id, { ...NO_CONTROL, passwordChangeRequired: true }, nowMs);
        await this.deps.audit.append('admin.created', { subject: user.id, detail: { loginId, by: 'command line' } }, trx);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('LOGIN_ID_TAKEN');
      throw error;
    }
    return { user: publicUser(user), oneTimePassword };
  }

  /**
   * The second half of an operator's login: after the certificate login, the account
   * password once more. It counts toward the login id's lock like a login, and marks the
   * session confirmed for the admin routes.
   */
  async confirmAdminPassword(actor: Actor, password: string, clientAddress: string): Promise<void> {
    if (actor.role !== 'admin') throw new AppError('ADMIN_ONLY');
    if (actor.certificateId === undefined) throw new AppError('ADMIN_CERTIFICATE_REQUIRED');
    const user = await this.deps.users.findById(actor.userId);
    if (!user) throw new AppError('SESSION_REVOKED');
    const nowMs = this.deps.clock();
    await this.admitLoginAttempt(user.loginId, clientAddress, nowMs);
    if (!(await this.deps.hasher.verify(password, user.passwordHash))) {
      await this.deps.audit.append('admin.confirmation-failed', { actor: user.id, subject: user.loginId, detail: { address: clientAddress, sessionId: actor.sessionId } });
      throw new AppError('CURRENT_PASSWORD_WRONG');
    }
    await this.deps.throttles.recordSuccess(user.loginId, clientAddress, nowMs);
    await this.deps.controls.confirmSession(actor.sessionId, user.id, nowMs);
    await this.deps.audit.append('admin.session-confirmed', { actor: user.id, subject: user.loginId, detail: { address: clientAddress, sessionId: actor.sessionId, certificateId: actor.certificateId } });
  }

  private async openSession(user: UserRecord, nowMs: number, certificateId?: string): Promise<LoginResult> {
    const key = this.deps.keys.current();
    const sessionId = randomUUID();
    const expiresAtMs = nowMs + this.deps.limits.sessionLifetimeMs;
    await this.deps.sessions.insert({
      id: sessionId, userId: user.id, keyId: key.kid, createdAtMs: nowMs, lastSeenAtMs: nowMs, expiresAtMs, revokedAtMs: null, revokedReason: null, certificateId: certificateId ?? null,
    });
    const publicToken = await new SignJWT({ sid: sessionId, role: user.role, ...(certificateId ? { cid: certificateId } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(user.id)
      .setIssuedAt(Math.floor(nowMs / 1000))
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .sign(key.publicTokenKey);
    const secretToken = await deriveSecretToken(key.secretTokenKey, publicToken);
    const idleTimeoutMs = user.role === 'admin' ? this.deps.limits.adminSessionIdleTimeoutMs : this.deps.limits.sessionIdleTimeoutMs;
    return { publicToken, secretToken, sessionId, expiresAtMs, idleTimeoutMs, user: publicUser(user) };
  }

  async logout(actor: Actor): Promise<void> {
    await this.deps.sessions.revoke(actor.sessionId, 'logout', this.deps.clock());
  }

  async profile(actor: Actor): Promise<{ user: PublicUser; walletBalanceWon: bigint | null }> {
    const user = await this.deps.users.findById(actor.userId);
    if (!user) throw new AppError('SESSION_REVOKED');
    return { user: publicUser(user), walletBalanceWon: await this.deps.ledger.walletBalanceWon(actor.userId) };
  }

  /** Changes the password and ends every other session of the user. */
  async changePassword(actor: Actor, currentPassword: string, newPassword: string): Promise<{ sessionsRevoked: number }> {
    const user = await this.deps.users.findById(actor.userId);
    if (!user) throw new AppError('SESSION_REVOKED');
    if (!(await this.deps.hasher.verify(currentPassword, user.passwordHash))) throw new AppError('CURRENT_PASSWORD_WRONG');
    if (passwordPolicyViolations(newPassword, user.loginId).length > 0 || newPassword === currentPassword) throw new AppError('PASSWORD_POLICY_VIOLATED');
    const nowMs = this.deps.clock();
    await this.deps.users.updatePasswordHash(user.id, await this.deps.hasher.hash(newPassword), nowMs);
    const control = await this.deps.controls.of(user.id);
    if (control.passwordChangeRequired) await this.deps.controls.put(this.deps.db, user.id, { ...control, passwordChangeRequired: false }, nowMs);
    await this.deps.audit.append('password.changed', { actor: user.id, subject: user.loginId });
    const sessionsRevoked = await this.deps.sessions.revokeOthers(user.id, actor.sessionId, 'password_changed', nowMs);
    return { sessionsRevoked };
  }
}
