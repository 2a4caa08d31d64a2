/**
 * `npm run admin -- create <loginId>` (repository root): creates an operator in the
 * database the server's environment names (DATA_DIR, DATABASE_URL, CA_KEY_PASSPHRASE …)
 * and prints a one-time password, once. It is never stored in clear and must be changed
 * before any admin route answers (docs/admin.md, "The first operator"). The server's own
 * build runs the command, so the operator and its audit entry are made exactly as the
 * server would make them.
 */
import { AppError } from '@coconutpay/core/errors';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';

const USAGE = 'usage: npm run admin -- create <loginId>\n';

const [command, loginId, ...rest] = process.argv.slice(2);
if (command !== 'create' || loginId === undefined || rest.length > 0) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const app = await buildApp(loadConfig(process.env), { logger: false });
try {
  await app.ready();
  const { user, oneTimePassword } = await app.internals.accounts.createAdmin(loginId);
  process.stdout.write(
    `operator ${user.loginId} created (id ${user.id}).\n` +
      `one-time password: ${oneTimePassword}\n` +
      'It is shown only now. Log in with it, change it, enrol a certificate and log in with the certificate to use the console.\n',
  );
} catch (error) {
  process.stderr.write(`admin create: ${error instanceof AppError ? `${error.code}: ${error.message}` : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await app.close();
}
