/**
 * The payment authentication phase on A's side (docs/protocol.md, "Payment
 * authentication"): a sealed, device-signed request becomes a payment command
 * built from our records and signed by A; the device's CMS-signed authorization
 * of exactly that command (plus the typed code when the policy asks) moves the
 * money, once, with the evidence stored in the same transaction.
 */
import { createHash, KeyObject, randomBytes, randomUUID, type ECDH } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { canonicalJson, canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';
import {
  authorizationContentTextOf, codeProof, COMMAND_TTL_MS, REQUEST_CLOCK_SKEW_MS,
  type PaymentCommand, type PaymentRequest, type SharedCode as SharedCodeEvent,
} from '@coconutpay/core/payment';
import { verifyEvidence, withEvidenceCheck, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { assembleSignedData, DerError, OID_CMS, parseSignedAttributes, parseSignedData } from '@coconutpay/core/pki/cms';
import { derToP1363, SignatureEncodingError } from '@coconutpay/core/pki/signature';
import type { DatabaseEngine } from '../config.js';
import { isUniqueViolation } from '../db/database.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import type { OrdersRepository } from '../db/orders-repository.js';
import { DEFAULT_POLICY_SETTINGS, type PaymentAuthRepository, type PaymentCommandRecord, type PolicyRule, type VerificationCodeRecord } from '../db/payment-auth-repository.js';
import type { Database } from '../db/schema.js';
import type { UsersRepository } from '../db/users-repository.js';
import type { AuditSink } from './audit-log.js';
import type { Actor } from './actor.js';
import type { DeviceCertificatesService } from './device-certificates.js';
import type { EffectOptions } from './commit-with.js';
import { dailyLimitExceeded, type PaidOrder, type PaymentsService } from './payments.js';
import type { CertificateAuthority } from './pki/certificate-authority.js';
import type { CertificateVerifier } from './pki/certificate-verifier.js';
import type { ServerRoles } from './pki/server-roles.js';
import { openCompactJwe, p256AgreementKey, replyKeyFromJwk, sealDirectJwe } from './pki/compact-jwe.js';
import { JsonSigner } from './pki/json-signer.js';
import { newVerificationCode, renderVerificationCode } from './verification-code-image.js';
import type { VerificationCodeKey } from './verification-code-key.js';
import { timeOrderedId } from '../db/time-ordered-id.js';
import type { EventHub } from './event-hub.js';
import type { QrPaymentService } from './qr-payments.js';

/** A code on its way to another device of the same account (shareCode). */
export interface SharedCode extends SharedCodeEvent {
  /** The session that asked: it does not receive its own code. */
  fromSessionId: string;
}

/**
 * Consecutive failed authorizations before payments are locked, and for how long, in the
 * shipped policy; each policy version sets its own (PolicySettings).
 */
export const PAYMENT_FAILURES_MAX = DEFAULT_POLICY_SETTINGS.failedAttemptsMax;
export const PAYMENT_LOCK_MS = DEFAULT_POLICY_SETTINGS.lockDurationMs;
export const CODE_TRIES_MAX = 5;
const DAY_MS = 86_400_000;
/** How far the signing time in the device's CMS attributes may be from our clock. */
export const SIGNING_TIME_SKEW_MS = 5 * 60_000;

const REQUEST_CONTENT_TYPE = 'coconutpay-payment-request';
/** How a canonical authorization begins: its first member, the code's proof (base64url) or null. */
const AUTHORIZATION_START = /^\{"codeProof":(null|"[A-Za-z0-9_-]{1,128}"),"command":/;
const COMMAND_CONTENT_TYPE = 'coconutpay-payment-command';

interface SignedRequest {
  request: PaymentRequest;
  signature: string;
}

export interface IssuedCommand {
  comId: string;
  /** JWE to the request's reply key, holding A's JWS of the command. */
  sealedCommand: string;
  codeRequired: boolean;
  expiresAtMs: number;
}

export interface AuthorizationInput {
  comId: string;
  /** base64url of the canonical authorization (what CMS encapsulates). */
  content: string;
  /** base64url of the DER SET of signed attributes the device signed. */
  signedAttributes: string;
  /** base64url of the DER ECDSA signature. */
  signature: string;
}

export interface PaymentReceipt {
  orderId: string;
  orderNumber: string;
  amountWon: bigint;
  paidAtMs: number;
  evidenceId: string;
  signatureHex: string;
}

export interface PolicyDecision {
  rule: string;
  requireCode: boolean;
  reason: string;
}

/** What a rule's conditions look at. */
export interface PolicyFacts {
  amountWon: bigint;
  certificateKind: 'master' | 'additional';
  firstPayment: boolean;
  /** Since the certificate was issued (our CA's record of it), at the payment request. */
  certificateAgeMs: number;
}

/** First enabled rule whose conditions all hold decides (rules sorted by priority). */
export function decidePolicy(rules: readonly PolicyRule[], facts: PolicyFacts): PolicyDecision {
  for (const r of rules) {
    if (!r.enabled) continue;
    if (r.certificateKind !== null && r.certificateKind !== facts.certificateKind) continue;
    if (r.minAmountWon !== null && facts.amountWon < r.minAmountWon) continue;
    if (r.firstPaymentOfCertificate !== null && r.firstPaymentOfCertificate !== facts.firstPayment) continue;
    if (r.certificateIssuedWithinDays !== null && !(facts.certificateAgeMs < r.certificateIssuedWithinDays * DAY_MS)) continue;
    return { rule: r.rule, requireCode: r.requireCode, reason: r.description };
  }
  // No rule matched: the safe side.
  return { rule: '(none)', requireCode: true, reason: 'No policy rule matched; the code is asked by default' };
}

function b64u(text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new AppError('VALIDATION_FAILED', { detail: `${what} is not base64url` });
  return new Uint8Array(Buffer.from(text, 'base64url'));
}

/**
 * The answer to a REQ: `{"jws":…}` sealed under the reply key. `jws` is A's compact JWS
 * (JsonSigner: base64url parts joined by dots), characters JSON writes as they are, so
 * its canonical JSON is written directly rather than scanned (four kilobytes) for
 * characters to escape. A test holds it to canonicalJsonBytes({ jws }).
 */
export function sealCommand(jws: string, replyKey: Uint8Array): string {
  return sealDirectJwe(Buffer.from(`{"jws":"${jws}"}`, 'utf8'), replyKey, COMMAND_CONTENT_TYPE);
}

/**
 * The code's proof in a signed authorization that is exactly the canonical authorization
 * of the stored command (canonical JSON and A's JWS); undefined when it is anything else.
 * The proof is the one member the device adds, and it leads the canonical form.
 */
export function presentedCodeProof(content: Uint8Array, commandJson: string, commandJws: string): string | null | undefined {
  const match = AUTHORIZATION_START.exec(Buffer.from(content.subarray(0, 200)).toString('latin1'));
  if (!match) return undefined;
  const proof = match[1] === 'null' ? null : match[1]!.slice(1, -1);
  // Encoded straight into a Buffer and compared with the content where it lies (no copies).
  const expected = authorizationContentTextOf(commandJson, commandJws, proof);
  return Buffer.from(expected, 'utf8').equals(content) ? proof : undefined;
}

/**
 * The CMS checks of an authorization, on its parts as they arrive rather than on the
 * assembled file — the same checks as core's checkSignedDataSignature (content type
 * id-data, message digest of the content, the signing-certificate-v2 attribute naming
 * exactly this certificate, the certificate's ECDSA signature over the attributes),
 * without parsing the file and every certificate in it back, which cost more than the
 * signature check itself. The signer is the gate-checked certificate by
 * construction; a test reads the stored evidence back through core's parser and OpenSSL.
 * Answers the signing time, or null when any check fails.
 */
export function authorizationSigningTimeMs(
  verifier: CertificateVerifier, certificateDer: Uint8Array, content: Uint8Array, signedAttributesDer: Uint8Array, signatureDer: Uint8Array,
): number | null {
  try {
    const attributes = parseSignedAttributes(signedAttributesDer);
    if (attributes.contentTypeOid !== OID_CMS.data) return null;
    if (!createHash('sha256').update(content).digest().equals(attributes.messageDigest)) return null;
    // Every CMS we keep names its signer's certificate inside the signature (RFC 5035).
    // The certificate's hash is kept with its key (the same bytes, so the same hash).
    if (!attributes.signingCertificateHash || !verifier.sha256(certificateDer).equals(attributes.signingCertificateHash)) return null;
    if (!verifier.signatureValid(certificateDer, derToP1363(signatureDer), signedAttributesDer)) return null;
    return attributes.signingTimeSeconds * 1000;
  } catch (error) {
    if (error instanceof DerError || error instanceof SignatureEncodingError) return null;
    throw error;
  }
}

/**
 * The refusal of a locked account: until when, and that failures on any of its devices
 * count. `failuresMax` is the current policy's (a lock made under an earlier version
 * keeps the end it was given).
 */
function lockedError(lockedUntilMs: number, failuresMax: number): AppError {
  return new AppError('PAYMENT_LOCKED', {
    detail: `Payment authorization is locked until ${new Date(lockedUntilMs).toISOString()} after ${failuresMax} failed authorizations in a row on this account's devices.`,
    lock: { reason: 'payment-failures', untilMs: lockedUntilMs, failuresMax, certificatePasses: false },
  });
}

export class PaymentAuthService {
  /** A's keys as node:crypto keys: the payment messages are sealed and signed with node:crypto (see compact-jwe.ts). */
  private readonly agreementKey: ECDH;
  private readonly commandSigner: JsonSigner;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      engine: DatabaseEngine;
      repo: PaymentAuthRepository;
      orders: OrdersRepository;
      users: UsersRepository;
      devices: DeviceCertificatesService;
      payments: PaymentsService;
      roles: ServerRoles;
      ca: CertificateAuthority;
      verifier: CertificateVerifier;
      /** The current CRLs of the issuing CA and the root: they prove the chain's status when the evidence is stamped. */
      revocationData: () => Promise<Uint8Array[]>;
      /** Keeps verification codes as keyed digests and sealed copies, never readable in the database. */
      codeKey: VerificationCodeKey;
      /** Our TSA: an RFC 3161 token over a signature value. */
      timeStamps: { stampSignature(signatureValue: Uint8Array): Promise<Uint8Array> };
      clock: () => number;
      /** Carries shared codes to the account's other devices (shareCode). */
      codeRelay?: EventHub<SharedCode>;
      /** QR payment sessions: a request may name one its device took (qr-payments.ts). */
      qr?: QrPaymentService;
      /** Authorized payments, refused factors and locks go to the audit log. */
      audit: AuditSink;
      /** Work after a payment committed that failed without undoing it (the server logs it). */
      onAfterCommitError?: (error: unknown, what: string) => void;
    },
  ) {
    this.agreementKey = p256AgreementKey(KeyObject.from(deps.roles.paymentAgreement.privateKey).export({ format: 'jwk' }));
    this.commandSigner = new JsonSigner(KeyObject.from(deps.roles.payment.privateKey), deps.roles.payment.x5c, 'coconutpay-com+jws');
  }

  /** A's key agreement key, signed by A, for the browser to seal requests to (public). */
  async serverKey(): Promise<{ agreementKey: ServerRoles['paymentAgreement']['publicJwk']; x5c: string[] }> {
    return { agreementKey: this.deps.roles.paymentAgreement.publicJwk, x5c: this.deps.roles.payment.x5c.map((c) => Buffer.from(c).toString('base64')) };
  }

  private async assertNotLocked(actor: Actor, nowMs: number): Promise<void> {
    await this.refuseIfLocked((await this.deps.repo.lockout(actor.userId))?.lockedUntilMs ?? null, nowMs);
  }

  /** Throws the lock's refusal while a lock read from the database still holds. */
  private async refuseIfLocked(lockedUntilMs: number | null, nowMs: number): Promise<void> {
    if (lockedUntilMs !== null && lockedUntilMs > nowMs) throw lockedError(lockedUntilMs, (await this.deps.repo.currentPolicy()).settings.failedAttemptsMax);
  }

  /**
   * Counts a failed factor and answers without saying which one failed. The count is
   * the one the atomic upsert left: failures that pass the first lock check together
   * still lock at exactly the current policy's attempts before lock, and the later ones
   * are not counted. The lock lasts the current policy's lock duration.
   */
  private async failed(actor: Actor, nowMs: number): Promise<never> {
    const { version, settings } = await this.deps.repo.currentPolicy();
    const { failedAttemptsMax, lockDurationMs } = settings;
    const { consecutiveFailures, lockedUntilMs } = await this.deps.repo.recordFailure(actor.userId, nowMs, failedAttemptsMax, lockDurationMs);
    const locked = consecutiveFailures >= failedAttemptsMax;
    await this.deps.audit.append(locked ? 'payment.locked' : 'payment.refused', {
      actor: actor.userId, subject: actor.userId,
      detail: { consecutiveFailures, lockedUntilMs: locked ? (lockedUntilMs ?? nowMs + lockDurationMs) : null, policyVersion: version },
    });
    if (locked) throw lockedError(lockedUntilMs ?? nowMs + lockDurationMs, failedAttemptsMax);
    throw new AppError('PAYMENT_AUTHORIZATION_FAILED', { detail: `${failedAttemptsMax - consecutiveFailures} tries left before payments are locked.` });
  }

  /**
   * C → A: the sealed, signed payment request. Answers with the sealed, A-signed command.
   * `effect.commitWith` commits with the command: a second run of the same request would
   * be refused as a replay, and the command sealed to its reply key lost.
   */
  async request(actor: Actor, sealedRequest: string, locale: 'ko' | 'en', effect: EffectOptions<IssuedCommand> = {}): Promise<IssuedCommand> {
    const nowMs = this.deps.clock();
    await this.assertNotLocked(actor, nowMs);
    let signed: SignedRequest;
    try {
      signed = JSON.parse(openCompactJwe(sealedRequest, this.agreementKey, REQUEST_CONTENT_TYPE).toString('utf8')) as SignedRequest;
    } catch (cause) {
      throw new AppError('PAYMENT_REQUEST_INVALID', { detail: 'The request is not sealed to this server or was altered.', cause });
    }
    const req = signed?.request;
    if (!req || req.type !== 'coconutpay-payment-request' || req.v !== 1 || typeof signed.signature !== 'string') throw new AppError('PAYMENT_REQUEST_INVALID');
    // Identity comes from the session: a request naming another payer is refused outright.
    if (req.payerUserId !== actor.userId) throw new AppError('PAYMENT_REQUEST_INVALID', { detail: 'The request names another payer.' });
    if (!Number.isSafeInteger(req.issuedAtMs) || Math.abs(req.issuedAtMs - nowMs) > REQUEST_CLOCK_SKEW_MS) throw new AppError('PAYMENT_REQUEST_INVALID', { detail: 'The request time is outside the accepted window.' });
    if (typeof req.nonce !== 'string' || !/^[A-Za-z0-9_-]{16,64}$/.test(req.nonce)) throw new AppError('PAYMENT_REQUEST_INVALID', { detail: 'The request nonce is malformed.' });
    let replyKey: Buffer;
    try {
      replyKey = replyKeyFromJwk(req.replyKey);
    } catch (cause) {
      throw new AppError('PAYMENT_REQUEST_INVALID', { detail: 'The reply key is not a 256-bit symmetric key.', cause });
    }

    const { record: certificate, certificateDer } = await this.deps.devices.usable(actor, req.certificateId, 'payment', nowMs);
    // A session a certificate logged in pays with that certificate, or with the account's master.
    if (actor.certificateId !== undefined && certificate.id !== actor.certificateId && certificate.kind !== 'master') throw new AppError('CERTIFICATE_NOT_BOUND_TO_SESSION');
    // core's verifyCanonical, on node:crypto with the certificate's cached key.
    let signatureOk = false;
    try {
      signatureOk = /^[A-Za-z0-9_-]{86}$/.test(signed.signature) && this.deps.verifier.signatureValid(certificateDer, Buffer.from(signed.signature, 'base64url'), canonicalJsonBytes(req));
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return this.failed(actor, nowMs);

    const order = await this.deps.orders.findById(req.orderId);
    if (!order || order.buyerId !== actor.userId) throw new AppError('ORDER_NOT_FOUND');
    if (order.status === 'paid') throw new AppError('ORDER_ALREADY_PAID');
    if (order.status === 'cancelled') throw new AppError('ORDER_CANCELLED');
    if (order.status === 'expired' || order.expiresAtMs <= nowMs) throw new AppError('ORDER_EXPIRED');
    const payer = await this.deps.users.findById(actor.userId);
    if (!payer) throw new AppError('SESSION_REVOKED');
    // A QR payment: the session must be one this very phone session took for this order.
    let qr: Awaited<ReturnType<QrPaymentService['channelFor']>> | undefined;
    if (req.qrSessionId !== undefined) {
      if (typeof req.qrSessionId !== 'string' || !this.deps.qr) throw new AppError('PAYMENT_REQUEST_INVALID', { detail: 'The request names a QR payment this server does not know.' });
      qr = await this.deps.qr.channelFor(actor, req.qrSessionId, order.id, nowMs);
    }

    const policy = await this.deps.repo.currentPolicy();
    const { dailyLimitWon, codeValidityMs } = policy.settings;
    if (dailyLimitWon !== null) {
      // Refused before the person signs anything; the payment's transaction checks again
      // under the wallet's lock, which is what holds when payments race (payments.ts).
      const paidTodayWon = await this.deps.payments.paidTodayWon(actor.userId);
      if (paidTodayWon + order.totalWon > dailyLimitWon) throw dailyLimitExceeded(dailyLimitWon, paidTodayWon);
    }
    const decision = decidePolicy(policy.rules, {
      amountWon: order.totalWon,
      certificateKind: certificate.kind,
      firstPayment: !(await this.deps.repo.hasPaidWith(certificate.id)),
      certificateAgeMs: nowMs - certificate.createdAtMs,
    });
    const comId = timeOrderedId(nowMs);
    // A code is typed within its command's life, so a command that asks for one lives as
    // long as the code is valid (at most the protocol's TTL; a new picture keeps the end).
    const lifeMs = decision.requireCode ? Math.min(codeValidityMs, COMMAND_TTL_MS) : COMMAND_TTL_MS;
    const expiresAtMs = Math.min(nowMs + lifeMs, order.expiresAtMs, qr?.payUntilMs ?? Number.POSITIVE_INFINITY);
    const codeId = decision.requireCode ? timeOrderedId(nowMs) : null;
    const command: PaymentCommand = {
      v: 1,
      type: 'coconutpay-payment-command',
      comId,
      orderId: order.id,
      orderNumber: order.orderNumber,
      payer: { userId: payer.id, loginId: payer.loginId, name: payer.name },
      payee: { sellerId: order.sellerId, storeName: order.storeName, businessNumber: order.businessNumber },
      items: order.items.map((i) => ({ productId: i.productId, name: i.productName, quantity: i.quantity, unitPriceWon: Number(i.unitPriceWon), lineTotalWon: Number(i.lineTotalWon) })),
      amountWon: Number(order.totalWon),
      currency: 'KRW',
      issuedAtMs: nowMs,
      expiresAtMs,
      nonce: randomBytes(16).toString('base64url'),
      requestNonce: req.nonce,
      locale: locale === 'en' ? 'en' : 'ko',
      certificateId: certificate.id,
      verification: { codeRequired: decision.requireCode, codeId, policyRule: decision.rule },
      ...(qr ? { channel: qr.channel } : {}),
    };
    const commandJson = canonicalJson(command);
    const jws = this.commandSigner.signCanonical(commandJson);
    const record: PaymentCommandRecord = {
      comId, orderId: order.id, userId: actor.userId, sessionId: actor.sessionId, certificateId: certificate.id, requestNonce: req.nonce,
      commandJson, commandJws: jws, amountWon: order.totalWon, codeRequired: decision.requireCode,
      policyRule: decision.rule, policyReason: decision.reason, policyVersion: policy.version, status: 'issued', issuedAtMs: nowMs, expiresAtMs, decidedAtMs: null, failureCode: null,
    };
    // Only the code's keyed digest and its sealed form are stored (verification-code-key.ts);
    // both are made before the transaction, since the write lock is shared.
    let codeRecord: VerificationCodeRecord | null = null;
    if (codeId) {
      const code = newVerificationCode();
      const codeDigest = this.deps.codeKey.digest(await codeProof(code, comId));
      codeRecord = { id: codeId, comId, codeDigest, codeSealed: this.deps.codeKey.seal(codeId, code), tries: 0, expiresAtMs, usedAtMs: null };
    }
    // Sealed once, before the transaction: what is stored with the command is what is answered.
    const issued: IssuedCommand = { comId, sealedCommand: sealCommand(jws, replyKey), codeRequired: decision.requireCode, expiresAtMs };
    try {
      if (!codeRecord && !effect.commitWith && this.deps.engine !== 'sqlite') {
        // One row and nothing to commit with it: a statement of its own is atomic already,
        // and on PostgreSQL and MariaDB a BEGIN and a COMMIT are two more round trips.
        // (SQLite keeps its transaction: that is where group commit shares the sync.)
        await this.deps.repo.insertCommand(this.deps.db, record);
      } else {
        await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
          await this.deps.repo.insertCommand(trx, record);
          if (codeRecord) await this.deps.repo.insertCode(trx, codeRecord);
          await effect.commitWith?.(trx, issued);
        });
      }
    } catch (error) {
      // The (session, nonce) pair is unique: a replayed request lands here.
      if (isUniqueViolation(error)) throw new AppError('PAYMENT_REQUEST_REPLAYED');
      throw error;
    }
    return issued;
  }

  private async ownCommand(actor: Actor, comId: string): Promise<PaymentCommandRecord> {
    const command = await this.deps.repo.findCommand(comId);
    if (!command || command.userId !== actor.userId) throw new AppError('PAYMENT_COMMAND_NOT_FOUND');
    return command;
  }

  /** The verification code's picture for a command that asks for one. */
  async codeImage(actor: Actor, comId: string): Promise<Buffer> {
    const command = await this.ownCommand(actor, comId);
    const code = command.codeRequired ? await this.deps.repo.findCodeByCommand(comId) : undefined;
    if (!code) throw new AppError('PAYMENT_COMMAND_NOT_FOUND', { detail: 'This payment asks for no code.' });
    if (code.usedAtMs !== null || command.status !== 'issued') throw new AppError('PAYMENT_COMMAND_USED');
    if (code.expiresAtMs <= this.deps.clock() || code.codeSealed === null) throw new AppError('PAYMENT_COMMAND_EXPIRED');
    // Drawn on each request from the sealed code, so no picture of it sits in the database;
    // the seed makes a reload show the very same picture (verification-code-key.ts).
    return renderVerificationCode(this.deps.codeKey.open(code.id, code.codeSealed), this.deps.codeKey.pictureSeed(code.id, code.codeSealed));
  }

  /**
   * A new code (and so a new picture) for a command that asks for one, when the person
   * cannot read the one shown. It costs one of the code's {@link CODE_TRIES_MAX} tries,
   * exactly like a wrong code, so pictures cannot be drawn until one is easy for a machine;
   * it does not count towards the account's lock, and it never resets the tries.
   * Answers the new code (for {@link shareCode}) and the tries left.
   */
  async renewCode(actor: Actor, comId: string): Promise<{ code: string; triesLeft: number; command: PaymentCommandRecord; expiresAtMs: number }> {
    const nowMs = this.deps.clock();
    await this.assertNotLocked(actor, nowMs);
    const command = await this.ownCommand(actor, comId);
    const current = command.codeRequired ? await this.deps.repo.findCodeByCommand(comId) : undefined;
    if (!current) throw new AppError('PAYMENT_COMMAND_NOT_FOUND', { detail: 'This payment asks for no code.' });
    if (current.usedAtMs !== null || command.status !== 'issued') throw new AppError('PAYMENT_COMMAND_USED');
    if (current.expiresAtMs <= nowMs) throw new AppError('PAYMENT_COMMAND_EXPIRED');
    const code = newVerificationCode();
    const next = { codeDigest: this.deps.codeKey.digest(await codeProof(code, comId)), codeSealed: this.deps.codeKey.seal(current.id, code) };
    if (!(await this.deps.repo.replaceCode(current.id, CODE_TRIES_MAX, nowMs, next))) {
      throw new AppError('VERIFICATION_CODE_TRIES_EXHAUSTED');
    }
    return { code, triesLeft: CODE_TRIES_MAX - current.tries - 1, command, expiresAtMs: current.expiresAtMs };
  }

  /**
   * The code for someone who cannot see the picture: a new code (costing a try, as
   * {@link renewCode}) is sent as text to the account's other signed-in devices that have
   * the payment-code page open, never to the device that asked. Nothing of it is stored
   * in readable form; a device that is not listening now never receives it.
   */
  async shareCode(actor: Actor, comId: string): Promise<{ triesLeft: number; expiresAtMs: number }> {
    const { code, triesLeft, command, expiresAtMs } = await this.renewCode(actor, comId);
    const promised = JSON.parse(command.commandJson) as Pick<PaymentCommand, 'orderNumber' | 'payee' | 'amountWon'>;
    this.deps.codeRelay?.publish(actor.userId, {
      comId, code, orderNumber: promised.orderNumber, storeName: promised.payee.storeName, amountWon: promised.amountWon,
      expiresAtMs, fromSessionId: actor.sessionId,
    });
    return { triesLeft, expiresAtMs };
  }

  /**
   * C → A: the device's signed authorization. Checks, in order: not locked; the
   * command is the caller's, issued and live; the certificate still passes the gate;
   * the content is exactly the authorization of the stored command; the CMS
   * signature by that certificate; the code. Then pays, once. `effect.commitWith`
   * commits with the payment, given its receipt.
   */
  async authorize(actor: Actor, input: AuthorizationInput, effect: EffectOptions<PaymentReceipt> = {}): Promise<PaymentReceipt> {
    const nowMs = this.deps.clock();
    // The lock and the command in one read; without a command, the lock is read alone, so
    // a locked account hears that it is locked whatever command it names.
    const found = await this.deps.repo.findCommandWithLockout(input.comId, actor.userId);
    if (!found) {
      await this.assertNotLocked(actor, nowMs);
      throw new AppError('PAYMENT_COMMAND_NOT_FOUND');
    }
    await this.refuseIfLocked(found.lockedUntilMs, nowMs);
    const command = found.command;
    if (command.userId !== actor.userId) throw new AppError('PAYMENT_COMMAND_NOT_FOUND');
    // A command is authorized from the session that asked for it: the certificate binding of
    // a certificate-login session was checked there and must not be stepped around.
    if (command.sessionId !== actor.sessionId) throw new AppError('PAYMENT_COMMAND_NOT_FOUND');
    if (command.status !== 'issued') throw new AppError('PAYMENT_COMMAND_USED');
    if (command.expiresAtMs <= nowMs) throw new AppError('PAYMENT_COMMAND_EXPIRED');
    const { record: certificate, certificateDer } = await this.deps.devices.usable(actor, command.certificateId, 'payment', nowMs);

    const content = b64u(input.content, 'content');
    // What was signed must be exactly the authorization of what A issued: same command,
    // same A signature; any change to amount, payee, items or order ends here.
    const presentedProof = presentedCodeProof(content, command.commandJson, command.commandJws);
    if (presentedProof === undefined) return this.failed(actor, nowMs);

    const signedAttributesDer = b64u(input.signedAttributes, 'signedAttributes');
    const signatureDer = b64u(input.signature, 'signature');
    const signingTimeMs = authorizationSigningTimeMs(this.deps.verifier, certificateDer, content, signedAttributesDer, signatureDer);
    if (signingTimeMs === null) return this.failed(actor, nowMs);
    if (Math.abs(signingTimeMs - nowMs) > SIGNING_TIME_SKEW_MS) return this.failed(actor, nowMs);

    // The version the command was decided under finishes it: its daily limit counts here.
    const decidedUnder = command.policyVersion === null ? undefined : await this.deps.repo.settingsOfVersion(command.policyVersion);
    const { settings: currentSettings } = await this.deps.repo.currentPolicy();
    const dailyLimitWon = (decidedUnder ?? currentSettings).dailyLimitWon;

    let codeRecordId: string | null = null;
    if (command.codeRequired) {
      const code = await this.deps.repo.findCodeByCommand(command.comId);
      if (!code || code.usedAtMs !== null || code.codeDigest === null || code.expiresAtMs <= nowMs) return this.failed(actor, nowMs);
      if (!(await this.deps.repo.countCodeTry(code.id, CODE_TRIES_MAX))) return this.failed(actor, nowMs);
      if (!this.deps.codeKey.matches(presentedProof, code.codeDigest)) return this.failed(actor, nowMs);
      codeRecordId = code.id;
    } else if (presentedProof !== null) {
      return this.failed(actor, nowMs);
    }

    // Long-term evidence (CAdES B-LT in spirit): the chain with its root, the CRLs current
    // now, and our time-stamp over the signature value, taken after the CRLs were made.
    const [otherCertificates, crls] = await Promise.all([this.chainFor(certificate.approvedByCertificateId), this.deps.revocationData()]);
    const timeStampToken = await this.deps.timeStamps.stampSignature(signatureDer);
    const cms = assembleSignedData({
      content, signedAttributesDer, signatureDer, signerCertificate: certificateDer,
      signer: this.deps.verifier.signer(certificateDer),
      otherCertificates, crls,
      unsignedAttributes: [{ oid: OID_CMS.signatureTimeStampToken, values: [timeStampToken] }],
    });
    const evidenceId = timeOrderedId(nowMs);
    // What the command promised, held against the order row the transaction locks.
    const promised = JSON.parse(command.commandJson) as Pick<PaymentCommand, 'orderNumber' | 'payee' | 'channel'>;
    const qrSessionId = promised.channel?.kind === 'qr' ? promised.channel.qrSessionId : undefined;
    if (qrSessionId !== undefined && !this.deps.qr) throw new AppError('PAYMENT_COMMAND_EXPIRED', { detail: 'This server takes no QR payments.' });
    const receiptOf = (order: PaidOrder): PaymentReceipt => ({
      orderId: order.id, orderNumber: order.orderNumber, amountWon: order.totalWon, paidAtMs: order.paidAtMs,
      evidenceId, signatureHex: Buffer.from(signatureDer).toString('hex'),
    });
    // The receipt stored with the payment (an Idempotency-Key's answer) is the one answered.
    let receipt: PaymentReceipt | undefined;
    const result = await this.deps.payments.payOrder(actor, command.orderId, {
      evidenceRef: evidenceId,
      dailyLimitWon,
      within: async (trx, order, batch) => {
        // Everything checked above was read before this transaction; what may have changed
        // since is checked again here, so a refusal rolls the payment back whole.
        const lock = await this.deps.repo.checkAndResetFailures(trx, actor.userId, nowMs, batch);
        if (lock) throw lockedError(lock.lockedUntilMs, currentSettings.failedAttemptsMax);
        const revoked = await this.deps.devices.revokedInChain(trx, certificate);
        if (revoked) throw new AppError('CERTIFICATE_REVOKED', revoked === 'master' ? { detail: 'The master certificate that approved this device has been revoked.' } : {});
        if (order.totalWon !== command.amountWon || order.sellerId !== promised.payee.sellerId || order.orderNumber !== promised.orderNumber) {
          throw new AppError('PAYMENT_COMMAND_EXPIRED', { detail: 'The order changed after this payment command was issued; start the payment again.' });
        }
        // Sent with the money's writes (payments.ts); a command or code used meanwhile rolls it all back.
        this.deps.repo.decideCommandIn(batch, command.comId, 'authorized', nowMs, null, () => new AppError('PAYMENT_COMMAND_USED'));
        if (codeRecordId) this.deps.repo.useCodeIn(batch, codeRecordId, nowMs, () => new AppError('PAYMENT_COMMAND_USED'));
        this.deps.repo.insertEvidenceIn(batch, {
          id: evidenceId, orderId: command.orderId, comId: command.comId, userId: actor.userId, certificateId: certificate.id,
          cmsBase64: Buffer.from(cms).toString('base64'), signingTimeMs, createdAtMs: nowMs,
        });
        // A QR payment the PC cancelled a moment ago rolls back here, whole.
        if (qrSessionId !== undefined) await this.deps.qr!.markPaidWithin(trx, actor, qrSessionId, command.orderId, nowMs);
        receipt = receiptOf(order);
        await effect.commitWith?.(trx, receipt);
      },
    });
    if (qrSessionId !== undefined) this.deps.qr!.announcePaid(qrSessionId, command.orderId, result.order.paidAtMs);
    // Other live QR codes of the order — every one for a direct payment; for a QR payment those
    // beside the one paid through (another PC's, say) — end, and their PCs hear the order is
    // paid. Counted in the first read, so payments without any pay nothing for it; a code opened
    // between that read and the commit ends as paid when its time is up (expireIfDue), and no
    // phone can pay through it meanwhile. The payment stands whatever this does.
    if (found.liveQrSessions > (qrSessionId === undefined ? 0 : 1) && this.deps.qr) {
      await this.deps.qr.endForPaidOrder(command.orderId, result.order.paidAtMs)
        .catch((error: unknown) => this.deps.onAfterCommitError?.(error, 'ending the QR sessions of a paid order'));
    }
    // After the commit, and only its place in the next batch is awaited (at once unless the
    // audit queue is full, then the payer waits for room): the payment's own transaction
    // stays as short as before, and a failed append is reported (onError) without undoing
    // a done payment.
    await this.deps.audit.enqueue('payment.authorized', {
      actor: actor.userId, subject: command.orderId,
      detail: {
        orderNumber: result.order.orderNumber, amountWon: String(result.order.totalWon), comId: command.comId, certificateId: certificate.id, evidenceId, policyRule: command.policyRule, policyVersion: command.policyVersion,
        channel: qrSessionId === undefined ? 'direct' : 'qr', qrSessionId: qrSessionId ?? null, codeRequired: command.codeRequired,
      },
    });
    return receipt ?? receiptOf(result.order);
  }

  /** The certificates the evidence carries beside the signer's: the master of a device, the issuing CA and the root. */
  private async chainFor(masterId: string | null): Promise<Uint8Array[]> {
    const chain: Uint8Array[] = [];
    if (masterId) {
      const master = await this.deps.devices.certificateDer(masterId);
      if (master) chain.push(master);
    }
    chain.push(new Uint8Array(this.deps.ca.issuing.certificate.rawData), new Uint8Array(this.deps.ca.root.certificate.rawData));
    return chain;
  }

  /**
   * Anyone's check of an evidence file: core's verifier against our root, with the
   * current CRLs (the signer's status now), then our records — the file's signature
   * must be the one we stored for that command (a command signed twice, or evidence of
   * a payment we never made, is not on record).
   */
  async verifyEvidenceFile(der: Uint8Array, expectedOrderNumber?: string): Promise<EvidenceVerdict> {
    const nowMs = this.deps.clock();
    const verdict = await verifyEvidence(der, [new Uint8Array(this.deps.ca.root.certificate.rawData)], {
      currentCrls: await this.deps.revocationData(), now: new Date(nowMs), ...(expectedOrderNumber === undefined ? {} : { expectedOrderNumber }),
    });
    if (!verdict.payment || verdict.checks.find((c) => c.name === 'signature')?.outcome !== 'passed') return verdict;
    const comId = verdict.payment.comId;
    const stored = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(comId) ? await this.deps.repo.evidenceOfCommand(comId) : undefined;
    if (!stored) return withEvidenceCheck(verdict, 'record', { code: 'EVIDENCE_NOT_ON_RECORD', message: 'this service holds no evidence for that payment command' });
    const storedSignature = parseSignedData(Buffer.from(stored.cmsBase64, 'base64')).signatureDer;
    if (!Buffer.from(storedSignature).equals(Buffer.from(parseSignedData(der).signatureDer))) {
      return withEvidenceCheck(verdict, 'record', { code: 'EVIDENCE_NOT_ON_RECORD', message: 'another signature of that payment command is on record' });
    }
    return withEvidenceCheck(verdict, 'record');
  }

  /** The evidence of one of the buyer's paid orders, DER CMS. */
  async evidence(actor: Actor, orderId: string): Promise<{ der: Buffer; orderNumber: string }> {
    const order = await this.deps.orders.findById(orderId);
    if (!order || (order.buyerId !== actor.userId && order.sellerId !== actor.userId)) throw new AppError('ORDER_NOT_FOUND');
    const evidence = await this.deps.repo.evidenceOfOrder(orderId);
    if (!evidence) throw new AppError('EVIDENCE_NOT_FOUND');
    return { der: Buffer.from(evidence.cmsBase64, 'base64'), orderNumber: order.orderNumber };
  }
}
