/**
 * The certificate login of seed 004 §3.2 run between the browser's end and the server's
 * end, with an injected clock and an in-memory store: a correct run; each message
 * replayed; messages from the past and the future; a swapped N_c; a fake server whose key
 * our CA never certified (the client stops at step 3); a revoked certificate; and what a
 * captured message (1) gives away about the password (nothing an attacker can test).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding/index.js';
import { createCertificate } from '../pki/certificate-builder.js';
import { EKU } from '../pki/oids.js';
import { seal, unseal } from '../payment/index.js';
import {
  CERTIFICATE_LOGIN_HANDSHAKE_TTL_MS, CERTIFICATE_LOGIN_WINDOW_MS, CertificateLoginRefused, CertificateLoginServer, continueCertificateLogin, LOGIN_HELLO_CONTENT_TYPE,
  NotGenuineServer, pinProofMatches, loginAuthMessage, pinVerifierOf, startCertificateLogin, verifyAuthServerKey,
  type LoginCertificate, type LoginHandshake, type LoginServerStore, type PinVerifier, type SignedLoginMessage, type LoginHello,
} from './certificate-login.js';
import { signJson } from '../pki/signed-json.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const START = new Date('2026-12-06T12:00:00Z').getTime();
const PASSWORD = '휴대폰 인증서 비밀번호';
const CERT_ID = '0193a5c2-7d4e-7b1a-9c3f-2e5d8a6b4c10';
/** Fewer than the browser's 600,000, to keep the test quick; the arithmetic is the same. */
const ITERATIONS = 1_000;
const keys = async () => (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const jwe = { seal, unseal };

class MemoryStore implements LoginServerStore {
  readonly seen = new Map<string, number>();
  readonly handshakes = new Map<string, LoginHandshake & { used: boolean }>();
  async rememberHello(certificateId: string, clientTimeMs: number, nc: string, untilMs: number, nowMs: number): Promise<boolean> {
    for (const [key, until] of this.seen) if (until <= nowMs) this.seen.delete(key);
    const key = `${certificateId}|${clientTimeMs}|${nc}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, untilMs);
    return true;
  }
  async saveHandshake(handshake: LoginHandshake): Promise<void> {
    this.handshakes.set(handshake.id, { ...handshake, used: false });
  }
  async takeHandshake(id: string, nowMs: number): Promise<LoginHandshake | undefined> {
    const h = this.handshakes.get(id);
    if (!h || h.used || h.expiresAtMs <= nowMs) return undefined;
    h.used = true;
    return h;
  }
}

describe('certificate login (seed 004 §3.2)', () => {
  let rootKeys: CryptoKeyPair;
  let root: x509.X509Certificate;
  let sKeys: CryptoKeyPair;
  let sCert: x509.X509Certificate;
  let agreement: CryptoKeyPair;
  let device: CryptoKeyPair;
  let verifier: PinVerifier;
  let nowMs: number;
  let revoked: boolean;
  /** What S finds registered for the certificate. */
  let registered: PinVerifier | null;
  let store: MemoryStore;
  let server: CertificateLoginServer;

  const issue = async (publicKey: CryptoKey, signer: CryptoKey, issuer: x509.X509Certificate, ekus: string[]) =>
    createCertificate({
      serialNumberHex: `01${Array.from(random(9), (b) => b.toString(16).padStart(2, '0')).join('')}`,
      subject: 'CN=CoconutPay Authentication Server (S)', issuer: issuer.subjectName, publicKey, signingKey: signer,
      notBefore: new Date(START - 86_400_000), notAfter: new Date(START + 86_400_000),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension(ekus),
        await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      ],
    });

  const selfSignedRoot = async (k: CryptoKeyPair, name: string) =>
    x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name, keys: k, signingAlgorithm: ALG, notBefore: new Date('2026-01-01'), notAfter: new Date('2030-01-01'),
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(k.publicKey),
      ],
    });

  const der = (c: x509.X509Certificate) => new Uint8Array(c.rawData);

  function serverWith(signing: { key: CryptoKey; x5c: Uint8Array[] }): CertificateLoginServer {
    let n = 0;
    return new CertificateLoginServer(
      {
        clock: () => nowMs, random, newId: () => `hs-${++n}`, store,
        agreementKey: agreement.privateKey, signingKey: signing.key, x5c: signing.x5c,
        certificateOf: async (loginId, certificateId): Promise<LoginCertificate> => {
          if (loginId !== 'buyer1' || certificateId !== CERT_ID) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'not ours');
          if (revoked) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'revoked');
          return { userId: 'user-1', publicKey: device.publicKey, verifier: registered };
        },
      },
      jwe,
    );
  }

  beforeAll(async () => {
    rootKeys = await keys();
    root = await selfSignedRoot(rootKeys, 'CN=Test Root');
    sKeys = await keys();
    sCert = await issue(sKeys.publicKey, rootKeys.privateKey, root, [EKU.sessionAuthority]);
    agreement = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
    device = await keys();
    verifier = await pinVerifierOf(PASSWORD, random(16), ITERATIONS);
  });

  beforeEach(() => {
    nowMs = START;
    revoked = false;
    registered = verifier;
    store = new MemoryStore();
    server = serverWith({ key: sKeys.privateKey, x5c: [der(sCert)] });
  });

  const hello = (overrides: { password?: string; nowMs?: number; certificateId?: string } = {}) =>
    startCertificateLogin({
      loginId: 'buyer1', certificateId: overrides.certificateId ?? CERT_ID, password: overrides.password ?? PASSWORD, verifier,
      signingKey: device.privateKey, serverAgreementKey: agreement.publicKey, nowMs: overrides.nowMs ?? nowMs, random, seal,
    });
  const refusal = async (action: Promise<unknown>) => {
    try {
      await action;
    } catch (error) {
      if (error instanceof CertificateLoginRefused) return error.code;
      if (error instanceof NotGenuineServer) return 'NOT_GENUINE';
      throw error;
    }
    return 'accepted';
  };

  it('a correct run: the client checks S, then S checks the client, and names the account and certificate', async () => {
    const { sealedHello, state } = await hello();
    const two = await server.hello(sealedHello);
    expect(two).toMatchObject({ loginId: 'buyer1', userId: 'user-1', certificateId: CERT_ID });
    nowMs += 2_000;
    const three = await continueCertificateLogin({ state, sealedChallenge: two.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal });
    expect(three.message).toMatchObject({ type: 'coconutpay-login-3', handshakeId: two.handshakeId, nc: state.hello.nc });
    expect(await server.confirm('buyer1', three)).toEqual({ userId: 'user-1', certificateId: CERT_ID, admission: null });
  });

  it("hands back at (3) what the server's admission of (1) answered", async () => {
    const { sealedHello, state } = await hello();
    const admitted: string[] = [];
    const two = await server.hello(sealedHello, async (loginId) => {
      admitted.push(loginId);
      return '203.0.113.7';
    });
    expect(admitted).toEqual(['buyer1']);
    const three = await continueCertificateLogin({ state, sealedChallenge: two.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal });
    expect(await server.confirm('buyer1', three)).toEqual({ userId: 'user-1', certificateId: CERT_ID, admission: '203.0.113.7' });
  });

  it('refuses each message replayed', async () => {
    const { sealedHello, state } = await hello();
    const two = await server.hello(sealedHello);
    expect(await refusal(server.hello(sealedHello))).toBe('CERTIFICATE_LOGIN_REPLAYED');
    const three = await continueCertificateLogin({ state, sealedChallenge: two.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal });
    await server.confirm('buyer1', three);
    expect(await refusal(server.confirm('buyer1', three))).toBe('CERTIFICATE_LOGIN_EXPIRED');
    // Message (2) replayed to the client of a later login: its N_c is not that login's.
    const later = await hello();
    expect(await refusal(continueCertificateLogin({ state: later.state, sealedChallenge: two.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal }))).toBe('NOT_GENUINE');
    // Still refused at the edge of its window, and forgotten only after.
    nowMs += CERTIFICATE_LOGIN_WINDOW_MS;
    expect(await refusal(server.hello(sealedHello))).toBe('CERTIFICATE_LOGIN_REPLAYED');
    nowMs += 1;
    expect(await refusal(server.hello(sealedHello))).toBe('CERTIFICATE_LOGIN_EXPIRED');
  });

  it('refuses a message (1) from the past or the future, and a (3) after the handshake ended', async () => {
    expect(await refusal(server.hello((await hello({ nowMs: START - CERTIFICATE_LOGIN_WINDOW_MS - 1 })).sealedHello))).toBe('CERTIFICATE_LOGIN_EXPIRED');
    expect(await refusal(server.hello((await hello({ nowMs: START + CERTIFICATE_LOGIN_WINDOW_MS + 1 })).sealedHello))).toBe('CERTIFICATE_LOGIN_EXPIRED');
    expect(await refusal(server.hello((await hello({ nowMs: START + CERTIFICATE_LOGIN_WINDOW_MS })).sealedHello))).toBe('accepted');

    const { sealedHello, state } = await hello();
    const two = await server.hello(sealedHello);
    const three = await continueCertificateLogin({ state, sealedChallenge: two.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal });
    nowMs += CERTIFICATE_LOGIN_HANDSHAKE_TTL_MS;
    expect(await refusal(server.confirm('buyer1', three))).toBe('CERTIFICATE_LOGIN_EXPIRED');
  });

  it('refuses a (3) whose N_c is swapped, or that answers another handshake, or is signed by another key', async () => {
    const first = await hello();
    const second = await hello();
    const twoA = await server.hello(first.sealedHello);
    const twoB = await server.hello(second.sealedHello);
    const three = await continueCertificateLogin({ state: first.state, sealedChallenge: twoA.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal });
    const swapped: SignedLoginMessage<typeof three.message> = { ...three, message: { ...three.message, nc: second.state.hello.nc } };
    expect(await refusal(server.confirm('buyer1', swapped))).toBe('CERTIFICATE_LOGIN_INVALID');
    // The swap used up handshake A: the genuine (3) no longer finds it.
    expect(await refusal(server.confirm('buyer1', three))).toBe('CERTIFICATE_LOGIN_EXPIRED');
    const other = await keys();
    const threeB = await continueCertificateLogin({ state: second.state, sealedChallenge: twoB.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: other.privateKey, unseal });
    expect(await refusal(server.confirm('buyer1', threeB))).toBe('CERTIFICATE_LOGIN_INVALID');
  });

  it('a fake server whose key our CA never certified is caught at step 3: the client sends nothing more', async () => {
    const fakeRootKeys = await keys();
    const fakeRoot = await selfSignedRoot(fakeRootKeys, 'CN=Test Root');
    const fakeKeys = await keys();
    const fakeCert = await issue(fakeKeys.publicKey, fakeRootKeys.privateKey, fakeRoot, [EKU.sessionAuthority]);
    const fake = serverWith({ key: fakeKeys.privateKey, x5c: [der(fakeCert)] });
    const { sealedHello, state } = await hello();
    const two = await fake.hello(sealedHello);
    expect(await refusal(continueCertificateLogin({ state, sealedChallenge: two.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal }))).toBe('NOT_GENUINE');
    // A certificate of ours, but not for S (no session-authority EKU), is no S either.
    const notS = await issue(fakeKeys.publicKey, rootKeys.privateKey, root, [EKU.commandIssuing]);
    const two2 = await serverWith({ key: fakeKeys.privateKey, x5c: [der(notS)] }).hello((await hello()).sealedHello);
    expect(await refusal(continueCertificateLogin({ state, sealedChallenge: two2.sealedChallenge, trustAnchors: [der(root)], nowMs, signingKey: device.privateKey, unseal }))).toBe('NOT_GENUINE');
    // And S's published agreement key must be the one S signed.
    const jwk = (await crypto.subtle.exportKey('jwk', agreement.publicKey)) as { x: string; y: string };
    const agreementKey = { kty: 'EC' as const, crv: 'P-256' as const, x: jwk.x, y: jwk.y };
    const signedKey = await signJson(agreementKey, sKeys.privateKey, [der(sCert)], 'coconutpay-auth-key+jws');
    expect((await verifyAuthServerKey({ agreementKey, agreementKeyJws: signedKey }, [der(root)], new Date(nowMs))).ok).toBe(true);
    const substituted = { ...agreementKey, x: toBase64Url(random(32)) };
    expect((await verifyAuthServerKey({ agreementKey: substituted, agreementKeyJws: signedKey }, [der(root)], new Date(nowMs))).ok).toBe(false);
    const fakeSigned = await signJson(agreementKey, fakeKeys.privateKey, [der(fakeCert)], 'coconutpay-auth-key+jws');
    expect((await verifyAuthServerKey({ agreementKey, agreementKeyJws: fakeSigned }, [der(root)], new Date(nowMs))).ok).toBe(false);
  });

  it('refuses a revoked certificate, a wrong password, and a certificate without a registered PIN verifier', async () => {
    revoked = true;
    expect(await refusal(server.hello((await hello()).sealedHello))).toBe('CERTIFICATE_LOGIN_INVALID');
    revoked = false;
    const wrong = await refusal(server.hello((await hello({ password: `${PASSWORD}!` })).sealedHello));
    expect(wrong).toBe('CERTIFICATE_LOGIN_INVALID');
    registered = null;
    expect(await refusal(server.hello((await hello()).sealedHello))).toBe('CERTIFICATE_LOGIN_NOT_ENABLED');
  });

  it('refuses a message (1) naming no account or certificate of ours before looking anything up', async () => {
    expect(await refusal(server.hello((await hello({ certificateId: 'x'.repeat(80) })).sealedHello))).toBe('CERTIFICATE_LOGIN_INVALID');
  });

  it('a captured message (1) gives away nothing to test the password with: no unsalted function of it, and only S can open it', async () => {
    const { sealedHello, state } = await hello();
    // What travels is a JWE to S: without S's private key it opens to nothing.
    const stranger = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits'])) as CryptoKeyPair;
    await expect(unseal(sealedHello, stranger.privateKey, LOGIN_HELLO_CONTENT_TYPE)).rejects.toThrow();
    // None of the usual unsalted functions of the password appears, in the message or inside it.
    const inside = JSON.stringify(await unseal<SignedLoginMessage<LoginHello>>(sealedHello, agreement.privateKey, LOGIN_HELLO_CONTENT_TYPE));
    const digests = await Promise.all(['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'].map(async (h) => new Uint8Array(await crypto.subtle.digest(h, utf8(PASSWORD)))));
    const forms = [PASSWORD, toBase64Url(utf8(PASSWORD)), Buffer.from(PASSWORD).toString('base64'), Buffer.from(PASSWORD).toString('hex'),
      ...digests.flatMap((d) => [toBase64Url(d), Buffer.from(d).toString('base64'), Buffer.from(d).toString('hex')])];
    for (const form of forms) {
      expect(sealedHello).not.toContain(form);
      expect(inside).not.toContain(form);
    }
    // The proof inside is bound to this N_c and time: the same password makes another proof for another login.
    const other = await hello({ nowMs: nowMs + 1 });
    expect(other.state.hello.pinProof).not.toBe(state.hello.pinProof);
    expect(await pinProofMatches(state.hello.pinProof, verifier, loginAuthMessage(other.state.hello))).toBe(false);
    expect(await pinProofMatches(state.hello.pinProof, verifier, loginAuthMessage(state.hello))).toBe(true);
    // And what S stores cannot stand in for the proof: StoredKey alone does not make one.
    expect(fromBase64Url(verifier.storedKey)).toHaveLength(32);
    expect(state.hello.pinProof).not.toBe(verifier.storedKey);
  });
});
