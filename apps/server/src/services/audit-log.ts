/**
 * The tamper-evident audit log (docs/admin.md, "The audit chain"). Every security-relevant
 * event goes through `append`, which chains it to the one before (core's `auditEntryHash`)
 * inside a write transaction that holds the chain's tip row locked, so the log is one
 * chain however many requests or servers append at once. While entries arrive, the
 * server signs the chain's head (S's key, JWS with x5c) once per interval: whoever later
 * rewrites rows and recomputes every hash still cannot match a signed head.
 */
import type { Kysely } from 'kysely';
import { AUDIT_HEAD_TYPE, auditEntryHash, type AuditEntry, type AuditHead, type AuditHeadPayload } from '@coconutpay/core/audit';
import { canonicalJson, type CanonicalValue } from '@coconutpay/core/encoding/canonical-json';
import { signJson } from '@coconutpay/core/pki/signed-json';
import type { DatabaseEngine } from '../config.js';
import type { AuditLogRepository, AuditQuery, ChainTip } from '../db/audit-log-repository.js';
import type { Database } from '../db/schema.js';
import { runWriteTransaction, type Db } from '../db/write-transaction.js';

/** Every kind of entry the server writes (one meaning each; docs/admin.md lists them). */
export const AUDIT_KINDS = [
  'login.succeeded', 'login.failed', 'login.locked',
  'certificate-login.succeeded',
  'certificate.issued', 'certificate.approved', 'certificate.revoked',
  'payment.authorized', 'payment.refused', 'payment.locked',
  'receipt.issued',
  'password.changed',
  'policy.changed', 'policy.rolled-back',
  'admin.created', 'admin.session-confirmed', 'admin.confirmation-failed',
  'admin.user-locked', 'admin.user-unlocked', 'admin.sessions-revoked',
  'audit.exported',
] as const;

export type AuditKind = (typeof AUDIT_KINDS)[number];

/** Who did what to whom; `detail` holds no secret (no password, token, code or key). */
export interface AuditEvent {
  actor?: string | null;
  subject?: string | null;
  detail?: { readonly [key: string]: CanonicalValue };
}

/** Default interval between signed heads while entries arrive. */
export const AUDIT_HEAD_INTERVAL_MS = 60_000;

/** Largest page the log is read in. */
export const AUDIT_PAGE_ENTRIES_MAX = 5_000;

/** Longest kind, actor and subject stored (the columns' widths). */
const SUBJECT_LENGTH_MAX = 100;

export interface AuditLogDeps {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  repo: AuditLogRepository;
  clock: () => number;
  /** The key and x5c heads are signed with (S's). */
  signer: { privateKey: CryptoKey; x5c: Uint8Array[] };
  /** Where a failed append or head signature is reported (it does not fail the caller's request). */
  onError: (error: unknown, what: string) => void;
}

/** What a service needs of the audit log: appending. */
export type AuditSink = Pick<AuditLog, 'append'>;

export class AuditLog {
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly deps: AuditLogDeps) {}

  /**
   * Appends one entry. Given `trx`, it joins that write transaction (the entry commits
   * or rolls back with the change it records, and failures throw); without, it runs
   * its own transaction and a failure is reported to `onError` instead of thrown, so an
   * event recorded after a commit (a payment) never turns a done thing into an error.
   * Answers the entry's sequence number, or undefined when it could not be written.
   */
  async append(kind: AuditKind, event: AuditEvent = {}, trx?: Db): Promise<number | undefined> {
    if (trx) return (await this.write(trx, kind, event)).sequence;
    const work = runWriteTransaction(this.deps.db, this.deps.engine, (t) => this.write(t, kind, event)).then(
      (entry) => entry.sequence,
      (error: unknown) => {
        this.deps.onError(error, `audit append (${kind})`);
        return undefined;
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Waits for appends already started (tests; shutdown before the last head). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async write(trx: Db, kind: AuditKind, event: AuditEvent): Promise<AuditEntry> {
    const tip = await this.deps.repo.lockTip(trx);
    const detail = event.detail ?? {};
    const content = {
      sequence: tip.lastSequence + 1,
      atMs: this.deps.clock(),
      kind,
      actor: event.actor ?? null,
      subject: event.subject === undefined || event.subject === null ? null : event.subject.slice(0, SUBJECT_LENGTH_MAX),
      detail,
      prevHash: tip.lastHash,
    };
    const entry: AuditEntry = { ...content, hash: await auditEntryHash(content) };
    await this.deps.repo.insert(trx, entry, canonicalJson(detail));
    return entry;
  }

  /**
   * Signs the chain's head if entries arrived since the last signed one; answers the head,
   * or undefined when there was nothing new. Two servers may both try: the tip's lock and
   * the head's primary key let one sign each sequence.
   */
  async signHead(): Promise<AuditHead | undefined> {
    return runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
      const tip: ChainTip = await this.deps.repo.lockTip(trx);
      if (tip.lastSequence <= tip.signedSequence) return undefined;
      const signedAtMs = this.deps.clock();
      const payload: AuditHeadPayload = { typ: AUDIT_HEAD_TYPE, sequence: tip.lastSequence, hash: tip.lastHash, signedAtMs };
      const head: AuditHead = { sequence: tip.lastSequence, jws: await signJson(payload, this.deps.signer.privateKey, this.deps.signer.x5c, AUDIT_HEAD_TYPE) };
      await this.deps.repo.insertHead(trx, head, signedAtMs);
      return head;
    });
  }

  /** Signs heads every `intervalMs` while entries arrive (nothing is signed when none did). */
  start(intervalMs: number = AUDIT_HEAD_INTERVAL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.signHead().catch((error: unknown) => this.deps.onError(error, 'audit head signature'));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and signs a last head over what was appended, so a clean stop leaves the whole chain signed. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.settled();
    await this.signHead().catch((error: unknown) => this.deps.onError(error, 'audit head signature'));
  }

  /** A page of entries, filtered, in sequence order. */
  async list(query: Omit<AuditQuery, 'limit'> & { limit?: number }): Promise<AuditEntry[]> {
    return this.deps.repo.list({ ...query, limit: Math.min(Math.max(query.limit ?? AUDIT_PAGE_ENTRIES_MAX, 1), AUDIT_PAGE_ENTRIES_MAX) });
  }

  /**
   * One page of the export: entries after `afterSequence` and the heads signed over them.
   * An empty page ends the log.
   */
  async exportPage(afterSequence: number, limit: number): Promise<{ entries: AuditEntry[]; heads: AuditHead[] }> {
    const entries = await this.list({ afterSequence, limit });
    const through = entries.at(-1)?.sequence ?? afterSequence;
    return { entries, heads: await this.deps.repo.heads(afterSequence, through) };
  }

  async tip(): Promise<ChainTip> {
    return this.deps.repo.tip();
  }
}
