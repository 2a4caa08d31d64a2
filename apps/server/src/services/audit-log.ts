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

/** Most entries one batch writes in one transaction. */
export const AUDIT_BATCH_ENTRIES_MAX = 200;

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
  /** Appends waiting for the next batch, in the order they were made. */
  private readonly queue: { kind: AuditKind; event: AuditEvent; resolve: (sequence: number | undefined) => void }[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly deps: AuditLogDeps) {}

  /**
   * Appends one entry. Given `trx`, it joins that write transaction (the entry commits
   * or rolls back with the change it records, and failures throw). Without, it joins the
   * next batch: the appends that arrive while one batch is being written go together in
   * one transaction, under one lock of the tip and one commit, so the chain keeps up with
   * the payments that feed it. A failure there is reported to `onError` instead of thrown,
   * so an event recorded after a commit (a payment) never turns a done thing into an
   * error. Answers the entry's sequence number, or undefined when it could not be written.
   */
  async append(kind: AuditKind, event: AuditEvent = {}, trx?: Db): Promise<number | undefined> {
    if (trx) {
      const tip = await this.deps.repo.lockTip(trx);
      const [entry] = await this.entriesAfter(tip, [{ kind, event }]);
      await this.deps.repo.insert(trx, [entry!.entry], [entry!.detailJson]);
      return entry!.entry.sequence;
    }
    return new Promise((resolve) => {
      this.queue.push({ kind, event, resolve });
      this.draining ??= this.drain().finally(() => {
        this.draining = undefined;
      });
    });
  }

  /** Waits for appends already made (tests; shutdown before the last head). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, AUDIT_BATCH_ENTRIES_MAX);
      try {
        // Built inside the work: a retried transaction chains onto the tip it then finds.
        const written = await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
          const entries = await this.entriesAfter(await this.deps.repo.lockTip(trx), batch);
          await this.deps.repo.insert(trx, entries.map((e) => e.entry), entries.map((e) => e.detailJson));
          return entries.map((e) => e.entry.sequence);
        });
        batch.forEach((item, i) => item.resolve(written[i]));
      } catch (error) {
        this.deps.onError(error, `audit append (${batch.length} entries from ${batch[0]!.kind})`);
        for (const item of batch) item.resolve(undefined);
      }
    }
  }

  /** The entries that follow `tip`, hashed in order. */
  private async entriesAfter(tip: ChainTip, items: readonly { kind: AuditKind; event: AuditEvent }[]): Promise<{ entry: AuditEntry; detailJson: string }[]> {
    const atMs = this.deps.clock();
    const out: { entry: AuditEntry; detailJson: string }[] = [];
    let { lastSequence, lastHash } = tip;
    for (const { kind, event } of items) {
      const detail = event.detail ?? {};
      const subject = event.subject === undefined || event.subject === null ? null : event.subject.slice(0, SUBJECT_LENGTH_MAX);
      const content = { sequence: lastSequence + 1, atMs, kind, actor: event.actor ?? null, subject, detail, prevHash: lastHash };
      const entry: AuditEntry = { ...content, hash: await auditEntryHash(content) };
      out.push({ entry, detailJson: canonicalJson(detail) });
      lastSequence = entry.sequence;
      lastHash = entry.hash;
    }
    return out;
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
