/**
 * Certificate login with mutual authentication: the identity phase of seed 004 §3.2, with
 * our keys and standards (docs/protocol.md, "Certificate login"). In the paper's notation:
 *
 *   (1) C → S  K_S{ T_c, account, ID, P⊕N_c }  signed by C's certificate key
 *   (2) S → C  K_C{ T_s, N_c, P⊕N_c, N_s }     signed by S
 *   (3) C → S  { T_c', N_c, N_s }              signed by C's certificate key
 *   (4) S → C  the dual-token session, bound to C's certificate
 *
 * - `K_S{…}` is a JWE (ECDH-ES, A256GCM) to S's key agreement key, which S publishes with
 *   its certificate chain and its own signature over it. `K_C{…}` is a JWE (dir, A256GCM)
 *   under the reply key, 32 random bytes C sends inside (1) — only C and S know it.
 * - `P⊕N_c`, the commitment to the PIN (the certificate password), is a SCRAM proof (RFC
 *   5802 §3, with SHA-256 as RFC 7677): ClientKey = HMAC(PBKDF2(password, salt, i), "Client
 *   Key"), StoredKey = SHA-256(ClientKey), proof = ClientKey ⊕ HMAC(StoredKey, AuthMessage),
 *   where AuthMessage names the account, the certificate, N_c and T_c. S keeps only the
 *   salt, i and StoredKey (registered from the browser), so its database holds nothing that
 *   logs in, and a proof is bound to one nonce. The password never leaves the page.
 * - Every signature covers RFC 8785 canonical JSON; S's is a JWS with its chain (x5c) that C
 *   checks against the service's root for the `session` purpose before it trusts a word.
 *
 * Pure functions over WebCrypto: the browser (C), the server (S) and the tests share them.
 */
import { canonicalJsonBytes } from '../encoding/canonical-json.js';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding/index.js';
import { signJson, verifySignedJson } from '../pki/signed-json.js';

/** How far a message's time may be from the receiver's clock (the paper's acceptance window). */
export const CERTIFICATE_LOGIN_WINDOW_MS = 60_000;
/** How long S keeps an open handshake between messages (2) and (3). */
export const CERTIFICATE_LOGIN_HANDSHAKE_TTL_MS = 60_000;
/** PBKDF2 iterations the browser uses for a new PIN verifier (OWASP's figure for PBKDF2-HMAC-SHA256). */
export const PIN_VERIFIER_ITERATIONS = 600_000;
/** Random bytes in N_c, N_s and the verifier's salt. */
export const LOGIN_NONCE_BYTES = 16;
/** Random bytes in the reply key (AES-256). */
export const LOGIN_REPLY_KEY_BYTES = 32;

export const LOGIN_HELLO_CONTENT_TYPE = 'coconutpay-login-hello';
export const LOGIN_CHALLENGE_CONTENT_TYPE = 'coconutpay-login-challenge';
export const LOGIN_CHALLENGE_JWS_TYPE = 'coconutpay-login-challenge+jws';

/** What S keeps of a certificate's password: nothing that logs in by itself. */
export interface PinVerifier {
  /** base64url of {@link LOGIN_NONCE_BYTES} random bytes. */
  salt: string;
  iterations: number;
  /** base64url of SHA-256(ClientKey). */
  storedKey: string;
}

/** Message (1), before it is signed and sealed. */
export interface LoginHello {
  v: 1;
  type: 'coconutpay-login-1';
  /** The account (the paper's account and ID): login id and certificate. */
  loginId: string;
  certificateId: string;
  /** T_c, in milliseconds. */
  clientTimeMs: number;
  /** N_c, base64url. */
  nc: string;
  /** P⊕N_c: the SCRAM proof over {@link loginAuthMessage}, base64url. */
  pinProof: string;
  /** The one-login AES-256-GCM key S answers under (JWK, `k` = base64url of 32 bytes). */
  replyKey: { kty: 'oct'; k: string };
}

/** Message (2), signed by S and sealed under the reply key. */
export interface LoginChallenge {
  v: 1;
  type: 'coconutpay-login-2';
  handshakeId: string;
  /** T_s */
  serverTimeMs: number;
  /** N_c as received, and the PIN commitment echoed: C checks both are its own. */
  nc: string;
  pinProof: string;
  /** N_s, base64url. */
  ns: string;
  /** The handshake's end: message (3) must arrive before. */
  expiresAtMs: number;
}

/** Message (3), signed by C's certificate key. */
export interface LoginConfirm {
  v: 1;
  type: 'coconutpay-login-3';
  handshakeId: string;
  clientTimeMs: number;
  nc: string;
  ns: string;
}

/** A message and the certificate key's ECDSA P-256 signature over its canonical JSON (P1363, base64url). */
export interface SignedLoginMessage<T> {
  message: T;
  signature: string;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (a.length !== b.length) throw new RangeError('lengths differ');
  return Uint8Array.from(a, (x, i) => x ^ b[i]!);
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, new Uint8Array(data)));
}

async function sha256(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(data)));
}

/** SCRAM's ClientKey of a password: HMAC(PBKDF2-HMAC-SHA256(password, salt, iterations), "Client Key"). */
export async function pinClientKey(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array<ArrayBuffer>> {
  const base = await crypto.subtle.importKey('raw', utf8(password.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
  const salted = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations }, base, 256));
  return hmac(salted, utf8('Client Key'));
}

/**
 * The salt of a certificate's PIN verifier: derived from the certificate id, so it is unique
 * per certificate (what a salt must be) and the browser need not keep it anywhere.
 */
export async function pinVerifierSalt(certificateId: string): Promise<Uint8Array<ArrayBuffer>> {
  return (await sha256(utf8(`coconutpay-pin-verifier-salt-v1\n${certificateId}`))).slice(0, LOGIN_NONCE_BYTES);
}

/** The verifier S keeps for a certificate password (registered once, from the browser). */
export async function pinVerifierOf(password: string, salt: Uint8Array, iterations = PIN_VERIFIER_ITERATIONS): Promise<PinVerifier> {
  const clientKey = await pinClientKey(password, salt, iterations);
  return { salt: toBase64Url(salt), iterations, storedKey: toBase64Url(await sha256(clientKey)) };
}

/** SCRAM's AuthMessage for one login: what the PIN proof is bound to. */
export function loginAuthMessage(hello: Pick<LoginHello, 'loginId' | 'certificateId' | 'nc' | 'clientTimeMs'>): Uint8Array<ArrayBuffer> {
  return utf8(`coconutpay-certificate-login-v1\n${hello.loginId}\n${hello.certificateId}\n${hello.nc}\n${hello.clientTimeMs}`);
}

/** P⊕N_c: ClientKey ⊕ HMAC(StoredKey, AuthMessage), base64url. */
export async function pinProofOf(clientKey: Uint8Array, authMessage: Uint8Array): Promise<string> {
  const signature = await hmac(await sha256(clientKey), authMessage);
  return toBase64Url(xor(clientKey, signature));
}

/**
 * S's check of a PIN proof against the stored verifier: recover ClientKey from the proof
 * and compare its hash with StoredKey (in time that does not depend on where they differ).
 */
export async function pinProofMatches(proof: string, verifier: Pick<PinVerifier, 'storedKey'>, authMessage: Uint8Array): Promise<boolean> {
  let proofBytes: Uint8Array;
  let storedKey: Uint8Array;
  try {
    proofBytes = fromBase64Url(proof);
    storedKey = fromBase64Url(verifier.storedKey);
  } catch {
    return false;
  }
  if (proofBytes.length !== 32 || storedKey.length !== 32) return false;
  const clientKey = xor(proofBytes, await hmac(storedKey, authMessage));
  const candidate = await sha256(clientKey);
  let difference = 0;
  for (let i = 0; i < 32; i++) difference |= candidate[i]! ^ storedKey[i]!;
  return difference === 0;
}

/** A message signed with a certificate key (ECDSA P-256, SHA-256) over its canonical JSON. */
export async function signLoginMessage<T>(message: T, privateKey: CryptoKey): Promise<SignedLoginMessage<T>> {
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, canonicalJsonBytes(message));
  return { message, signature: toBase64Url(new Uint8Array(signature)) };
}

/** S's signature of message (2): a JWS with S's certificate chain in x5c. */
export function signLoginChallenge(challenge: LoginChallenge, privateKey: CryptoKey, x5c: readonly Uint8Array[]): Promise<string> {
  return signJson(challenge, privateKey, x5c, LOGIN_CHALLENGE_JWS_TYPE);
}

/** S's key agreement key and the signature that binds it to S's certified key. */
export interface AuthServerKey {
  agreementKey: { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  /** JWS by S (x5c = S's chain) over the agreement key's canonical JSON. */
  agreementKeyJws: string;
}

export type ServerCheck<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Before anything is sealed to it: S's agreement key is the one S signed with a
 * certificate that chains to `trustAnchors` for the `session` purpose now.
 */
export async function verifyAuthServerKey(key: AuthServerKey, trustAnchors: Uint8Array[], at: Date): Promise<ServerCheck<AuthServerKey['agreementKey']>> {
  const check = await verifySignedJson<AuthServerKey['agreementKey']>(key.agreementKeyJws, trustAnchors, at, 'session', 'LOGIN_SERVER_NOT_GENUINE');
  if (!check.ok) return { ok: false, reason: check.reasons.map((r) => r.code).join(', ') || 'signature' };
  const signed = check.value;
  const { kty, crv, x, y } = key.agreementKey;
  if (signed?.kty !== kty || signed.crv !== crv || signed.x !== x || signed.y !== y) return { ok: false, reason: 'the published key is not the signed one' };
  return { ok: true, value: signed };
}

/**
 * Step (3)'s first half, C deciding whether this is the genuine S: message (2) is signed by
 * a certificate that chains to `trustAnchors` for the `session` purpose, and it echoes
 * exactly this login's N_c and PIN commitment, within the time window. Only then does C
 * send anything more.
 */
export async function verifyLoginChallenge(jws: string, trustAnchors: Uint8Array[], at: Date, hello: Pick<LoginHello, 'nc' | 'pinProof'>): Promise<ServerCheck<LoginChallenge>> {
  const check = await verifySignedJson<LoginChallenge>(jws, trustAnchors, at, 'session', 'LOGIN_SERVER_NOT_GENUINE');
  if (!check.ok) return { ok: false, reason: check.reasons.map((r) => r.code).join(', ') || 'signature' };
  const challenge = check.value;
  if (challenge?.type !== 'coconutpay-login-2' || challenge.v !== 1) return { ok: false, reason: 'not a login challenge' };
  if (challenge.nc !== hello.nc) return { ok: false, reason: 'N_c is not ours' };
  if (challenge.pinProof !== hello.pinProof) return { ok: false, reason: 'the PIN commitment is not ours' };
  if (typeof challenge.ns !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(challenge.ns)) return { ok: false, reason: 'N_s is malformed' };
  if (!Number.isSafeInteger(challenge.serverTimeMs) || Math.abs(challenge.serverTimeMs - at.getTime()) > CERTIFICATE_LOGIN_WINDOW_MS) return { ok: false, reason: 'T_s is outside the window' };
  if (typeof challenge.handshakeId !== 'string' || challenge.handshakeId.length === 0) return { ok: false, reason: 'no handshake id' };
  return { ok: true, value: challenge };
}

// ---------------------------------------------------------------------------------------
// The two ends of the handshake. The server's end is written against a store and a
// certificate lookup it is given, so the same code runs on SQLite/PostgreSQL/MariaDB in
// the server and in memory in the protocol tests, with the clock injected.

/** An open handshake between messages (2) and (3). */
export interface LoginHandshake {
  id: string;
  userId: string;
  certificateId: string;
  nc: string;
  ns: string;
  expiresAtMs: number;
  /**
   * What `admit` answered when it counted the attempt (the server notes the client's
   * address there), or null: `confirm` hands it back, so the attempt's success is recorded
   * against what its start was counted against, wherever message (3) comes from.
   */
  admission: string | null;
}

/** What S needs to remember: each (certificate, time, N_c) seen, and open handshakes. */
export interface LoginServerStore {
  /** Remembers a message (1) until `untilMs`; false when the same one was seen before (a replay). */
  rememberHello(certificateId: string, clientTimeMs: number, nc: string, untilMs: number, nowMs: number): Promise<boolean>;
  saveHandshake(handshake: LoginHandshake): Promise<void>;
  /** The live handshake `id`, marked used in the same step (a second call answers undefined). */
  takeHandshake(id: string, nowMs: number): Promise<LoginHandshake | undefined>;
}

/** A certificate S may log in with, as S's own records say. */
export interface LoginCertificate {
  userId: string;
  /** The certificate's public key (ECDSA P-256). */
  publicKey: CryptoKey;
  /** The registered PIN verifier; null when certificate login was not enabled for it. */
  verifier: PinVerifier | null;
}

/**
 * A refusal of a login step, with the registry code the server answers with. Kept apart
 * from AppError so this module stays free of the server's error shape; the server maps it.
 */
export class CertificateLoginRefused extends Error {
  constructor(
    readonly code: 'CERTIFICATE_LOGIN_INVALID' | 'CERTIFICATE_LOGIN_REPLAYED' | 'CERTIFICATE_LOGIN_EXPIRED' | 'CERTIFICATE_LOGIN_NOT_ENABLED',
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'CertificateLoginRefused';
  }
}

export interface LoginServerDeps {
  clock: () => number;
  random: (bytes: number) => Uint8Array;
  newId: () => string;
  store: LoginServerStore;
  /** S's ECDH private key (messages (1) are sealed to it). */
  agreementKey: CryptoKey;
  /** S's signing key and chain (message (2)). */
  signingKey: CryptoKey;
  x5c: readonly Uint8Array[];
  /**
   * The certificate `certificateId` of account `loginId` if it may log in now (ours, of that
   * account, not revoked or expired, chain valid); throws the gate's refusal otherwise.
   */
  certificateOf: (loginId: string, certificateId: string, nowMs: number) => Promise<LoginCertificate>;
}

const B64U_NONCE = /^[A-Za-z0-9_-]{22}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function verifyLoginSignature(publicKey: CryptoKey, signed: SignedLoginMessage<unknown>): Promise<boolean> {
  try {
    const signature = fromBase64Url(signed.signature);
    if (signature.length !== 64) return false;
    return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, new Uint8Array(signature), canonicalJsonBytes(signed.message));
  } catch {
    return false;
  }
}

/** Opens a JWE made by `seal` (core/payment) under S's agreement key; undefined when it is not for S or altered. */
type Unseal = <T>(jwe: string, key: CryptoKey, contentType: string) => Promise<T>;
type Seal = (value: unknown, key: CryptoKey, contentType: string) => Promise<string>;

/**
 * S's end. `hello` takes message (1) and answers (2); `confirm` takes (3) and answers the
 * account and certificate the session is for (step (4), the session itself, is the
 * server's). Every refusal is a {@link CertificateLoginRefused}.
 */
export class CertificateLoginServer {
  constructor(
    private readonly deps: LoginServerDeps,
    private readonly jwe: { seal: Seal; unseal: Unseal },
  ) {}

  /**
   * `admit` is called once, before the PIN is checked: the server counts the attempt
   * toward the account's login lock there (and refuses a locked account), as it counts a
   * password attempt before checking the password. What it answers is kept with the
   * handshake and handed back by `confirm` ({@link LoginHandshake.admission}).
   */
  async hello(sealedHello: string, admit?: (loginId: string, nowMs: number) => Promise<string | void>): Promise<{ loginId: string; userId: string; certificateId: string; handshakeId: string; sealedChallenge: string }> {
    const nowMs = this.deps.clock();
    let signed: SignedLoginMessage<LoginHello>;
    try {
      signed = await this.jwe.unseal<SignedLoginMessage<LoginHello>>(sealedHello, this.deps.agreementKey, LOGIN_HELLO_CONTENT_TYPE);
    } catch {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'message (1) is not sealed to this server, or was altered');
    }
    const hello = signed?.message;
    if (hello?.type !== 'coconutpay-login-1' || hello.v !== 1 || typeof signed.signature !== 'string') throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'not a message (1)');
    if (typeof hello.loginId !== 'string' || typeof hello.certificateId !== 'string' || typeof hello.pinProof !== 'string') throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'message (1) is malformed');
    // The bounds of our own records: a login id as registration allows it, a certificate id as we issue them.
    if (hello.loginId.length < 1 || hello.loginId.length > 64 || !UUID.test(hello.certificateId)) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'message (1) names no account or certificate of ours');
    if (typeof hello.nc !== 'string' || !B64U_NONCE.test(hello.nc)) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'N_c is malformed');
    if (!Number.isSafeInteger(hello.clientTimeMs) || Math.abs(hello.clientTimeMs - nowMs) > CERTIFICATE_LOGIN_WINDOW_MS) {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_EXPIRED', 'T_c is outside the accepted window');
    }
    let replyKey: CryptoKey;
    try {
      const k = fromBase64Url(hello.replyKey?.k ?? '');
      if (hello.replyKey?.kty !== 'oct' || k.length !== LOGIN_REPLY_KEY_BYTES) throw new RangeError('reply key');
      replyKey = await crypto.subtle.importKey('raw', new Uint8Array(k), { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
    } catch {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'the reply key is not a 256-bit key');
    }
    // Remembered for twice the window: a copy is refused for as long as its time is acceptable.
    // Checked before the attempt is counted, so a captured message replayed does not lock the
    // account; N_c is 128 random bits, so nobody can take a (certificate, T_c, N_c) ahead of its owner.
    if (!(await this.deps.store.rememberHello(hello.certificateId, hello.clientTimeMs, hello.nc, hello.clientTimeMs + 2 * CERTIFICATE_LOGIN_WINDOW_MS, nowMs))) {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_REPLAYED', 'this message (1) was received before');
    }
    const certificate = await this.deps.certificateOf(hello.loginId, hello.certificateId, nowMs);
    if (!(await verifyLoginSignature(certificate.publicKey, signed))) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'the certificate signature does not verify');
    // Counted once the message is proven to come from the certificate's key: nobody else can
    // lock the account through this door, and the PIN guesses of whoever holds the key are
    // counted toward the account's lock (which they cannot pass: the PIN is what is guessed).
    if (!certificate.verifier) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_NOT_ENABLED', 'certificate login was not enabled for this certificate');
    const admission = (await admit?.(hello.loginId, nowMs)) ?? null;
    if (!(await pinProofMatches(hello.pinProof, certificate.verifier, loginAuthMessage(hello)))) {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'the PIN commitment does not match');
    }
    const handshake: LoginHandshake = {
      id: this.deps.newId(), userId: certificate.userId, certificateId: hello.certificateId, nc: hello.nc,
      ns: toBase64Url(this.deps.random(LOGIN_NONCE_BYTES)), expiresAtMs: nowMs + CERTIFICATE_LOGIN_HANDSHAKE_TTL_MS, admission,
    };
    await this.deps.store.saveHandshake(handshake);
    const challenge: LoginChallenge = {
      v: 1, type: 'coconutpay-login-2', handshakeId: handshake.id, serverTimeMs: nowMs, nc: hello.nc, pinProof: hello.pinProof, ns: handshake.ns, expiresAtMs: handshake.expiresAtMs,
    };
    const jws = await signLoginChallenge(challenge, this.deps.signingKey, this.deps.x5c);
    const sealedChallenge = await this.jwe.seal({ jws }, replyKey, LOGIN_CHALLENGE_CONTENT_TYPE);
    return { loginId: hello.loginId, userId: certificate.userId, certificateId: hello.certificateId, handshakeId: handshake.id, sealedChallenge };
  }

  /** Takes message (3): the account and certificate the session is for, and what `admit` answered at (1). */
  async confirm(loginId: string, signed: SignedLoginMessage<LoginConfirm>): Promise<{ userId: string; certificateId: string; admission: string | null }> {
    const nowMs = this.deps.clock();
    const confirm = signed?.message;
    if (confirm?.type !== 'coconutpay-login-3' || confirm.v !== 1 || typeof confirm.handshakeId !== 'string' || typeof signed.signature !== 'string') {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'not a message (3)');
    }
    if (!Number.isSafeInteger(confirm.clientTimeMs) || Math.abs(confirm.clientTimeMs - nowMs) > CERTIFICATE_LOGIN_WINDOW_MS) {
      throw new CertificateLoginRefused('CERTIFICATE_LOGIN_EXPIRED', 'T_c is outside the accepted window');
    }
    // Taken (used up) before anything else is checked: a replayed or reordered (3) finds no handshake.
    const handshake = await this.deps.store.takeHandshake(confirm.handshakeId, nowMs);
    if (!handshake) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_EXPIRED', 'no open handshake has this id: it ended, was used, or never was');
    if (confirm.nc !== handshake.nc || confirm.ns !== handshake.ns) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'the nonces do not match the open handshake');
    // The certificate is looked up again: one revoked between (1) and (3) is refused here.
    const certificate = await this.deps.certificateOf(loginId, handshake.certificateId, nowMs);
    if (certificate.userId !== handshake.userId) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'the handshake belongs to another account');
    if (!(await verifyLoginSignature(certificate.publicKey, signed))) throw new CertificateLoginRefused('CERTIFICATE_LOGIN_INVALID', 'the certificate signature does not verify');
    return { userId: handshake.userId, certificateId: handshake.certificateId, admission: handshake.admission };
  }
}

/** A login with a certificate as the browser runs it, between steps. */
export interface ClientLoginState {
  hello: LoginHello;
  replyKey: CryptoKey;
}

/** C's step (1): message (1), signed and sealed to S's (verified) agreement key. */
export async function startCertificateLogin(input: {
  loginId: string;
  certificateId: string;
  password: string;
  verifier: Pick<PinVerifier, 'salt' | 'iterations'>;
  signingKey: CryptoKey;
  serverAgreementKey: CryptoKey;
  nowMs: number;
  random: (bytes: number) => Uint8Array;
  seal: Seal;
}): Promise<{ sealedHello: string; state: ClientLoginState }> {
  const clientKey = await pinClientKey(input.password, fromBase64Url(input.verifier.salt), input.verifier.iterations);
  const replyBytes = input.random(LOGIN_REPLY_KEY_BYTES);
  const base = { loginId: input.loginId, certificateId: input.certificateId, clientTimeMs: input.nowMs, nc: toBase64Url(input.random(LOGIN_NONCE_BYTES)) };
  const hello: LoginHello = {
    v: 1, type: 'coconutpay-login-1', ...base,
    pinProof: await pinProofOf(clientKey, loginAuthMessage(base)),
    replyKey: { kty: 'oct', k: toBase64Url(replyBytes) },
  };
  const replyKey = await crypto.subtle.importKey('raw', new Uint8Array(replyBytes), { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
  const sealedHello = await input.seal(await signLoginMessage(hello, input.signingKey), input.serverAgreementKey, LOGIN_HELLO_CONTENT_TYPE);
  return { sealedHello, state: { hello, replyKey } };
}

/** C found that the other side is not the genuine S: nothing more is sent. */
export class NotGenuineServer extends Error {
  constructor(readonly reason: string) {
    super(`not the genuine CoconutPay server: ${reason}`);
    this.name = 'NotGenuineServer';
  }
}

/**
 * C's step (3): opens message (2), checks it is S's and answers this very login (else
 * throws {@link NotGenuineServer}), and answers message (3) signed with the certificate key.
 */
export async function continueCertificateLogin(input: {
  state: ClientLoginState;
  sealedChallenge: string;
  trustAnchors: Uint8Array[];
  nowMs: number;
  signingKey: CryptoKey;
  unseal: Unseal;
}): Promise<SignedLoginMessage<LoginConfirm>> {
  let jws: string;
  try {
    const opened = await input.unseal<{ jws?: unknown }>(input.sealedChallenge, input.state.replyKey, LOGIN_CHALLENGE_CONTENT_TYPE);
    if (typeof opened?.jws !== 'string') throw new TypeError('no JWS');
    jws = opened.jws;
  } catch {
    throw new NotGenuineServer('message (2) is not sealed under our reply key');
  }
  const check = await verifyLoginChallenge(jws, input.trustAnchors, new Date(input.nowMs), input.state.hello);
  if (!check.ok) throw new NotGenuineServer(check.reason);
  const confirm: LoginConfirm = { v: 1, type: 'coconutpay-login-3', handshakeId: check.value.handshakeId, clientTimeMs: input.nowMs, nc: input.state.hello.nc, ns: check.value.ns };
  return signLoginMessage(confirm, input.signingKey);
}
