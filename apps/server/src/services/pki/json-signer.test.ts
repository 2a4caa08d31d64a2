/**
 * A's node:crypto signer makes what core's signJson makes: core's verifySignedJson
 * (what browsers and the CLI run) accepts it, and refuses it once anything changed.
 */
import { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignedJson } from '@coconutpay/core/pki/signed-json';
import { startTestApp, type TestApp } from '../../../test/helpers.js';
import { JsonSigner } from './json-signer.js';

describe('JsonSigner', () => {
  let t: TestApp;
  let root: Uint8Array;
  let signer: JsonSigner;
  const value = { v: 1, type: 'coconutpay-payment-command', amountWon: 12_000, payee: { storeName: '코코넛 마트' }, items: [{ name: '노트북', quantity: 1 }] };

  beforeAll(async () => {
    t = await startTestApp();
    const { roles, ca } = t.app.internals;
    root = new Uint8Array(ca.root.certificate.rawData);
    signer = new JsonSigner(KeyObject.from(roles.payment.privateKey), roles.payment.x5c, 'coconutpay-com+jws');
  });
  afterAll(async () => t.close());

  it('signs canonical JSON that core verifies against our root, with the header core writes', async () => {
    const jws = signer.sign(value);
    const check = await verifySignedJson(jws, [root], new Date(t.clock.nowMs), 'command', 'COMMAND_SIGNATURE_INVALID');
    expect(check).toMatchObject({ ok: true, value });
    const header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8'));
    expect(Object.keys(header)).toEqual(['alg', 'typ', 'x5c']);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'coconutpay-com+jws' });
  });

  it('is refused once the payload or the signature changed', async () => {
    const [h, p, s] = signer.sign(value).split('.') as [string, string, string];
    const otherPayload = Buffer.from(JSON.stringify({ ...value, amountWon: 1 }), 'utf8').toString('base64url');
    for (const jws of [`${h}.${otherPayload}.${s}`, `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`]) {
      expect((await verifySignedJson(jws, [root], new Date(t.clock.nowMs), 'command', 'COMMAND_SIGNATURE_INVALID')).ok).toBe(false);
    }
  });
});
