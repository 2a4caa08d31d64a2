/** The payment authentication phase's records: policy, commands, codes, lockouts, evidence. */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { DatabaseEngine } from '../config.js';
import { columns, prepare } from './prepared.js';
import { lockingRead, runWriteTransaction } from './write-transaction.js';
import type { WriteBatch } from './write-batch.js';
import type { Database, PaymentCommandsTable, PaymentEvidenceTable, PaymentPoliciesTable, VerificationCodesTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface PolicyRule {
  id: string;
  priority: number;
  rule: string;
  description: string;
  certificateKind: 'master' | 'additional' | null;
  minAmountWon: bigint | null;
  firstPaymentOfCertificate: boolean | null;
  /** Holds when the certificate was issued less than this many days ago (a new device); null: any age. */
  certificateIssuedWithinDays: number | null;
  requireCode: boolean;
  enabled: boolean;
}

/** What a policy version sets beside its rules (docs/admin.md, "Authorization policies"). */
export interface PolicySettings {
  /** Most one user may pay per Korean calendar day (Asia/Seoul), this payment included; null: no limit. */
  dailyLimitWon: bigint | null;
  /** Consecutive failed authorizations on the account's devices that lock payments. */
  failedAttemptsMax: number;
  /** How long such a lock holds. */
  lockDurationMs: number;
  /** How long a verification code is valid: a command that asks for the code lives this long (at most the protocol's command TTL). */
  codeValidityMs: number;
}

/**
 * The settings of the shipped policy: the values that were fixed in code before versions
 * had settings (migration 0018 gives them to older versions too).
 */
export const DEFAULT_POLICY_SETTINGS: Readonly<PolicySettings> = Object.freeze({
  dailyLimitWon: null,
  failedAttemptsMax: 5,
  lockDurationMs: 15 * 60_000,
  codeValidityMs: 2 * 60_000,
});

export type PaymentCommandRecord = Omit<Selectable<PaymentCommandsTable>, 'amountWon' | 'codeRequired'> & { amountWon: bigint; codeRequired: boolean };
export type VerificationCodeRecord = Selectable<VerificationCodesTable>;
export type PaymentEvidenceRecord = Selectable<PaymentEvidenceTable>;

/** The policy that ships: a code for a device's first payment and from 50,000 won; none below. */
export const DEFAULT_POLICY: readonly Omit<PolicyRule, 'id'>[] = [
  { priority: 10, rule: 'first-payment-of-certificate', description: 'The first payment made with a certificate asks for the code', certificateKind: null, minAmountWon: null, firstPaymentOfCertificate: true, certificateIssuedWithinDays: null, requireCode: true, enabled: true },
  { priority: 20, rule: 'amount-at-least-50000', description: 'Payments of 50,000 won or more ask for the code', certificateKind: null, minAmountWon: 50_000n, firstPaymentOfCertificate: null, certificateIssuedWithinDays: null, requireCode: true, enabled: true },
  { priority: 1000, rule: 'default', description: 'Anything else is signed without a code', certificateKind: null, minAmountWon: null, firstPaymentOfCertificate: null, certificateIssuedWithinDays: null, requireCode: false, enabled: true },
];

const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function policyOf(row: Selectable<PaymentPoliciesTable>): PolicyRule {
  return {
    id: row.id, priority: Number(row.priority), rule: row.rule, description: row.description, certificateKind: row.certificateKind,
    minAmountWon: row.minAmountWon === null ? null : BigInt(row.minAmountWon as string | number | bigint),
    firstPaymentOfCertificate: row.firstPaymentOfCertificate === null ? null : Number(row.firstPaymentOfCertificate) === 1,
    certificateIssuedWithinDays: n(row.certificateIssuedWithinDays),
    requireCode: Number(row.requireCode) === 1, enabled: Number(row.enabled) === 1,
  };
}

function commandOf(row: Selectable<PaymentCommandsTable>): PaymentCommandRecord {
  return {
    ...row,
    amountWon: BigInt(row.amountWon as string | number | bigint),
    codeRequired: Number(row.codeRequired) === 1,
    issuedAtMs: Number(row.issuedAtMs),
    expiresAtMs: Number(row.expiresAtMs),
    decidedAtMs: n(row.decidedAtMs),
    policyVersion: n(row.policyVersion),
  };
}

/** One version of the policy: its rules and settings, and who made it, when and why. */
export interface PolicyVersion {
  version: number;
  rules: PolicyRule[];
  settings: PolicySettings;
  author: string | null;
  reason: string;
  restoredFrom: number | null;
  createdAtMs: number;
}

/** A rule as a version stores it (JSON has no bigint: amounts are decimal strings). */
interface StoredRule extends Omit<PolicyRule, 'minAmountWon' | 'certificateIssuedWithinDays'> {
  minAmountWon: string | null;
  certificateIssuedWithinDays?: number | null;
}

export function rulesJson(rules: readonly PolicyRule[]): string {
  const stored: StoredRule[] = rules.map((r) => ({ ...r, minAmountWon: r.minAmountWon === null ? null : r.minAmountWon.toString() }));
  return JSON.stringify(stored);
}

function rulesOf(json: string): PolicyRule[] {
  // Rules stored before the certificate-age condition existed have no such member: any age.
  return (JSON.parse(json) as StoredRule[]).map((r) => ({
    ...r, minAmountWon: r.minAmountWon === null ? null : BigInt(r.minAmountWon), certificateIssuedWithinDays: r.certificateIssuedWithinDays ?? null,
  }));
}

type VersionRow = Selectable<Database['paymentPolicyVersions']>;

function settingsOf(row: Pick<VersionRow, 'dailyLimitWon' | 'failedAttemptsMax' | 'lockDurationMs' | 'codeValidityMs'>): PolicySettings {
  return {
    dailyLimitWon: row.dailyLimitWon === null ? null : BigInt(row.dailyLimitWon as string | number | bigint),
    failedAttemptsMax: Number(row.failedAttemptsMax), lockDurationMs: Number(row.lockDurationMs), codeValidityMs: Number(row.codeValidityMs),
  };
}

/** The settings as columns of `payment_policy_versions`. */
function settingsColumns(settings: PolicySettings) {
  return {
    dailyLimitWon: settings.dailyLimitWon === null ? null : settings.dailyLimitWon.toString(),
    failedAttemptsMax: settings.failedAttemptsMax, lockDurationMs: settings.lockDurationMs, codeValidityMs: settings.codeValidityMs,
  };
}

function versionOf(row: VersionRow): PolicyVersion {
  return {
    version: Number(row.version), rules: rulesOf(row.rulesJson), settings: settingsOf(row), author: row.author, reason: row.reason,
    restoredFrom: n(row.restoredFrom), createdAtMs: Number(row.createdAtMs),
  };
}

const SETTINGS_COLUMNS = ['dailyLimitWon', 'failedAttemptsMax', 'lockDurationMs', 'codeValidityMs'] as const;

/** Versions whose settings are kept in memory by number (a version never changes once written). */
export const POLICY_VERSIONS_REMEMBERED_MAX = 100;

/**
 * How long the enabled policy is kept in memory. Every payment reads it; a change (by
 * the admin console, later) reaches every server process within this time.
 */
export const POLICY_CACHE_MS = 5_000;

/** Certificates remembered as having paid before; the oldest leaves first. */
export const PAID_CERTIFICATES_REMEMBERED_MAX = 100_000;

// What every payment reads and writes here, built once (prepared.ts).
const COMMAND_COLUMNS = [
  'comId', 'orderId', 'userId', 'sessionId', 'certificateId', 'requestNonce', 'commandJson', 'commandJws', 'amountWon', 'codeRequired',
  'policyRule', 'policyReason', 'policyVersion', 'status', 'issuedAtMs', 'expiresAtMs', 'decidedAtMs', 'failureCode',
] as const;
const EVIDENCE_COLUMNS = ['id', 'orderId', 'comId', 'userId', 'certificateId', 'cmsBase64', 'signingTimeMs', 'createdAtMs'] as const;
// Columns are named rather than `*` (see sessions-repository.ts).
const lockoutOf = prepare((db, v: { userId: string }) =>
  db.selectFrom('paymentLockouts').select(['userId', 'consecutiveFailures', 'lockedUntilMs', 'updatedAtMs']).where('userId', '=', v.userId));
const commandById = prepare((db, v: { comId: string }) => db.selectFrom('paymentCommands').select(COMMAND_COLUMNS).where('comId', '=', v.comId));
// A command, its caller's payment lock and how many QR sessions of its order are live, in one
// round trip (the authorization's first read). The count is almost always 0 (an index probe):
// only when it is not does a paid order's QR sessions need ending (qr-payments.ts).
const commandWithLockout = prepare((db, v: { comId: string; userId: string }) =>
  db.selectFrom('paymentCommands')
    .leftJoin('paymentLockouts', (join) => join.on('paymentLockouts.userId', '=', v.userId))
    .select(COMMAND_COLUMNS.map((c) => `paymentCommands.${c}` as const))
    .select('paymentLockouts.lockedUntilMs as callerLockedUntilMs')
    .select((eb) => eb.selectFrom('qrSessions').select((q) => q.fn.countAll().as('n'))
      .whereRef('qrSessions.orderId', '=', 'paymentCommands.orderId').where('qrSessions.status', 'in', ['open', 'scanned']).as('liveQrSessions'))
    .where('paymentCommands.comId', '=', v.comId));
// Only a row that holds failures or a lock is written: most payments follow none.
const resetFailuresRow = prepare((db, v: { userId: string; updatedAtMs: number }) =>
  db.updateTable('paymentLockouts').set({ consecutiveFailures: 0, lockedUntilMs: null, updatedAtMs: v.updatedAtMs })
    .where('userId', '=', v.userId).where((eb) => eb.or([eb('consecutiveFailures', '>', 0), eb('lockedUntilMs', 'is not', null)])));
const insertCommandRow = prepare((db, v: Selectable<PaymentCommandsTable>) => db.insertInto('paymentCommands').values(columns(v, COMMAND_COLUMNS)));
const decideCommandRow = prepare((db, v: { comId: string; status: 'authorized' | 'failed'; decidedAtMs: number; failureCode: string | null }) =>
  db.updateTable('paymentCommands').set({ status: v.status, decidedAtMs: v.decidedAtMs, failureCode: v.failureCode }).where('comId', '=', v.comId).where('status', '=', 'issued'));
const insertEvidenceRow = prepare((db, v: PaymentEvidenceRecord) => db.insertInto('paymentEvidence').values(columns(v, EVIDENCE_COLUMNS)));
const useCodeRow = prepare((db, v: { id: string; usedAtMs: number }) =>
  db.updateTable('verificationCodes').set({ usedAtMs: v.usedAtMs, codeDigest: null, codeSealed: null }).where('id', '=', v.id).where('usedAtMs', 'is', null));

/** The version that decides payments now: its number, enabled rules by priority, and settings. */
export interface CurrentPolicy {
  version: number;
  rules: PolicyRule[];
  settings: PolicySettings;
}

export class PaymentAuthRepository {
  private policy: (CurrentPolicy & { readAtMs: number }) | null = null;
  /** Settings of versions by number, read once each: versions are never rewritten. */
  private readonly versionSettings = new Map<number, PolicySettings>();
  /** "Has paid before" never turns false again (evidence is never deleted), so a yes is kept. */
  private readonly paidCertificates = new Set<string>();

  /** The payment transaction's read of a lockout, with the row lock where the engine has one. */
  private readonly lockoutForUpdate;

  constructor(
    readonly db: Kysely<Database>,
    private readonly engine: DatabaseEngine,
    private readonly clock: () => number = Date.now,
  ) {
    this.lockoutForUpdate = prepare((db, v: { userId: string }) =>
      lockingRead(engine, db.selectFrom('paymentLockouts').select(['userId', 'consecutiveFailures', 'lockedUntilMs', 'updatedAtMs']).where('userId', '=', v.userId)));
  }

  /**
   * Writes the default policy into an empty policy table, and makes the rules found there
   * version 1 when no version exists yet (a database from before versions).
   */
  async ensureDefaultPolicy(nowMs: number): Promise<void> {
    const existing = await this.db.selectFrom('paymentPolicies').select('id').limit(1).execute();
    if (existing.length === 0) {
      await this.db.transaction().execute(async (trx) => {
        for (const rule of DEFAULT_POLICY) {
          await trx.insertInto('paymentPolicies').values({
            id: randomUUID(), priority: rule.priority, rule: rule.rule, description: rule.description, certificateKind: rule.certificateKind,
            minAmountWon: rule.minAmountWon === null ? null : rule.minAmountWon.toString(),
            firstPaymentOfCertificate: rule.firstPaymentOfCertificate === null ? null : rule.firstPaymentOfCertificate ? 1 : 0,
            certificateIssuedWithinDays: rule.certificateIssuedWithinDays,
            requireCode: rule.requireCode ? 1 : 0, enabled: rule.enabled ? 1 : 0, updatedAtMs: nowMs,
          }).execute();
        }
      });
    }
    const versions = await this.db.selectFrom('paymentPolicyVersions').select('version').limit(1).execute();
    if (versions.length > 0) return;
    const rows = await this.db.selectFrom('paymentPolicies').selectAll().orderBy('priority').execute();
    try {
      await this.db.insertInto('paymentPolicyVersions').values({
        version: 1, rulesJson: rulesJson(rows.map(policyOf)), author: null, reason: 'the policy the server started with', restoredFrom: null, createdAtMs: nowMs,
        ...settingsColumns(DEFAULT_POLICY_SETTINGS),
      }).execute();
    } catch (error) {
      // Two servers starting together: the other wrote version 1 first.
      if ((await this.db.selectFrom('paymentPolicyVersions').select('version').where('version', '=', 1).executeTakeFirst()) === undefined) throw error;
    }
  }

  /** The current version (the highest): its enabled rules by priority and its settings, read at most every {@link POLICY_CACHE_MS}. */
  async currentPolicy(): Promise<CurrentPolicy> {
    const nowMs = this.clock();
    if (this.policy && nowMs - this.policy.readAtMs < POLICY_CACHE_MS && nowMs >= this.policy.readAtMs) return this.policy;
    const row = await this.db.selectFrom('paymentPolicyVersions').select(['version', 'rulesJson', ...SETTINGS_COLUMNS]).orderBy('version', 'desc').limit(1).executeTakeFirstOrThrow();
    const rules = rulesOf(row.rulesJson).filter((r) => r.enabled).sort((a, b) => a.priority - b.priority);
    this.policy = { rules, version: Number(row.version), settings: settingsOf(row), readAtMs: nowMs };
    return this.policy;
  }

  /**
   * The settings of one version (a payment is finished under the version its command was
   * decided under). Kept once read, since a version never changes; undefined for a number
   * never published.
   */
  async settingsOfVersion(version: number): Promise<PolicySettings | undefined> {
    const known = this.versionSettings.get(version);
    if (known) return known;
    const row = await this.db.selectFrom('paymentPolicyVersions').select(SETTINGS_COLUMNS).where('version', '=', version).executeTakeFirst();
    if (!row) return undefined;
    const settings = settingsOf(row);
    if (this.versionSettings.size >= POLICY_VERSIONS_REMEMBERED_MAX) this.versionSettings.delete(this.versionSettings.keys().next().value as number);
    this.versionSettings.set(version, settings);
    return settings;
  }

  /** The enabled rules of the current version, by priority. */
  async enabledPolicy(): Promise<PolicyRule[]> {
    return (await this.currentPolicy()).rules;
  }

  /** Forgets the cached policy: this process decides the next payment under a version just written. */
  forgetCachedPolicy(): void {
    this.policy = null;
  }

  /**
   * Writes the next version (the current one plus one) in the caller's write transaction,
   * and mirrors its rules into `payment_policies`. Two operators publishing together: the
   * version's primary key lets one win; the other's transaction fails and is retried.
   */
  async publishPolicy(trx: Db, next: Omit<PolicyVersion, 'version'>): Promise<number> {
    const last = await lockingRead(this.engine, trx.selectFrom('paymentPolicyVersions').select('version').orderBy('version', 'desc').limit(1)).executeTakeFirst();
    const version = (last ? Number(last.version) : 0) + 1;
    await trx.insertInto('paymentPolicyVersions').values({
      version, rulesJson: rulesJson(next.rules), author: next.author, reason: next.reason, restoredFrom: next.restoredFrom, createdAtMs: next.createdAtMs,
      ...settingsColumns(next.settings),
    }).execute();
    await trx.deleteFrom('paymentPolicies').execute();
    for (const rule of next.rules) {
      await trx.insertInto('paymentPolicies').values({
        id: rule.id, priority: rule.priority, rule: rule.rule, description: rule.description, certificateKind: rule.certificateKind,
        minAmountWon: rule.minAmountWon === null ? null : rule.minAmountWon.toString(),
        firstPaymentOfCertificate: rule.firstPaymentOfCertificate === null ? null : rule.firstPaymentOfCertificate ? 1 : 0,
        certificateIssuedWithinDays: rule.certificateIssuedWithinDays,
        requireCode: rule.requireCode ? 1 : 0, enabled: rule.enabled ? 1 : 0, updatedAtMs: next.createdAtMs,
      }).execute();
    }
    return version;
  }

  /** Versions newest first (without their rules' detail beyond what is stored). */
  async policyVersions(limit: number): Promise<PolicyVersion[]> {
    return (await this.db.selectFrom('paymentPolicyVersions').selectAll().orderBy('version', 'desc').limit(limit).execute()).map(versionOf);
  }

  async policyVersion(version: number): Promise<PolicyVersion | undefined> {
    const row = await this.db.selectFrom('paymentPolicyVersions').selectAll().where('version', '=', version).executeTakeFirst();
    return row ? versionOf(row) : undefined;
  }

  /** Whether a certificate has paid before (its first payment may need the code). */
  async hasPaidWith(certificateId: string): Promise<boolean> {
    if (this.paidCertificates.has(certificateId)) return true;
    const row = await this.db.selectFrom('paymentEvidence').select('id').where('certificateId', '=', certificateId).limit(1).executeTakeFirst();
    if (row === undefined) return false;
    if (this.paidCertificates.size >= PAID_CERTIFICATES_REMEMBERED_MAX) this.paidCertificates.delete(this.paidCertificates.values().next().value as string);
    this.paidCertificates.add(certificateId);
    return true;
  }

  async insertCommand(trx: Db, record: PaymentCommandRecord): Promise<void> {
    await insertCommandRow.affected(trx, { ...record, amountWon: record.amountWon.toString(), codeRequired: record.codeRequired ? 1 : 0 });
  }

  async findCommand(comId: string, db: Db = this.db): Promise<PaymentCommandRecord | undefined> {
    const row = await commandById.first(db, { comId });
    return row ? commandOf(row) : undefined;
  }

  /**
   * A command (whoever's it is), with the payment lock of `userId` as it stands and the
   * number of live QR sessions of its order; undefined when there is no such command, and
   * then nothing is known of the rest.
   */
  async findCommandWithLockout(comId: string, userId: string): Promise<{ command: PaymentCommandRecord; lockedUntilMs: number | null; liveQrSessions: number } | undefined> {
    const row = await commandWithLockout.first(this.db, { comId, userId });
    if (!row) return undefined;
    const { callerLockedUntilMs, liveQrSessions, ...command } = row;
    return { command: commandOf(command), lockedUntilMs: n(callerLockedUntilMs), liveQrSessions: Number(liveQrSessions ?? 0) };
  }

  /**
   * Closes an issued command, as one write of the payment's batch; conditional, so a
   * command is decided once: `otherwise` when it was no longer issued.
   */
  decideCommandIn(batch: WriteBatch, comId: string, status: 'authorized' | 'failed', nowMs: number, failureCode: string | null, otherwise: () => Error): void {
    batch.add(decideCommandRow, { comId, status, decidedAtMs: nowMs, failureCode }, { rows: 1, otherwise });
  }

  async insertCode(trx: Db, record: VerificationCodeRecord): Promise<void> {
    await trx.insertInto('verificationCodes').values(record).execute();
  }

  async findCodeByCommand(comId: string): Promise<VerificationCodeRecord | undefined> {
    const row = await this.db.selectFrom('verificationCodes').selectAll().where('comId', '=', comId).executeTakeFirst();
    return row ? { ...row, tries: Number(row.tries), expiresAtMs: Number(row.expiresAtMs), usedAtMs: n(row.usedAtMs) } : undefined;
  }

  /** Counts one try; returns false when the code had no tries left. */
  async countCodeTry(id: string, maxTries: number): Promise<boolean> {
    const result = await this.db.updateTable('verificationCodes').set((eb) => ({ tries: eb('tries', '+', 1) })).where('id', '=', id).where('tries', '<', maxTries).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Puts a new code in place of a waiting one and counts that as one of its tries, in one
   * statement: a new picture never gives tries back. False when the code has no tries
   * left, was used, or expired.
   */
  async replaceCode(id: string, maxTries: number, nowMs: number, next: { codeDigest: string; codeSealed: string }): Promise<boolean> {
    const result = await this.db.updateTable('verificationCodes')
      .set((eb) => ({ tries: eb('tries', '+', 1), codeDigest: next.codeDigest, codeSealed: next.codeSealed }))
      .where('id', '=', id).where('tries', '<', maxTries).where('usedAtMs', 'is', null).where('expiresAtMs', '>', nowMs)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }


  /** Marks a code used and forgets its digest, as one write of the payment's batch: `otherwise` when it was used already. */
  useCodeIn(batch: WriteBatch, id: string, nowMs: number, otherwise: () => Error): void {
    batch.add(useCodeRow, { id, usedAtMs: nowMs }, { rows: 1, otherwise });
  }

  async lockout(userId: string): Promise<{ consecutiveFailures: number; lockedUntilMs: number | null } | undefined> {
    const row = await lockoutOf.first(this.db, { userId });
    return row ? { consecutiveFailures: Number(row.consecutiveFailures), lockedUntilMs: n(row.lockedUntilMs) } : undefined;
  }

  /**
   * Records one failed authorization in one upsert, so failures that arrive together are
   * each counted and the first two cannot collide on the key. While a lock holds, a failure
   * is not counted (the count stays at `limit`); after a lock ran out, counting starts
   * again at one. The count that reaches `limit` locks for `lockMs`. Answers the row as
   * the write left it, read in the same transaction: a count at `limit` means locked.
   */
  async recordFailure(userId: string, nowMs: number, limit: number, lockMs: number): Promise<{ consecutiveFailures: number; lockedUntilMs: number | null }> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('failure limit out of range');
    const lockedUntilMs = nowMs + lockMs;
    const row = await runWriteTransaction(this.db, this.engine, async (trx) => {
      const failures = sql.ref('paymentLockouts.consecutiveFailures');
      const lockedUntil = sql.ref('paymentLockouts.lockedUntilMs');
      const locked = sql<boolean>`${lockedUntil} is not null and ${lockedUntil} > ${nowMs}`;
      // Every assignment reads the row as it was: the old count and lock decide both.
      const count = sql<number>`case when ${locked} then ${failures} when ${lockedUntil} is not null then 1 else ${failures} + 1 end`;
      const insert = trx.insertInto('paymentLockouts').values({ userId, consecutiveFailures: 1, lockedUntilMs: limit <= 1 ? lockedUntilMs : null, updatedAtMs: nowMs });
      if (this.engine === 'mysql') {
        // MariaDB assigns left to right, a later expression seeing the earlier ones' new
        // values: the count first, from the old row, then the lock from the new count.
        await insert.onDuplicateKeyUpdate({
          consecutiveFailures: count,
          lockedUntilMs: sql`case when ${locked} then ${lockedUntil} when ${failures} >= ${limit} then ${lockedUntilMs} else null end`,
          updatedAtMs: nowMs,
        }).execute();
        return lockoutOf.first(trx, { userId });
      }
      return insert
        .onConflict((oc) => oc.column('userId').doUpdateSet({
          consecutiveFailures: count,
          lockedUntilMs: sql`case when ${locked} then ${lockedUntil} when ${count} >= ${limit} then ${lockedUntilMs} else null end`,
          updatedAtMs: nowMs,
        }))
        .returning(['userId', 'consecutiveFailures', 'lockedUntilMs', 'updatedAtMs'])
        .executeTakeFirst();
    });
    if (!row) throw new Error(`payment lockout of ${userId} missing after its upsert`);
    return { consecutiveFailures: Number(row.consecutiveFailures), lockedUntilMs: n(row.lockedUntilMs) };
  }

  /**
   * Inside the payment's transaction: refuses while a lock holds (answers its end), and
   * clears counted failures otherwise, so a failure recorded since the first check is seen
   * here. One indexed read of a row that is usually absent; the write only when there is
   * something to clear.
   */
  async checkAndResetFailures(trx: Db, userId: string, nowMs: number, batch?: WriteBatch): Promise<{ lockedUntilMs: number } | null> {
    const row = await this.lockoutForUpdate.first(trx, { userId });
    if (!row) return null;
    const lockedUntilMs = n(row.lockedUntilMs);
    if (lockedUntilMs !== null && lockedUntilMs > nowMs) return { lockedUntilMs };
    if (Number(row.consecutiveFailures) > 0 || lockedUntilMs !== null) {
      // Under the row lock just taken: with the caller's batch when it has one.
      if (batch) batch.add(resetFailuresRow, { userId, updatedAtMs: nowMs });
      else await resetFailuresRow.affected(trx, { userId, updatedAtMs: nowMs });
    }
    return null;
  }

  /** Stores a payment's evidence, as one write of the payment's batch. */
  insertEvidenceIn(batch: WriteBatch, record: PaymentEvidenceRecord): void {
    batch.add(insertEvidenceRow, record);
  }

  async evidenceOfOrder(orderId: string): Promise<PaymentEvidenceRecord | undefined> {
    const row = await this.db.selectFrom('paymentEvidence').selectAll().where('orderId', '=', orderId).executeTakeFirst();
    return row ? { ...row, signingTimeMs: Number(row.signingTimeMs), createdAtMs: Number(row.createdAtMs) } : undefined;
  }

  /** The evidence stored for one payment command (unique per command), if any. */
  async evidenceOfCommand(comId: string): Promise<PaymentEvidenceRecord | undefined> {
    const row = await this.db.selectFrom('paymentEvidence').selectAll().where('comId', '=', comId).executeTakeFirst();
    return row ? { ...row, signingTimeMs: Number(row.signingTimeMs), createdAtMs: Number(row.createdAtMs) } : undefined;
  }
}
