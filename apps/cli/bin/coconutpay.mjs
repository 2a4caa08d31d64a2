#!/usr/bin/env node
// Runs the CLI, passing the arguments through, inheriting stdio, and exiting with the
// child's exit code. In a checkout with its devDependencies (tsx installed) it runs the
// TypeScript sources, with the "source" export condition so that @coconutpay/core is read
// from src/ too: an edit needs no build and a stale dist/ is never used. Installed without
// devDependencies it runs the compiled dist/main.js (`npm run build:server` builds it).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

function tsxLoader() {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return null;
  }
}

const loader = tsxLoader();
const compiled = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let nodeArgs;
if (loader) nodeArgs = ['--conditions=source', '--import', loader, fileURLToPath(new URL('../src/main.ts', import.meta.url))];
else if (existsSync(compiled)) nodeArgs = [compiled];
else {
  process.stderr.write('coconutpay: not built; run `npm run build:server` first\n');
  process.exit(2);
}
const child = spawn(process.execPath, [...nodeArgs, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  process.stderr.write(`coconutpay: cannot start: ${error.message}\n`);
  process.exit(2);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 2));
});
