import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caPassphrase } from './ca-passphrase.js';

describe('caPassphrase', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'cp-passphrase-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('generates one passphrase into DATA_DIR/keys, readable only by its owner, and keeps it', () => {
    const first = caPassphrase({ caKeyPassphrase: undefined, dataDir });
    const file = path.join(dataDir, 'keys', 'ca-passphrase');
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, 'utf8')).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(caPassphrase({ caKeyPassphrase: undefined, dataDir })).toBe(first);
  });

  it('uses a configured passphrase and writes nothing', () => {
    expect(caPassphrase({ caKeyPassphrase: 'from outside', dataDir })).toBe('from outside');
    expect(existsSync(path.join(dataDir, 'keys'))).toBe(false);
  });
});
