import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import { describe, expect, it } from 'vitest';
import { requestChildLogger } from './request-logger.js';

/** Top-level and wildcard paths, as in app.ts. */
const REDACT = { paths: ['req.headers.authorization', 'password', '*.password', '*.secretToken'], censor: '[redacted]' };

async function appLoggingTo(lines: string[], factory: boolean) {
  const stream = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
  const app = Fastify({
    // A fixed time and request id, so the lines of two apps can be compared byte for byte.
    logger: { level: 'info', redact: REDACT, stream, timestamp: () => ',"time":1' },
    genReqId: () => 'id-"quoted"-\u00e9',
    logController: new LogController({ disableRequestLogging: true }),
    ...(factory ? { childLoggerFactory: requestChildLogger } : {}),
  });
  app.get('/', async (request) => {
    request.log.info({ password: 'hunter2', nested: { password: 'hunter3', secretToken: 's3' }, reqId: 'again' }, 'from the handler');
    request.log.child({ step: 'inner' }).warn({ body: { password: 'hunter4' } }, 'from a grandchild');
    expect((request.log as unknown as { bindings(): object }).bindings()).toEqual({ reqId: 'id-"quoted"-\u00e9' });
    return { ok: true };
  });
  await app.ready();
  return app;
}

describe('requestChildLogger', () => {
  it('writes every line of a request as pino’s own child would, redaction included', async () => {
    const ours: string[] = [];
    const pinos: string[] = [];
    for (const [lines, factory] of [[ours, true], [pinos, false]] as const) {
      const app = await appLoggingTo(lines, factory);
      const res = await app.inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(200);
      await app.close();
    }
    expect(ours.length).toBeGreaterThanOrEqual(2);
    expect(ours).toEqual(pinos);
    const log = ours.join('');
    expect(log).toContain('"reqId":"id-\\"quoted\\"-\u00e9"');
    for (const secret of ['hunter2', 'hunter3', 'hunter4', 's3']) expect(log).not.toContain(secret);
  });

  it('leaves other bindings and child options to pino', () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const app = Fastify({ logger: { level: 'info', redact: REDACT, stream, timestamp: () => ',"time":1' } });
    const child = requestChildLogger.call(app, app.log, { reqId: 'a', password: 'hunter5' }, {}, undefined as never);
    child.info('bound');
    const quiet = requestChildLogger.call(app, app.log, { reqId: 'b' }, { level: 'error' }, undefined as never);
    quiet.info('not written');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"reqId":"a"');
    expect(lines[0]).toContain('"password":"[redacted]"');
    void app.close();
  });
});
