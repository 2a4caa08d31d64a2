/**
 * Table types as Kysely sees them (camelCase; the CamelCasePlugin maps to snake_case).
 * Times are integer milliseconds since the Unix epoch (`…AtMs`), money is integer won
 * (`…Won`), booleans are 0/1: the same representation on SQLite, PostgreSQL and MariaDB.
 */
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
}

export interface LoginThrottlesTable {
  loginId: string;
  failures: number;
  lockedUntilMs: number | null;
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

export interface Database {
  users: UsersTable;
  stores: StoresTable;
  sessions: SessionsTable;
  loginThrottles: LoginThrottlesTable;
  products: ProductsTable;
  cartItems: CartItemsTable;
  ledgerAccounts: LedgerAccountsTable;
  journalEntries: JournalEntriesTable;
  postings: PostingsTable;
  certificates: CertificatesTable;
  crlNumbers: CrlNumbersTable;
  certificateChallenges: CertificateChallengesTable;
}
