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
import type { DatabaseEngine } from '../config.js';
import { isUniqueViolation } from '../db/database.js';
import type { PaymentAuthRepository, PolicyRule, PolicyVersion } from '../db/payment-auth-repository.js';
import type { Database } from '../db/schema.js';
import { runWriteTransaction } from '../db/write-transaction.js';
import type { Actor } from './actor.js';
import type { AdminService } from './admin.js';
import type { AuditLog } from './audit-log.js';
import { decidePolicy, type PolicyDecision } from './payment-auth.js';

export type { PolicyVersion };

/** Most rules one version holds. */
export const POLICY_RULES_MAX = 50;

/** Largest amount threshold a rule may name (won). */
export const RULE_AMOUNT_MAX_WON = 1_000_000_000_000n;

/** A rule as an operator writes it (the id is the server's). */
export type RuleInput = Omit<PolicyRule, 'id' | 'minAmountWon'> & { minAmountWon: number | null };

export interface PreviewFacts {
  amountWon: number;
  certificateKind: 'master' | 'additional';
  firstPayment: boolean;
}

/** What a payment needs under a policy: the deciding rule and the factors asked. */
export interface PolicyPreview extends PolicyDecision {
  /** In the order the person meets them: the certificate password, the device key's signature, and the code when asked. */
  factors: ('password' | 'device-key' | 'code')[];
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
    return {
      id: randomUUID(), priority: r.priority, rule: r.rule, description, certificateKind: r.certificateKind,
      minAmountWon: r.minAmountWon === null ? null : BigInt(r.minAmountWon), firstPaymentOfCertificate: r.firstPaymentOfCertificate,
      requireCode: r.requireCode, enabled: r.enabled,
    };
  });
  rules.sort((a, b) => a.priority - b.priority);
  const lastEnabled = rules.filter((r) => r.enabled).at(-1);
  if (!lastEnabled || lastEnabled.certificateKind !== null || lastEnabled.minAmountWon !== null || lastEnabled.firstPaymentOfCertificate !== null) {
    throw invalid('The last enabled rule must have no condition, so that every payment is decided by a rule you wrote.');
  }
  return rules;
}

/** The preview of `facts` under `rules`. */
export function previewOf(rules: readonly PolicyRule[], facts: PreviewFacts): PolicyPreview {
  const decision = decidePolicy(rules, { amountWon: BigInt(facts.amountWon), certificateKind: facts.certificateKind, firstPayment: facts.firstPayment });
  return { ...decision, factors: decision.requireCode ? ['password', 'device-key', 'code'] : ['password', 'device-key'] };
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

  /** What a payment with `facts` would need under the candidate rules, or the current ones. */
  async preview(actor: Actor, facts: PreviewFacts, candidate?: readonly RuleInput[]): Promise<PolicyPreview> {
    await this.deps.admin.requireAdmin(actor);
    if (!Number.isSafeInteger(facts.amountWon) || facts.amountWon < 1) throw invalid('The amount is whole won, at least 1.');
    const rules = candidate ? validatedRules(candidate).filter((r) => r.enabled) : (await this.deps.repo.currentPolicy()).rules;
    return previewOf(rules, facts);
  }

  /** Publishes `input` as the next version; the next payment is decided under it. */
  async publish(actor: Actor, input: readonly RuleInput[], reason: string): Promise<PolicyVersion> {
    await this.deps.admin.requireAdmin(actor);
    return this.write(actor, validatedRules(input), reason, null);
  }

  /** Publishes the rules of an earlier version as the next version. */
  async rollback(actor: Actor, version: number, reason: string): Promise<PolicyVersion> {
    await this.deps.admin.requireAdmin(actor);
    const earlier = await this.deps.repo.policyVersion(version);
    if (!earlier) throw new AppError('POLICY_VERSION_NOT_FOUND');
    return this.write(actor, earlier.rules.map((r) => ({ ...r, id: randomUUID() })), reason, version);
  }

  private async write(actor: Actor, rules: PolicyRule[], reason: string, restoredFrom: number | null): Promise<PolicyVersion> {
    const createdAtMs = this.deps.clock();
    for (let attempt = 1; ; attempt++) {
      try {
        const version = await runWriteTransaction(this.deps.db, this.deps.engine, async (trx) => {
          const written = await this.deps.repo.publishPolicy(trx, { rules, author: actor.userId, reason, restoredFrom, createdAtMs });
          await this.deps.audit.append(restoredFrom === null ? 'policy.changed' : 'policy.rolled-back', {
            actor: actor.userId, subject: `policy-version-${written}`,
            detail: { version: written, restoredFrom, reason, rules: rules.map((r) => `${r.priority} ${r.rule}${r.enabled ? '' : ' (disabled)'}: code ${r.requireCode ? 'asked' : 'not asked'}`) },
          }, trx);
          return written;
        });
        this.deps.repo.forgetCachedPolicy();
        return { version, rules, author: actor.userId, reason, restoredFrom, createdAtMs };
      } catch (error) {
        // Another operator took the same version number a moment earlier: write on top of theirs.
        if (!isUniqueViolation(error) || attempt >= PUBLISH_ATTEMPTS_MAX) throw error;
      }
    }
  }
}
