/**
 * The service CA and the master certificate, judged by OpenSSL: the chain verifies
 * strictly, CRLs make a revoked certificate fail, the OCSP responder answers good and
 * revoked, the CA keys are encrypted PKCS#8 files OpenSSL opens with the passphrase.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Extension } from '@peculiar/asn1-x509';
import { BasicOCSPResponse, OCSPRequest, OCSPResponse, OCSPResponseStatus, id_pkix_ocsp_nonce } from '@peculiar/asn1-ocsp';
import { x509 } from '../src/services/pki/x509.js';
import { EKU, EXTENSION } from '@coconutpay/core/pki/oids';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'cp-pki-'));
const file = (name: string, content: string | Uint8Array) => {
  const p = path.join(work, name);
  writeFileSync(p, content);
  return p;
};

/** Runs openssl; returns stdout+stderr and the exit status without throwing. */
function openssl(args: string[], input?: string): { out: string; status: number } {
  try {
    const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: input ?? '' });
    return { out, status: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; status?: number };
    return { out: `${e.stdout ?? ''}${e.stderr ?? ''}`, status: e.status ?? 1 };
  }
}

/**
 * Runs openssl without blocking the event loop: needed when openssl talks to the
 * server under test, which lives in this same process.
 */
function opensslAsync(args: string[]): Promise<{ out: string; status: number }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ out: `${stdout}${stderr}`, status: error ? ((error as { code?: number }).code ?? 1) : 0 });
    });
  });
}

async function keyPair(curve: 'P-256' | 'P-384' = 'P-256'): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function csrPem(keys: CryptoKeyPair, cn = 'someone-else', hash = 'SHA-256'): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: { name: 'ECDSA', hash } });
  return csr.toString('pem');
}

describe('service CA and master certificates', () => {
  let t: TestApp;
  let buyer: SignedClient;
  let baseUrl: string;
  let caPaths: { root: string; issuing: string; chain: string };

  beforeAll(async () => {
    t = await startTestApp({ env: { CA_KEY_PASSPHRASE: 'test CA passphrase, long enough' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    buyer = await newClient(t, 'buyer');
    const chain = (await t.app.inject({ method: 'GET', url: '/pki/ca.pem' })).body;
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    caPaths = { issuing: file('issuing.pem', `${blocks[0]}\n`), root: file('root.pem', `${blocks[1]}\n`), chain: file('chain.pem', chain) };
  });
  afterAll(async () => t.close());

  const crlFiles = async () => {
    const ids = [t.app.internals.ca.issuing.id, t.app.internals.ca.root.id];
    return Promise.all(ids.map(async (id) => {
      const res = await t.app.inject({ method: 'GET', url: `/pki/crl/${id}.crl` });
      expect(res.headers['content-type']).toBe('application/pkix-crl');
      return file(`${id}-${Date.now()}.crl`, res.rawPayload);
    }));
  };

  const verifyArgs = (leaf: string, crls: string[] | undefined) => [
    'verify', '-x509_strict', '-CAfile', caPaths.root, '-untrusted', caPaths.issuing,
    ...(crls ? ['-crl_check_all', ...crls.flatMap((c) => ['-CRLfile', c])] : []),
    leaf,
  ];

  const toPemCrls = (ders: string[]) => ders.map((d) => {
    const out = path.join(work, `${path.basename(d)}.pem`);
    execFileSync('openssl', ['crl', '-inform', 'DER', '-in', d, '-out', out]);
    return out;
  });

  it('publishes the chain; OpenSSL accepts root and issuing CA', () => {
    expect(openssl(['verify', '-x509_strict', '-CAfile', caPaths.root, caPaths.issuing]).out).toContain('OK');
    const text = openssl(['x509', '-in', caPaths.issuing, '-noout', '-text']).out;
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toContain('ecdsa-with-SHA256');
  });

  it('keeps the CA keys encrypted at rest (PKCS#8 PBES2, 0600) under the configured passphrase', () => {
    for (const name of ['root-key.pem', 'issuing-key.pem']) {
      const keyFile = path.join(t.dataDir, 'pki', name);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const pem = readFileSync(keyFile, 'utf8');
      expect(pem).toContain('BEGIN ENCRYPTED PRIVATE KEY');
      const ok = openssl(['pkey', '-in', keyFile, '-passin', 'pass:test CA passphrase, long enough', '-noout']);
      expect(ok.status).toBe(0);
      expect(openssl(['pkey', '-in', keyFile, '-passin', 'pass:wrong passphrase', '-noout']).status).not.toBe(0);
      expect(openssl(['asn1parse', '-in', keyFile]).out).toMatch(/PBES2[\s\S]*PBKDF2[\s\S]*hmacWithSHA256[\s\S]*aes-256-cbc/);
    }
  });

  describe('master certificate', () => {
    let firstPem: string;
    let firstId: string;

    it('issues a master for the logged-in user, subject from our records, never from the CSR', async () => {
      const res = await buyer.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair(), 'victim-user') });
      expect(res.statusCode).toBe(201);
      const body = res.json();
      firstPem = body.certificatePem;
      firstId = body.certificate.id;
      const me = (await buyer.get('/api/me')).json().user;
      const cert = new x509.X509Certificate(firstPem);
      expect(cert.subject).toContain(`CN=${me.loginId}`);
      expect(cert.subject).not.toContain('victim-user');
      expect(body.certificate).toMatchObject({ kind: 'master', status: 'active', serialHex: cert.serialNumber.toLowerCase() });
      expect(cert.serialNumber.length).toBeGreaterThanOrEqual(16);
      expect(body.certificate.notAfterMs - body.certificate.notBeforeMs).toBeGreaterThan(364 * 86_400_000);
    });

    it('has the documented profile', () => {
      const text = openssl(['x509', '-in', file('master.pem', firstPem), '-noout', '-text']).out;
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Non Repudiation/);
      expect(text).toContain(EKU.paymentSigning);
      expect(text).toContain(EKU.deviceApproval);
      // The private certificate-kind extension keeps its full OID (asn1js round trips would truncate it).
      expect(text).toMatch(new RegExp(`${EXTENSION.certificateKind.replace(/\./g, '\\.')}: \\n\\s+\\.\\.master`));
      expect(text).toMatch(/CRL Distribution Points[\s\S]*\/pki\/crl\/[0-9a-f]{16}\.crl/);
      expect(text).toMatch(/OCSP - URI:.*\/pki\/ocsp/);
    });

    it('OpenSSL verifies the chain strictly, with and without CRLs', async () => {
      const leaf = file('master-1.pem', firstPem);
      expect(openssl(verifyArgs(leaf, undefined)).out).toContain(': OK');
      const crls = toPemCrls(await crlFiles());
      const withCrl = openssl(verifyArgs(leaf, crls));
      expect(withCrl.out, withCrl.out).toContain(': OK');
    });

    it('refuses a second master while one is active', async () => {
      const res = await buyer.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()) });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('MASTER_CERTIFICATE_EXISTS');
    });

    it('re-issuing after a loss revokes the old master: CRL and OCSP say so, OpenSSL rejects it', async () => {
      const crlBefore = openssl(['crl', '-inform', 'DER', '-in', (await crlFiles())[0]!, '-noout', '-crlnumber']).out;
      const res = await buyer.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()), replace: true });
      expect(res.statusCode).toBe(201);
      const second = res.json();
      const list = (await buyer.get('/api/certificates')).json().items;
      expect(list.find((c: { id: string }) => c.id === firstId)).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });
      expect(list.find((c: { id: string }) => c.id === second.certificate.id)).toMatchObject({ status: 'active' });

      const crls = await crlFiles();
      const crlAfter = openssl(['crl', '-inform', 'DER', '-in', crls[0]!, '-noout', '-crlnumber']).out;
      expect(Number.parseInt(crlAfter.split('=')[1]!, 16)).toBeGreaterThan(Number.parseInt(crlBefore.split('=')[1]!, 16));
      const pemCrls = toPemCrls(crls);
      const old = openssl(verifyArgs(file('master-old.pem', firstPem), pemCrls));
      expect(old.status).not.toBe(0);
      expect(old.out).toMatch(/certificate revoked/);
      expect(openssl(verifyArgs(file('master-2.pem', second.certificatePem), pemCrls)).out).toContain(': OK');

      const ocsp = async (pem: string, name: string) =>
        (await opensslAsync(['ocsp', '-issuer', caPaths.issuing, '-cert', file(name, pem), '-url', `${baseUrl}/pki/ocsp`, '-CAfile', caPaths.chain, '-resp_text'])).out;
      const goodAnswer = await ocsp(second.certificatePem, 'ocsp-good.pem');
      expect(goodAnswer).toMatch(/Response verify OK/);
      expect(goodAnswer).toMatch(/master-2\.pem|ocsp-good\.pem: good/);
      const revokedAnswer = await ocsp(firstPem, 'ocsp-revoked.pem');
      expect(revokedAnswer).toMatch(/Response verify OK/);
      expect(revokedAnswer).toMatch(/ocsp-revoked\.pem: revoked/);
      expect(revokedAnswer).toMatch(/Reason: superseded/);
    });

    it('answers OCSP by GET too, and an unparsable request with malformedRequest', async () => {
      const reqFile = path.join(work, 'req.der');
      execFileSync('openssl', ['ocsp', '-issuer', caPaths.issuing, '-cert', file('any.pem', firstPem), '-reqout', reqFile, '-no_nonce']);
      const b64 = readFileSync(reqFile).toString('base64');
      const res = await t.app.inject({ method: 'GET', url: `/pki/ocsp/${encodeURIComponent(b64)}` });
      expect(res.headers['content-type'], res.body).toBe('application/ocsp-response');
      const respFile = file('resp.der', res.rawPayload);
      expect(openssl(['ocsp', '-respin', respFile, '-resp_text', '-noverify']).out).toMatch(/Cert Status: revoked/);
      const bad = await t.app.inject({ method: 'POST', url: '/pki/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: Buffer.from('not der') });
      expect(bad.statusCode).toBe(200);
      expect(openssl(['ocsp', '-respin', file('bad.der', bad.rawPayload), '-resp_text']).out).toMatch(/malformedrequest|malformed/i);
    });

    it('echoes a nonce of 1 to 32 bytes and answers 0 or 33 bytes with malformedRequest (RFC 9654)', async () => {
      const bareFile = path.join(work, 'req-bare.der');
      execFileSync('openssl', ['ocsp', '-issuer', caPaths.issuing, '-cert', file('nonce.pem', firstPem), '-reqout', bareFile, '-no_nonce']);
      const bare = AsnConvert.parse(readFileSync(bareFile), OCSPRequest);
      /** The bare request with the given nonce extension values (DER of the OCTET STRING each). */
      const withNonces = (...values: Uint8Array[]) => {
        const request = AsnConvert.parse(readFileSync(bareFile), OCSPRequest);
        request.tbsRequest.requestExtensions = values.map((v) => new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(v) }));
        return new Uint8Array(AsnConvert.serialize(request));
      };
      const octetString = (n: number) => new Uint8Array([0x04, n, ...Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff)]);
      const ask = async (der: Uint8Array) => {
        const res = await t.app.inject({ method: 'POST', url: '/pki/ocsp', headers: { 'content-type': 'application/ocsp-request' }, payload: Buffer.from(der) });
        expect(res.statusCode).toBe(200);
        return { der: res.rawPayload, parsed: AsnConvert.parse(res.rawPayload, OCSPResponse) };
      };
      expect(bare.tbsRequest.requestExtensions).toBeUndefined();

      for (const n of [1, 32]) {
        const requestDer = withNonces(octetString(n));
        const { der, parsed } = await ask(requestDer);
        expect(parsed.responseStatus, `${n} bytes`).toBe(OCSPResponseStatus.successful);
        const basic = AsnConvert.parse(parsed.responseBytes!.response.buffer, BasicOCSPResponse);
        const echoed = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
        expect(Buffer.from(echoed!.extnValue.buffer)).toEqual(Buffer.from(octetString(n)));
        // OpenSSL compares the nonces itself (it has the request) and checks the signature.
        const judged = await opensslAsync(['ocsp', '-reqin', file(`nonce-${n}.req`, requestDer), '-respin', file(`nonce-${n}.resp`, der), '-CAfile', caPaths.chain]);
        expect(judged.out, judged.out).toMatch(/Response verify OK/);
        expect(judged.out).not.toMatch(/nonce/i);
      }

      for (const value of [octetString(0), octetString(33), new Uint8Array([0x04, 0x81, 0x21, ...new Uint8Array(33)]), new Uint8Array([0x02, 0x01, 0x05]), new Uint8Array([0x04, 0x05, 1, 2])]) {
        const { parsed } = await ask(withNonces(value));
        expect(parsed.responseStatus, Buffer.from(value).toString('hex')).toBe(OCSPResponseStatus.malformedRequest);
        expect(parsed.responseBytes).toBeUndefined();
      }
      expect((await ask(withNonces(octetString(16), octetString(16)))).parsed.responseStatus).toBe(OCSPResponseStatus.malformedRequest);
    });

    it('openssl ocsp -reqin with its own nonce gets a verified answer carrying that nonce', async () => {
      const reqFile = path.join(work, 'req-nonce.der');
      execFileSync('openssl', ['ocsp', '-issuer', caPaths.issuing, '-cert', file('nonce-openssl.pem', firstPem), '-reqout', reqFile]);
      expect(openssl(['ocsp', '-reqin', reqFile, '-req_text']).out).toMatch(/OCSP Nonce/);
      const answer = await opensslAsync(['ocsp', '-reqin', reqFile, '-url', `${baseUrl}/pki/ocsp`, '-CAfile', caPaths.chain, '-resp_text']);
      expect(answer.out, answer.out).toMatch(/Response verify OK/);
      expect(answer.out).toMatch(/OCSP Nonce/);
      expect(answer.out).not.toMatch(/WARNING: no nonce|nonce verify error/i);
      expect(answer.out).toMatch(/Cert Status: revoked/);
    });
  });

  describe('refusals', () => {
    it('a CSR whose signature does not verify → CSR_INVALID', async () => {
      const pem = await csrPem(await keyPair());
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      der.writeUInt8(der.readUInt8(der.length - 5) ^ 0x01, der.length - 5);
      const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
      const c = await newClient(t, 'buyer');
      const res = await c.request('POST', '/api/certificates/master', { csrPem: tampered });
      expect(res.json().code).toBe('CSR_INVALID');
      expect((await c.request('POST', '/api/certificates/master', { csrPem: 'x'.repeat(200) })).json().code).toBe('CSR_INVALID');
    });

    it('a key that is not P-256 → CERTIFICATE_KEY_UNSUPPORTED', async () => {
      const c = await newClient(t, 'buyer');
      const res = await c.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair('P-384'), 'x', 'SHA-384') });
      expect(res.json().code).toBe('CERTIFICATE_KEY_UNSUPPORTED');
      const rsa = (await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
      const rsaCsr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=x', keys: rsa, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' } });
      expect((await c.request('POST', '/api/certificates/master', { csrPem: rsaCsr.toString('pem') })).json().code).toBe('CERTIFICATE_KEY_UNSUPPORTED');
    });

    it('a CSR signed with SHA-1 → CSR_SIGNATURE_ALGORITHM_WEAK, whether made here or by openssl req -sha1', async () => {
      const c = await newClient(t, 'buyer');
      const made = await csrPem(await keyPair(), 'x', 'SHA-1');
      const res = await c.request('POST', '/api/certificates/master', { csrPem: made });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'CSR_SIGNATURE_ALGORITHM_WEAK', detail: expect.stringContaining('ecdsa-with-SHA1') });
      const key = path.join(work, 'sha1-ec.pem');
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
      const byOpenssl = execFileSync('openssl', ['req', '-new', '-sha1', '-key', key, '-subj', '/CN=x'], { encoding: 'utf8' });
      expect(openssl(['req', '-in', file('sha1.csr', byOpenssl), '-noout', '-text']).out).toContain('ecdsa-with-SHA1');
      expect((await c.request('POST', '/api/certificates/master', { csrPem: byOpenssl })).json().code).toBe('CSR_SIGNATURE_ALGORITHM_WEAK');
      // The same key signing with SHA-256 is accepted: the digest alone was the reason.
      const sha256 = execFileSync('openssl', ['req', '-new', '-sha256', '-key', key, '-subj', '/CN=x'], { encoding: 'utf8' });
      expect((await c.request('POST', '/api/certificates/master', { csrPem: sha256 })).statusCode).toBe(201);
    });

    it('issuing for another user is impossible: identity comes from the session', async () => {
      const c = await newClient(t, 'buyer');
      const res = await c.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()), userId: buyer.userId });
      expect(res.json().code).toBe('VALIDATION_FAILED');
      const anonymous = await t.app.inject({ method: 'POST', url: '/api/certificates/master', payload: { csrPem: await csrPem(await keyPair()) } });
      expect(anonymous.json().code).toBe('AUTH_REQUIRED');
    });

    it('another user’s certificate cannot be read, revoked or tested', async () => {
      const mine = (await buyer.get('/api/certificates')).json().items[0];
      const other = await newClient(t, 'seller');
      expect((await other.get(`/api/certificates/${mine.id}`)).json().code).toBe('CERTIFICATE_NOT_OWNED');
      expect((await other.request('POST', `/api/certificates/${mine.id}/revoke`, { reason: 'keyCompromise' })).json().code).toBe('CERTIFICATE_NOT_OWNED');
    });
  });

  describe('test my certificate', () => {
    it('accepts a signature over a fresh challenge once; refuses a wrong signature, a reused challenge and a revoked master', async () => {
      const c = await newClient(t, 'seller');
      const keys = await keyPair();
      const issued = (await c.request('POST', '/api/certificates/master', { csrPem: await csrPem(keys) })).json();
      // Read with core's DER reader: asn1js prints arcs above 2^53 (ours) in a private form.
      expect(parseCertificate(new Uint8Array(new x509.X509Certificate(issued.certificatePem).rawData)).extendedKeyUsage).toContain(EKU.receiptSigning);
      const sign = async (challengeId: string, challenge: string, key = keys.privateKey) =>
        Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(`coconutpay-certificate-test\n${challengeId}\n${challenge}`))).toString('base64url');

      const ch = (await c.request('POST', '/api/certificates/challenge')).json();
      const ok = await c.request('POST', `/api/certificates/${issued.certificate.id}/proof`, { challengeId: ch.challengeId, signature: await sign(ch.challengeId, ch.challenge) });
      expect(ok.json()).toMatchObject({ valid: true });
      const reused = await c.request('POST', `/api/certificates/${issued.certificate.id}/proof`, { challengeId: ch.challengeId, signature: await sign(ch.challengeId, ch.challenge) });
      expect(reused.json().code).toBe('CHALLENGE_INVALID');

      const ch2 = (await c.request('POST', '/api/certificates/challenge')).json();
      const otherKey = (await keyPair()).privateKey;
      const wrong = await c.request('POST', `/api/certificates/${issued.certificate.id}/proof`, { challengeId: ch2.challengeId, signature: await sign(ch2.challengeId, ch2.challenge, otherKey) });
      expect(wrong.json().code).toBe('SIGNATURE_INVALID');

      expect((await c.request('POST', `/api/certificates/${issued.certificate.id}/revoke`, { reason: 'keyCompromise' })).json().status).toBe('revoked');
      const ch3 = (await c.request('POST', '/api/certificates/challenge')).json();
      const revoked = await c.request('POST', `/api/certificates/${issued.certificate.id}/proof`, { challengeId: ch3.challengeId, signature: await sign(ch3.challengeId, ch3.challenge) });
      expect(revoked.json().code).toBe('CERTIFICATE_REVOKED');
      // A new master may be issued once none is active.
      expect((await c.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()) })).statusCode).toBe(201);
    });
  });

  describe('chain verdicts on the server (core validator behind a cache)', () => {
    it('judges an issued master valid for payment, caches the verdict, and refuses it once expired', async () => {
      const c = await newClient(t, 'buyer');
      const issued = (await c.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()) })).json();
      const der = new Uint8Array(new x509.X509Certificate(issued.certificatePem).rawData);
      const verifier = t.app.internals.verifier;
      const before = verifier.stats();
      await expect(verifier.verify(der, 'payment', t.clock.nowMs)).resolves.toMatchObject({ valid: true });
      await expect(verifier.verify(der, 'payment', t.clock.nowMs + 1000)).resolves.toMatchObject({ valid: true });
      expect(verifier.stats().misses - before.misses).toBe(1);
      expect(verifier.stats().hits - before.hits).toBe(1);
      // A master is not an OCSP signer, whatever the cache holds for payment.
      expect((await verifier.verify(der, 'ocsp', t.clock.nowMs)).valid).toBe(false);
      const afterExpiry = issued.certificate.notAfterMs + 2000;
      const expired = await verifier.verify(der, 'payment', afterExpiry);
      expect(expired.valid).toBe(false);
      expect(expired.reasons[0]?.code).toBe('CERTIFICATE_EXPIRED');
      await expect(verifier.assertValid(der, 'payment', afterExpiry)).rejects.toMatchObject({ code: 'CERTIFICATE_EXPIRED' });
    });

    it('refuses a certificate from a look-alike CA and a tampered certificate', async () => {
      const verifier = t.app.internals.verifier;
      const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
      const fakeKeys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
      const issuing = t.app.internals.ca.issuing.certificate;
      const leafKeys = await keyPair();
      // Same issuer name and key identifier as our issuing CA, signed with another key.
      const forged = await x509.X509CertificateGenerator.create({
        serialNumber: '0badc0ffee0badc0ffee', subject: 'CN=forged', issuer: issuing.subject,
        notBefore: new Date(t.clock.nowMs - 60_000), notAfter: new Date(t.clock.nowMs + 86_400_000),
        publicKey: leafKeys.publicKey, signingKey: fakeKeys.privateKey, signingAlgorithm: alg,
        extensions: [
          new x509.AuthorityKeyIdentifierExtension(issuing.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([EKU.paymentSigning]),
        ],
      });
      const verdict = await verifier.verify(new Uint8Array(forged.rawData), 'payment', t.clock.nowMs);
      expect(verdict.valid).toBe(false);
      expect(verdict.reasons.map((r) => r.code)).toContain('CERTIFICATE_CHAIN_INVALID');

      const c = await newClient(t, 'buyer');
      const issued = (await c.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()) })).json();
      const tampered = new Uint8Array(new x509.X509Certificate(issued.certificatePem).rawData);
      tampered[tampered.length - 3] = (tampered[tampered.length - 3]! + 1) & 0xff;
      expect((await verifier.verify(tampered, 'payment', t.clock.nowMs)).valid).toBe(false);
    });
  });
});

describe('CRLs keep revoked certificates after they expire (expiredCertsOnCRL)', () => {
  let t: TestApp;
  let chainFile: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { CA_KEY_PASSPHRASE: 'test CA passphrase, long enough', CERT_VALIDITY_DAYS: '1' } });
    chainFile = file('expired-chain.pem', (await t.app.inject({ method: 'GET', url: '/pki/ca.pem' })).body);
  });
  afterAll(async () => t.close());

  const crlOf = async (issuerId: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/pki/crl/${issuerId}.crl` });
    expect(res.statusCode).toBe(200);
    return res.rawPayload;
  };
  /** The DER GeneralizedTime of a date at whole seconds: what expiredCertsOnCRL must hold. */
  const generalizedTime = (date: Date) => {
    const text = new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z').replace(/[-:T]/g, '');
    return Buffer.concat([Buffer.from([0x18, text.length]), Buffer.from(text, 'ascii')]);
  };

  it('lists a revoked certificate after its notAfter, marks the CRL non-critically, and OpenSSL accepts it', async () => {
    const holder = await newClient(t, 'buyer');
    const revoked = (await holder.request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()) })).json();
    expect((await holder.request('POST', `/api/certificates/${revoked.certificate.id}/revoke`, { reason: 'keyCompromise' })).statusCode).toBe(200);
    const active = (await (await newClient(t, 'buyer')).request('POST', '/api/certificates/master', { csrPem: await csrPem(await keyPair()) })).json();
    const serialOf = (pem: string) => new x509.X509Certificate(pem).serialNumber.toLowerCase();
    const issuing = t.app.internals.ca.issuing;

    t.clock.advance(revoked.certificate.notAfterMs - t.clock.nowMs + 2 * 3_600_000);
    const der = await crlOf(issuing.id);
    const crl = new x509.X509Crl(new Uint8Array(der));
    // Made after the certificate expired: only keeping expired entries can put it here.
    expect(crl.thisUpdate.getTime()).toBeGreaterThan(revoked.certificate.notAfterMs);
    const serials = crl.entries.map((e) => e.serialNumber.toLowerCase().replace(/^(00)+/, ''));
    expect(serials).toContain(serialOf(revoked.certificatePem).replace(/^(00)+/, ''));
    expect(serials).not.toContain(serialOf(active.certificatePem).replace(/^(00)+/, ''));

    const marker = crl.extensions.find((e) => e.type === '2.5.29.60');
    expect(marker, 'expiredCertsOnCRL').toBeDefined();
    expect(marker!.critical).toBe(false);
    // Kept since the issuer began: the issuer certificate's notBefore.
    expect(Buffer.from(marker!.value)).toEqual(generalizedTime(issuing.certificate.notBefore));

    const crlFile = file('expired.crl', der);
    const text = openssl(['crl', '-inform', 'DER', '-in', crlFile, '-text', '-noout']);
    expect(text.status, text.out).toBe(0);
    expect(text.out).toMatch(/X509v3 Expired Certs On CRL|2\.5\.29\.60/);
    expect(text.out).not.toMatch(/(X509v3 Expired Certs On CRL|2\.5\.29\.60):\s*critical/);
    expect(text.out.toLowerCase()).toContain(serialOf(revoked.certificatePem).replace(/^(00)+/, '').slice(0, 16));
    const verified = await opensslAsync(['crl', '-verify', '-inform', 'DER', '-in', crlFile, '-CAfile', chainFile, '-noout']);
    expect(verified.out, verified.out).toMatch(/verify OK/);
  });

  it('marks the root CRL too, with the root certificate notBefore', async () => {
    const root = t.app.internals.ca.root;
    const crl = new x509.X509Crl(new Uint8Array(await crlOf(root.id)));
    const marker = crl.extensions.find((e) => e.type === '2.5.29.60');
    expect(marker?.critical).toBe(false);
    expect(Buffer.from(marker!.value)).toEqual(generalizedTime(root.certificate.notBefore));
  });
});
