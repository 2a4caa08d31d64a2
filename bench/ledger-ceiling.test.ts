/**
 * The ledger ceiling and the payment's other durable steps really run (a small count on
 * SQLite, not timed), and the report's budget line adds up what they measured.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { measureLedgerCeiling } from './ledger-ceiling.js';
import { budgetOf, type EngineResult } from './lib/report.js';

describe('ledger ceiling with the order, command and protocol steps', () => {
  it('creates every order under a claimed Idempotency-Key (the answer stored with the order, or the step throws), commands and pays it, runs the request and authorization steps, and reports each step as a rate and CPU per call', async () => {
    const result = await measureLedgerCeiling('sqlite', 24, 4);
    expect(result.payments).toBe(24);
    expect(result.per_s).toBeGreaterThan(0);
    expect(result.cpu_us).toBeGreaterThan(0);
    for (const step of [result.steps!.order, result.steps!.command, result.steps!.request!, result.steps!.authorize!]) {
      expect(step.per_s).toBeGreaterThan(0);
      expect(step.cpu_us).toBeGreaterThan(0);
    }
  }, 60_000);
});

describe('the report budget line', () => {
  const recorded = JSON.parse(readFileSync(new URL('./results/2026-12-07-sqlite.json', import.meta.url), 'utf8')) as EngineResult;

  it('is absent for a run recorded before the steps were measured', () => {
    expect(budgetOf(recorded)).toBeNull();
  });

  it('adds the parts, finds the least CPU per payment, and adds the steps to the floor', () => {
    const r = structuredClone(recorded);
    const c = r.details.ceilings;
    c.http.server.cpu_us_per_payment = 400;
    c.crypto.server.us_per_payment = 450;
    c.ledger.per_s = 4000; // 250 µs
    c.ledger.cpu_us = 200;
    c.ledger.steps = { order: { per_s: 3000, cpu_us: 300 }, command: { per_s: 5000, cpu_us: 150 } };
    r.details.runs = r.details.runs.map((run, i) => ({ ...run, server: { ...run.server, cpu_us_per_payment: 3000 - i * 100 } }));
    const least = r.details.runs.at(-1)!;
    const line = budgetOf(r)!;
    expect(line).toContain('= 1100 µs');
    expect(line).toContain(`${3000 - (r.details.runs.length - 1) * 100} µs per payment at its least (${least.concurrency} clients)`);
    // 400 + 450 + 200 + 300 + 150
    expect(line).toContain('the floor is 1500 µs: 1.36 × the parts');
    expect(line).not.toContain('whole server side');
    expect(line).toContain('the order 300 µs of CPU (3000/s)');
    c.ledger.steps.order.with_key = true;
    expect(budgetOf(r)).toContain('the order 300 µs of CPU (3000/s, its Idempotency-Key claimed and its answer stored)');
  });

  it('adds the whole server side when the request and authorization steps were measured', () => {
    const r = structuredClone(recorded);
    const c = r.details.ceilings;
    c.http.server.cpu_us_per_payment = 400;
    c.ledger.cpu_us = 200;
    c.ledger.steps = { order: { per_s: 3000, cpu_us: 300 }, command: { per_s: 5000, cpu_us: 150 }, request: { per_s: 1500, cpu_us: 700 }, authorize: { per_s: 1000, cpu_us: 1100 } };
    r.details.runs = r.details.runs.map((run) => ({ ...run, server: { ...run.server, cpu_us_per_payment: 2900 } }));
    const line = budgetOf(r)!;
    // 400 + 300 + 700 + 1100 = 2500 µs: 400 payments/s on one core; 2900 - 2500 = 400 more
    expect(line).toContain('400 + the order 300 + the request 700 (1500/s) + the authorization 1100 (1000/s) = 2500 µs, at most 400 payments/s on one core; the payment runs spent 400 µs more');
    // A run that spent less than the steps alone says so, not "-100 µs more".
    r.details.runs = r.details.runs.map((run) => ({ ...run, server: { ...run.server, cpu_us_per_payment: 2400 } }));
    expect(budgetOf(r)).toContain('the payment runs spent 100 µs less at their least (each step alone ran at another moment of the machine');
  });
});
