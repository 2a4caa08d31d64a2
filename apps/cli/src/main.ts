/**
 * Entry point of the `coconutpay` command line (started by bin/coconutpay.mjs).
 * The only place that reads argv, stdin, the clock and sets the exit code.
 */
import { readFileSync } from 'node:fs';
import { runAuditVerify } from './commands/audit-verify.js';
import { runCertVerify } from './commands/cert-verify.js';
import { runEvidenceVerify } from './commands/evidence-verify.js';
import { runHelp } from './commands/help.js';
import { runLimboHarness } from './commands/x509-limbo-harness.js';
import { UsageError } from './usage-error.js';

async function main(argv: readonly string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') return runHelp((text) => process.stdout.write(text));
  if (group === 'cert' && command === 'verify') {
    const { verdict, exitCode } = await runCertVerify(rest, new Date());
    process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
    return exitCode;
  }
  if (group === 'audit' && command === 'verify') {
    const { verdict, exitCode } = await runAuditVerify(rest, process.env);
    process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
    return exitCode;
  }
  if (group === 'verify') {
    const { verdict, exitCode } = await runEvidenceVerify(argv.slice(1), new Date());
    process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
    return exitCode;
  }
  if (group === 'x509' && command === 'limbo-harness') {
    process.stdout.write(await runLimboHarness(readFileSync(0, 'utf8'), rest));
    return 0;
  }
  throw new UsageError(`unknown command ${JSON.stringify(argv.slice(0, 2).join(' '))}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`coconutpay: ${error.message}\n(see coconutpay --help)\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`coconutpay: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
