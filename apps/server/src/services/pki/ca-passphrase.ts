/**
 * The passphrase that encrypts the CA keys at rest. Production passes it from outside
 * (`CA_KEY_PASSPHRASE` or `CA_KEY_PASSPHRASE_FILE`, kept apart from the data folder's
 * backups). The quick start has none, so one is generated into `DATA_DIR/keys`
 * (0600) — the keys are then only as safe as that folder, which the log says.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../../config.js';
import { writeSecretFile } from '../write-secret-file.js';

export function caPassphrase(config: Pick<Config, 'caKeyPassphrase' | 'dataDir'>): string {
  if (config.caKeyPassphrase) return config.caKeyPassphrase;
  const file = path.join(config.dataDir, 'keys', 'ca-passphrase');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeSecretFile(file, randomBytes(32).toString('base64url'));
  }
  return readFileSync(file, 'utf8').trim();
}
