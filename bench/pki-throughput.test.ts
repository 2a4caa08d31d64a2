/**
 * Smoke test of the PKI throughput scenario (not a timed test): with a handful of calls
 * it issues certificates through the issuing service, refuses a revoked one and accepts
 * the others with CRL status, and verifies a real receipt. Catches an API change the
 * benchmark has not followed.
 */
import { describe, expect, it } from 'vitest';
import { measurePkiThroughput } from './pki-throughput.js';

describe('PKI throughput scenario', () => {
  it('issues, validates with status and verifies a receipt, every call succeeding', async () => {
    const result = await measurePkiThroughput({ certificates: 3, checkMs: 50 });
    expect(result.issuance.calls).toBe(3);
    expect(result.chains.calls).toBeGreaterThan(0);
    expect(result.chains.crl_entries).toBe(1);
    expect(result.chains.revoked_refused_with).toContain('CERTIFICATE_REVOKED');
    expect(result.receipts.calls).toBeGreaterThan(0);
    expect(result.receipts.checks).toEqual(expect.arrayContaining(['signature', 'chain', 'timeStamp', 'statusNow']));
  }, 60_000);
});
