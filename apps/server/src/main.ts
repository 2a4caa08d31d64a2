/**
 * Process entry: the only reader of `process.env` and the only caller of `listen`.
 */
import { buildApp } from './app.js';
import { ConfigError, loadConfig, publicUrlDefaultWarning } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = await buildApp(config, {
    // After an I/O failure (a failed sync, say) nothing written can be trusted to be on disk:
    // stop taking work at once (no graceful drain) and exit non-zero, so a restart recovers from the disk.
    onFatal: () => {
      process.stderr.write('CoconutPay stops: the database reported an I/O failure (a commit may not be on disk). Restart to recover from what is on disk.\n');
      process.exit(70);
    },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.log.info({ signal }, 'shutting down');
      void app.close().then(() => process.exit(0));
    });
  }
  await app.listen({ port: config.port, host: config.host });
  if (config.metricsAddress && app.internals.metricsApp) {
    await app.internals.metricsApp.listen(config.metricsAddress);
    app.log.info(`metrics are served at http://${config.metricsAddress.host}:${config.metricsAddress.port}/metrics`);
  }
  app.log.info(`CoconutPay is running at ${config.publicUrl} (database: ${config.databaseEngine})`);
  const publicUrlWarning = publicUrlDefaultWarning(config);
  if (publicUrlWarning) app.log.warn(publicUrlWarning);
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
