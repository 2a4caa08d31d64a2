/**
 * A mistake in how the CLI was called (unknown flag, missing value, unreadable
 * file). Commands throw it; `main` prints the message and exits with code 2.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
