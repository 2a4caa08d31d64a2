/**
 * The server's node:crypto JWE against core's jose-based `seal`/`unseal`, both ways,
 * for requests (ECDH-ES) and commands (dir under the reply key), and every way of
 * altering a message refused.
 */
import { createECDH, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';
import { REPLY_KEY_BYTES, replyKey, seal, unseal } from '@coconutpay/core/payment';
import { JweError, openCompactJwe, openDirectJwe, p256AgreementKey, p256PublicPoint, replyKeyFromJwk, sealCompactJwe, sealDirectJwe } from './compact-jwe.js';

const CTY = 'coconutpay-payment-request';
const message = { request: { orderId: 'o-1', amountWon: 12_000, name: '유기농 바나나' }, signature: 'sig' };

/** A recipient in both worlds: WebCrypto keys for core, the same key for node:crypto. */
async function recipient() {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
  return { web: { keys }, privateKey: p256AgreementKey(KeyObject.from(keys.privateKey).export({ format: 'jwk' })), publicKey: p256PublicPoint(await crypto.subtle.exportKey('jwk', keys.publicKey)) };
}

/** A reply key in both worlds: C's decrypt-only CryptoKey, and the bytes A reads from its JWK. */
async function replyKeyBothWays() {
  const web = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
  return { web, bytes: replyKeyFromJwk(web.jwk) };
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

  it('opens a message whose key derivation names parties (apu/apv), derived with its own OtherInfo, not the precomputed empty one', async () => {
    const { CompactEncrypt } = await import('jose');
    const r = await recipient();
    const plaintext = canonicalJsonBytes(message);
    const named = await new CompactEncrypt(plaintext)
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', cty: CTY })
      .setKeyManagementParameters({ apu: Buffer.from('Alice'), apv: Buffer.from('Bob') })
      .encrypt(r.web.keys.publicKey);
    expect(header(named)).toMatchObject({ apu: b64u('Alice'), apv: b64u('Bob') });
    expect(Buffer.from(openCompactJwe(named, r.privateKey, CTY)).equals(Buffer.from(plaintext))).toBe(true);
    // The same message with the parties taken out of the header derives another key: refused.
    const unnamed = withHeader(named, ({ apu: _apu, apv: _apv, ...rest }) => rest);
    expect(() => openCompactJwe(unnamed, r.privateKey, CTY)).toThrow(JweError);
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

describe('compact JWE (dir, A256GCM) under the reply key on node:crypto', () => {
  const COMMAND = 'coconutpay-payment-command';
  const answer = { jws: 'eyJhbGciOiJFUzI1NiJ9.eyJ0eXBlIjoiY29tIn0.c2ln' };

  it('core opens what the server seals, and the server opens what core seals', async () => {
    const reply = await replyKeyBothWays();
    const fromServer = sealDirectJwe(canonicalJsonBytes(answer), reply.bytes, COMMAND);
    expect(header(fromServer)).toEqual({ alg: 'dir', enc: 'A256GCM', cty: COMMAND });
    expect(fromServer.split('.')[1]).toBe('');
    expect(await unseal(fromServer, reply.web.key, COMMAND)).toEqual(answer);

    // Core seals `dir` under any AES-GCM key; A's copy of the reply key, imported for encrypting, stands in for it.
    const sealing = await crypto.subtle.importKey('raw', new Uint8Array(reply.bytes), 'AES-GCM', false, ['encrypt']);
    const fromCore = await seal(answer, sealing, COMMAND);
    expect(JSON.parse(openDirectJwe(fromCore, reply.bytes, COMMAND).toString('utf8'))).toEqual(answer);
  });

  it('writes each content type its own header (encoded once per type), and a message is opened only as its own type', () => {
    const key = randomBytes(REPLY_KEY_BYTES);
    for (let i = 0; i < 2; i++) {
      const command = sealDirectJwe(canonicalJsonBytes(answer), key, COMMAND);
      const other = sealDirectJwe(canonicalJsonBytes(answer), key, 'coconutpay-other');
      expect(header(command)).toEqual({ alg: 'dir', enc: 'A256GCM', cty: COMMAND });
      expect(header(other)).toEqual({ alg: 'dir', enc: 'A256GCM', cty: 'coconutpay-other' });
      expect(() => openDirectJwe(other, key, COMMAND)).toThrow(JweError);
      expect(JSON.parse(openDirectJwe(other, key, 'coconutpay-other').toString('utf8'))).toEqual(answer);
    }
  });

  it('seals with a fresh IV every time', () => {
    const key = randomBytes(REPLY_KEY_BYTES);
    const a = sealDirectJwe(canonicalJsonBytes(answer), key, COMMAND);
    const b = sealDirectJwe(canonicalJsonBytes(answer), key, COMMAND);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
    expect(JSON.parse(openDirectJwe(b, key, COMMAND).toString('utf8'))).toEqual(answer);
  });

  it('core refuses a command under another key, of another content type, altered, or sealed with ECDH-ES', async () => {
    const reply = await replyKeyBothWays();
    const jwe = sealDirectJwe(canonicalJsonBytes(answer), reply.bytes, COMMAND);
    const parts = jwe.split('.');
    await expect(unseal(jwe, (await replyKeyBothWays()).web.key, COMMAND)).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(jwe, reply.web.key, 'coconutpay-payment-request')).rejects.toThrow(/content type/);
    await expect(unseal([parts[0], parts[1], parts[2], parts[3], flip(parts[4]!)].join('.'), reply.web.key, COMMAND)).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal([parts[0], parts[1], parts[2], flip(parts[3]!), parts[4]].join('.'), reply.web.key, COMMAND)).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    await expect(unseal(withHeader(jwe, (h) => ({ ...h, kid: 'x' })), reply.web.key, COMMAND)).rejects.toMatchObject({ code: 'ERR_JWE_DECRYPTION_FAILED' });
    // Where a reply key is expected, a message sealed by key agreement is not even tried.
    const r = await recipient();
    const agreed = sealCompactJwe(canonicalJsonBytes(answer), r.publicKey, COMMAND);
    await expect(unseal(agreed, reply.web.key, COMMAND)).rejects.toThrow(/alg/);
    // And the other way: a request key does not open a `dir` message.
    await expect(unseal(jwe, r.web.keys.privateKey, COMMAND)).rejects.toThrow(/alg/);
  });

  it('the server refuses a command under another key, of another content type, altered anywhere, or not dir', async () => {
    const key = randomBytes(REPLY_KEY_BYTES);
    const jwe = sealDirectJwe(canonicalJsonBytes(answer), key, COMMAND);
    const parts = jwe.split('.');
    const refused = [
      () => openDirectJwe(jwe, randomBytes(REPLY_KEY_BYTES), COMMAND),
      () => openDirectJwe(jwe, key.subarray(0, 16), COMMAND),
      () => openDirectJwe(jwe, key, 'coconutpay-payment-request'),
      () => openDirectJwe([parts[0], parts[1], parts[2], flip(parts[3]!), parts[4]].join('.'), key, COMMAND),
      () => openDirectJwe([parts[0], parts[1], parts[2], parts[3], flip(parts[4]!)].join('.'), key, COMMAND),
      () => openDirectJwe([parts[0], parts[1], flip(parts[2]!), parts[3], parts[4]].join('.'), key, COMMAND),
      () => openDirectJwe(withHeader(jwe, (h) => ({ ...h, kid: 'x' })), key, COMMAND),
      () => openDirectJwe(withHeader(jwe, (h) => ({ ...h, alg: 'A256KW' })), key, COMMAND),
      () => openDirectJwe(withHeader(jwe, (h) => ({ ...h, enc: 'A128GCM' })), key, COMMAND),
      () => openDirectJwe(withHeader(jwe, (h) => ({ ...h, zip: 'DEF' })), key, COMMAND),
      () => openDirectJwe([parts[0], 'AAAA', parts[2], parts[3], parts[4]].join('.'), key, COMMAND),
      () => openDirectJwe([parts[0], parts[1], 'AAAA', parts[3], parts[4]].join('.'), key, COMMAND),
      () => openDirectJwe(parts.slice(0, 4).join('.'), key, COMMAND),
    ];
    for (const attempt of refused) expect(attempt).toThrow(JweError);
    expect(() => sealDirectJwe(canonicalJsonBytes(answer), key.subarray(0, 31), COMMAND)).toThrow(JweError);
  });

  it('takes a reply key only as an oct JWK of exactly 32 bytes of canonical base64url', () => {
    const bytes = randomBytes(REPLY_KEY_BYTES);
    const k = bytes.toString('base64url');
    expect(replyKeyFromJwk({ kty: 'oct', k })).toEqual(bytes);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    // The last of 43 characters carries two unused bits: flipping one spells the same key another way.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const otherSpelling = k.slice(0, -1) + alphabet[alphabet.indexOf(k.at(-1)!) ^ 1];
    expect(Buffer.from(otherSpelling, 'base64url')).toEqual(bytes);
    for (const bad of [
      null, 'x', {}, ec, { kty: 'EC', k }, { kty: 'oct' }, { kty: 'oct', k: 7 },
      { kty: 'oct', k: randomBytes(31).toString('base64url') },
      { kty: 'oct', k: randomBytes(33).toString('base64url') },
      { kty: 'oct', k: bytes.toString('base64') + '!' },
      { kty: 'oct', k: `${k}=` },
      { kty: 'oct', k: k.replace(/^./, '+') },
      { kty: 'oct', k: otherSpelling },
    ]) {
      expect(() => replyKeyFromJwk(bad)).toThrow(JweError);
    }
  });
});
