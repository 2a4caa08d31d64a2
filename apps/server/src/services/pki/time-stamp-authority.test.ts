/**
 * The TSA service without HTTP: what `stamp` grants and refuses, genTime from the
 * injected clock, unique time-ordered serial numbers, and `stampSignature` tokens
 * that core's verifier accepts for exactly the signature value stamped.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY } from '@coconutpay/core/pki/oids';
import { OID_TSP, parseTimeStampResponse, parseTimeStampToken, PKI_STATUS, verifyTimeStampToken } from '@coconutpay/core/pki/time-stamp';
import { startTestApp, type TestApp } from '../../../test/helpers.js';
import type { TimeStampAuthority } from './time-stamp-authority.js';

const sha = (algorithm: string, bytes: Uint8Array | string) => new Uint8Array(createHash(algorithm).update(bytes).digest());

describe('TimeStampAuthority', () => {
  let t: TestApp;
  let tsa: TimeStampAuthority;
  let root: Uint8Array;

  beforeAll(async () => {
    t = await startTestApp();
    tsa = t.app.internals.tsa;
    root = new Uint8Array(t.app.internals.ca.root.certificate.rawData);
  });
  afterAll(async () => t.close());

  it('stamps a signature value: the token covers SHA-256 of exactly those bytes, at the clock’s time', async () => {
    // Inside the TSA certificate's validity (it was issued at start), 250 ms past a second.
    t.clock.nowMs = Math.floor(Date.now() / 1000) * 1000 + 60_000 + 250;
    const signatureValue = randomBytes(72);
    const token = await tsa.stampSignature(signatureValue);
    const verdict = await verifyTimeStampToken(token, { trustAnchors: [root], expectedImprint: sha('sha256', signatureValue) });
    expect(verdict).toMatchObject({ ok: true, genTimeSeconds: Math.floor(t.clock.nowMs / 1000), accuracySeconds: 1, policyOid: POLICY.timeStamping });
    expect(verdict.ok && verdict.genTime.getTime()).toBe(t.clock.nowMs);
    expect(parseTimeStampToken(token).tstInfo.genTimeText).toBe(`${new Date(t.clock.nowMs).toISOString().replace(/[-:T]/g, '').slice(0, 14)}.25Z`);
    expect(parseTimeStampToken(token).certificates).toHaveLength(2);
    const other = Uint8Array.from(signatureValue);
    other[0] = (other[0] as number) ^ 1;
    expect(await verifyTimeStampToken(token, { trustAnchors: [root], expectedImprint: sha('sha256', other) })).toMatchObject({ ok: false, code: 'TIME_STAMP_IMPRINT_MISMATCH' });
  });

  it('gives every token its own serial number, led by genTime in milliseconds', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const { tstInfo } = parseTimeStampToken(await tsa.stampSignature(new Uint8Array([1])));
      expect(tstInfo.serial).toHaveLength(16);
      expect(Number.parseInt(tstInfo.serialHex.slice(0, 12), 16)).toBe(t.clock.nowMs);
      serials.add(tstInfo.serialHex);
    }
    expect(serials.size).toBe(500);
  });

  it('grants SHA-256, SHA-384 and SHA-512 imprints, echoes the nonce, carries certificates only when asked', async () => {
    for (const [hashOid, name] of [[OID_TSP.sha256, 'sha256'], [OID_TSP.sha384, 'sha384'], [OID_TSP.sha512, 'sha512']] as const) {
      const digest = sha(name, 'data');
      const nonce = new Uint8Array([0x01, 0x02, 0x03]);
      const reply = parseTimeStampResponse(await tsa.stamp({ hashOid, digest }, { nonce, certReq: false }));
      expect(reply.status, name).toBe(PKI_STATUS.granted);
      const token = parseTimeStampToken(reply.token!);
      expect(token.tstInfo).toMatchObject({ hashOid, digest, nonce });
      expect(token.certificates).toEqual([]);
      const withCertificates = parseTimeStampResponse(await tsa.stamp({ hashOid, digest }, { certReq: true }));
      expect(parseTimeStampToken(withCertificates.token!).certificates).toEqual(t.app.internals.roles.tsa.x5c);
      expect(parseTimeStampToken(withCertificates.token!).tstInfo.nonce).toBeUndefined();
    }
  });

  it('refuses SHA-1, a digest of the wrong length, another policy and an oversized nonce', async () => {
    const refusal = async (imprint: { hashOid: string; digest: Uint8Array }, options: Parameters<TimeStampAuthority['stamp']>[1] = { certReq: true }) => {
      const reply = parseTimeStampResponse(await tsa.stamp(imprint, options));
      expect(reply.status).toBe(PKI_STATUS.rejection);
      expect(reply.token).toBeUndefined();
      expect(reply.statusStrings).toHaveLength(1);
      return reply.failures;
    };
    expect(await refusal({ hashOid: OID_TSP.sha1, digest: sha('sha1', 'data') })).toEqual(['badAlg']);
    expect(await refusal({ hashOid: OID_TSP.sha256, digest: sha('sha1', 'data') })).toEqual(['badDataFormat']);
    expect(await refusal({ hashOid: OID_TSP.sha256, digest: sha('sha256', 'data') }, { certReq: true, reqPolicy: '1.2.3' })).toEqual(['unacceptedPolicy']);
    expect(await refusal({ hashOid: OID_TSP.sha256, digest: sha('sha256', 'data') }, { certReq: true, nonce: new Uint8Array(33) })).toEqual(['badDataFormat']);
    const ours = parseTimeStampResponse(await tsa.stamp({ hashOid: OID_TSP.sha256, digest: sha('sha256', 'data') }, { certReq: true, reqPolicy: POLICY.timeStamping }));
    expect(ours.status).toBe(PKI_STATUS.granted);
  });
});
