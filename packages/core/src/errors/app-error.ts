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

  constructor(code: ErrorCode, options: { detail?: string; cause?: unknown } = {}) {
    super(options.detail ?? ERRORS[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = options.detail;
  }
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
}
