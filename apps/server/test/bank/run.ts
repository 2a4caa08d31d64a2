/**
 * `npm run test:bank`: the full bank test on every engine configured (SQLite always;
 * PostgreSQL and MariaDB with POSTGRES_URL / MARIADB_URL), one after another. Prints the
 * seed first and the report last; exits 1 on any violation. `--seed=N` replays a run's
 * schedule, `--seconds=N`, `--crashes=N`, `--workers=N` and `--engines=sqlite,postgres`
 * reshape it.
 */
import { randomInt } from 'node:crypto';
import { enginesUnderTest } from '../helpers.js';
import { FULL_RUN, formatReport, runBankOnEngine, type EngineReport } from './harness.js';

function option(name: string): string | undefined {
  return process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

async function main(): Promise<number> {
  const seed = option('seed') === undefined ? randomInt(1, 2 ** 31) : Number(option('seed'));
  if (!Number.isSafeInteger(seed)) throw new Error('--seed must be an integer');
  const wanted = option('engines')?.split(',');
  const engines = enginesUnderTest().filter((e) => !wanted || wanted.includes(e.engine) || (e.engine === 'mysql' && wanted.includes('mariadb')));
  const shape = {
    ...FULL_RUN,
    seed,
    ...(option('seconds') ? { durationMs: Number(option('seconds')) * 1000 } : {}),
    ...(option('crashes') ? { crashesMin: Number(option('crashes')) } : {}),
    ...(option('workers') ? { workers: Number(option('workers')) } : {}),
    log: (line: string) => process.stdout.write(`${line}\n`),
  };
  process.stdout.write(`bank test: seed ${seed} (replay with --seed=${seed}); ${shape.durationMs / 1000} s and at least ${shape.crashesMin} crashes per engine; engines ${engines.map((e) => e.engine).join(', ')}\n`);
  const reports: EngineReport[] = [];
  for (const engine of engines) reports.push(await runBankOnEngine(engine, shape));
  process.stdout.write(`\n${formatReport(reports)}\n\nseed ${seed}\n`);
  const violations = reports.reduce((n, r) => n + r.violations.length, 0);
  process.stdout.write(violations === 0 ? 'bank test passed: no violations\n' : `bank test FAILED: ${violations} violations\n`);
  return violations === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(2);
});
