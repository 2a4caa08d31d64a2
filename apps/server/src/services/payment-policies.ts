/**
 * The authorization policy as operators edit it (docs/admin.md, "Authorization
 * policies"): validation, a preview of what a payment would need, publishing a new
 * version with its author and reason, and rolling back to an earlier one (a new version
 * with the old rules). Payments read the current version through PaymentAuthRepository and
 * record its number with each command.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '@coconutpay/core/errors';
import { POLICY_SETTINGS_RANGES as CORE_RANGES } from '@coconutpay/core/payment';
import type { DatabaseEngine } from '../config.js';
import { isUniqueViolation } from '../db/database.js';
import type { PaymentAuthRepository, PolicyRule, PolicySettings, PolicyVersion } from '../db/payment-auth-repository.js';
import type { Database } from '../db/schema.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import type { Actor } from './actor.js';
import type { AdminService } from './admin.js';
import type { AuditLog } from './audit-log.js';
import { decidePolicy, type PolicyDecision } from './payment-auth.js';

export type { PolicySettings, PolicyVersion };

/** Most rules one version holds. */
export const POLICY_RULES_MAX = 50;

/** Largest amount threshold a rule may name (won). */
export const RULE_AMOUNT_MAX_WON = 1_000_000_000_000n;

/** Longest "issued less than N days ago" a rule may name. */
export const RULE_CERTIFICATE_AGE_DAYS_MAX = CORE_RANGES.certificateIssuedWithinDays.max;

/** The ranges of a version's settings (core's, which the console shows; migration 0018 repeats them as CHECK constraints). */
export const POLICY_SETTINGS_RANGES = {
  dailyLimitWon: { min: BigInt(CORE_RANGES.dailyLimitWon.min), max: BigInt(CORE_RANGES.dailyLimitWon.max) },
  failedAttemptsMax: CORE_RANGES.failedAttemptsMax,
  lockDurationMs: CORE_RANGES.lockDurationMs,
  codeValidityMs: CORE_RANGES.codeValidityMs,
} as const;

/** A rule as an operator writes it (the id is the server's); absent conditions hold for every payment. */
export type RuleInput = Omit<PolicyRule, 'id' | 'minAmountWon' | 'certificateIssuedWithinDays'> & {
  minAmountWon: number | null;
  certificateIssuedWithinDays?: number | null;
};

/** Settings as an operator writes them (won as a JSON integer). */
export interface SettingsInput {
  dailyLimitWon: number | null;
  failedAttemptsMax: number;
  lockDurationMs: number;
  codeValidityMs: number;
}

export interface PreviewFacts {
  amountWon: number;
  certificateKind: 'master' | 'additional';
  firstPayment: boolean;
  /** Days since the certificate was issued; absent, an established certificate (no age condition holds). */
  certificateAgeDays?: number;
  /** What the payer already paid today (Asia/Seoul); absent, nothing. */
  paidTodayWon?: number;
}

/** What a payment needs under a policy: the deciding rule, the factors asked, and the version's settings as they apply to it. */
export interface PolicyPreview extends PolicyDecision {
  /** In the order the person meets them: the certificate password, the device key's signature, and the code when asked; none when refused. */
  factors: ('password' | 'device-key' | 'code')[];
  /** Why the payment would be refused before any factor is asked, or null. */
  refusal: 'PAYMENT_DAILY_LIMIT_EXCEEDED' | null;
  /** What is left of the daily limit before this payment; null without a limit. */
  dailyLimitRemainingWon: bigint | null;
  settings: PolicySettings;
}

/** Largest number of attempts to publish when another operator published at the same moment. */
const PUBLISH_ATTEMPTS_MAX = 3;

function invalid(detail: string): AppError {
  return new AppError('VALIDATION_FAILED', { detail });
}

/**
 * Checks a rule list and answers it as stored rules. Every payment must be decided by a
 * rule the operator wrote: the last enabled rule (highest priority number) has no
 * condition.
 */
export function validatedRules(input: readonly RuleInput[]): PolicyRule[] {
  if (input.length === 0 || input.length > POLICY_RULES_MAX) throw invalid(`A policy has 1 to ${POLICY_RULES_MAX} rules.`);
  const names = new Set<string>();
  const priorities = new Set<number>();
  const rules = input.map((r): PolicyRule => {
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(r.rule)) throw invalid(`Rule name ${JSON.stringify(r.rule)}: 1 to 40 lower-case letters, digits and -.`);
    if (names.has(r.rule)) throw invalid(`Rule name ${r.rule} is used twice.`);
    names.add(r.rule);
    if (!Number.isSafeInteger(r.priority) || r.priority < 1 || r.priority > 100_000) throw invalid(`Rule ${r.rule}: the priority is a whole number from 1 to 100000.`);
    if (priorities.has(r.priority)) throw invalid(`Priority ${r.priority} is used twice.`);
    priorities.add(r.priority);
    const description = r.description.trim();
    if (description.length === 0 || description.length > 200) throw invalid(`Rule ${r.rule}: the description has 1 to 200 characters.`);
    if (r.minAmountWon !== null && (!Number.isSafeInteger(r.minAmountWon) || r.minAmountWon < 0 || BigInt(r.minAmountWon) > RULE_AMOUNT_MAX_WON)) {
      throw invalid(`Rule ${r.rule}: the amount threshold is whole won from 0 to ${RULE_AMOUNT_MAX_WON}.`);
    }
    const withinDays = r.certificateIssuedWithinDays ?? null;
    if (withinDays !== null && (!Number.isSafeInteger(withinDays) || withinDays < CORE_RANGES.certificateIssuedWithinDays.min || withinDays > RULE_CERTIFICATE_AGE_DAYS_MAX)) {
      throw invalid(`Rule ${r.rule}: "certificate issued less than N days ago" takes N from 1 to ${RULE_CERTIFICATE_AGE_DAYS_MAX}.`);
    }
    return {
      id: randomUUID(), priority: r.priority, rule: r.rule, description, certificateKind: r.certificateKind,
      minAmountWon: r.minAmountWon === null ? null : BigInt(r.minAmountWon), firstPaymentOfCertificate: r.firstPaymentOfCertificate,
      certificateIssuedWithinDays: withinDays, requireCode: r.requireCode, enabled: r.enabled,
    };
  });
  rules.sort((a, b) => a.priority - b.priority);
  const lastEnabled = rules.filter((r) => r.enabled).at(-1);
  if (
    !lastEnabled || lastEnabled.certificateKind !== null || lastEnabled.minAmountWon !== null || lastEnabled.firstPaymentOfCertificate !== null ||
    lastEnabled.certificateIssuedWithinDays !== null
  ) {
    throw invalid('The last enabled rule must have no condition, so that every payment is decided by a rule you wrote.');
  }
  return rules;
}

/** Checks a version's settings, each against its range in {@link POLICY_SETTINGS_RANGES}. */
export function validatedSettings(input: SettingsInput): PolicySettings {
  const r = POLICY_SETTINGS_RANGES;
  const whole = (v: number, min: number, max: number) => Number.isSafeInteger(v) && v >= min && v <= max;
  if (input.dailyLimitWon !== null && !(Number.isSafeInteger(input.dailyLimitWon) && BigInt(input.dailyLimitWon) >= r.dailyLimitWon.min && BigInt(input.dailyLimitWon) <= r.dailyLimitWon.max)) {
    throw invalid(`The daily limit is whole won from ${r.dailyLimitWon.min} to ${r.dailyLimitWon.max}, or none.`);
  }
  if (!whole(input.failedAttemptsMax, r.failedAttemptsMax.min, r.failedAttemptsMax.max)) throw invalid(`Attempts before lock: ${r.failedAttemptsMax.min} to ${r.failedAttemptsMax.max}.`);
  if (!whole(input.lockDurationMs, r.lockDurationMs.min, r.lockDurationMs.max)) throw invalid(`The lock lasts ${r.lockDurationMs.min} to ${r.lockDurationMs.max} ms (1 minute to 24 hours).`);
  if (!whole(input.codeValidityMs, r.codeValidityMs.min, r.codeValidityMs.max)) throw invalid(`A code is valid for ${r.codeValidityMs.min} to ${r.codeValidityMs.max} ms (30 seconds to 2 minutes, the payment command's life).`);
  return {
    dailyLimitWon: input.dailyLimitWon === null ? null : BigInt(input.dailyLimitWon),
    failedAttemptsMax: input.failedAttemptsMax, lockDurationMs: input.lockDurationMs, codeValidityMs: input.codeValidityMs,
  };
}

const DAY_MS = 86_400_000;

/** The preview of `facts` under `rules` and `settings`. */
export function previewOf(rules: readonly PolicyRule[], settings: PolicySettings, facts: PreviewFacts): PolicyPreview {
  const amountWon = BigInt(facts.amountWon);
  const decision = decidePolicy(rules, {
    amountWon, certificateKind: facts.certificateKind, firstPayment: facts.firstPayment,
    certificateAgeMs: facts.certificateAgeDays === undefined ? Number.MAX_SAFE_INTEGER : facts.certificateAgeDays * DAY_MS,
  });
  const paidTodayWon = BigInt(facts.paidTodayWon ?? 0);
  const remainingWon = settings.dailyLimitWon === null ? null : settings.dailyLimitWon > paidTodayWon ? settings.dailyLimitWon - paidTodayWon : 0n;
  const refused = remainingWon !== null && amountWon > remainingWon;
  return {
    ...decision,
    factors: refused ? [] : decision.requireCode ? ['password', 'device-key', 'code'] : ['password', 'device-key'],
    refusal: refused ? 'PAYMENT_DAILY_LIMIT_EXCEEDED' : null,
    dailyLimitRemainingWon: remainingWon,
    settings,
  };
}

export class PaymentPoliciesService {
  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      engine: DatabaseEngine;
      repo: PaymentAuthRepository;
      admin: Pick<AdminService, 'requireAdmin'>;
      audit: AuditLog;
      clock: () => number;
    },
  ) {}

  async current(actor: Actor): Promise<{ current: PolicyVersion; versions: PolicyVersion[] }> {
    await this.deps.admin.requireAdmin(actor);
    const versions = await this.deps.repo.policyVersions(50);
    return { current: versions[0]!, versions };
  }

  /**
   * What a payment with `facts` would need under the candidate rules and settings, or the
   * current ones (each part given replaces the current one).
   */
  async preview(actor: Actor, facts: PreviewFacts, candidate: { rules?: readonly RuleInput[]; settings?: SettingsInput } = {}): Promise<PolicyPreview> {
    await this.deps.admin.requireAdmin(actor);
    if (!Number.isSafeInteger(facts.amountWon) || facts.amountWon < 1) throw invalid('The amount is whole won, at least 1.');
    if (facts.certificateAgeDays !== undefined && (!Number.isSafeInteger(facts.certificateAgeDays) || facts.certificateAgeDays < 0)) throw invalid("The certificate's age is whole days, at least 0.");
    if (facts.paidTodayWon !== undefined && (!Number.isSafeInteger(facts.paidTodayWon) || facts.paidTodayWon < 0)) throw invalid('Paid today is whole won, at least 0.');
    const current = await this.deps.repo.currentPolicy();
    const rules = candidate.rules ? validatedRules(candidate.rules).filter((r) => r.enabled) : current.rules;
    const settings = candidate.settings ? validatedSettings(candidate.settings) : current.settings;
    return previewOf(rules, settings, facts);
  }

  /**
   * Publishes `input` as the next version; the next payment is decided under it. Without
   * `settings`, the current version's settings carry over.
   */
  async publish(actor: Actor, input: readonly RuleInput[], reason: string, settingsInput?: SettingsInput): Promise<PolicyVersion> {
    await this.deps.admin.requireAdmin(actor);
    const rules = validatedRules(input);
    const settings = settingsInput ? validatedSettings(settingsInput) : (await this.deps.repo.currentPolicy()).settings;
    return this.write(actor, rules, settings, reason, null);
  }

  /** Publishes the rules and settings of an earlier version as the next version. */
  async rollback(actor: Actor, version: number, reason: string): Promise<PolicyVersion> {
    await this.deps.admin.requireAdmin(actor);
    const earlier = await this.deps.repo.policyVersion(version);
    if (!earlier) throw new AppError('POLICY_VERSION_NOT_FOUND');
    return this.write(actor, earlier.rules.map((r) => ({ ...r, id: randomUUID() })), earlier.settings, reason, version);
  }

  private async write(actor: Actor, rules: PolicyRule[], settings: PolicySettings, reason: string, restoredFrom: number | null): Promise<PolicyVersion> {
    const createdAtMs = this.deps.clock();
    for (let attempt = 1; ; attempt++) {
      try {
        const version = await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
          const written = await this.deps.repo.publishPolicy(trx, { rules, settings, author: actor.userId, reason, restoredFrom, createdAtMs });
          await this.deps.audit.append(restoredFrom === null ? 'policy.changed' : 'policy.rolled-back', {
            actor: actor.userId, subject: `policy-version-${written}`,
            detail: {
              version: written, restoredFrom, reason, rules: rules.map((r) => `${r.priority} ${r.rule}${r.enabled ? '' : ' (disabled)'}: code ${r.requireCode ? 'asked' : 'not asked'}`),
              settings: {
                dailyLimitWon: settings.dailyLimitWon === null ? null : settings.dailyLimitWon.toString(), failedAttemptsMax: settings.failedAttemptsMax,
                lockDurationMs: settings.lockDurationMs, codeValidityMs: settings.codeValidityMs,
              },
            },
          }, trx);
          return written;
        });
        this.deps.repo.forgetCachedPolicy();
        return { version, rules, settings, author: actor.userId, reason, restoredFrom, createdAtMs };
      } catch (error) {
        // Another operator took the same version number a moment earlier: write on top of theirs.
        if (!isUniqueViolation(error) || attempt >= PUBLISH_ATTEMPTS_MAX) throw error;
      }
    }
  }
}
