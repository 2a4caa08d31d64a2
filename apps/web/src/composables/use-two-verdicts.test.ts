/**
 * The browser's own verdict on evidence and receipts gets the CAs' current CRLs (so it too
 * tells a certificate's status now), and still runs when they cannot be fetched.
 */
import 'reflect-metadata';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as x509 from '@peculiar/x509';
import { loadCurrentCrls } from '../api/payments.js';
import { statusNowOptions, useTwoVerdicts, type LocalAnchors } from './use-two-verdicts.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** The server's clock, a minute behind this browser's: the CRLs are judged by it. */
const SERVER_TIME_MS = Math.floor(Date.now() / 1000) * 1000 - 60_000;

/** A root and an issuing CA as the service's /pki/ca.pem serves them (issuing CA first). */
async function caChain(): Promise<{ pem: string; crlPaths: string[] }> {
  const rootKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const issuingKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const validity = { notBefore: new Date(Date.now() - DAY_MS), notAfter: new Date(Date.now() + DAY_MS) };
  const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey);
  const issuingSki = await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=Test Root', keys: rootKeys, signingAlgorithm: ALG, ...validity,
    extensions: [new x509.BasicConstraintsExtension(true, 1, true), rootSki],
  });
  const issuing = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: 'CN=Test Issuing CA', issuer: root.subject, publicKey: issuingKeys.publicKey, signingKey: rootKeys.privateKey, signingAlgorithm: ALG, ...validity,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), issuingSki],
  });
  return {
    pem: `${issuing.toString('pem')}\n${root.toString('pem')}\n`,
    // Where the server publishes each CA's CRL (certificate-authority.ts): the first 16 hex digits of its key id.
    crlPaths: [issuingSki.keyId, rootSki.keyId].map((keyId) => `/pki/crl/${keyId.slice(0, 16).toLowerCase()}.crl`),
  };
}

describe('the browser verdict gets the current CRLs', () => {
  let chain: { pem: string; crlPaths: string[] };
  let requested: string[];
  let crlStatus: number;

  beforeAll(async () => {
    chain = await caChain();
  });

  beforeEach(() => {
    requested = [];
    crlStatus = 200;
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      requested.push(url);
      if (url === '/pki/ca.pem') return new Response(chain.pem, { status: 200, headers: { 'content-type': 'application/x-pem-file' } });
      const index = chain.crlPaths.indexOf(url);
      if (index >= 0 && crlStatus === 200) {
        expect(init.cache).toBe('no-store');
        return new Response(new Uint8Array([0x30, index]), { status: 200, headers: { 'content-type': 'application/pkix-crl', date: new Date(SERVER_TIME_MS + index * 1000).toUTCString() } });
      }
      return new Response(JSON.stringify({ code: 'ISSUER_NOT_FOUND', title: 'No such issuer', status: 404 }), { status: 404, headers: { 'content-type': 'application/problem+json' } });
    });
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('fetches the CRL of each CA in the chain, where its certificates name it, afresh each time', async () => {
    expect(await loadCurrentCrls()).toEqual({ crls: [new Uint8Array([0x30, 0]), new Uint8Array([0x30, 1])], serverTimeMs: SERVER_TIME_MS + 1000 });
    await loadCurrentCrls();
    expect(requested.filter((url) => url.startsWith('/pki/crl/'))).toEqual([...chain.crlPaths, ...chain.crlPaths]);
  });

  /** Runs one check whose local side only records what it was given. */
  async function checkOnce() {
    let given: LocalAnchors | undefined;
    const check = useTwoVerdicts(async () => 'server', async (_der, anchors) => {
      given = anchors;
      return 'local';
    });
    await check.run(new Uint8Array([1]));
    return { check, given };
  }

  it("hands them to the local check with the server's time they are judged at", async () => {
    const { check, given } = await checkOnce();
    expect(check.local.value).toBe('local');
    expect(given?.currentCrls).toEqual([new Uint8Array([0x30, 0]), new Uint8Array([0x30, 1])]);
    const options = statusNowOptions(given!);
    expect(options.currentCrls).toBe(given!.currentCrls);
    // The latest Date header of the CRLs' answers, not this browser's clock.
    expect(options.now!.getTime()).toBe(SERVER_TIME_MS + 1000);
  });

  it('still checks the file when a CRL cannot be fetched, without a status now', async () => {
    crlStatus = 404;
    const { check, given } = await checkOnce();
    expect(check.local.value).toBe('local');
    expect(check.localError.value).toBeNull();
    expect(given?.root).toBeInstanceOf(Uint8Array);
    expect(given?.currentCrls).toBeUndefined();
    expect(statusNowOptions(given!)).toEqual({});
  });
});
