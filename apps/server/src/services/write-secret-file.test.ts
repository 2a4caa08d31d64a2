import * as fs from 'node:fs';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSecretFile, type SecretFileSystem } from './write-secret-file.js';

/** The real file system, recording each call as `name path` (file descriptors shown as the path they were opened with). */
function recordingFs(options: { failFsyncOf?: string } = {}): { fs: SecretFileSystem; calls: string[] } {
  const calls: string[] = [];
  const opened = new Map<number, string>();
  const recorded: SecretFileSystem = {
    openSync: ((file: string, flags: string, mode?: number) => {
      const fd = fs.openSync(file, flags, mode);
      opened.set(fd, file);
      calls.push(`open ${file}`);
      return fd;
    }) as SecretFileSystem['openSync'],
    fchmodSync: (fd, mode) => {
      calls.push(`fchmod ${opened.get(fd)}`);
      fs.fchmodSync(fd, mode);
    },
    writeFileSync: ((fd: number, data: string) => {
      calls.push(`write ${opened.get(fd)}`);
      fs.writeFileSync(fd, data);
    }) as SecretFileSystem['writeFileSync'],
    fsyncSync: (fd) => {
      calls.push(`fsync ${opened.get(fd)}`);
      if (opened.get(fd) === options.failFsyncOf) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      fs.fsyncSync(fd);
    },
    closeSync: (fd) => {
      calls.push(`close ${opened.get(fd)}`);
      fs.closeSync(fd);
    },
    renameSync: (from, to) => {
      calls.push(`rename ${String(from)} ${String(to)}`);
      fs.renameSync(from, to);
    },
  };
  return { fs: recorded, calls };
}

describe('writeSecretFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cp-secret-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves the content in a 0600 file and no temp file', () => {
    const file = path.join(dir, 'key.pem');
    writeSecretFile(file, 'secret one');
    expect(readFileSync(file, 'utf8')).toBe('secret one');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });

  it('replaces a readable file and a stale readable temp file with a 0600 file', () => {
    const file = path.join(dir, 'key.pem');
    writeFileSync(file, 'old', { mode: 0o644 });
    writeFileSync(`${file}.tmp`, 'half-written by a crash', { mode: 0o644 });
    writeSecretFile(file, 'new');
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('syncs the temp file before the rename and the folder after it', () => {
    const file = path.join(dir, 'key.pem');
    const tmp = `${file}.tmp`;
    const { fs: recorded, calls } = recordingFs();
    writeSecretFile(file, 'secret', recorded);
    expect(calls).toEqual([
      `open ${tmp}`, `fchmod ${tmp}`, `write ${tmp}`, `fsync ${tmp}`, `close ${tmp}`,
      `rename ${tmp} ${file}`,
      `open ${dir}`, `fsync ${dir}`, `close ${dir}`,
    ]);
  });

  it('keeps the old file when the temp file cannot be synced', () => {
    const file = path.join(dir, 'key.pem');
    writeFileSync(file, 'old', { mode: 0o600 });
    const { fs: recorded, calls } = recordingFs({ failFsyncOf: `${file}.tmp` });
    expect(() => writeSecretFile(file, 'new', recorded)).toThrow('EIO');
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(calls.some((c) => c.startsWith('rename'))).toBe(false);
    expect(calls.at(-1)).toBe(`close ${file}.tmp`);
  });
});
