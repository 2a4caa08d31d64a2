import { ERRORS, type ErrorCode } from './registry.js';

/**
 * An expected failure with a registered code. `detail` is safe to show to the
 * client; `cause` is internal and only ever logged.
 *
 * @example
 * throw new AppError('PRODUCT_NOT_FOUND');
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;

  /** What a lock refusal tells the client about the lock (public, like `detail`). */
  readonly lock: LockInfo | undefined;

  constructor(code: ErrorCode, options: { detail?: string; cause?: unknown; lock?: LockInfo } = {}) {
    super(options.detail ?? ERRORS[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = options.detail;
    this.lock = options.lock;
  }
}

/**
 * Why something is locked and until when, for a person to read: the problem's `lock`
 * member (an RFC 9457 extension) on `LOGIN_THROTTLED`, `LOGIN_ADDRESS_THROTTLED` and
 * `PAYMENT_LOCKED`. The client shows `untilMs` in the reader's own time zone.
 */
export interface LockInfo {
  /** What was counted: wrong passwords for this login id, failed logins from this address, or failed payment authorizations of this account (on any of its devices). */
  reason: 'login-failures' | 'address-failures' | 'payment-failures';
  /** When the lock ends by itself, ms since the epoch. */
  untilMs: number;
  /** Failures that set the lock. */
  failuresMax: number;
  /** Whether a device holding one of the account's certificates may pass the lock (login only). */
  certificatePasses: boolean;
  /** Whom to contact if it was not the reader (set by the server's SUPPORT_CONTACT). */
  contact?: string;
}

/** One invalid field of a request, as listed in a VALIDATION_FAILED problem. */
export interface FieldError {
  /** JSON pointer (RFC 6901) into the request part, e.g. `/body/password`. */
  pointer: string;
  /** A short machine-readable reason, e.g. `required`, `minLength`, `PASSWORD_POLICY_VIOLATED`. */
  code: string;
}

/** The RFC 9457 problem document this service answers with. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: ErrorCode;
  errors?: FieldError[];
  lock?: LockInfo;
}
