/**
 * The server under test, as its own process: the real app (`buildApp`) with the
 * shipped configuration from the environment the orchestrator passes, listening on
 * 127.0.0.1. Adds one route for the HTTP ceiling: an authenticated POST that does
 * nothing, so "the HTTP round trips alone" pass the same hooks (body parser, dual-token
 * authentication, validation, idempotency, metrics, logging) as the payment routes;
 * and its anonymous twin, for the dual-token overhead (both exist in this process only).
 *
 * IPC: sends {type:'ready', port}; answers {type:'mark'} with CPU time, event loop
 * utilisation and memory; profiles the main thread between {type:'profile-start'} and
 * {type:'profile-stop', file}; exits cleanly on {type:'stop'}.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { Type } from '@sinclair/typebox';
import { buildApp } from '../apps/server/src/app.js';
import { loadConfig } from '../apps/server/src/config.js';
import { ECHO_PATH, ECHO_PUBLIC_PATH } from './lib/messages.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await buildApp(config);
  const echoSchema = { hide: true, body: Type.Object({ pad: Type.String({ maxLength: 65_536 }) }, { additionalProperties: false }), response: { 200: Type.Object({ ok: Type.Boolean() }) } };
  app.post(ECHO_PATH, { preValidation: app.authenticate, schema: echoSchema }, async () => ({ ok: true }));
  // The same route without the session check, for the dual-token overhead. Like every
  // unauthenticated route of the product it answers to the `public` rate limit (lifted
  // for the run, but still counted): what an anonymous request costs here, it costs there.
  app.post(ECHO_PUBLIC_PATH, { schema: echoSchema }, async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');

  const profiler = new Session();
  process.on('message', (message: { type: string; file?: string }) => {
    if (message.type === 'profile-start') {
      profiler.connect();
      void profiler.post('Profiler.enable').then(() => profiler.post('Profiler.start'));
    } else if (message.type === 'profile-stop') {
      void profiler.post('Profiler.stop').then(({ profile }) => {
        writeFileSync(message.file!, JSON.stringify(profile));
        profiler.disconnect();
      });
    } else if (message.type === 'mark') {
      process.send!({
        type: 'mark',
        cpu: process.cpuUsage(),
        elu: performance.eventLoopUtilization(),
        memory: process.memoryUsage(),
        wallMs: performance.now(),
        verifier: app.internals.verifier.stats(),
        groupCommit: app.internals.database.groupCommit?.counts ?? null,
      });
    } else if (message.type === 'stop') {
      void app.close().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready', port: address.port });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
