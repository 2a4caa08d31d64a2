/**
 * The one registry of error codes. Every problem+json answer carries one of these
 * codes; the web app translates them and `docs/errors.md` documents each (a test
 * keeps the two in step). Codes are never renamed or reused.
 *
 * `transient: true` means a retry of the same request may succeed later.
 */
export const ERRORS = {
  // Request shape
  VALIDATION_FAILED: { status: 400, title: 'The request does not match the expected shape', transient: false },
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON', transient: false },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large', transient: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request content type is not supported', transient: false },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such resource', transient: false },
  URL_MALFORMED: { status: 400, title: 'The request address is malformed', transient: false },
  URI_TOO_LONG: { status: 414, title: 'The request address is too long', transient: false },
  INTERNAL_ERROR: { status: 500, title: 'Something went wrong on our side', transient: true },
  SERVICE_UNAVAILABLE: { status: 503, title: 'The service is temporarily unavailable', transient: true },
  CLIENT_REQUEST_RATE_EXCEEDED: { status: 429, title: 'Too many requests from this address; try again later', transient: true },
  METRICS_TOKEN_INVALID: { status: 401, title: 'The metrics token is missing or wrong', transient: false },
  AUDIT_EXPORT_TOKEN_INVALID: { status: 401, title: 'The audit export token is missing or wrong', transient: false },

  // Dual-token authentication
  AUTH_REQUIRED: { status: 401, title: 'Log in to continue', transient: false },
  AUTH_MALFORMED: { status: 401, title: 'The authentication headers are malformed', transient: false },
  TOKEN_INVALID: { status: 401, title: 'The session token is not valid', transient: false },
  TOKEN_KEY_RETIRED: { status: 401, title: 'The session token was signed with a retired key', transient: false },
  PROOF_INVALID: { status: 401, title: 'The request proof does not match', transient: false },
  TIMESTAMP_OUT_OF_WINDOW: { status: 401, title: 'The request time is too far from the server time', transient: false },
  NONCE_REPLAYED: { status: 401, title: 'This request was already received', transient: false },
  SESSION_REVOKED: { status: 401, title: 'The session has ended', transient: false },
  SESSION_EXPIRED: { status: 401, title: 'The session has expired', transient: false },
  SESSION_IDLE_TIMEOUT: { status: 401, title: 'The session ended after a period of inactivity', transient: false },

  // Accounts
  LOGIN_FAILED: { status: 401, title: 'The login id or password is wrong', transient: false },
  SESSION_REQUEST_RATE_EXCEEDED: { status: 429, title: 'Too many requests from this session; slow down', transient: true },
  LOGIN_THROTTLED: { status: 429, title: 'Too many failed logins; try again later', transient: true },
  LOGIN_ADDRESS_THROTTLED: { status: 429, title: 'Too many failed logins from this address; try again later', transient: true },
  LOGIN_ID_TAKEN: { status: 409, title: 'This login id is already in use', transient: false },
  PASSWORD_POLICY_VIOLATED: { status: 400, title: 'The password does not meet the password policy', transient: false },
  CURRENT_PASSWORD_WRONG: { status: 403, title: 'The current password is wrong', transient: false },
  ROLE_FORBIDDEN: { status: 403, title: 'This account may not do that', transient: false },
  ACCOUNT_LOCKED: { status: 403, title: 'This account is locked by an operator', transient: false },
  USER_NOT_FOUND: { status: 404, title: 'No such user', transient: false },
  POLICY_VERSION_NOT_FOUND: { status: 404, title: 'No such policy version', transient: false },
  ADMIN_ONLY: { status: 403, title: 'Only operators may do this', transient: false },
  ADMIN_CERTIFICATE_REQUIRED: { status: 403, title: 'Operators must log in with their certificate', transient: false },
  ADMIN_PASSWORD_CONFIRMATION_REQUIRED: { status: 403, title: 'Confirm the account password to continue', transient: false },
  ADMIN_PASSWORD_CHANGE_REQUIRED: { status: 403, title: 'Change the one-time password first', transient: false },

  // Catalogue and cart
  PRODUCT_NOT_FOUND: { status: 404, title: 'No such product', transient: false },
  PRODUCT_NOT_OWNED: { status: 403, title: 'This product belongs to another seller', transient: false },
  PRODUCT_UNAVAILABLE: { status: 409, title: 'This product is not on sale', transient: false },
  STOCK_INSUFFICIENT: { status: 409, title: 'Not enough stock for that quantity', transient: false },
  IMAGE_TYPE_UNSUPPORTED: { status: 415, title: 'The image must be PNG, JPEG or WebP', transient: false },
  IMAGE_TOO_LARGE: { status: 413, title: 'The image is too large', transient: false },
  IMAGE_NOT_FOUND: { status: 404, title: 'This product has no image', transient: false },
  CART_ITEM_NOT_FOUND: { status: 404, title: 'This product is not in the cart', transient: false },
  CART_FULL: { status: 409, title: 'The cart holds as many products as it can', transient: false },

  // Certificates
  CSR_INVALID: { status: 400, title: 'The certificate request is malformed or its signature does not verify', transient: false },
  CERTIFICATE_KEY_UNSUPPORTED: { status: 400, title: 'The key must be an ECDSA P-256 key', transient: false },
  CSR_SIGNATURE_ALGORITHM_WEAK: { status: 400, title: 'The certificate request is signed with SHA-1 or a weaker digest', transient: false },
  MASTER_CERTIFICATE_EXISTS: { status: 409, title: 'A valid master certificate already exists', transient: false },
  CERTIFICATE_NOT_FOUND: { status: 404, title: 'No such certificate', transient: false },
  CERTIFICATE_NOT_OWNED: { status: 403, title: 'This certificate belongs to another user', transient: false },
  CERTIFICATE_REVOKED: { status: 403, title: 'The certificate has been revoked', transient: false },
  CERTIFICATE_EXPIRED: { status: 403, title: 'The certificate has expired', transient: false },
  CERTIFICATE_NOT_YET_VALID: { status: 403, title: 'The certificate is not valid yet', transient: false },
  CERTIFICATE_CHAIN_INVALID: { status: 403, title: 'The certificate chain does not validate', transient: false },
  SIGNATURE_INVALID: { status: 400, title: 'The signature does not verify', transient: false },
  CHALLENGE_INVALID: { status: 400, title: 'The challenge is unknown, used or expired', transient: false },
  ISSUER_NOT_FOUND: { status: 404, title: 'No such certificate issuer', transient: false },
  OCSP_REQUEST_MALFORMED: { status: 400, title: 'The OCSP request is malformed', transient: false },
  MASTER_CERTIFICATE_MISSING: { status: 409, title: 'No valid master certificate: issue one first', transient: false },
  MASTER_CERTIFICATE_REQUIRED: { status: 403, title: 'Only the master certificate may do this', transient: false },
  MASTER_SIGNATURE_REQUIRED: { status: 400, title: 'This needs a signature of the master certificate', transient: false },
  MASTER_APPROVAL_INVALID: { status: 403, title: 'The master approval of this certificate does not hold', transient: false },
  APPROVAL_REQUEST_NOT_FOUND: { status: 404, title: 'No such certificate request', transient: false },
  APPROVAL_REQUEST_EXPIRED: { status: 410, title: 'The certificate request expired before it was approved', transient: false },
  APPROVAL_REQUEST_DECIDED: { status: 409, title: 'The certificate request has already been decided', transient: false },
  DEVICE_NICKNAME_TAKEN: { status: 409, title: 'This device nickname is already in use', transient: false },
  ADDITIONAL_CERTIFICATE_LIMIT: { status: 409, title: 'The maximum number of additional certificates is reached', transient: false },
  PAYMENT_REQUEST_INVALID: { status: 400, title: 'The payment request is malformed, not sealed to us, or names another payer', transient: false },
  PAYMENT_REQUEST_REPLAYED: { status: 409, title: 'This payment request was already used', transient: false },
  PAYMENT_COMMAND_NOT_FOUND: { status: 404, title: 'No such payment command', transient: false },
  PAYMENT_COMMAND_EXPIRED: { status: 410, title: 'The payment command expired; start the payment again', transient: false },
  PAYMENT_COMMAND_USED: { status: 409, title: 'This payment command was already used', transient: false },
  PAYMENT_AUTHORIZATION_FAILED: { status: 403, title: 'The payment could not be authorized', transient: false },
  VERIFICATION_CODE_TRIES_EXHAUSTED: { status: 409, title: 'This code has no tries left; start the payment again', transient: false },
  PAYMENT_LOCKED: { status: 423, title: 'Payment authorization is locked for a while after repeated failures', transient: true },
  PAYMENT_DAILY_LIMIT_EXCEEDED: { status: 409, title: "This payment would exceed the day's payment limit", transient: true },
  // Certificate login (docs/protocol.md, "Certificate login")
  CERTIFICATE_LOGIN_INVALID: { status: 401, title: 'The certificate login could not be verified', transient: false },
  CERTIFICATE_LOGIN_REPLAYED: { status: 409, title: 'This certificate login message was already received', transient: false },
  CERTIFICATE_LOGIN_EXPIRED: { status: 401, title: 'The certificate login took too long or its time is wrong; start again', transient: false },
  CERTIFICATE_LOGIN_NOT_ENABLED: { status: 409, title: 'Certificate login is not enabled for this certificate', transient: false },
  CERTIFICATE_SESSION_RESTRICTED: { status: 403, title: "A session opened with a certificate cannot change the account's other certificates; log in with the password", transient: false },
  CERTIFICATE_NOT_BOUND_TO_SESSION: { status: 403, title: 'This session was opened with another certificate; pay with it or with the master certificate', transient: false },
  // QR payment (docs/protocol.md, "QR payment")
  QR_SESSION_NOT_FOUND: { status: 404, title: 'No such QR payment; scan the code on the other screen again', transient: false },
  QR_SESSION_OTHER_ACCOUNT: { status: 403, title: 'This QR code belongs to another account; log in with the account that shows it', transient: false },
  QR_SESSION_EXPIRED: { status: 410, title: 'This QR code has expired; renew it on the other screen', transient: false },
  QR_SESSION_CANCELLED: { status: 410, title: 'This QR payment was cancelled on the other screen', transient: false },
  QR_SESSION_USED: { status: 409, title: 'This QR code was already used', transient: false },
  QR_CODE_INVALID: { status: 400, title: 'The payment number is wrong', transient: false },
  QR_CODE_TRIES_EXHAUSTED: { status: 409, title: 'Too many wrong payment numbers; renew the QR code on the other screen', transient: false },
  EVIDENCE_NOT_FOUND: { status: 404, title: 'No payment evidence for this order', transient: false },
  EVIDENCE_INVALID: { status: 400, title: 'The file is not CoconutPay payment evidence', transient: false },
  // Evidence verdicts (reasons inside a verification answer; 422 where one is thrown)
  EVIDENCE_SIGNING_CERTIFICATE_MISMATCH: { status: 422, title: 'The signature does not name the certificate that made it', transient: false },
  EVIDENCE_SIGNER_NOT_PAYER: { status: 422, title: "The signer's certificate does not belong to the payer", transient: false },
  EVIDENCE_SIGNING_TIME_OUTSIDE_COMMAND: { status: 422, title: 'The signing time lies outside the payment command’s validity', transient: false },
  EVIDENCE_TIMESTAMP_MISSING: { status: 422, title: 'The evidence carries no time-stamp', transient: false },
  EVIDENCE_TIMESTAMP_INVALID: { status: 422, title: 'The time-stamp of the evidence does not verify', transient: false },
  EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND: { status: 422, title: 'The time-stamp lies outside the payment command’s validity', transient: false },
  EVIDENCE_REVOCATION_UNPROVEN: { status: 422, title: 'The evidence does not prove the certificates were unrevoked at the time of payment', transient: false },
  EVIDENCE_ORDER_MISMATCH: { status: 422, title: 'The evidence is about another order', transient: false },
  EVIDENCE_NOT_ON_RECORD: { status: 422, title: 'This signature is not the one on record for that payment', transient: false },
  TIME_STAMP_INVALID: { status: 400, title: 'The time-stamp token is malformed or does not verify', transient: false },
  TIME_STAMP_IMPRINT_MISMATCH: { status: 400, title: 'The time-stamp token covers other data', transient: false },
  TIME_STAMP_AUTHORITY_UNTRUSTED: { status: 403, title: 'The time-stamp authority was not trusted at the stamped time', transient: false },
  SERVER_AUTHENTICATION_FAILED: { status: 502, title: 'The server could not prove its identity', transient: false },

  // Orders, wallet and idempotency
  CART_EMPTY: { status: 409, title: 'There is nothing to order', transient: false },
  CART_SELLERS_MIXED: { status: 409, title: 'The cart holds products of several stores; order one store at a time', transient: false },
  ORDER_NOT_FOUND: { status: 404, title: 'No such order', transient: false },
  ORDER_ALREADY_PAID: { status: 409, title: 'This order has already been paid', transient: false },
  ORDER_EXPIRED: { status: 409, title: 'This order expired before it was paid', transient: false },
  ORDER_CANCELLED: { status: 409, title: 'This order has been cancelled', transient: false },
  INSUFFICIENT_BALANCE: { status: 409, title: 'The wallet balance is too low for this payment', transient: false },
  TOP_UP_DAILY_LIMIT_EXCEEDED: { status: 409, title: 'This top-up would exceed the daily top-up limit', transient: true },
  IDEMPOTENCY_KEY_REUSED: { status: 409, title: 'This idempotency key was used for a different request', transient: false },
  IDEMPOTENCY_REQUEST_IN_PROGRESS: { status: 409, title: 'A request with this idempotency key is still in progress', transient: true },

  // Stores, sales and receipts
  STORE_BUSINESS_NUMBER_INVALID: { status: 400, title: 'The business registration number is not valid', transient: false },
  STORE_PHONE_INVALID: { status: 400, title: 'The store phone number is not valid', transient: false },
  SALES_DATE_RANGE_INVALID: { status: 400, title: 'The date range of the sales history is not valid', transient: false },
  RECEIPT_NOT_FOUND: { status: 404, title: 'No such receipt', transient: false },
  RECEIPT_INVALID: { status: 400, title: 'The file is not a CoconutPay receipt', transient: false },
  RECEIPT_ORDER_NOT_PAID: { status: 409, title: 'A receipt can be issued only for a paid order', transient: false },
  RECEIPT_ALREADY_ISSUED: { status: 409, title: 'This order already has a receipt; re-issue it instead', transient: false },
  RECEIPT_CONTENT_MISMATCH: { status: 422, title: 'The signed receipt differs from our records', transient: false },
  RECEIPT_SIGNER_NOT_SELLER: { status: 422, title: "The receipt is not signed with the store seller's certificate", transient: false },
  RECEIPT_SIGNING_TIME_INVALID: { status: 422, title: 'The signing time of the receipt is not plausible', transient: false },
  RECEIPT_NOT_ON_RECORD: { status: 422, title: 'This signature is not the receipt on record under that number', transient: false },
} as const satisfies Record<string, { status: number; title: string; transient: boolean }>;

/** A stable error code, e.g. `SESSION_EXPIRED`. */
export type ErrorCode = keyof typeof ERRORS;

/** Every code, in registry order. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** True when `value` is a registered code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, value);
}

/** The `type` URI of a problem document for a code (RFC 9457 §3.1.1). */
export function problemType(code: ErrorCode): string {
  return `urn:coconutpay:problem:${code}`;
}
