/**
 * `coconutpay x509 limbo-harness`: reads an x509-limbo suite on stdin and writes the
 * harness results document on stdout.
 */
import { runLimboSuite, type LimboSuite } from '../limbo-harness.js';
import { UsageError } from '../usage-error.js';

/** Largest suite accepted on stdin. */
export const SUITE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Runs the harness over `suiteText` and returns the JSON to print.
 *
 * @example
 * process.stdout.write(await runLimboHarness(readFileSync(0, 'utf8')));
 */
export async function runLimboHarness(suiteText: string, args: readonly string[]): Promise<string> {
  if (args.length > 0) throw new UsageError(`x509 limbo-harness takes no arguments (got ${args.join(' ')})`);
  if (suiteText.length > SUITE_BYTES_MAX) throw new UsageError('the suite on stdin is too large');
  let suite: LimboSuite;
  try {
    suite = JSON.parse(suiteText) as LimboSuite;
  } catch {
    throw new UsageError('stdin is not JSON: expected an x509-limbo suite');
  }
  if (!suite || !Array.isArray(suite.testcases)) throw new UsageError('stdin is not an x509-limbo suite (no testcases array)');
  const results = await runLimboSuite(suite);
  return `${JSON.stringify(results, null, 2)}\n`;
}
