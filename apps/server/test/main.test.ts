/**
 * The process entry in a real child process, its log read line by line. Only what main.ts
 * itself decides is checked here (start-up warnings, refusing to start); everything behind
 * buildApp is tested through app.inject() elsewhere. It runs the sources through tsx (with
 * the "source" condition, so core is read from src/ too): `npm start` runs the same code
 * compiled, and layering.test.ts checks that it needs no devDependency.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = path.join(ROOT, 'apps/server/src/main.ts');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const START_TIMEOUT_MS = 45_000;

interface Started {
  /** Everything written so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Resolves with the listening URL, or rejects when the process ends first. */
  listening: Promise<string>;
  stop(): void;
}

/** Starts main.ts with a fresh data folder; PUBLIC_URL and NODE_ENV only as given. */
function startMain(env: Record<string, string>): Started {
  const inherited = { ...process.env };
  // vitest sets NODE_ENV=test; the entry must see only what each test gives it.
  delete inherited.NODE_ENV;
  delete inherited.PUBLIC_URL;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cp-main-'));
  const child = spawn(TSX, ['--conditions=source', MAIN], {
    cwd: ROOT,
    env: {
      ...inherited, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', DEMO: 'off', PASSWORD_HASH_LOG_N: '10', LOG_LEVEL: 'info',
      CA_KEY_PASSPHRASE: 'test CA passphrase, long enough', WEB_DIST_DIR: path.join(dataDir, 'no-web'), ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  let onText = () => {};
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
      onText();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within ${START_TIMEOUT_MS} ms:\n${text}`)), START_TIMEOUT_MS);
    onText = () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${text}`));
    });
  });
  return { output: () => text, exited, listening, stop: () => child.kill('SIGTERM') };
}

/** The log lines (pino JSON) whose message matches. */
function linesMatching(output: string, pattern: RegExp): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => typeof line.msg === 'string' && pattern.test(line.msg));
}

/** Waits until the "running at" line, which main.ts writes just before its warnings. */
async function untilRunning(started: Started): Promise<void> {
  for (let i = 0; i < 100 && !/CoconutPay is running at/.test(started.output()); i++) await new Promise((r) => setTimeout(r, 50));
}

describe('npm start (main.ts)', () => {
  it('warns once per start, at warn level, when PUBLIC_URL is left at its localhost default', async () => {
    const started = startMain({});
    try {
      const url = await started.listening;
      await untilRunning(started);
      // Requests add no further warnings: the warning is about the start, not about traffic.
      for (let i = 0; i < 3; i++) expect((await fetch(`${url}/healthz`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      const warnings = linesMatching(started.output(), /PUBLIC_URL/);
      expect(warnings, started.output()).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40 });
      expect(warnings[0]!.msg).toMatch(/http:\/\/localhost:0 is baked into every certificate's CRL and OCSP URLs.*set PUBLIC_URL to the address users reach/);
    } finally {
      started.stop();
      await started.exited;
    }
  }, 60_000);

  it('does not warn when PUBLIC_URL is set', async () => {
    const started = startMain({ PUBLIC_URL: 'https://pay.example.test' });
    try {
      await started.listening;
      await untilRunning(started);
      expect(started.output()).toContain('CoconutPay is running at https://pay.example.test');
      expect(linesMatching(started.output(), /PUBLIC_URL/)).toEqual([]);
    } finally {
      started.stop();
      await started.exited;
    }
  }, 60_000);

  it('refuses to start under NODE_ENV=production without PUBLIC_URL, as a configuration error', async () => {
    const started = startMain({ NODE_ENV: 'production' });
    try {
      const outcome = await Promise.race([started.exited.then((code) => ({ code })), started.listening.then(() => 'listening', () => 'ended')]);
      expect(outcome, started.output()).toEqual({ code: 2 });
      expect(started.output()).toMatch(/invalid configuration:\n\s+PUBLIC_URL: must be set when NODE_ENV=production/);
      expect(started.output()).not.toMatch(/Server listening/);
    } finally {
      started.stop();
      await started.exited;
    }
  }, 60_000);
});
