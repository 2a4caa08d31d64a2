/**
 * `/metrics` is never open to whoever reaches the API (issue 10, item 5): by default it
 * is not served; METRICS_TOKEN serves it on the main listener to that bearer token only;
 * METRICS_ADDRESS serves it on a listener of its own, which carries nothing else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { bearerTokenMatches } from '../src/http/metrics.js';
import { startTestApp, type TestApp } from './helpers.js';

const TOKEN = 'a-metrics-token-of-at-least-32-characters';

describe('/metrics', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('is not served at all without a token or an address', async () => {
    t = await startTestApp();
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ROUTE_NOT_FOUND');
    expect(t.app.internals.metricsApp).toBeUndefined();
  });

  it('with METRICS_TOKEN, answers only that bearer token on the main listener', async () => {
    t = await startTestApp({ env: { METRICS_TOKEN: TOKEN } });
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, TOKEN]) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().code).toBe('METRICS_TOKEN_INVALID');
    }
    const ok = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('coconutpay_http_requests_total');
  });

  it('with METRICS_ADDRESS, is served on its own listener and not on the main one', async () => {
    t = await startTestApp({ env: { METRICS_ADDRESS: '127.0.0.1:0' } });
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    const metricsApp = t.app.internals.metricsApp!;
    await metricsApp.listen({ host: '127.0.0.1', port: 0 });
    const address = metricsApp.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await t.app.inject({ method: 'GET', url: '/healthz' });
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/coconutpay_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    // Nothing of the API lives there.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/api/products`)).status).toBe(404);
  });

  it('with both, the token is asked for on the metrics listener too', async () => {
    t = await startTestApp({ env: { METRICS_ADDRESS: '127.0.0.1:0', METRICS_TOKEN: TOKEN } });
    const metricsApp = t.app.internals.metricsApp!;
    expect((await metricsApp.inject({ method: 'GET', url: '/metrics' })).json().code).toBe('METRICS_TOKEN_INVALID');
    expect((await metricsApp.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
  });
});

describe('metrics configuration', () => {
  it('reads host and port, IPv6 in brackets, and the token from a file variable', () => {
    expect(loadConfig({ METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(loadConfig({ METRICS_ADDRESS: '[::1]:9464' }).metricsAddress).toEqual({ host: '::1', port: 9464 });
    expect(loadConfig({}).metricsAddress).toBeUndefined();
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });

  it('refuses a short token, an address without a port and a port past 65535', () => {
    for (const env of [{ METRICS_TOKEN: 'short' }, { METRICS_ADDRESS: 'localhost' }, { METRICS_ADDRESS: '127.0.0.1:70000' }]) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
    }
  });

  it('compares bearer tokens exactly', () => {
    expect(bearerTokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerTokenMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    for (const header of [undefined, '', 'Bearer', `Bearer ${TOKEN} `, `Bearer  ${TOKEN}`, `Bearer ${TOKEN.toUpperCase()}`]) expect(bearerTokenMatches(header, TOKEN), String(header)).toBe(false);
  });
});
