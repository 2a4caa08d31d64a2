/**
 * The tamper-evident audit log (docs/admin.md, "The audit chain"). Every security-relevant
 * event goes through `append`, which chains it to the one before (core's `auditEntryHash`)
 * inside a write transaction that holds the chain's tip row locked, so the log is one
 * chain however many requests or servers append at once. While entries arrive, the
 * server signs the chain's head (S's key, JWS with x5c) once per interval: whoever later
 * rewrites rows and recomputes every hash still cannot match a signed head.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AUDIT_HEAD_TYPE, auditEntryBytes, type AuditEntry, type AuditHead, type AuditHeadPayload } from '@coconutpay/core/audit';
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

/**
 * Most appends waiting in memory for their batch. When the database falls behind, a
 * further append waits for room instead of growing the queue without end; an entry is
 * never dropped. Ten thousand entries are a few megabytes, and several seconds of
 * payments at the measured batch rates.
 */
export const AUDIT_QUEUE_ENTRIES_MAX = 10_000;

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
  /** Most appends waiting for a batch (default {@link AUDIT_QUEUE_ENTRIES_MAX}; tests use a small one). */
  queueEntriesMax?: number;
}

/** What a service needs of the audit log: appending. */
export type AuditSink = Pick<AuditLog, 'append' | 'enqueue'>;

export class AuditLog {
  private timer: NodeJS.Timeout | undefined;
  /** Appends waiting for the next batch, in the order they were made. */
  private readonly queue: { kind: AuditKind; event: AuditEvent; resolve: (sequence: number | undefined) => void }[] = [];
  private draining: Promise<void> | undefined;
  /**
   * Appends waiting for room in a full queue, moved into it in the order they came (a new
   * append queues behind them, so none waits for ever). Each is a caller awaiting its
   * place, so this list is as long as the callers held up, not a second queue that grows.
   */
  private readonly waiting: { kind: AuditKind; event: AuditEvent; resolve: (sequence: number | undefined) => void; admit: () => void }[] = [];
  private readonly queueEntriesMax: number;

  constructor(private readonly deps: AuditLogDeps) {
    this.queueEntriesMax = deps.queueEntriesMax ?? AUDIT_QUEUE_ENTRIES_MAX;
    if (!Number.isSafeInteger(this.queueEntriesMax) || this.queueEntriesMax < 1) throw new RangeError('the audit queue holds at least one entry');
  }

  /** Appends waiting for their batch now (never more than the queue's bound). */
  get queuedEntries(): number {
    return this.queue.length;
  }

  /**
   * Appends one entry. Given `trx`, it joins that write transaction (the entry commits
   * or rolls back with the change it records, and failures throw). Without, it joins the
   * next batch: the appends that arrive while one batch is being written go together in
   * one transaction, under one lock of the tip and one commit, so the chain keeps up with
   * the payments that feed it. A failure there is reported to `onError` instead of thrown,
   * so an event recorded after a commit (a payment) never turns a done thing into an
   * error. Answers the entry's sequence number, or undefined when it could not be written.
   * When the queue is full, it first waits for room (see {@link enqueue}).
   */
  async append(kind: AuditKind, event: AuditEvent = {}, trx?: Db): Promise<number | undefined> {
    if (trx) {
      const tip = await this.deps.repo.lockTip(trx);
      const [entry] = await this.entriesAfter(tip, [{ kind, event }]);
      await this.deps.repo.insert(trx, [entry!.entry], [entry!.detailJson]);
      return entry!.entry.sequence;
    }
    return (await this.enqueue(kind, event)).written;
  }

  /**
   * Puts an entry in the next batch without waiting for it to be written: answers once
   * the entry has its place in the queue — at once, unless the queue holds
   * {@link AUDIT_QUEUE_ENTRIES_MAX} entries, when it waits until a batch took some. A caller
   * that awaits this (a payment, after its commit) slows down with the database instead of
   * piling entries up in memory. `written` is the entry's sequence number, or undefined
   * when its batch failed (reported to `onError`).
   */
  async enqueue(kind: AuditKind, event: AuditEvent = {}): Promise<{ written: Promise<number | undefined> }> {
    let resolveWritten: (sequence: number | undefined) => void = () => undefined;
    const written = new Promise<number | undefined>((resolve) => {
      resolveWritten = resolve;
    });
    if (this.queue.length < this.queueEntriesMax && this.waiting.length === 0) {
      this.queue.push({ kind, event, resolve: resolveWritten });
      this.startDrain();
    } else {
      // The queue is full, so a batch is being written: it moves this entry in when it takes some.
      await new Promise<void>((admit) => this.waiting.push({ kind, event, resolve: resolveWritten, admit }));
    }
    return { written };
  }

  private startDrain(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      // An entry queued while the last batch was finishing still gets its batch.
      if (this.queue.length > 0) this.startDrain();
    });
  }

  /** Moves waiting appends into the queue, oldest first, as far as there is room. */
  private admitWaiting(): void {
    while (this.queue.length < this.queueEntriesMax && this.waiting.length > 0) {
      const { admit, ...item } = this.waiting.shift()!;
      this.queue.push(item);
      admit();
    }
  }

  /** Waits for appends already made (tests; shutdown before the last head). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, AUDIT_BATCH_ENTRIES_MAX);
      this.admitWaiting();
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
      // core's auditEntryHash, on node:crypto: synchronous, where WebCrypto's digest is a trip
      // through the thread pool per entry, taken while the chain's tip is held.
      const entry: AuditEntry = { ...content, hash: createHash('sha256').update(auditEntryBytes(content)).digest('hex') };
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
