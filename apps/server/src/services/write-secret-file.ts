/**
 * Writing a secret (a key, a passphrase, a certificate beside its key) so that a crash
 * at any moment leaves either the old file or the new one, complete, readable only by
 * its owner: write a temp file, fsync it, rename it over the target, fsync the folder
 * so the rename itself is on disk.
 */
import * as nodeFs from 'node:fs';
import path from 'node:path';

/** The parts of `node:fs` {@link writeSecretFile} uses; tests pass a recording one. */
export type SecretFileSystem = Pick<typeof nodeFs, 'openSync' | 'fchmodSync' | 'writeFileSync' | 'fsyncSync' | 'closeSync' | 'renameSync'>;

/**
 * Replaces `file` with `text`, mode 0600, durably and atomically.
 *
 * @example
 * writeSecretFile(path.join(dataDir, 'keys', 'ca-passphrase'), passphrase);
 */
export function writeSecretFile(file: string, text: string, fs: SecretFileSystem = nodeFs): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    // A temp file left by an earlier crash keeps its old mode through open(); set it.
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
