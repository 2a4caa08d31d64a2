import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import { describe, expect, it } from 'vitest';
import { installAccessLog } from './access-log.js';

/** The redaction of app.ts, with its top-level and wildcard paths. */
const REDACT = { paths: ['req.headers.authorization', 'password', '*.password', '*.secretToken'], censor: '[redacted]' };

async function appLoggingTo(lines: string[]) {
  const stream = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
  // A fixed time, so two lines written at different moments can be compared byte for byte.
  const app = Fastify({ logger: { level: 'info', redact: REDACT, stream, timestamp: () => ',"time":1' }, logController: new LogController({ disableRequestLogging: true }) });
  installAccessLog(app);
  app.get('/things/:id', async (request) => {
    request.log.info({ password: 'hunter2', nested: { password: 'hunter3' } }, 'from the handler');
    return { ok: true };
  });
  await app.ready();
  return app;
}

describe('access log', () => {
  it('writes the line the request’s own logger would write, byte for byte', async () => {
    const lines: string[] = [];
    const app = await appLoggingTo(lines);
    try {
      const res = await app.inject({ method: 'GET', url: '/things/7?x=%22quoted%22' });
      const id = String(JSON.parse(lines.find((l) => l.includes('from the handler'))!).reqId);
      const line = lines.find((l) => l.includes('request completed'))!;
      const fields = JSON.parse(line) as Record<string, unknown>;
      expect(fields).toMatchObject({ reqId: id, method: 'GET', url: '/things/7?x=%22quoted%22', route: '/things/:id', statusCode: res.statusCode });
      // What `request.log.info(...)` (a child with the request id bound, and every redaction path) writes.
      const reference: string[] = [];
      const referenceApp = await appLoggingTo(reference);
      referenceApp.log.child({ reqId: id }).info(
        { method: 'GET', url: '/things/7?x=%22quoted%22', route: '/things/:id', statusCode: res.statusCode, ms: fields.ms },
        'request completed',
      );
      await referenceApp.close();
      expect(line).toBe(reference[0]);
    } finally {
      await app.close();
    }
  });

  it('leaves the other lines of a request redacted', async () => {
    const lines: string[] = [];
    const app = await appLoggingTo(lines);
    try {
      await app.inject({ method: 'GET', url: '/things/1' });
      const log = lines.join('');
      expect(log).toContain('from the handler');
      expect(log).not.toContain('hunter2');
      expect(log).not.toContain('hunter3');
      expect(log).toContain('[redacted]');
    } finally {
      await app.close();
    }
  });
});
