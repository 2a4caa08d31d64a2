/** Operations endpoints, problem+json for every kind of bad request, headers, logs. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig, publicUrlDefaultWarning } from '../src/config.js';
import { buyerRegistration, newClient, startTestApp, type TestApp } from './helpers.js';

describe('operations endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  it('GET /healthz reports the database', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', database: 'ok' });
  });

  it('GET /metrics speaks Prometheus text with request counters by route', async () => {
    const token = 'metrics-token-for-the-operations-test';
    const m = await startTestApp({ env: { METRICS_TOKEN: token } });
    await m.app.inject({ method: 'GET', url: '/api/products' });
    const res = await m.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    await m.close();
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/coconutpay_http_requests_total\{method="GET",route="\/api\/products",status="200"\} \d+/);
    expect(res.body).toContain('process_cpu_seconds_total');
  });

  it('GET /openapi.json documents every API route with request and response schemas', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    const expected = [
      ['post', '/api/auth/register'], ['post', '/api/auth/login'], ['post', '/api/auth/logout'], ['get', '/api/me'], ['post', '/api/me/password'],
      ['get', '/api/products'], ['get', '/api/products/{id}'], ['get', '/api/products/{id}/image'], ['get', '/api/seller/products'],
      ['post', '/api/seller/products'], ['patch', '/api/seller/products/{id}'], ['put', '/api/seller/products/{id}/image'],
      ['get', '/api/cart'], ['put', '/api/cart/items/{productId}'], ['delete', '/api/cart/items/{productId}'], ['get', '/healthz'],
      ['post', '/api/orders'], ['get', '/api/orders'], ['get', '/api/orders/{id}'], ['post', '/api/orders/{id}/cancel'], ['get', '/api/seller/orders'],
      ['get', '/api/me/wallet'], ['post', '/api/me/wallet/top-ups'], ['get', '/api/me/wallet/entries'],
      ['post', '/api/certificates/master'], ['get', '/api/certificates'], ['post', '/api/certificates/{id}/revoke'], ['post', '/api/certificates/{id}/proof'],
      ['get', '/pki/ca.pem'], ['get', '/pki/crl/{file}'], ['post', '/pki/ocsp'], ['get', '/pki/ocsp/{request}'], ['post', '/pki/tsa'],
      ['post', '/api/orders/{id}/qr-sessions'], ['post', '/api/qr-sessions/claim'], ['post', '/api/qr-sessions/{id}/cancel'], ['get', '/api/qr-sessions/{id}/events'], ['get', '/api/orders/{id}/history'],
    ];
    for (const [method, route] of expected) {
      const op = doc.paths[route!]?.[method!];
      expect(op, `${method} ${route}`).toBeDefined();
      expect(Object.keys(op.responses), `${method} ${route}`).toEqual(expect.arrayContaining(['4XX', '5XX']));
    }
    for (const [route, methods] of Object.entries(doc.paths as Record<string, Record<string, { requestBody?: unknown }>>)) {
      // Actions that take no body at all: logging out, asking for a fresh challenge, cancelling an order or a QR payment, a new code.
      const bodiless = ['/api/auth/logout', '/api/certificates/challenge', '/api/orders/{id}/cancel', '/api/payments/commands/{id}/code', '/api/payments/commands/{id}/code/share', '/api/qr-sessions/{id}/cancel'];
      for (const [method, op] of Object.entries(methods)) if (['post', 'put', 'patch'].includes(method) && !bodiless.includes(route)) expect(op.requestBody, `${method} ${route}`).toBeDefined();
    }
  });

  it('serves interactive docs at /docs', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('swagger');
  });
});

describe('problem+json for bad requests', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t.close());

  const expectProblem = (res: { statusCode: number; headers: Record<string, unknown>; json(): { code: string; status: number; type: string; title: string } }, status: number, code: string) => {
    expect(res.statusCode).toBe(status);
    expect(String(res.headers['content-type'])).toContain('application/problem+json');
    const body = res.json();
    expect(body).toMatchObject({ status, code, type: `urn:coconutpay:problem:${code}` });
    expect(body.title.length).toBeGreaterThan(0);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+|node_modules|stack/i);
  };

  it('unknown API route → 404 ROUTE_NOT_FOUND', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/nothing-here' }), 404, 'ROUTE_NOT_FOUND');
    expectProblem(await t.app.inject({ method: 'DELETE', url: '/api/products' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('malformed JSON → 400 MALFORMED_JSON', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"loginId": "a",' });
    expectProblem(res, 400, 'MALFORMED_JSON');
    const empty = await t.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '' });
    expectProblem(empty, 400, 'MALFORMED_JSON');
  });

  it('prototype poisoning in JSON is refused', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/register', headers: { 'content-type': 'application/json' }, payload: '{"__proto__": {"role": "admin"}}' });
    expect(res.statusCode).toBe(400);
    expect(['MALFORMED_JSON', 'VALIDATION_FAILED']).toContain(res.json().code);
  });

  it('a body over the limit → 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(100_000) }) });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('a wrong content type → 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'loginId=a' });
    expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const form = await t.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'loginId=a' });
    expectProblem(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('missing, extra and wrong-typed fields → 400 VALIDATION_FAILED with pointers', async () => {
    const missing = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: 'abcd' } });
    expectProblem(missing, 400, 'VALIDATION_FAILED');
    expect(missing.json().errors).toContainEqual({ pointer: '/body/password', code: 'required' });
    const extra = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: 'abcd', password: 'x', userId: 'someone' } });
    expect(extra.json().errors).toContainEqual({ pointer: '/body/userId', code: 'additionalProperties' });
    const typed = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: 42, password: 'x' } });
    expect(typed.json().errors).toContainEqual({ pointer: '/body/loginId', code: 'type' });
    const array = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: '[]', headers: { 'content-type': 'application/json' } });
    expectProblem(array, 400, 'VALIDATION_FAILED');
  });

  it('an unexpected failure is a generic 500 whose cause stays in the log', async () => {
    const lines: string[] = [];
    const dir = path.join(t.dataDir, 'broken');
    const config = loadConfig({ DATA_DIR: dir, DEMO: 'off', PASSWORD_HASH_LOG_N: '10', WEB_DIST_DIR: path.join(dir, 'none') });
    const app = await buildApp(config, { logger: { stream: new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }) } });
    await app.internals.database.db.schema.dropTable('cart_items').execute();
    await app.internals.database.db.schema.dropTable('products').execute();
    const res = await app.inject({ method: 'GET', url: '/api/products' });
    await app.close();
    expectProblem(res, 500, 'INTERNAL_ERROR');
    expect(res.body).not.toMatch(/products|sqlite|no such table/i);
    expect(lines.join('')).toMatch(/no such table/);
  });
});

describe('headers and logs', () => {
  it('sends security headers, a strict CSP and a request id; serves the web app for client routes', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dist = path.join(mkdtempSync(path.join(tmpdir(), 'cp-web-')), 'dist');
    mkdirSync(path.join(dist, 'assets'), { recursive: true });
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>CoconutPay</title><div id="app"></div>');
    writeFileSync(path.join(dist, 'assets', 'app-abc123.js'), 'console.log(1)');
    const web = await startTestApp({ env: { WEB_DIST_DIR: dist } });
    try {
      const page = await web.app.inject({ method: 'GET', url: '/products/123', headers: { accept: 'text/html' } });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('CoconutPay');
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['x-frame-options']).toBeDefined();
      expect(page.headers['referrer-policy']).toBeDefined();
      expect(page.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const asset = await web.app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
      expect(asset.headers['cache-control']).toContain('immutable');
      const apiMiss = await web.app.inject({ method: 'GET', url: '/api/missing', headers: { accept: 'text/html' } });
      expect(apiMiss.json().code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await web.close();
    }
  });

  it('logs one line per answered request, with its id, route, status and time', async () => {
    const lines: string[] = [];
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-log-'));
    const config = loadConfig({ DATA_DIR: dir, DEMO: 'off', PASSWORD_HASH_LOG_N: '10', WEB_DIST_DIR: path.join(dir, 'none') });
    const app = await buildApp(config, { logger: { stream: new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }) } });
    try {
      lines.length = 0;
      const res = await app.inject({ method: 'GET', url: '/api/products?page=1' });
      const mine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === res.headers['x-request-id']);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ msg: 'request completed', method: 'GET', url: '/api/products?page=1', route: '/api/products', statusCode: 200 });
      expect(typeof mine[0]!.ms).toBe('number');
    } finally {
      await app.close();
    }
  });

  it('never writes passwords, tokens or proofs to the log', async () => {
    const lines: string[] = [];
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-log-'));
    const config = loadConfig({ DATA_DIR: dir, DEMO: 'off', PASSWORD_HASH_LOG_N: '10', LOG_LEVEL: 'trace', WEB_DIST_DIR: path.join(dir, 'none') });
    const app = await buildApp(config, { logger: { stream: new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }) } });
    const t = { app, clock: { nowMs: Date.now(), now: Date.now, advance() {} }, config, dataDir: dir, close: () => app.close() } as unknown as TestApp;
    const reg = buyerRegistration();
    await app.inject({ method: 'POST', url: '/api/auth/register', payload: reg });
    const login = (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: reg.loginId, password: reg.password } })).json();
    const client = await newClient(t, 'buyer');
    await client.get('/api/me');
    await app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId: reg.loginId, password: 'wrong password 123' } });
    await app.close();
    const log = lines.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [reg.password, 'wrong password 123', login.secretToken, login.publicToken, client.publicToken]) expect(log).not.toContain(secret);
  });
});

describe('configuration', () => {
  it('has documented defaults and is frozen', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', databaseEngine: 'sqlite', demoData: true, publicUrl: 'http://localhost:3000' });
    expect(c.databaseUrl).toMatch(/^sqlite:.*data\/coconutpay\.db$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every invalid variable at once', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'oracle://x', DEMO: 'maybe', TLS_CERT_FILE: '/x' });
      throw new Error('should have thrown');
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'DEMO', 'TLS_CERT_FILE']) expect(message).toContain(name);
    }
  });

  it('creates no demo data on PostgreSQL or MariaDB, or with DEMO=off', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).demoData).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'mysql://u@h/db' }).demoData).toBe(false);
    expect(loadConfig({ DEMO: 'off' }).demoData).toBe(false);
  });

  it('reads the database URL from a *_FILE path', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cp-cfg-')), 'url');
    writeFileSync(file, 'postgres://u@h/secretdb\n');
    expect(loadConfig({ DATABASE_URL_FILE: file }).databaseUrl).toBe('postgres://u@h/secretdb');
  });

  it('knows when PUBLIC_URL is left at its localhost default, and warns about it in one line', () => {
    const byDefault = loadConfig({ PORT: '8080' });
    expect(byDefault).toMatchObject({ publicUrl: 'http://localhost:8080', publicUrlIsDefault: true, production: false });
    const warning = publicUrlDefaultWarning(byDefault)!;
    expect(warning).not.toContain('\n');
    for (const words of ['PUBLIC_URL', 'http://localhost:8080', 'CRL', 'OCSP', 'every certificate', 'the address users reach']) expect(warning).toContain(words);
    const chosen = loadConfig({ PUBLIC_URL: 'https://pay.example.test/' });
    expect(chosen).toMatchObject({ publicUrl: 'https://pay.example.test', publicUrlIsDefault: false });
    expect(publicUrlDefaultWarning(chosen)).toBeUndefined();
    // An empty variable is an unset one.
    expect(loadConfig({ PUBLIC_URL: '' }).publicUrlIsDefault).toBe(true);
    expect(loadConfig({}, { publicUrl: 'http://127.0.0.1:4000' }).publicUrlIsDefault).toBe(false);
  });

  it('refuses the localhost PUBLIC_URL default under NODE_ENV=production, listed with the other problems', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return undefined;
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^PUBLIC_URL: must be set when NODE_ENV=production.*CRL and OCSP/)]);
    expect(problems({ NODE_ENV: 'production', PUBLIC_URL: '' })).toHaveLength(1);
    const several = problems({ NODE_ENV: 'production', PORT: 'eighty' })!;
    expect(several).toHaveLength(2);
    expect(several.join('\n')).toMatch(/PORT[\s\S]*PUBLIC_URL/);
    expect(loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://pay.example.test' })).toMatchObject({ production: true, publicUrlIsDefault: false });
    for (const other of ['development', 'test']) expect(loadConfig({ NODE_ENV: other }).publicUrlIsDefault).toBe(true);
  });
});
