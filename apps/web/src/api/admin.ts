/** The operators' API (`/admin/api/…`, docs/admin.md). */
import { authed, authedBlob } from './client.js';
import type { Role } from './types.js';

export interface AdminUser {
  id: string;
  loginId: string;
  role: Role;
  name: string;
  email: string;
  createdAtMs: number;
  lockedAtMs: number | null;
  lockReason: string | null;
}

export interface AdminCertificate {
  id: string;
  serialHex: string;
  kind: string;
  status: string;
  notAfterMs: number;
  revocationReason: string | null;
  deviceNickname: string | null;
}

export interface AdminUserDetail {
  user: AdminUser & { phone: string; address: string };
  certificates: AdminCertificate[];
  recentLogins: AuditEntry[];
}

/** RFC 5280 reasons an operator may give. */
export const REVOCATION_REASONS = ['keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'unspecified'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface Dashboard {
  atMs: number;
  activeSessions: number;
  paymentsPerHour: { hourStartMs: number; count: number; amountWon: number }[];
  databaseLatencyMs: number;
  eventLoopLagMs: number | null;
}

export function dashboard(): Promise<Dashboard> {
  return authed.get('/admin/api/dashboard');
}

export function userDetail(id: string): Promise<AdminUserDetail> {
  return authed.get(`/admin/api/users/${encodeURIComponent(id)}`);
}

export function revokeCertificate(id: string, reason: RevocationReason, note: string): Promise<AdminCertificate> {
  return authed.post(`/admin/api/certificates/${encodeURIComponent(id)}/revoke`, { reason, note });
}

export interface AuditEntry {
  sequence: number;
  atMs: number;
  kind: string;
  actor: string | null;
  subject: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface PolicyRule {
  priority: number;
  rule: string;
  description: string;
  certificateKind: 'master' | 'additional' | null;
  minAmountWon: number | null;
  firstPaymentOfCertificate: boolean | null;
  /** Holds for a certificate issued less than this many days ago; null: any age. */
  certificateIssuedWithinDays: number | null;
  requireCode: boolean;
  enabled: boolean;
}

/** A version's settings beside its rules. */
export interface PolicySettings {
  /** Most one user may pay per Korean calendar day; null: no limit. */
  dailyLimitWon: number | null;
  failedAttemptsMax: number;
  lockDurationMs: number;
  codeValidityMs: number;
}

export interface PolicyVersion {
  version: number;
  rules: (PolicyRule & { id: string })[];
  settings: PolicySettings;
  author: string | null;
  reason: string;
  restoredFrom: number | null;
  createdAtMs: number;
}

export interface PolicyPreview {
  rule: string;
  requireCode: boolean;
  reason: string;
  /** Empty when the payment would be refused (`refusal`). */
  factors: ('password' | 'device-key' | 'code')[];
  refusal: 'PAYMENT_DAILY_LIMIT_EXCEEDED' | null;
  /** What is left of the daily limit before this payment; null without a limit. */
  dailyLimitRemainingWon: number | null;
  settings: PolicySettings;
}

/** What the preview asks about: a payment and its payer's day so far. */
export interface PreviewFacts {
  amountWon: number;
  certificateKind: 'master' | 'additional';
  firstPayment: boolean;
  certificateAgeDays: number;
  paidTodayWon: number;
}

/** The account password again, after the certificate login: marks this session for the admin routes. */
export function confirmAdminSession(password: string): Promise<void> {
  return authed.post<void>('/admin/api/session/confirm', { password });
}

export async function searchUsers(query: string, role?: Role): Promise<AdminUser[]> {
  return (await authed.get<{ items: AdminUser[] }>('/admin/api/users', { query: query || undefined, role, limit: 50 })).items;
}

export function lockUser(id: string, reason: string): Promise<{ sessionsRevoked: number }> {
  return authed.post(`/admin/api/users/${encodeURIComponent(id)}/lock`, { reason });
}

export function unlockUser(id: string, reason: string): Promise<void> {
  return authed.post<void>(`/admin/api/users/${encodeURIComponent(id)}/unlock`, { reason });
}

export function logoutUser(id: string, reason: string): Promise<{ sessionsRevoked: number }> {
  return authed.post(`/admin/api/users/${encodeURIComponent(id)}/logout`, { reason });
}

export async function auditEntries(filter: { kind?: string; before?: number; limit?: number }): Promise<AuditEntry[]> {
  return (await authed.get<{ items: AuditEntry[] }>('/admin/api/audit', { kind: filter.kind || undefined, before: filter.before, limit: filter.limit ?? 100 })).items;
}

export function policies(): Promise<{ current: PolicyVersion; versions: PolicyVersion[] }> {
  return authed.get('/admin/api/policies');
}

export function publishPolicy(rules: PolicyRule[], settings: PolicySettings, reason: string): Promise<PolicyVersion> {
  return authed.put('/admin/api/policies', { rules, settings, reason });
}

/** The preview under the draft (rules and settings), or the current version for what is not given. */
export function previewPolicy(facts: PreviewFacts, draft: { rules?: PolicyRule[]; settings?: PolicySettings } = {}): Promise<PolicyPreview> {
  return authed.post('/admin/api/policies/preview', { ...facts, ...draft });
}

export function rollbackPolicy(version: number, reason: string): Promise<PolicyVersion> {
  return authed.post('/admin/api/policies/rollback', { version, reason });
}

/** Entries asked for per page of the whole-log export. */
const EXPORT_PAGE_ENTRIES = 2000;
/** Most pages read: a bound on a log that never ends. */
const EXPORT_PAGES_MAX = 5000;

/**
 * The whole log with its signed heads, as JSON lines, read page after page: what
 * `coconutpay audit verify --export FILE --ca root.pem` checks.
 */
export async function exportWholeLog(): Promise<string> {
  let text = '';
  let after = 0;
  for (let page = 0; page < EXPORT_PAGES_MAX; page++) {
    const part = await (await authedBlob(`/admin/api/audit/export?after=${after}&limit=${EXPORT_PAGE_ENTRIES}`)).text();
    const sequences = part
      .split('\n')
      .filter((line) => line.startsWith('{"type":"entry"'))
      .map((line) => (JSON.parse(line) as { sequence: number }).sequence);
    if (sequences.length === 0) return text;
    text += part;
    after = Math.max(...sequences);
  }
  return text;
}
