// Prints one closing line for the whole run, "N passed, N failed, N skipped",
// from Vitest's JSON report, so CI logs end with the same figures every time.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.error(`no test report at ${file}`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const byProject = {};
for (const file of report.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    const project = file.name.includes('/e2e/') ? 'e2e' : file.name.includes('/packages/core/') ? 'core' : file.name.includes('/apps/web/') ? 'web' : file.name.includes('/apps/cli/') ? 'cli' : file.name.includes('/bench/') ? 'bench' : 'server';
    byProject[project] ??= { passed: 0, failed: 0, skipped: 0 };
    const key = t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'failed' : 'skipped';
    byProject[project][key] += 1;
  }
}
for (const [project, c] of Object.entries(byProject)) console.log(`  ${project}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
