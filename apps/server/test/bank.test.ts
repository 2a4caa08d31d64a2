/**
 * The bank test, shortened for `npm test` (docs/bank-test.md): the same harness and checks
 * as `npm run test:bank`, about 12 seconds and at least two SIGKILLs per engine instead of
 * 60 seconds and five. The seed is printed so that a failure here can be replayed in full
 * with `npm run test:bank -- --seed=N`.
 */
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { enginesUnderTest } from './helpers.js';
import { formatReport, runBankOnEngine, SHORT_RUN } from './bank/harness.js';

describe('bank test (short): SIGKILL and restart under concurrent signed payments', () => {
  for (const engine of enginesUnderTest()) {
    it(`${engine.engine}: no money lost or made, every acknowledged payment kept once, no key with two effects`, async () => {
      const seed = process.env.BANK_SEED ? Number(process.env.BANK_SEED) : randomInt(1, 2 ** 31);
      process.stdout.write(`bank test (${engine.engine}): seed ${seed}\n`);
      const report = await runBankOnEngine(engine, { ...SHORT_RUN, seed });
      process.stdout.write(`${formatReport([report])}\n`);
      expect(report.crashes).toBeGreaterThanOrEqual(SHORT_RUN.crashesMin);
      // A run in which nothing was paid, or no crash hit a request in flight, would check little.
      expect(report.acknowledgedPayments).toBeGreaterThan(0);
      expect(report.violations, `seed ${seed}`).toEqual([]);
    }, 240_000);
  }
});
