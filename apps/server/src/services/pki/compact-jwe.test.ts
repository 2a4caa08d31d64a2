/**
 * The server's node:crypto JWE against core's jose-based `seal`/`unseal`, both ways,
 * and every way of altering a message refused.
 */
import { createECDH, generateKeyPairSync, KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';
import { replyKeyPair, seal, unseal } from '@coconutpay/core/payment';
import { JweError, openCompactJwe, p256AgreementKey, p256PublicPoint, sealCompactJwe } from './compact-jwe.js';

const CTY = 'coconutpay-payment-request';
const message = { request: { orderId: 'o-1', amountWon: 12_000, name: '유기농 바나나' }, signature: 'sig' };

/** A recipient in both worlds: WebCrypto keys for core, the same key for node:crypto. */
async function recipient() {
  const web = await replyKeyPair();
  return { web, privateKey: p256AgreementKey(KeyObject.from(web.keys.privateKey).export({ format: 'jwk' })), publicKey: p256PublicPoint(web.jwk) };
}

const b64u = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const header = (jwe: string) => JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
const withHeader = (jwe: string, edit: (h: Record<string, unknown>) => Record<string, unknown>) => [b64u(JSON.stringify(edit(header(jwe)))), ...jwe.split('.').slice(1)].join('.');
const flip = (part: string) => (part[0] === 'A' ? 'B' : 'A') + part.slice(1);

describe('compact JWE (ECDH-ES, A256GCM) on node:crypto', () => {
  it('opens what core seals, and core opens what it seals', async () => {
    const r = await recipient();
    const fromCore = await seal(message, r.web.keys.publicKey, CTY);
    expect(JSON.parse(openCompactJwe(fromCore, r.privateKey, CTY).toString('utf8'))).toEqual(message);

    const fromServer = sealCompactJwe(canonicalJsonBytes(message), r.publicKey, CTY);
    expect(await unseal(fromServer, r.web.keys.privateKey, CTY)).toEqual(message);
    expect(header(fromServer)).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', cty: CTY, epk: { kty: 'EC', crv: 'P-256' } });
    expect(fromServer.split('.')[1]).toBe('');
  });

  it('seals with a fresh ephemeral key and IV every time', () => {
    const key = createECDH('prime256v1');
    key.generateKeys();
    const a = sealCompactJwe(canonicalJsonBytes(message), key.getPublicKey(), CTY);
    const b = sealCompactJwe(canonicalJsonBytes(message), key.getPublicKey(), CTY);
    expect(JSON.parse(openCompactJwe(a, key, CTY).toString('utf8'))).toEqual(message);
    expect(header(a).epk).not.toEqual(header(b).epk);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('refuses a message for another key, of another content type, or altered anywhere', async () => {
    const r = await recipient();
    const other = await recipient();
    const jwe = await seal(message, r.web.keys.publicKey, CTY);
    const parts = jwe.split('.');
    const refused = [
      () => openCompactJwe(jwe, other.privateKey, CTY),
      () => openCompactJwe(jwe, r.privateKey, 'coconutpay-payment-command'),
      () => openCompactJwe([parts[0], parts[1], parts[2], flip(parts[3]!), parts[4]].join('.'), r.privateKey, CTY),
      () => openCompactJwe([parts[0], parts[1], parts[2], parts[3], flip(parts[4]!)].join('.'), r.privateKey, CTY),
      () => openCompactJwe([parts[0], parts[1], flip(parts[2]!), parts[3], parts[4]].join('.'), r.privateKey, CTY),
      // The header is authenticated data: any change to it breaks the tag.
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, kid: 'x' })), r.privateKey, CTY),
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, alg: 'ECDH-ES+A256KW' })), r.privateKey, CTY),
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, enc: 'A128GCM' })), r.privateKey, CTY),
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, zip: 'DEF' })), r.privateKey, CTY),
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, crit: ['exp'], exp: 1 })), r.privateKey, CTY),
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, epk: { ...(h.epk as object), crv: 'P-384' } })), r.privateKey, CTY),
      () => openCompactJwe(withHeader(jwe, (h) => ({ ...h, epk: { kty: 'EC', crv: 'P-256', x: b64u('x'.repeat(32)), y: b64u('y'.repeat(32)) } })), r.privateKey, CTY),
      () => openCompactJwe([parts[0], 'AAAA', parts[2], parts[3], parts[4]].join('.'), r.privateKey, CTY),
      () => openCompactJwe([parts[0], parts[1], 'AAAA', parts[3], parts[4]].join('.'), r.privateKey, CTY),
      () => openCompactJwe([parts[0], parts[1], parts[2], parts[3], 'AAAA'].join('.'), r.privateKey, CTY),
      () => openCompactJwe(parts.slice(0, 4).join('.'), r.privateKey, CTY),
      () => openCompactJwe(`${parts[0]}!.${parts.slice(1).join('.')}`, r.privateKey, CTY),
    ];
    for (const attempt of refused) expect(attempt).toThrow(JweError);
  });

  it('takes only P-256 public keys whose point is on the curve, and seals to nothing else', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const point = p256PublicPoint(key);
    expect(point).toHaveLength(65);
    expect(point.subarray(1, 33).toString('base64url')).toBe(key.x);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    for (const bad of [null, 'x', {}, p384, { ...key, crv: 'P-384' }, { ...key, kty: 'OKP' }, { ...key, x: `${key.x}=` }, { ...key, y: key.x }, { ...key, x: key.x!.slice(2) }]) {
      expect(() => p256PublicPoint(bad)).toThrow(JweError);
    }
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
    expect(() => sealCompactJwe(canonicalJsonBytes(message), offCurve, CTY)).toThrow(JweError);
  });
});
