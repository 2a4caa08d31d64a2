/**
 * With REDIS_URL set, a device's decision reaches its event stream even when the
 * stream is held by another server process than the one that approved (two apps
 * on one database and one Redis stand for two processes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { approvalMessage } from '@coconutpay/core/pki/master-approval';
import { buildApp } from '../src/app.js';
import { announceSkip } from './announce-skip.js';
import { newClient, startTestApp, type TestApp } from './helpers.js';
import { deviceKeys } from './payment-client.js';

const redisUrl = process.env.REDIS_URL;

describe('device decisions across server processes (Redis)', () => {
  if (!redisUrl) {
    announceSkip('cross-process device decisions', 'REDIS_URL is not set');
    it.skip('needs REDIS_URL', () => undefined);
    return;
  }
  let a: TestApp;
  let b: FastifyInstance;
  let bUrl: string;

  beforeAll(async () => {
    a = await startTestApp({ env: { REDIS_URL: redisUrl } });
    b = await buildApp(a.config, { clock: a.clock.now, logger: false });
    await b.listen({ host: '127.0.0.1', port: 0 });
    const address = b.server.address();
    bUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('a stream on server B hears the approval made on server A', async () => {
    const user = await newClient(a, 'buyer');
    const master = await deviceKeys();
    const issued = await user.request('POST', '/api/certificates/master', { csrPem: master.csrPem });
    expect(issued.statusCode).toBe(201);
    const asked = await user.request('POST', '/api/certificates/requests', { nickname: 'phone', csrPem: (await deviceKeys()).csrPem });
    const id = asked.json().id as string;

    const streamPath = `/api/certificates/requests/${id}/events`;
    const response = await fetch(`${bUrl}${streamPath}`, { headers: await user.signedHeaders('GET', streamPath) });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil(/event: state\n/);

    const pending = (await user.get('/api/certificates/requests')).json().items[0];
    const message = approvalMessage({ requestId: id, userId: user.userId, spkiSha256Hex: pending.spkiSha256Hex, nickname: pending.nickname, code: pending.code, expiresAtMs: pending.expiresAtMs });
    const signature = Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, master.keys.privateKey, Buffer.from(message))).toString('base64url');
    const approved = await user.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: issued.json().certificate.id, signature });
    expect(approved.statusCode, approved.body).toBe(200);

    await readUntil(/event: decision\ndata: .*\n\n/);
    expect(text).toMatch(/"status":"approved"/);
    expect((await reader.read()).done).toBe(true);
  });
});
