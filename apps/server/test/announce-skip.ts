/**
 * What a test file does when something it needs (a database, Redis, Chromium) is not
 * there: on a developer's machine it says so loudly and skips; in CI (`CI=true`) a
 * skip would let a missing service pass unnoticed, so it fails the run instead.
 */

/** Options for {@link announceSkip}; tests pass their own env and output. */
export interface SkipContext {
  env?: Readonly<Record<string, string | undefined>>;
  write?: (line: string) => void;
}

/** True when skipping is not allowed: the run is in CI, where every service must be present. */
export function skipRefused(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return env.CI === 'true';
}

/**
 * Announces that the `what` tests are skipped because of `reason`, or throws when
 * {@link skipRefused} says the run may not skip them.
 *
 * @example
 * if (!process.env.REDIS_URL) announceSkip('Redis replay-cache', 'REDIS_URL is not set');
 */
export function announceSkip(what: string, reason: string, context: SkipContext = {}): void {
  const { env = process.env, write = (line: string) => process.stderr.write(line) } = context;
  if (skipRefused(env)) throw new Error(`${what} tests may not be skipped in CI: ${reason}`);
  write(`\n*** SKIPPED: ${what} tests — ${reason}; in CI this fails the run. ***\n\n`);
}
