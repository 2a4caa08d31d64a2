/**
 * The time-stamp authority, judged by OpenSSL: `openssl ts -query` queries answered
 * over `POST /pki/tsa` (app.inject) verify with `openssl ts -verify` against our
 * root, so does a token `stampSignature` makes for payment evidence, and refused
 * queries come back as RFC 3161 rejections. The other way round, core's verifier
 * accepts a token OpenSSL makes as a TSA (P-384, ESS signing-certificate v1).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derOctetString, derOid, derSequence, derSmallInteger, tlv } from '@coconutpay/core/pki/der-writer';
import { EKU, POLICY } from '@coconutpay/core/pki/oids';
import { fromPem } from '@coconutpay/core/pki/pem';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import {
  encodeMessageImprint, OID_TSP, parseTimeStampRequest, parseTimeStampResponse, parseTimeStampToken, PKI_STATUS, timeStampRequest, verifyTimeStampToken,
} from '@coconutpay/core/pki/time-stamp';
import { buildApp } from '../src/app.js';
import { startTestApp, type TestApp } from './helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'cp-tsa-'));
const file = (name: string, content: string | Uint8Array) => {
  const p = path.join(work, name);
  writeFileSync(p, content);
  return p;
};

/** Runs openssl; returns stdout+stderr and the exit status without throwing. */
function openssl(args: string[]): { out: string; status: number } {
  try {
    const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { out, status: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; status?: number };
    return { out: `${e.stdout ?? ''}${e.stderr ?? ''}`, status: e.status ?? 1 };
  }
}

const sha256 = (bytes: Uint8Array | string) => new Uint8Array(createHash('sha256').update(bytes).digest());

describe('time-stamp authority', () => {
  let t: TestApp;
  let paths: { root: string; chain: string; tsa: string; data: string };
  let rootDer: Uint8Array;
  const data = 'payment evidence stands in for this line\n';

  beforeAll(async () => {
    t = await startTestApp();
    const chain = (await t.app.inject({ method: 'GET', url: '/pki/ca.pem' })).body;
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    rootDer = fromPem(blocks[1]!, 'CERTIFICATE');
    paths = {
      // -untrusted gets the issuing CA only: the root must come from -CAfile.
      chain: file('issuing.pem', `${blocks[0]}\n`),
      root: file('root.pem', `${blocks[1]}\n`),
      tsa: file('tsa.pem', t.app.internals.roles.tsa.certificate.toString('pem')),
      data: file('data.txt', data),
    };
  });
  afterAll(async () => {
    await t.close();
    rmSync(work, { recursive: true, force: true });
  });

  const post = (body: Uint8Array | string, contentType = 'application/timestamp-query') =>
    t.app.inject({ method: 'POST', url: '/pki/tsa', headers: { 'content-type': contentType }, payload: Buffer.from(body) });

  /** Sends a query file, writes the reply beside it, returns the parsed reply. */
  async function ask(queryFile: string, replyName: string): Promise<{ replyFile: string; reply: ReturnType<typeof parseTimeStampResponse> }> {
    const res = await post(readFileSync(queryFile));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/timestamp-reply');
    expect(res.headers['cache-control']).toBe('no-store');
    return { replyFile: file(replyName, res.rawPayload), reply: parseTimeStampResponse(new Uint8Array(res.rawPayload)) };
  }

  describe('OpenSSL end to end', () => {
    let query: string;
    let reply: string;

    beforeAll(async () => {
      query = path.join(work, 'q.tsq');
      expect(openssl(['ts', '-query', '-data', paths.data, '-sha256', '-cert', '-out', query]).status).toBe(0);
      reply = (await ask(query, 'r.tsr')).replyFile;
    });

    it('answers an `openssl ts -query` that `openssl ts -reply -text` reads', () => {
      const text = openssl(['ts', '-reply', '-in', reply, '-text']);
      expect(text.status, text.out).toBe(0);
      expect(text.out).toContain('Status: Granted.');
      expect(text.out).toContain(`Policy OID: ${POLICY.timeStamping}`);
      expect(text.out).toContain('Hash Algorithm: sha256');
      expect(text.out).toContain('Accuracy: 0x01 seconds');
      expect(text.out).toContain('Ordering: no');
      expect(text.out).toMatch(/Nonce: 0x[0-9A-F]+/);
      expect(text.out).toContain('TSA: DirName:/C=KR/O=CoconutPay/OU=Servers/CN=CoconutPay Time-Stamp Authority');
    });

    it('verifies with `openssl ts -verify` against the query and against the data', () => {
      const byQuery = openssl(['ts', '-verify', '-in', reply, '-queryfile', query, '-CAfile', paths.root, '-untrusted', paths.chain]);
      expect(byQuery.out).toContain('Verification: OK');
      expect(byQuery.status).toBe(0);
      const byData = openssl(['ts', '-verify', '-data', paths.data, '-in', reply, '-CAfile', paths.root, '-untrusted', paths.chain]);
      expect(byData.out).toContain('Verification: OK');
      // The same check fails for other data: the verification above can fail.
      const other = openssl(['ts', '-verify', '-data', file('other.txt', `${data}!`), '-in', reply, '-CAfile', paths.root, '-untrusted', paths.chain]);
      expect(other.out).toContain('Verification: FAILED');
      expect(other.status).not.toBe(0);
    });

    it('gives a token core verifies too, echoing the nonce and carrying both certificates', async () => {
      const request = parseTimeStampRequest(new Uint8Array(readFileSync(query)));
      const { token } = parseTimeStampResponse(new Uint8Array(readFileSync(reply)));
      const verdict = await verifyTimeStampToken(token!, { trustAnchors: [rootDer], expectedImprint: sha256(data), expectedNonce: request.nonce!, acceptedPolicies: [POLICY.timeStamping] });
      expect(verdict).toMatchObject({ ok: true, accuracySeconds: 1, policyOid: POLICY.timeStamping, tsaCertificate: new Uint8Array(t.app.internals.roles.tsa.certificate.rawData) });
      expect(verdict.ok && verdict.genTime.getTime()).toBe(t.clock.nowMs);
      expect(parseTimeStampToken(token!).certificates).toEqual(t.app.internals.roles.tsa.x5c);
    });

    it('`-attime` sets the time OpenSSL checks the TSA chain at: after the TSA certificate expires it fails, at genTime it passes', () => {
      const { tstInfo } = parseTimeStampToken(parseTimeStampResponse(new Uint8Array(readFileSync(reply))).token!);
      const genTimeSeconds = Math.floor(tstInfo.genTimeMs / 1000);
      const notAfterSeconds = Math.floor(t.app.internals.roles.tsa.certificate.notAfter.getTime() / 1000);
      const verifyAt = (seconds: number) => openssl(['ts', '-verify', '-in', reply, '-queryfile', query, '-CAfile', paths.root, '-untrusted', paths.chain, '-attime', String(seconds)]);
      const expired = verifyAt(notAfterSeconds + 86_400);
      expect(expired.out).toContain('Verification: FAILED');
      expect(expired.out).toContain('certificate has expired');
      expect(verifyAt(genTimeSeconds).out).toContain('Verification: OK');
    });

    it('leaves the certificates out when the query does not ask for them', async () => {
      const bare = path.join(work, 'bare.tsq');
      expect(openssl(['ts', '-query', '-data', paths.data, '-sha512', '-out', bare]).status).toBe(0);
      const { replyFile, reply: parsed } = await ask(bare, 'bare.tsr');
      expect(parseTimeStampToken(parsed.token!).certificates).toEqual([]);
      // Without the TSA certificate OpenSSL cannot check the signature; given it as untrusted, it can.
      expect(openssl(['ts', '-verify', '-in', replyFile, '-queryfile', bare, '-CAfile', paths.root, '-untrusted', paths.chain]).out).toContain('Verification: FAILED');
      const untrusted = file('tsa-and-issuing.pem', `${readFileSync(paths.tsa, 'utf8')}\n${readFileSync(paths.chain, 'utf8')}`);
      expect(openssl(['ts', '-verify', '-in', replyFile, '-queryfile', bare, '-CAfile', paths.root, '-untrusted', untrusted]).out).toContain('Verification: OK');
    });

    it('stampSignature makes a token OpenSSL verifies alone (-token_in, -digest)', async () => {
      const signatureValue = new Uint8Array(71).map((_, i) => i * 7);
      const token = await t.app.internals.tsa.stampSignature(signatureValue);
      const tokenFile = file('token.der', token);
      const digestHex = Buffer.from(sha256(signatureValue)).toString('hex');
      const ok = openssl(['ts', '-verify', '-digest', digestHex, '-in', tokenFile, '-token_in', '-CAfile', paths.root, '-untrusted', paths.chain]);
      expect(ok.out).toContain('Verification: OK');
      const wrong = openssl(['ts', '-verify', '-digest', Buffer.from(sha256('other')).toString('hex'), '-in', tokenFile, '-token_in', '-CAfile', paths.root, '-untrusted', paths.chain]);
      expect(wrong.out).toContain('Verification: FAILED');
      expect(openssl(['ts', '-reply', '-in', tokenFile, '-token_in', '-text', '-token_out']).out).toContain(`Policy OID: ${POLICY.timeStamping}`);
    });
  });

  describe('refusals', () => {
    const rejection = async (body: Uint8Array) => {
      const res = await post(body);
      expect(res.statusCode).toBe(200);
      const reply = parseTimeStampResponse(new Uint8Array(res.rawPayload));
      expect(reply.status).toBe(PKI_STATUS.rejection);
      expect(reply.token).toBeUndefined();
      return { reply, replyFile: file(`rejected-${Date.now()}-${Math.random()}.tsr`, res.rawPayload) };
    };

    it('SHA-1 and unknown hashes → badAlg, as OpenSSL reads it', async () => {
      const sha1Query = path.join(work, 'sha1.tsq');
      expect(openssl(['ts', '-query', '-data', paths.data, '-sha1', '-cert', '-out', sha1Query]).status).toBe(0);
      const { reply, replyFile } = await rejection(new Uint8Array(readFileSync(sha1Query)));
      expect(reply.failures).toEqual(['badAlg']);
      const text = openssl(['ts', '-reply', '-in', replyFile, '-text']).out;
      expect(text).toContain('Status: Rejected.');
      expect(text).toContain('unrecognized or unsupported algorithm identifier');
      const md5 = derSequence(derSmallInteger(1), encodeMessageImprint('1.2.840.113549.2.5', new Uint8Array(16)));
      expect((await rejection(md5)).reply.failures).toEqual(['badAlg']);
    });

    it('an imprint of the wrong length → badDataFormat', async () => {
      const short = derSequence(derSmallInteger(1), encodeMessageImprint(OID_TSP.sha384, new Uint8Array(32)));
      expect((await rejection(short)).reply.failures).toEqual(['badDataFormat']);
    });

    it('another policy → unacceptedPolicy; ours is accepted', async () => {
      const other = path.join(work, 'policy.tsq');
      expect(openssl(['ts', '-query', '-data', paths.data, '-sha256', '-tspolicy', '1.2.3.4.5', '-out', other]).status).toBe(0);
      const { reply, replyFile } = await rejection(new Uint8Array(readFileSync(other)));
      expect(reply.failures).toEqual(['unacceptedPolicy']);
      expect(openssl(['ts', '-reply', '-in', replyFile, '-text']).out).toContain('the requested TSA policy is not supported by the TSA');
      const ours = await post(timeStampRequest({ digest: sha256(data), certReq: false, reqPolicy: POLICY.timeStamping }));
      expect(parseTimeStampResponse(new Uint8Array(ours.rawPayload)).status).toBe(PKI_STATUS.granted);
    });

    it('any request extension, critical or not → unacceptedExtension', async () => {
      for (const critical of [true, false]) {
        const extension = derSequence(derOid('1.2.3.4.99'), ...(critical ? [new Uint8Array([0x01, 0x01, 0xff])] : []), derOctetString(new Uint8Array([0x05, 0x00])));
        const query = derSequence(derSmallInteger(1), encodeMessageImprint(OID_TSP.sha256, sha256(data)), tlv(0xa0, extension));
        expect((await rejection(query)).reply.failures, `critical ${critical}`).toEqual(['unacceptedExtension']);
      }
    });

    it('bytes that are not a TimeStampReq → badDataFormat; version 2 → badRequest', async () => {
      for (const junk of [new Uint8Array(), new Uint8Array([0x30, 0x03, 0x02, 0x01]), new TextEncoder().encode('{"hello":1}')]) {
        expect((await rejection(junk)).reply.failures).toEqual(['badDataFormat']);
      }
      const v2 = derSequence(derSmallInteger(2), encodeMessageImprint(OID_TSP.sha256, sha256(data)));
      expect((await rejection(v2)).reply.failures).toEqual(['badRequest']);
    });

    it('another content type → 415 problem+json; a body over 8 KiB → 413', async () => {
      for (const [contentType, body] of [['application/json', '{"a":1}'], ['application/octet-stream', 'x'], ['application/ocsp-request', 'x']] as const) {
        const res = await post(body, contentType);
        expect(res.statusCode, contentType).toBe(415);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 });
      }
      const none = await t.app.inject({ method: 'POST', url: '/pki/tsa' });
      expect(none.statusCode).toBe(415);
      const large = await post(new Uint8Array(8 * 1024 + 1));
      expect(large.statusCode).toBe(413);
      expect(large.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    });
  });

  it('creates the TSA identity at start in a data folder made before it existed, leaving S and A alone', async () => {
    const roles = path.join(t.dataDir, 'pki', 'roles');
    const before = { auth: readFileSync(path.join(roles, 'auth-server.pem'), 'utf8'), payment: readFileSync(path.join(roles, 'payment-server.pem'), 'utf8') };
    rmSync(path.join(roles, 'time-stamp-authority.pem'));
    rmSync(path.join(roles, 'time-stamp-authority-key.pem'));
    const again = await buildApp(t.config, { clock: t.clock.now, logger: false });
    try {
      expect(existsSync(path.join(roles, 'time-stamp-authority.pem'))).toBe(true);
      expect(existsSync(path.join(roles, 'time-stamp-authority-key.pem'))).toBe(true);
      expect(readFileSync(path.join(roles, 'auth-server.pem'), 'utf8')).toBe(before.auth);
      expect(readFileSync(path.join(roles, 'payment-server.pem'), 'utf8')).toBe(before.payment);
      const tsa = parseCertificate(new Uint8Array(again.internals.roles.tsa.certificate.rawData));
      expect(tsa.extendedKeyUsage).toEqual([EKU.timeStamping]);
      expect(tsa.extensions.find((extension) => extension.oid === '2.5.29.37')?.critical).toBe(true);
      const signatureValue = new Uint8Array([1, 2, 3]);
      const verdict = await verifyTimeStampToken(await again.internals.tsa.stampSignature(signatureValue), { trustAnchors: [rootDer], expectedImprint: sha256(signatureValue) });
      expect(verdict).toMatchObject({ ok: true, tsaCertificate: tsa.der });
    } finally {
      await again.close();
    }
  });

  it('core verifies a token OpenSSL makes as a TSA (P-384 with SHA-384, ESS v1, millisecond genTime)', async () => {
    const ext = file('interop.cnf', [
      '[ca]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash',
      '[tsa]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = critical, timeStamping',
      'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'));
    const p = (name: string) => path.join(work, name);
    const run = (args: string[]) => {
      const result = openssl(args);
      expect(result.status, `${args.join(' ')}\n${result.out}`).toBe(0);
    };
    run(['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', p('ca384.key')]);
    run(['req', '-x509', '-new', '-key', p('ca384.key'), '-subj', '/CN=Interop Root', '-days', '30', '-sha384', '-config', ext, '-extensions', 'ca', '-out', p('ca384.pem')]);
    run(['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', p('tsa384.key')]);
    run(['req', '-new', '-key', p('tsa384.key'), '-subj', '/CN=Interop TSA', '-out', p('tsa384.csr')]);
    run(['x509', '-req', '-in', p('tsa384.csr'), '-CA', p('ca384.pem'), '-CAkey', p('ca384.key'), '-set_serial', '0x1d2c3b4a', '-days', '30', '-sha384', '-extfile', ext, '-extensions', 'tsa', '-out', p('tsa384.pem')]);
    writeFileSync(p('tsaserial'), '0a\n');
    const tsaConfig = file('tsa.cnf', [
      '[tsa]', 'default_tsa = interop',
      '[interop]', `serial = ${p('tsaserial')}`, `signer_cert = ${p('tsa384.pem')}`, `signer_key = ${p('tsa384.key')}`, `certs = ${p('ca384.pem')}`,
      'signer_digest = sha384', 'default_policy = 1.2.3.4.1', 'digests = sha256, sha384, sha512', 'accuracy = secs:1, millisecs:500',
      'clock_precision_digits = 3', 'ordering = yes', 'tsa_name = yes', 'ess_cert_id_chain = no', 'ess_cert_id_alg = sha1',
      '',
    ].join('\n'));
    const query = file('interop.tsq', timeStampRequest({ digest: sha256(data), nonce: 77n, certReq: true }));
    run(['ts', '-reply', '-config', tsaConfig, '-queryfile', query, '-out', p('interop.tsr')]);
    const { status, token } = parseTimeStampResponse(new Uint8Array(readFileSync(p('interop.tsr'))));
    expect(status).toBe(PKI_STATUS.granted);
    const parsed = parseTimeStampToken(token!);
    expect(parsed.signatureAlgorithmOid).toBe(OID_TSP.ecdsaWithSha384);
    expect(parsed.essCertificateIds.map((id) => id.version)).toEqual([1]);
    expect(parsed.tstInfo.ordering).toBe(true);
    const anchor = fromPem(readFileSync(p('ca384.pem'), 'utf8'), 'CERTIFICATE');
    const verdict = await verifyTimeStampToken(token!, { trustAnchors: [anchor], expectedImprint: sha256(data), expectedNonce: 77n, acceptedPolicies: ['1.2.3.4.1'] });
    expect(verdict).toMatchObject({ ok: true, accuracySeconds: 1.5, policyOid: '1.2.3.4.1' });
    // And it is refused against our root: the trust anchor matters.
    expect(await verifyTimeStampToken(token!, { trustAnchors: [rootDer], expectedImprint: sha256(data) })).toMatchObject({ ok: false, code: 'TIME_STAMP_AUTHORITY_UNTRUSTED' });
  });
});
