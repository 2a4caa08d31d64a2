import { describe, expect, it } from 'vitest';
import { announceSkip, skipRefused } from './announce-skip.js';

describe('announceSkip', () => {
  it('refuses to skip only when CI is exactly "true"', () => {
    expect(skipRefused({ CI: 'true' })).toBe(true);
    expect(skipRefused({})).toBe(false);
    expect(skipRefused({ CI: '' })).toBe(false);
    expect(skipRefused({ CI: 'false' })).toBe(false);
  });

  it('throws in CI, naming what would have been skipped and why, and prints nothing', () => {
    const lines: string[] = [];
    expect(() => announceSkip('PostgreSQL', 'POSTGRES_URL is not set', { env: { CI: 'true' }, write: (l) => lines.push(l) }))
      .toThrow('PostgreSQL tests may not be skipped in CI: POSTGRES_URL is not set');
    expect(lines).toEqual([]);
  });

  it('outside CI prints a loud SKIPPED line and returns', () => {
    const lines: string[] = [];
    announceSkip('MariaDB', 'MARIADB_URL is not set', { env: {}, write: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('*** SKIPPED: MariaDB tests — MARIADB_URL is not set');
  });
});
