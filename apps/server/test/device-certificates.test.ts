/**
 * Additional certificates through the API: a new device asks, the master device
 * approves with a master-key signature, the CA issues; every refusal case of the
 * issue; OpenSSL and OCSP agree on active and revoked device certificates; the
 * decision is pushed to the waiting device as a server-sent event.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalMessage, deviceCode, revocationMessage } from '@coconutpay/core/pki/master-approval';
import { APPROVAL_REQUEST_TTL_MS } from '../src/services/device-certificates.js';
import { x509 } from '../src/services/pki/x509.js';
import { newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

const work = mkdtempSync(path.join(tmpdir(), 'cp-devices-'));
let fileCounter = 0;
const file = (content: string | Uint8Array, name = `f${++fileCounter}.pem`) => {
  const p = path.join(work, name);
  writeFileSync(p, content);
  return p;
};

function openssl(args: string[]): { out: string; status: number } {
  try {
    return { out: execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }), status: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; status?: number };
    return { out: `${e.stdout ?? ''}${e.stderr ?? ''}`, status: e.status ?? 1 };
  }
}

/** openssl talking to the server in this process must not block the event loop. */
function opensslAsync(args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('openssl', args, { encoding: 'utf8', timeout: 20_000 }, (_e, stdout, stderr) => resolve(`${stdout}${stderr}`)));
}

interface Device {
  keys: CryptoKeyPair;
  csrPem: string;
}

async function device(): Promise<Device> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=device', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  return { keys, csrPem: csr.toString('pem') };
}

async function sign(key: CryptoKey, text: string): Promise<string> {
  return Buffer.from(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(text, 'utf8'))).toString('base64url');
}

interface User {
  client: SignedClient;
  master: { id: string; keys: CryptoKeyPair; pem: string };
}

async function userWithMaster(t: TestApp, role: 'buyer' | 'seller' = 'buyer'): Promise<User> {
  const client = await newClient(t, role);
  const d = await device();
  const res = await client.request('POST', '/api/certificates/master', { csrPem: d.csrPem });
  expect(res.statusCode, res.body).toBe(201);
  return { client, master: { id: res.json().certificate.id, keys: d.keys, pem: res.json().certificatePem } };
}

interface Pending {
  id: string;
  nickname: string;
  code: string;
  spkiBase64: string;
  spkiSha256Hex: string;
  serverNonce: string;
  expiresAtMs: number;
}

/** What the master device does: find the request, recompute the code from the key, sign the approval text. */
async function approvalSignature(user: User, requestId: string, signer = user.master.keys.privateKey): Promise<string> {
  const pending = ((await user.client.get('/api/certificates/requests')).json().items as Pending[]).find((p) => p.id === requestId)!;
  const code = await deviceCode(Buffer.from(pending.spkiBase64, 'base64'), Buffer.from(pending.serverNonce, 'base64url'));
  expect(code).toBe(pending.code);
  return sign(signer, approvalMessage({ requestId, userId: user.client.userId, spkiSha256Hex: pending.spkiSha256Hex, nickname: pending.nickname, code, expiresAtMs: pending.expiresAtMs }));
}

async function requestDevice(user: User, nickname: string, d?: Device) {
  const dev = d ?? (await device());
  const res = await user.client.request('POST', '/api/certificates/requests', { nickname, csrPem: dev.csrPem });
  return { res, device: dev };
}

async function approvedDevice(user: User, nickname: string) {
  const { res, device: dev } = await requestDevice(user, nickname);
  expect(res.statusCode, res.body).toBe(201);
  const id = res.json().id as string;
  const approved = await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature: await approvalSignature(user, id) });
  expect(approved.statusCode, approved.body).toBe(200);
  return { requestId: id, device: dev, issued: approved.json().issued as { certificate: { id: string; serialHex: string }; certificatePem: string; chainPem: string } };
}

async function revokeDevice(user: User, certificateId: string, serialHex: string, reason = 'keyCompromise', signer = user.master.keys.privateKey, masterId = user.master.id) {
  const ch = (await user.client.request('POST', '/api/certificates/challenge')).json();
  const signature = await sign(signer, revocationMessage({ certificateId, serialHex, reason, challengeId: ch.challengeId, challenge: ch.challenge }));
  return user.client.request('POST', `/api/certificates/${certificateId}/revoke`, { reason, masterProof: { masterCertificateId: masterId, challengeId: ch.challengeId, signature } });
}

async function proof(client: SignedClient, certificateId: string, key: CryptoKey) {
  const ch = (await client.request('POST', '/api/certificates/challenge')).json();
  const signature = await sign(key, `coconutpay-certificate-test\n${ch.challengeId}\n${ch.challenge}`);
  return client.request('POST', `/api/certificates/${certificateId}/proof`, { challengeId: ch.challengeId, signature });
}

describe('additional certificates', () => {
  let t: TestApp;
  let baseUrl: string;
  let caFiles: { root: string; issuing: string; chain: string };

  const crlPems = async () =>
    Promise.all([t.app.internals.ca.issuing.id, t.app.internals.ca.root.id].map(async (id) => {
      const der = file((await t.app.inject({ method: 'GET', url: `/pki/crl/${id}.crl` })).rawPayload, `${id}-${++fileCounter}.crl`);
      const pem = `${der}.pem`;
      execFileSync('openssl', ['crl', '-inform', 'DER', '-in', der, '-out', pem]);
      return pem;
    }));
  const verify = async (leafPem: string) =>
    openssl(['verify', '-x509_strict', '-CAfile', caFiles.root, '-untrusted', caFiles.issuing, '-crl_check_all', ...(await crlPems()).flatMap((c) => ['-CRLfile', c]), file(leafPem)]);

  beforeAll(async () => {
    t = await startTestApp({ env: { MAX_ADDITIONAL_CERTIFICATES: '3' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const chain = (await t.app.inject({ method: 'GET', url: '/pki/ca.pem' })).body;
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    caFiles = { issuing: file(`${blocks[0]}\n`), root: file(`${blocks[1]}\n`), chain: file(chain) };
  });
  afterAll(async () => t.close());

  it('issues a device certificate the master approved; OpenSSL accepts the 3-level chain; it carries the approval', async () => {
    const user = await userWithMaster(t, 'seller');
    const { issued, device: dev } = await approvedDevice(user, '내 노트북');
    expect(issued.certificate).toMatchObject({ kind: 'additional', status: 'active', deviceNickname: '내 노트북' });
    const result = await verify(issued.certificatePem);
    expect(result.out, result.out).toContain(': OK');
    const text = openssl(['x509', '-in', file(issued.certificatePem), '-noout', '-text']).out;
    expect(text).toMatch(/2\.25\.186909314268213584781924681127864770078\.2\.2:/);
    expect(text).toMatch(/\.\s*additional/);
    expect(text).not.toContain('2.25.186909314268213584781924681127864770078.1.3'); // no deviceApproval EKU on a device
    // Same subject as the master: the device speaks for the same person.
    const master = new x509.X509Certificate(user.master.pem);
    expect(new x509.X509Certificate(issued.certificatePem).subject).toBe(master.subject);
    // The device can sign, and the server accepts it through the common gate.
    expect((await proof(user.client, issued.certificate.id, dev.keys.privateKey)).json()).toMatchObject({ valid: true });
    const list = (await user.client.get('/api/certificates')).json().items;
    expect(list.map((c: { kind: string }) => c.kind).sort()).toEqual(['additional', 'master']);
  });

  it('pushes the decision to the waiting device as a server-sent event', async () => {
    const user = await userWithMaster(t);
    const { res } = await requestDevice(user, 'phone');
    const id = res.json().id as string;
    const streamPath = `/api/certificates/requests/${id}/events`;
    const response = await fetch(`${baseUrl}${streamPath}`, { headers: await user.client.signedHeaders('GET', streamPath) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(/event: state\n/);
    expect(text).toMatch(/"status":"pending"/);
    expect(text).not.toMatch(/event: decision/);
    await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature: await approvalSignature(user, id) });
    await readUntil(/event: decision\ndata: .*\n\n/);
    const decision = JSON.parse(text.split('event: decision\ndata: ')[1]!.split('\n')[0]!);
    expect(decision.status).toBe('approved');
    expect(decision.issued.certificatePem).toMatch(/BEGIN CERTIFICATE/);
    // The server ends the stream after the decision.
    expect((await reader.read()).done).toBe(true);
  });

  it('revocation by the master reaches CRL and OCSP; OpenSSL then rejects the device; its signatures are refused', async () => {
    const user = await userWithMaster(t);
    const { issued, device: dev } = await approvedDevice(user, 'tablet');
    const before = await opensslAsync(['ocsp', '-issuer', caFiles.issuing, '-cert', file(issued.certificatePem), '-url', `${baseUrl}/pki/ocsp`, '-CAfile', caFiles.chain]);
    expect(before).toMatch(/: good/);
    t.clock.advance(1000); // history is ordered by time; give the revocation its own second
    const revoked = await revokeDevice(user, issued.certificate.id, issued.certificate.serialHex);
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(revoked.json().status).toBe('revoked');
    const result = await verify(issued.certificatePem);
    expect(result.status).not.toBe(0);
    expect(result.out).toMatch(/certificate revoked/);
    const after = await opensslAsync(['ocsp', '-issuer', caFiles.issuing, '-cert', file(issued.certificatePem), '-url', `${baseUrl}/pki/ocsp`, '-CAfile', caFiles.chain]);
    expect(after).toMatch(/Response verify OK/);
    expect(after).toMatch(/: revoked/);
    expect((await proof(user.client, issued.certificate.id, dev.keys.privateKey)).json().code).toBe('CERTIFICATE_REVOKED');
    // The user's history tells which device was let in and when it was revoked.
    const history = (await user.client.get('/api/certificates/history')).json().items as { kind: string; nickname: string | null }[];
    expect(history[0]).toMatchObject({ kind: 'revoked', nickname: 'tablet' });
    expect(history.map((e) => e.kind).sort()).toEqual(['device_approved', 'device_requested', 'master_issued', 'revoked']);
  });

  it('re-issuing the master revokes every device under it', async () => {
    const user = await userWithMaster(t);
    const { issued } = await approvedDevice(user, 'old laptop');
    const replaced = await user.client.request('POST', '/api/certificates/master', { csrPem: (await device()).csrPem, replace: true });
    expect(replaced.statusCode).toBe(201);
    const list = (await user.client.get('/api/certificates')).json().items as { id: string; kind: string; status: string; revocationReason: string | null; approvedByCertificateId: string | null }[];
    const revoked = list.find((c) => c.id === issued.certificate.id)!;
    expect(revoked.status).toBe('revoked');
    // The device can tell it went with its master: the link to the (now revoked) master is in the list.
    expect(revoked.revocationReason).toBe('superseded');
    expect(revoked.approvedByCertificateId).toBe(user.master.id);
    expect(list.find((c) => c.id === user.master.id)).toMatchObject({ kind: 'master', status: 'revoked', approvedByCertificateId: null });
    expect((await verify(issued.certificatePem)).out).toMatch(/certificate revoked/);
  });

  describe('refusals', () => {
    it('approval with another user’s master → CERTIFICATE_NOT_OWNED; another user cannot see or approve the request', async () => {
      const alice = await userWithMaster(t);
      const mallory = await userWithMaster(t);
      const { res } = await requestDevice(alice, 'phone');
      const id = res.json().id as string;
      const signature = await sign(mallory.master.keys.privateKey, 'anything');
      const withForeignMaster = await alice.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: mallory.master.id, signature });
      expect(withForeignMaster.json().code).toBe('CERTIFICATE_NOT_OWNED');
      const byMallory = await mallory.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: mallory.master.id, signature });
      expect(byMallory.json().code).toBe('APPROVAL_REQUEST_NOT_FOUND');
      expect((await mallory.client.get(`/api/certificates/requests/${id}`)).json().code).toBe('APPROVAL_REQUEST_NOT_FOUND');
      expect((await mallory.client.get('/api/certificates/requests')).json().items).toEqual([]);
    });

    it('approval signed with a revoked master → CERTIFICATE_REVOKED', async () => {
      const user = await userWithMaster(t);
      const { res } = await requestDevice(user, 'phone');
      const id = res.json().id as string;
      const signature = await approvalSignature(user, id);
      expect((await user.client.request('POST', `/api/certificates/${user.master.id}/revoke`, { reason: 'keyCompromise' })).statusCode).toBe(200);
      const approve = await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature });
      expect(approve.json().code).toBe('CERTIFICATE_REVOKED');
    });

    it('approval after expiry → APPROVAL_REQUEST_EXPIRED, and the request is left unusable', async () => {
      const user = await userWithMaster(t);
      const { res } = await requestDevice(user, 'phone');
      const id = res.json().id as string;
      const signature = await approvalSignature(user, id);
      t.clock.advance(APPROVAL_REQUEST_TTL_MS + 1);
      try {
        const approve = await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature });
        expect(approve.json().code).toBe('APPROVAL_REQUEST_EXPIRED');
        expect((await user.client.get(`/api/certificates/requests/${id}`)).json()).toMatchObject({ status: 'expired', issued: null });
        expect((await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature })).json().code).toBe('APPROVAL_REQUEST_EXPIRED');
      } finally {
        t.clock.advance(-(APPROVAL_REQUEST_TTL_MS + 1));
      }
    });

    it('a forged approval signature → SIGNATURE_INVALID; a signature over other fields does not carry over', async () => {
      const user = await userWithMaster(t);
      const { res } = await requestDevice(user, 'phone');
      const id = res.json().id as string;
      const forged = await approvalSignature(user, id, (await device()).keys.privateKey);
      expect((await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature: forged })).json().code).toBe('SIGNATURE_INVALID');
      // A real master signature, but over another request's text.
      const { res: other } = await requestDevice(user, 'phone 2');
      const signatureForOther = await approvalSignature(user, other.json().id);
      expect((await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: user.master.id, signature: signatureForOther })).json().code).toBe('SIGNATURE_INVALID');
      expect((await user.client.get(`/api/certificates/requests/${id}`)).json().status).toBe('pending');
    });

    it('an additional certificate may not approve a device → MASTER_CERTIFICATE_REQUIRED', async () => {
      const user = await userWithMaster(t);
      const { issued, device: dev } = await approvedDevice(user, 'laptop');
      const { res } = await requestDevice(user, 'phone');
      const id = res.json().id as string;
      const signature = await approvalSignature(user, id, dev.keys.privateKey);
      const approve = await user.client.request('POST', `/api/certificates/requests/${id}/approve`, { masterCertificateId: issued.certificate.id, signature });
      expect(approve.json().code).toBe('MASTER_CERTIFICATE_REQUIRED');
    });

    it('revoking another user’s device → CERTIFICATE_NOT_OWNED; a device revocation needs the master’s signature', async () => {
      const alice = await userWithMaster(t);
      const mallory = await userWithMaster(t);
      const { issued } = await approvedDevice(alice, 'phone');
      const res = await revokeDevice(mallory, issued.certificate.id, issued.certificate.serialHex, 'keyCompromise');
      expect(res.json().code).toBe('CERTIFICATE_NOT_OWNED');
      expect((await alice.client.request('POST', `/api/certificates/${issued.certificate.id}/revoke`, { reason: 'keyCompromise' })).json().code).toBe('MASTER_SIGNATURE_REQUIRED');
      const wrongKey = await revokeDevice(alice, issued.certificate.id, issued.certificate.serialHex, 'keyCompromise', (await device()).keys.privateKey);
      expect(wrongKey.json().code).toBe('SIGNATURE_INVALID');
      const list = (await alice.client.get('/api/certificates')).json().items;
      expect(list.find((c: { id: string }) => c.id === issued.certificate.id).status).toBe('active');
    });

    it('more devices than the maximum → ADDITIONAL_CERTIFICATE_LIMIT; a taken nickname → DEVICE_NICKNAME_TAKEN', async () => {
      const user = await userWithMaster(t);
      await approvedDevice(user, 'one');
      await approvedDevice(user, 'two');
      const { res: third } = await requestDevice(user, 'three');
      expect(third.statusCode).toBe(201);
      expect((await requestDevice(user, 'three')).res.json().code).toBe('DEVICE_NICKNAME_TAKEN');
      expect((await requestDevice(user, 'four')).res.json().code).toBe('ADDITIONAL_CERTIFICATE_LIMIT');
      // Rejecting the pending one frees its place.
      expect((await user.client.request('POST', `/api/certificates/requests/${third.json().id}/reject`, {})).json().status).toBe('rejected');
      expect((await requestDevice(user, 'four')).res.statusCode).toBe(201);
    });

    it('no master yet → MASTER_CERTIFICATE_MISSING; a decided request cannot be decided again', async () => {
      const lonely = await newClient(t, 'buyer');
      expect((await lonely.request('POST', '/api/certificates/requests', { nickname: 'x', csrPem: (await device()).csrPem })).json().code).toBe('MASTER_CERTIFICATE_MISSING');
      const user = await userWithMaster(t);
      const { requestId } = await approvedDevice(user, 'phone');
      expect((await user.client.request('POST', `/api/certificates/requests/${requestId}/reject`, {})).json().code).toBe('APPROVAL_REQUEST_DECIDED');
    });
  });
});
