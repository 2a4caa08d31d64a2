/**
 * Table types as Kysely sees them (camelCase; the CamelCasePlugin maps to snake_case).
 * Times are integer milliseconds since the Unix epoch (`…AtMs`), money is integer won
 * (`…Won`), booleans are 0/1: the same representation on SQLite, PostgreSQL and MariaDB.
 */
import type { ColumnType } from 'kysely';

export type Role = 'buyer' | 'seller' | 'admin';

export interface UsersTable {
  id: string;
  loginId: string;
  passwordHash: string;
  role: Role;
  name: string;
  phone: string;
  address: string;
  email: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface StoresTable {
  userId: string;
  storeName: string;
  businessNumber: string;
  storeAddress: string;
  representative: string;
  storePhone: string;
}

export interface SessionsTable {
  id: string;
  userId: string;
  keyId: string;
  createdAtMs: number;
  lastSeenAtMs: number;
  expiresAtMs: number;
  revokedAtMs: number | null;
  revokedReason: string | null;
  /** The certificate a certificate login bound the session to; null for a password login. */
  certificateId: string | null;
}

export interface LoginThrottlesTable {
  loginId: string;
  failures: number;
  lockedUntilMs: number | null;
  updatedAtMs: number;
}

export interface LoginAddressThrottlesTable {
  address: string;
  failures: number;
  windowStartedAtMs: number;
  updatedAtMs: number;
}

export interface ProductsTable {
  id: string;
  sellerId: string;
  name: string;
  category: string;
  description: string;
  priceWon: number | string | bigint;
  stock: number;
  imageFile: string | null;
  imageType: string | null;
  imageVersion: number;
  hidden: number;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface CartItemsTable {
  userId: string;
  productId: string;
  quantity: number;
  addedAtMs: number;
}

export interface LedgerAccountsTable {
  id: string;
  kind: 'funding' | 'wallet';
  ownerUserId: string | null;
  balanceWon: number | string | bigint;
  createdAtMs: number;
}

export interface JournalEntriesTable {
  id: string;
  kind: string;
  memo: string;
  createdAtMs: number;
  /** The order an entry belongs to (a payment); unique per kind. Added by 0004-orders. */
  orderId: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PostingsTable {
  id: string;
  entryId: string;
  accountId: string;
  amountWon: number | string | bigint;
}

export interface CertificatesTable {
  id: string;
  userId: string;
  kind: 'master' | 'additional';
  serialHex: string;
  issuerId: string;
  subject: string;
  spkiSha256Hex: string;
  derBase64: string;
  status: 'active' | 'revoked';
  activeMasterOf: string | null;
  notBeforeMs: number;
  notAfterMs: number;
  revokedAtMs: number | null;
  revocationReason: string | null;
  deviceNickname: string | null;
  approvedByCertificateId: string | null;
  lastUsedAtMs: number | null;
  createdAtMs: number;
}

export interface CrlNumbersTable {
  issuerId: string;
  lastNumber: number;
  issuedAtMs: number;
}

export interface CertificateChallengesTable {
  id: string;
  userId: string;
  challenge: string;
  expiresAtMs: number;
  usedAtMs: number | null;
}

export interface LoginChallengesTable {
  id: string;
  loginId: string;
  challenge: string;
  expiresAtMs: number;
  usedAtMs: number | null;
}

export interface CertificateLoginVerifiersTable {
  certificateId: string;
  userId: string;
  salt: string;
  iterations: number;
  storedKey: string;
  createdAtMs: number;
}

export interface LoginHellosTable {
  helloKey: string;
  untilMs: number;
}

export interface LoginHandshakesTable {
  id: string;
  userId: string;
  certificateId: string;
  nc: string;
  ns: string;
  expiresAtMs: number;
  usedAtMs: number | null;
  /** The address the attempt was counted against at message (1) (migration 0020); null in rows from before it. */
  admission: string | null;
}

export interface QrSessionsTable {
  id: string;
  tokenDigest: string;
  userId: string;
  orderId: string;
  pcSessionId: string;
  status: 'open' | 'scanned' | 'paid' | 'expired' | 'cancelled';
  confirmationCode: string;
  numericCodeDigest: string | null;
  numericTries: number;
  phoneSessionId: string | null;
  createdAtMs: number;
  expiresAtMs: number;
  scannedAtMs: number | null;
  endedAtMs: number | null;
  /**
   * Who or what cancelled it (migration 0021): the PC, the phone, a newer code for the same
   * order (`superseded`), or the order paid another way (`order-paid`); null otherwise, and in
   * rows cancelled before the column.
   */
  endedBy: QrSessionEndedBy | null;
}

/** Why a QR session was cancelled (`qr_sessions.ended_by`). */
export type QrSessionEndedBy = 'pc' | 'phone' | 'superseded' | 'order-paid';

export interface OrderEventsTable {
  id: string;
  orderId: string;
  atMs: number;
  kind: string;
  qrSessionId: string | null;
  detail: string | null;
}

export interface CertificateRequestsTable {
  id: string;
  userId: string;
  nickname: string;
  csrPem: string;
  spkiBase64: string;
  spkiSha256Hex: string;
  serverNonce: string;
  code: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  createdAtMs: number;
  expiresAtMs: number;
  decidedAtMs: number | null;
  certificateId: string | null;
  requestedFrom: string | null;
  requestedAgent: string | null;
}

export interface CertificateEventsTable {
  id: string;
  userId: string;
  kind: 'master_issued' | 'device_requested' | 'device_approved' | 'device_rejected' | 'device_expired' | 'revoked';
  certificateId: string | null;
  requestId: string | null;
  nickname: string | null;
  detail: string | null;
  ip: string | null;
  userAgent: string | null;
  atMs: number;
}

export interface OrdersTable {
  id: string;
  orderNumber: string;
  buyerId: string;
  sellerId: string;
  status: 'awaiting_payment' | 'paid' | 'expired' | 'cancelled';
  totalWon: number | string | bigint;
  recipientName: string;
  shippingAddress: string;
  shippingPhone: string;
  fromCart: number;
  createdAtMs: number;
  expiresAtMs: number;
  paidAtMs: number | null;
  cancelledAtMs: number | null;
  expiredAtMs: number | null;
  evidenceRef: string | null;
}

export interface OrderItemsTable {
  orderId: string;
  productId: string;
  lineNo: number;
  productName: string;
  unitPriceWon: number | string | bigint;
  quantity: number;
  lineTotalWon: number | string | bigint;
}

export interface IdempotencyKeysTable {
  userId: string;
  idempotencyKey: string;
  requestSha256Hex: string;
  state: 'in_progress' | 'completed';
  responseStatus: number | null;
  responseContentType: string | null;
  responseBody: string | null;
  createdAtMs: number;
  expiresAtMs: number;
}

export interface PaymentPoliciesTable {
  id: string;
  priority: number;
  rule: string;
  description: string;
  certificateKind: 'master' | 'additional' | null;
  minAmountWon: number | string | bigint | null;
  firstPaymentOfCertificate: number | null;
  requireCode: number;
  enabled: number;
  updatedAtMs: number;
  /** Added by 0018-policy-settings. */
  certificateIssuedWithinDays: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface PaymentCommandsTable {
  comId: string;
  orderId: string;
  userId: string;
  sessionId: string;
  certificateId: string;
  requestNonce: string;
  commandJson: string;
  commandJws: string;
  amountWon: number | string | bigint;
  codeRequired: number;
  policyRule: string;
  policyReason: string;
  /** The policy version the decision was made under (null for commands made before versions existed). */
  policyVersion: number | null;
  status: 'issued' | 'authorized' | 'failed';
  issuedAtMs: number;
  expiresAtMs: number;
  decidedAtMs: number | null;
  failureCode: string | null;
}

export interface VerificationCodesTable {
  id: string;
  comId: string;
  /** Keyed digest of the code's expected proof (services/verification-code-key.ts); erased when used. */
  codeDigest: string | null;
  /** The code under the server's seal key, to draw its picture again; erased when used. */
  codeSealed: string | null;
  tries: number;
  expiresAtMs: number;
  usedAtMs: number | null;
}

export interface PaymentLockoutsTable {
  userId: string;
  consecutiveFailures: number;
  lockedUntilMs: number | null;
  updatedAtMs: number;
}

export interface PaymentEvidenceTable {
  id: string;
  orderId: string;
  comId: string;
  userId: string;
  certificateId: string;
  cmsBase64: string;
  signingTimeMs: number;
  createdAtMs: number;
}

export interface ReceiptsTable {
  id: string;
  receiptNumber: string;
  orderId: string;
  sequence: number;
  sellerId: string;
  certificateId: string;
  replacesReceiptId: string | null;
  linkId: string;
  cmsBase64: string;
  signatureHex: string;
  signingTimeMs: number;
  createdAtMs: number;
  supersededAtMs: number | null;
}

export interface AuditLogTable {
  sequence: number | string | bigint;
  atMs: number | string | bigint;
  kind: string;
  actor: string | null;
  subject: string | null;
  /** Canonical JSON of the detail object. */
  detail: string;
  prevHash: string;
  hash: string;
}

export interface AuditChainTipTable {
  id: number;
  lastSequence: number | string | bigint;
  lastHash: string;
  /** The sequence of the last signed head (0: none yet). */
  signedSequence: number | string | bigint;
}

export interface AuditHeadsTable {
  sequence: number | string | bigint;
  signedAtMs: number | string | bigint;
  jws: string;
}

export interface AccountControlsTable {
  userId: string;
  lockedAtMs: number | string | bigint | null;
  lockReason: string | null;
  lockedBy: string | null;
  passwordChangeRequired: number;
  updatedAtMs: number | string | bigint;
}

export interface AdminConfirmationsTable {
  sessionId: string;
  userId: string;
  confirmedAtMs: number | string | bigint;
}

export interface PaymentPolicyVersionsTable {
  version: number;
  rulesJson: string;
  author: string | null;
  reason: string;
  restoredFrom: number | null;
  createdAtMs: number | string | bigint;
  /** The version's settings (0018-policy-settings); an insert without them gets the shipped values. */
  dailyLimitWon: ColumnType<number | string | bigint | null, string | null | undefined, string | null>;
  failedAttemptsMax: ColumnType<number, number | undefined, number>;
  lockDurationMs: ColumnType<number | string | bigint, number | undefined, number>;
  codeValidityMs: ColumnType<number | string | bigint, number | undefined, number>;
}

export interface Database {
  users: UsersTable;
  stores: StoresTable;
  sessions: SessionsTable;
  loginThrottles: LoginThrottlesTable;
  loginAddressThrottles: LoginAddressThrottlesTable;
  products: ProductsTable;
  cartItems: CartItemsTable;
  ledgerAccounts: LedgerAccountsTable;
  journalEntries: JournalEntriesTable;
  postings: PostingsTable;
  certificates: CertificatesTable;
  crlNumbers: CrlNumbersTable;
  certificateChallenges: CertificateChallengesTable;
  loginChallenges: LoginChallengesTable;
  qrSessions: QrSessionsTable;
  certificateLoginVerifiers: CertificateLoginVerifiersTable;
  loginHellos: LoginHellosTable;
  loginHandshakes: LoginHandshakesTable;
  orderEvents: OrderEventsTable;
  certificateRequests: CertificateRequestsTable;
  certificateEvents: CertificateEventsTable;
  paymentPolicies: PaymentPoliciesTable;
  paymentCommands: PaymentCommandsTable;
  verificationCodes: VerificationCodesTable;
  paymentLockouts: PaymentLockoutsTable;
  paymentEvidence: PaymentEvidenceTable;
  orders: OrdersTable;
  orderItems: OrderItemsTable;
  idempotencyKeys: IdempotencyKeysTable;
  receipts: ReceiptsTable;
  auditLog: AuditLogTable;
  auditChainTip: AuditChainTipTable;
  auditHeads: AuditHeadsTable;
  accountControls: AccountControlsTable;
  adminConfirmations: AdminConfirmationsTable;
  paymentPolicyVersions: PaymentPolicyVersionsTable;
}
