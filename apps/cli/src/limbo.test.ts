import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLimboCase, type LimboCase, type LimboResult, type LimboSuite } from './limbo-harness.js';
import { sharedVectorPath } from '../../../test-support/shared-vectors.js';

// The suite lives beside the checkout (test-support/shared-vectors.ts), never copied into it.
const SUITE_PATH = sharedVectorPath('x509-limbo/limbo.json');
const suite = JSON.parse(readFileSync(SUITE_PATH, 'utf8')) as LimboSuite;

/** Suite size at the pinned commit; a different count means the vectors changed under us. */
const CASES_EXPECTED = 207;
/** The protocol's per-case limit. */
const CASE_TIME_MS_MAX = 2000;
/** Groups of WebPKI (CA/B Forum) rules, where a case may be SKIPPED with a reason. */
const WEBPKI_GROUPS: ReadonlySet<string> = new Set(['webpki']);

/**
 * Cases outside the WebPKI groups where CoconutPay deliberately answers differently,
 * each with its reason. The test fails if any other case disagrees, and also if one
 * of these starts agreeing, so the list stays honest.
 */
const KNOWN_DISAGREEMENTS: ReadonlyMap<string, string> = new Map([
  [
    'rfc5280::aki::cross-signed-root-missing-aki',
    'contradicts cve::cve-2024-0567, whose trusted "Root A" is equally not self-issued and lacks an AKI yet must validate; trust anchors are exempt from the AKI-presence rule (see C2SP/x509-limbo#598)',
  ],
]);

function groupOf(id: string): string {
  return id.split('::')[0] ?? id;
}

interface Outcome {
  result: LimboResult;
  elapsedMs: number;
}

const outcomes = new Map<string, Outcome>();

beforeAll(async () => {
  // One case at a time, so each timing is the case's own.
  for (const testCase of suite.testcases) {
    const started = performance.now();
    const result = await runLimboCase(testCase);
    outcomes.set(testCase.id, { result, elapsedMs: performance.now() - started });
  }
}, 300_000);

afterAll(() => {
  const counts = new Map<string, { agree: number; disagree: number; skip: number }>();
  let slowest = { id: '', elapsedMs: 0 };
  for (const testCase of suite.testcases) {
    const outcome = outcomes.get(testCase.id);
    if (!outcome) continue;
    const entry = counts.get(groupOf(testCase.id)) ?? { agree: 0, disagree: 0, skip: 0 };
    if (outcome.result.actual_result === 'SKIPPED') entry.skip++;
    else if (outcome.result.actual_result === testCase.expected_result) entry.agree++;
    else entry.disagree++;
    counts.set(groupOf(testCase.id), entry);
    if (outcome.elapsedMs > slowest.elapsedMs) slowest = { id: testCase.id, elapsedMs: outcome.elapsedMs };
  }
  const total = [...counts.values()].reduce((sum, entry) => ({ agree: sum.agree + entry.agree, disagree: sum.disagree + entry.disagree, skip: sum.skip + entry.skip }), { agree: 0, disagree: 0, skip: 0 });
  const lines = [...counts.entries()].map(([group, entry]) => `  ${group.padEnd(14)} agree ${entry.agree}  disagree ${entry.disagree}  skip ${entry.skip}`);
  console.log(
    `x509-limbo (${outcomes.size} cases)\n${lines.join('\n')}\n  ${'total'.padEnd(14)} agree ${total.agree}  disagree ${total.disagree}  skip ${total.skip}\n  slowest case: ${slowest.id} ${slowest.elapsedMs.toFixed(0)} ms`,
  );
});

describe('x509-limbo through the coconutpay harness', () => {
  it(`holds all ${CASES_EXPECTED} cases`, () => {
    expect(suite.testcases).toHaveLength(CASES_EXPECTED);
    expect(new Set(suite.testcases.map((testCase) => testCase.id)).size).toBe(CASES_EXPECTED);
  });

  it('lists only known case ids as known disagreements, none of them in a WebPKI group', () => {
    const ids = new Set(suite.testcases.map((testCase) => testCase.id));
    for (const [id, why] of KNOWN_DISAGREEMENTS) {
      expect(ids.has(id), id).toBe(true);
      expect(WEBPKI_GROUPS.has(groupOf(id)), id).toBe(false);
      expect(why.length).toBeGreaterThan(20);
    }
  });

  it.each(suite.testcases.map((testCase): [string, LimboCase] => [testCase.id, testCase]))('%s', (id, testCase) => {
    const outcome = outcomes.get(id);
    expect(outcome, 'the case did not run').toBeDefined();
    const { result, elapsedMs } = outcome as Outcome;
    expect(result.id).toBe(id);
    expect(elapsedMs, `${id} took ${elapsedMs.toFixed(0)} ms`).toBeLessThan(CASE_TIME_MS_MAX);
    expect(result.context.trim().length, 'every result needs a context').toBeGreaterThan(0);
    const known = KNOWN_DISAGREEMENTS.get(id);
    if (result.actual_result === 'SKIPPED') {
      // Only WebPKI rules may be skipped, and only with a written reason.
      expect(WEBPKI_GROUPS.has(groupOf(id)), `${id} may not be skipped: ${result.context}`).toBe(true);
      expect(result.context.length).toBeGreaterThan(20);
      return;
    }
    if (known) {
      expect(result.actual_result, `${id} now agrees; remove it from KNOWN_DISAGREEMENTS`).not.toBe(testCase.expected_result);
      return;
    }
    expect(result.actual_result, `${id}: ${result.context}`).toBe(testCase.expected_result);
  });
});
