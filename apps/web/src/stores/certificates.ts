/**
 * The certificate center: my certificates as the server reports them, which of
 * their keys this device holds, and the flows that touch a private key (issue,
 * import, test, export; on a new device, asking for an additional certificate;
 * on the master device, approving it and revoking it). The plain key lives only
 * inside one flow: it is encrypted (issue, request) or imported as a
 * non-extractable key (import, test, approve, revoke) and the PKCS#8 bytes are
 * zeroed before the flow returns.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { fromBase64Url, toBase64Url, utf8 } from '@coconutpay/core/encoding';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { approvalMessage, deviceCode, revocationMessage, sha256Hex } from '@coconutpay/core/pki/master-approval';
import { validatePath } from '@coconutpay/core/pki/validate-path';
import {
  bytesEqual,
  exportPrivateKeyPkcs8,
  exportPublicKeySpki,
  generateSigningKeyPair,
  importSigningKey,
  KeyMismatchError,
  keyMatchesPublicKey,
  readCertificate,
} from '@coconutpay/core/pki/key-pair';
import { allPemBlocks, fromPem, PemError, toPem } from '@coconutpay/core/pki/pem';
import {
  AES_CBC_IV_LENGTH,
  decryptPrivateKey,
  encryptPrivateKey,
  KEY_ENCRYPTION_ITERATIONS_DEFAULT,
  KEY_ENCRYPTION_SALT_LENGTH,
  KeyDecryptionError,
  KeyFormatError,
  readEncryptedPrivateKey,
} from '@coconutpay/core/pki/private-key-encryption';
import { importVerifyingKey, signP1363, verifyP1363 } from '@coconutpay/core/pki/signature';
import {
  approveDeviceRequest,
  certificateTestMessage,
  createCertificateChallenge,
  createDeviceRequest,
  getCertificate,
  getDeviceRequest,
  issueMasterCertificate,
  listCertificateHistory,
  listCertificates,
  listPendingDeviceRequests,
  proveCertificate,
  registerLoginVerifier,
  rejectDeviceRequest,
  revokeCertificate,
  type CertificateEvent,
  type CertificateKind,
  type CertificateInfo,
  type DeviceRequestState,
  type DeviceRequestStatus,
  type IssuedCertificate,
  type PendingDeviceRequest,
  type RevocationReason,
} from '../api/certificates.js';
import {
  deletePendingRequestKey,
  listDeviceKeys,
  listPendingRequestKeys,
  loadDeviceKey,
  promotePendingRequestKey,
  saveDeviceKey,
  savePendingRequestKey,
  type DeviceKeyRecord,
  type PendingRequestKeyRecord,
} from '../api/certificate-key-store.js';
import { ApiError } from '../api/client.js';
import { createLoginChallenge } from '../api/auth.js';
import { PIN_VERIFIER_ITERATIONS, pinVerifierOf, pinVerifierSalt } from '@coconutpay/core/protocol/certificate-login';
import { loginProofMessage, type CertificateLoginProof } from '@coconutpay/core/pki/possession-proof';
import { waitForDecision, type DecisionTransport } from '../api/device-request-events.js';
import { useSessionStore } from './session.js';
import type { MessageRef } from '../composables/use-message.js';
import { errorMessage } from '../composables/use-message.js';

/** Shortest certificate password (the same floor as the login password). */
export const CERTIFICATE_PASSWORD_LENGTH_MIN = 10;

/** A certificate this device holds, as the login page offers it. */
export interface LoginCertificateChoice {
  certificateId: string;
  kind: CertificateKind;
  loginId: string;
  createdAtMs: number;
  /** The device nickname of an additional certificate, when this device kept it. */
  nickname: string | null;
}

/** Names of the `performance.measure` entries the issue flow leaves behind. */
export const TIMING = {
  keyGeneration: 'coconutpay:key-generation',
  csr: 'coconutpay:csr',
  keyEncryption: 'coconutpay:key-encryption',
} as const;

/** Failures of the device-side steps, each with its own translated text. */
export type CertificateFlowErrorCode =
  | 'wrongPassword'
  | 'keyFileUnreadable'
  | 'keyUnsupported'
  | 'chainFileUnreadable'
  | 'notMine'
  | 'keyMismatch'
  | 'noKeyOnDevice'
  | 'storageFailed'
  | 'localCheckFailed'
  | 'codeMismatch'
  | 'chainInvalid'
  | 'masterKeyMissing';

/** A failure on this device (not from the server). */
export class CertificateFlowError extends Error {
  constructor(readonly code: CertificateFlowErrorCode) {
    super(code);
    this.name = 'CertificateFlowError';
  }
}

/** The translated message for any failure of a certificate flow. */
export function certificateErrorMessage(error: unknown): MessageRef {
  if (error instanceof CertificateFlowError) return { key: `certificates.errors.${error.code}` };
  return errorMessage(error);
}

/** Steps of issuing, for the progress display. */
export type IssueStep = 'generating' | 'encrypting' | 'requesting' | 'storing';

/** How long a device request waits for the master device (the server's rule; for the time bar only). */
export const DEVICE_REQUEST_TTL_MS = 10 * 60_000;

/** How often the master device refreshes its pending requests while the page is open and visible. */
export const PENDING_POLL_INTERVAL_MS = 3_000;

/** Longest device nickname (the server's bound). */
export const DEVICE_NICKNAME_LENGTH_MAX = 40;

/** Steps of asking for an additional certificate, for the progress display. */
export type DeviceRequestStep = 'generating' | 'encrypting' | 'sending';

/** A device request this device made, as far as it has got. */
export interface DeviceRequestProgress {
  requestId: string;
  nickname: string;
  /** The 6-digit code as this device computed it from its own key. */
  code: string;
  expiresAtMs: number;
  /** The server's status, or `failed` when an approved certificate did not pass this device's check. */
  status: DeviceRequestStatus | 'failed';
  /** The stored certificate, once approved and checked. */
  certificate: CertificateInfo | null;
}

/** A pending request on the master device, with the code this device computed itself. */
export interface PendingRequestView extends PendingDeviceRequest {
  /** The code from the request's key and nonce, computed here; empty when the key was unreadable. */
  localCode: string;
  /** True when the server's code, key hash and ours agree; approving is refused otherwise. */
  consistent: boolean;
}

/** Server refusals after which the list is reloaded: the certificate is not what this page showed. */
const STATUS_CHANGING_CODES = new Set(['CERTIFICATE_REVOKED', 'CERTIFICATE_EXPIRED', 'CERTIFICATE_NOT_FOUND']);

/** One file to hand to the user. */
export interface ExportFile {
  name: string;
  text: string;
  mimeType: string;
}

function timed<T>(name: string, action: () => Promise<T>): Promise<T> {
  const start = `${name}:start`;
  performance.mark(start);
  return action().finally(() => {
    performance.measure(name, start);
    performance.clearMarks(start);
  });
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

async function openPrivateKey(encryptedKeyPem: string, password: string): Promise<CryptoKey> {
  let encryptedDer: Uint8Array;
  try {
    encryptedDer = fromPem(encryptedKeyPem, 'ENCRYPTED PRIVATE KEY');
  } catch {
    throw new CertificateFlowError('keyFileUnreadable');
  }
  let pkcs8: Uint8Array;
  try {
    pkcs8 = await decryptPrivateKey(encryptedDer, password);
  } catch (error) {
    if (error instanceof KeyDecryptionError) throw new CertificateFlowError('wrongPassword');
    if (error instanceof KeyFormatError) throw new CertificateFlowError('keyUnsupported');
    throw error;
  }
  try {
    return await importSigningKey(pkcs8);
  } catch (error) {
    if (error instanceof KeyMismatchError) throw new CertificateFlowError('keyUnsupported');
    throw error;
  } finally {
    pkcs8.fill(0);
  }
}

function certificateDer(pem: string, failure: CertificateFlowErrorCode): Uint8Array {
  try {
    return fromPem(pem, 'CERTIFICATE');
  } catch {
    throw new CertificateFlowError(failure);
  }
}

/** Standard base64 (the SPKI in the pending list), strictly. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new TypeError('not base64');
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function encryptForDevice(privateKey: CryptoKey, password: string): Promise<Uint8Array> {
  const pkcs8 = await exportPrivateKeyPkcs8(privateKey);
  try {
    return await encryptPrivateKey(pkcs8, password, {
      salt: randomBytes(KEY_ENCRYPTION_SALT_LENGTH),
      iv: randomBytes(AES_CBC_IV_LENGTH),
      iterations: KEY_ENCRYPTION_ITERATIONS_DEFAULT,
    });
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Checks an issued additional certificate before anything is stored: its chain
 * validates for payments now (core's validator, anchored at the root the chain
 * ends with), it certifies exactly our key, and it is an additional certificate.
 * Revocation is not looked up: the certificate was issued a moment ago, and the
 * server checks status on every use.
 */
export async function checkIssuedAdditional(issued: IssuedCertificate, ourSpki: Uint8Array, now: Date): Promise<void> {
  const leaf = certificateDer(issued.certificatePem, 'chainInvalid');
  let chain: Uint8Array[];
  try {
    chain = allPemBlocks(issued.chainPem, 'CERTIFICATE');
  } catch {
    throw new CertificateFlowError('chainInvalid');
  }
  const root = chain.at(-1);
  if (!root || chain.length < 2) throw new CertificateFlowError('chainInvalid');
  const verdict = await validatePath({ trustAnchors: [root], intermediates: chain.slice(0, -1), leaf, at: now, purpose: 'payment', revocation: 'none' });
  if (!verdict.valid) throw new CertificateFlowError('chainInvalid');
  let facts: ReturnType<typeof readCertificate>;
  try {
    facts = readCertificate(leaf);
  } catch {
    throw new CertificateFlowError('chainInvalid');
  }
  if (!bytesEqual(facts.spkiDer, ourSpki)) throw new CertificateFlowError('keyMismatch');
  if (issued.certificate.kind !== 'additional' || normalizeSerial(issued.certificate.serialHex) !== normalizeSerial(facts.serialHex)) {
    throw new CertificateFlowError('chainInvalid');
  }
}

/** Serials compared as numbers: lower case, no leading zeros. */
function normalizeSerial(serialHex: string): string {
  return serialHex.toLowerCase().replace(/^0+(?=.)/, '');
}

function fileStem(record: Pick<DeviceKeyRecord, 'kind' | 'serialHex'>): string {
  return `coconutpay-${record.kind}-${record.serialHex.slice(0, 16)}`;
}

/**
 * Where this device stands for paying, from my certificates (as the server reports
 * them) and the certificate ids whose keys this device holds.
 *
 * - `usable`: an active certificate whose key is here (the master preferred).
 * - `revoked` / `expired`: this device holds keys, but none of an active certificate;
 *   `certificate` is the newest of them, so the page can say which one stopped
 *   working, when and why. `withMaster` is set when an additional certificate went
 *   with the revocation of the master that approved it (same moment): the reason and
 *   the remedy are then the master's.
 * - `none`: this device holds no key of mine (a new device, or keys of another account).
 *
 * @example
 * deviceStanding(items, new Set([items[0].id])) // → { kind: 'usable', certificate: items[0] }
 */
export type DeviceStanding =
  | { kind: 'usable'; certificate: CertificateInfo }
  | { kind: 'revoked'; certificate: CertificateInfo; revokedAtMs: number; reason: string | null; withMaster: CertificateInfo | null }
  | { kind: 'expired'; certificate: CertificateInfo; expiredAtMs: number }
  | { kind: 'none' };

/** See {@link DeviceStanding}. */
export function deviceStanding(items: readonly CertificateInfo[], deviceKeyIds: ReadonlySet<string>): DeviceStanding {
  const here = items.filter((item) => deviceKeyIds.has(item.id));
  const usable = here.find((item) => item.kind === 'master' && item.status === 'active') ?? here.find((item) => item.status === 'active');
  if (usable) return { kind: 'usable', certificate: usable };
  const newest = [...here].sort((a, b) => b.createdAtMs - a.createdAtMs)[0];
  if (!newest) return { kind: 'none' };
  if (newest.status === 'expired') return { kind: 'expired', certificate: newest, expiredAtMs: newest.notAfterMs };
  // A revoked record always has its time; a missing one would be a server bug, shown as "when it was issued" rather than hidden.
  const revokedAtMs = newest.revokedAtMs ?? newest.createdAtMs;
  const master = newest.approvedByCertificateId ? (items.find((item) => item.id === newest.approvedByCertificateId) ?? null) : null;
  const withMaster = master && master.status === 'revoked' && master.revokedAtMs === newest.revokedAtMs ? master : null;
  return { kind: 'revoked', certificate: newest, revokedAtMs, reason: withMaster ? withMaster.revocationReason : newest.revocationReason, withMaster };
}

/** The certificates store. */
export const useCertificatesStore = defineStore('certificates', () => {
  const items = ref<CertificateInfo[]>([]);
  /** Certificate ids whose encrypted key this device holds. */
  const deviceKeyIds = ref<Set<string>>(new Set());
  const loaded = ref(false);

  const activeMaster = computed(() => items.value.find((item) => item.kind === 'master' && item.status === 'active') ?? null);
  /** This device holds the active master's key: it is the master device. */
  const masterHere = computed(() => activeMaster.value !== null && deviceKeyIds.value.has(activeMaster.value.id));
  /** This device holds the key of some active certificate of mine. */
  const usableHere = computed(() => items.value.some((item) => item.status === 'active' && deviceKeyIds.value.has(item.id)));
  /** The certificate this device pays with: the master when its key is here, else the newest usable additional one. */
  const paymentCertificate = computed(
    () =>
      items.value.find((item) => item.kind === 'master' && item.status === 'active' && deviceKeyIds.value.has(item.id)) ??
      items.value.find((item) => item.status === 'active' && deviceKeyIds.value.has(item.id)) ??
      null,
  );
  /** Why this device can or cannot pay: for the pay page's "your certificate was revoked" notice. */
  const standing = computed(() => deviceStanding(items.value, deviceKeyIds.value));

  /** The device request this device is waiting on (or just finished). */
  const deviceRequest = ref<DeviceRequestProgress | null>(null);
  /** On the master device: requests waiting for a decision. */
  const pendingRequests = ref<PendingRequestView[]>([]);
  const history = ref<CertificateEvent[]>([]);
  const session = useSessionStore();

  function holdsKey(certificateId: string): boolean {
    return deviceKeyIds.value.has(certificateId);
  }

  async function refreshDeviceKeys(): Promise<void> {
    try {
      deviceKeyIds.value = new Set((await listDeviceKeys()).map((record) => record.certificateId));
    } catch {
      // Without IndexedDB this device simply holds no keys.
      deviceKeyIds.value = new Set();
    }
  }

  /** Loads my certificates and which keys this device holds. */
  async function load(): Promise<void> {
    const [list] = await Promise.all([listCertificates(), refreshDeviceKeys()]);
    items.value = [...list].sort((a, b) => b.createdAtMs - a.createdAtMs);
    loaded.value = true;
  }

  /**
   * Issues a master certificate with a key made here: generate, build the CSR,
   * encrypt the key (so that the plain key is gone before the network is
   * involved), request, check that the certificate certifies our key, store.
   */
  async function issueMaster(input: { password: string; subjectCn: string; replace: boolean; onStep?: (step: IssueStep) => void }): Promise<CertificateInfo> {
    input.onStep?.('generating');
    const keys = await timed(TIMING.keyGeneration, generateSigningKeyPair);
    const csrPem = await timed(TIMING.csr, () => buildCsr(keys, input.subjectCn));
    const ourSpki = await exportPublicKeySpki(keys.publicKey);

    input.onStep?.('encrypting');
    const encryptedDer = await timed(TIMING.keyEncryption, () => encryptForDevice(keys.privateKey, input.password));

    input.onStep?.('requesting');
    const issued = await issueMasterCertificate(csrPem, input.replace);
    const leaf = readCertificate(certificateDer(issued.certificatePem, 'localCheckFailed'));
    if (!bytesEqual(leaf.spkiDer, ourSpki)) throw new CertificateFlowError('keyMismatch');

    input.onStep?.('storing');
    try {
      await saveDeviceKey({
        certificateId: issued.certificate.id,
        serialHex: issued.certificate.serialHex,
        kind: issued.certificate.kind,
        encryptedKeyPem: toPem(encryptedDer, 'ENCRYPTED PRIVATE KEY'),
        certificatePem: issued.certificatePem,
        chainPem: issued.chainPem,
        createdAtMs: Date.now(),
      });
    } catch {
      throw new CertificateFlowError('storageFailed');
    }
    // The list is not reloaded here: the caller does, once it has taken the result
    // (reloading swaps the issue form out of the page).
    return issued.certificate;
  }

  /**
   * Imports an exported key: reads both files, finds the certificate among mine,
   * decrypts the key, proves it belongs to the certificate, then stores. Nothing
   * is stored unless every check passes.
   */
  async function importKey(input: { keyFileText: string; chainFileText: string; password: string }): Promise<CertificateInfo> {
    let leafDer: Uint8Array;
    try {
      const blocks = allPemBlocks(input.chainFileText, 'CERTIFICATE');
      if (!blocks[0]) throw new CertificateFlowError('chainFileUnreadable');
      leafDer = blocks[0];
    } catch {
      throw new CertificateFlowError('chainFileUnreadable');
    }
    let leaf: ReturnType<typeof readCertificate>;
    try {
      leaf = readCertificate(leafDer);
    } catch {
      throw new CertificateFlowError('chainFileUnreadable');
    }
    let encryptedDer: Uint8Array;
    try {
      encryptedDer = fromPem(input.keyFileText, 'ENCRYPTED PRIVATE KEY');
    } catch (error) {
      throw new CertificateFlowError(error instanceof PemError ? 'keyFileUnreadable' : 'keyUnsupported');
    }

    if (!loaded.value) await load();
    const item = items.value.find((candidate) => normalizeSerial(candidate.serialHex) === normalizeSerial(leaf.serialHex));
    if (!item) throw new CertificateFlowError('notMine');
    // The server's copy is the authority on what the certificate is; the file only says which one.
    const official = await getCertificate(item.id);
    if (!bytesEqual(certificateDer(official.certificatePem, 'localCheckFailed'), leafDer)) throw new CertificateFlowError('notMine');

    let pkcs8: Uint8Array;
    try {
      pkcs8 = await decryptPrivateKey(encryptedDer, input.password);
    } catch (error) {
      if (error instanceof KeyDecryptionError) throw new CertificateFlowError('wrongPassword');
      if (error instanceof KeyFormatError) throw new CertificateFlowError('keyUnsupported');
      throw error;
    }
    let encryptedKeyPem = toPem(encryptedDer, 'ENCRYPTED PRIVATE KEY');
    try {
      let signingKey: CryptoKey;
      try {
        signingKey = await importSigningKey(pkcs8);
      } catch {
        throw new CertificateFlowError('keyUnsupported');
      }
      if (!(await keyMatchesPublicKey(signingKey, leaf.spkiDer))) throw new CertificateFlowError('keyMismatch');
      // A key exported by other software may use a weak iteration count; store it under ours.
      if (readEncryptedPrivateKey(encryptedDer).iterations < KEY_ENCRYPTION_ITERATIONS_DEFAULT) {
        const stronger = await encryptPrivateKey(pkcs8, input.password, { salt: randomBytes(KEY_ENCRYPTION_SALT_LENGTH), iv: randomBytes(AES_CBC_IV_LENGTH) });
        encryptedKeyPem = toPem(stronger, 'ENCRYPTED PRIVATE KEY');
      }
    } finally {
      pkcs8.fill(0);
    }

    try {
      await saveDeviceKey({
        certificateId: item.id,
        serialHex: item.serialHex,
        kind: item.kind,
        encryptedKeyPem,
        certificatePem: official.certificatePem,
        chainPem: official.chainPem,
        createdAtMs: Date.now(),
      });
    } catch {
      throw new CertificateFlowError('storageFailed');
    }
    await refreshDeviceKeys();
    return item;
  }

  /**
   * Tests a certificate end to end: decrypt the key with the password, sign a
   * fresh server challenge, check the signature here with the certificate's
   * public key, and let the server check it too.
   */
  async function testCertificate(certificateId: string, password: string): Promise<{ checkedAtMs: number; locallyVerified: boolean }> {
    const record = await loadDeviceKey(certificateId).catch(() => null);
    if (!record) throw new CertificateFlowError('noKeyOnDevice');
    const signingKey = await openPrivateKey(record.encryptedKeyPem, password);
    const challenge = await createCertificateChallenge();
    const message = utf8(certificateTestMessage(challenge));
    const signature = await signP1363(signingKey, message);
    const publicKey = await importVerifyingKey(readCertificate(certificateDer(record.certificatePem, 'localCheckFailed')).spkiDer);
    const locallyVerified = await verifyP1363(publicKey, signature, message);
    if (!locallyVerified) throw new CertificateFlowError('localCheckFailed');
    let result: Awaited<ReturnType<typeof proveCertificate>>;
    try {
      result = await proveCertificate(certificateId, challenge.challengeId, toBase64Url(signature));
    } catch (error) {
      // The page showed the certificate as usable; show what the server now says.
      if (error instanceof ApiError && STATUS_CHANGING_CODES.has(error.code)) await load().catch(() => undefined);
      throw error;
    }
    await load();
    return { checkedAtMs: result.checkedAtMs, locallyVerified };
  }

  /**
   * Opens this device's key of a certificate with its password, as a
   * non-extractable signing key, for one flow (a payment) to hold in memory only,
   * with the certificate it belongs to (signatures name it in signing-certificate-v2).
   */
  async function openSigningKey(certificateId: string, password: string): Promise<{ key: CryptoKey; certificateDer: Uint8Array }> {
    const record = await loadDeviceKey(certificateId).catch(() => null);
    if (!record) throw new CertificateFlowError('noKeyOnDevice');
    const certificate = certificateDer(record.certificatePem, 'noKeyOnDevice');
    return { key: await openPrivateKey(record.encryptedKeyPem, password), certificateDer: certificate };
  }

  /**
   * Enables certificate login for a certificate this device holds: its password opens the
   * key here (so a wrong one is caught before anything is sent), and the PIN verifier derived
   * from it — never the password — goes to the server.
   */
  async function enableCertificateLogin(certificateId: string, password: string): Promise<void> {
    await openSigningKey(certificateId, password);
    const verifier = await pinVerifierOf(password, await pinVerifierSalt(certificateId), PIN_VERIFIER_ITERATIONS);
    await registerLoginVerifier(certificateId, verifier);
  }

  /** The certificates this device could log in with (not expired), read from the device alone. */
  async function loginCertificates(nowMs = Date.now()): Promise<LoginCertificateChoice[]> {
    const records = await listDeviceKeys().catch(() => []);
    const choices: LoginCertificateChoice[] = [];
    for (const record of records) {
      try {
        const facts = readCertificate(fromPem(record.certificatePem, 'CERTIFICATE'));
        if (Number(facts.notAfter) > nowMs && facts.subjectCommonName) {
          choices.push({ certificateId: record.certificateId, kind: record.kind, loginId: facts.subjectCommonName, createdAtMs: record.createdAtMs, nickname: record.nickname ?? null });
        }
      } catch {
        // A record that cannot be read offers nothing to log in with.
      }
    }
    return choices.sort((a, b) => b.createdAtMs - a.createdAtMs);
  }

  /** Certificate login with a certificate this device holds (docs/protocol.md, "Certificate login"). */
  async function loginWithCertificate(choice: LoginCertificateChoice, password: string): Promise<void> {
    const { key } = await openSigningKey(choice.certificateId, password);
    await session.loginWithCertificate({ loginId: choice.loginId, certificateId: choice.certificateId, password, signingKey: key });
  }

  /**
   * A certificate of `loginId` whose key this device holds and which has not expired,
   * read from the device alone (no session is needed: this serves the login page).
   * Our certificates carry the login id as their subject's common name.
   */
  async function keyForLogin(loginId: string, nowMs = Date.now()): Promise<DeviceKeyRecord | null> {
    const records = await listDeviceKeys().catch(() => []);
    for (const record of records) {
      try {
        const facts = readCertificate(fromPem(record.certificatePem, 'CERTIFICATE'));
        if (facts.subjectCommonName === loginId && Number(facts.notAfter) > nowMs) return record;
      } catch {
        // An unreadable record cannot prove anything; the next may.
      }
    }
    return null;
  }

  /**
   * Proof that this device holds a certificate of `loginId`: the key is opened with
   * its certificate password and signs a fresh login challenge. The server still judges
   * the certificate (status, chain, owner) and the password.
   */
  async function loginProof(loginId: string, certificatePassword: string): Promise<CertificateLoginProof> {
    const record = await keyForLogin(loginId);
    if (!record) throw new CertificateFlowError('noKeyOnDevice');
    const signingKey = await openPrivateKey(record.encryptedKeyPem, certificatePassword);
    const challenge = await createLoginChallenge(loginId);
    const signature = await signP1363(signingKey, utf8(loginProofMessage(challenge, loginId)));
    return { certificateId: record.certificateId, challengeId: challenge.challengeId, signature: toBase64Url(signature) };
  }

  /** The two files of an export: the encrypted key and the certificate with its chain. */
  async function exportFiles(certificateId: string): Promise<{ key: ExportFile; chain: ExportFile }> {
    const record = await loadDeviceKey(certificateId).catch(() => null);
    if (!record) throw new CertificateFlowError('noKeyOnDevice');
    const stem = fileStem(record);
    const chain = `${record.certificatePem.trimEnd()}\n${record.chainPem.trimEnd()}\n`;
    return {
      key: { name: `${stem}.p8`, text: record.encryptedKeyPem, mimeType: 'application/pkcs8' },
      chain: { name: `${stem}-chain.pem`, text: chain, mimeType: 'application/pem-certificate-chain' },
    };
  }

  // --- On the new device: ask, wait, store -------------------------------------

  /**
   * Asks for an additional certificate for a key made here. The key is encrypted
   * before the network is involved and kept (encrypted) while the request waits.
   * The code shown is computed here from our own key and the server's nonce; a
   * server that reports another code saw another key, and the request is dropped.
   */
  async function requestAdditional(input: { nickname: string; password: string; onStep?: (step: DeviceRequestStep) => void }): Promise<DeviceRequestProgress> {
    const user = session.user;
    if (!user) throw new ApiError({ status: 401, code: 'AUTH_REQUIRED', title: 'Log in to continue' });
    input.onStep?.('generating');
    const keys = await timed(TIMING.keyGeneration, generateSigningKeyPair);
    const csrPem = await timed(TIMING.csr, () => buildCsr(keys, user.loginId));
    const ourSpki = await exportPublicKeySpki(keys.publicKey);

    input.onStep?.('encrypting');
    const encryptedDer = await timed(TIMING.keyEncryption, () => encryptForDevice(keys.privateKey, input.password));

    input.onStep?.('sending');
    const state = await createDeviceRequest(input.nickname, csrPem);
    let code: string;
    try {
      code = await deviceCode(ourSpki, fromBase64Url(state.serverNonce));
    } catch {
      throw new CertificateFlowError('codeMismatch');
    }
    if (code !== state.code) throw new CertificateFlowError('codeMismatch');
    try {
      await savePendingRequestKey({
        requestId: state.id,
        nickname: state.nickname,
        encryptedKeyPem: toPem(encryptedDer, 'ENCRYPTED PRIVATE KEY'),
        spkiBase64Url: toBase64Url(ourSpki),
        expiresAtMs: state.expiresAtMs,
        createdAtMs: Date.now(),
      });
    } catch {
      throw new CertificateFlowError('storageFailed');
    }
    deviceRequest.value = { requestId: state.id, nickname: state.nickname, code, expiresAtMs: state.expiresAtMs, status: 'pending', certificate: null };
    // The list shows the request as "approval required"; a failure here does not undo the request.
    await Promise.all([loadPending(), loadHistory()]).catch(() => undefined);
    return deviceRequest.value;
  }

  /**
   * Acts on a decided request: an approved certificate is checked and stored with
   * the waiting key; a rejected or expired request loses its key. A certificate
   * that fails the check is not stored and its key is deleted too: nothing
   * usable stays behind.
   */
  async function settle(record: PendingRequestKeyRecord, state: DeviceRequestState): Promise<DeviceRequestProgress> {
    const progress: DeviceRequestProgress = {
      requestId: record.requestId,
      nickname: state.nickname,
      code: deviceRequest.value?.requestId === record.requestId ? deviceRequest.value.code : state.code,
      expiresAtMs: state.expiresAtMs,
      status: state.status,
      certificate: null,
    };
    if (state.status === 'pending') return progress;
    if (state.status !== 'approved' || !state.issued) {
      await deletePendingRequestKey(record.requestId).catch(() => undefined);
      return progress;
    }
    const issued = state.issued;
    try {
      await checkIssuedAdditional(issued, fromBase64Url(record.spkiBase64Url), new Date());
    } catch (error) {
      await deletePendingRequestKey(record.requestId).catch(() => undefined);
      throw error;
    }
    try {
      await promotePendingRequestKey(record.requestId, {
        certificateId: issued.certificate.id,
        serialHex: issued.certificate.serialHex,
        kind: issued.certificate.kind,
        encryptedKeyPem: record.encryptedKeyPem,
        certificatePem: issued.certificatePem,
        chainPem: issued.chainPem,
        createdAtMs: Date.now(),
        nickname: record.nickname,
      });
    } catch {
      throw new CertificateFlowError('storageFailed');
    }
    return { ...progress, certificate: issued.certificate };
  }

  async function pendingRecord(requestId: string): Promise<PendingRequestKeyRecord> {
    const record = (await listPendingRequestKeys().catch(() => [])).find((candidate) => candidate.requestId === requestId);
    if (!record) throw new CertificateFlowError('noKeyOnDevice');
    return record;
  }

  /**
   * Waits for the master device's decision on the current request (pushed by the
   * server), then settles it. Resolves with the final progress; rejects when the
   * wait is aborted or the connection cannot be re-established.
   */
  async function awaitDecision(signal: AbortSignal, transport?: DecisionTransport): Promise<DeviceRequestProgress> {
    const current = deviceRequest.value;
    if (!current) throw new CertificateFlowError('noKeyOnDevice');
    const state = await waitForDecision(current.requestId, {
      signal,
      ...(transport ? { transport } : {}),
      onState: (next) => {
        if (deviceRequest.value?.requestId === current.requestId) deviceRequest.value = { ...deviceRequest.value, expiresAtMs: next.expiresAtMs };
      },
    });
    const record = await pendingRecord(current.requestId);
    try {
      const settled = await settle(record, state);
      deviceRequest.value = settled;
      return settled;
    } catch (error) {
      deviceRequest.value = { ...current, status: 'failed' };
      throw error;
    } finally {
      await Promise.all([load(), loadPending(), loadHistory()]).catch(() => undefined);
    }
  }

  /**
   * After a reload: looks at the requests whose keys this device kept. Decided
   * ones are settled (stored or deleted); the newest still pending becomes the
   * current request. A request of another account on this browser is left alone
   * until a day after its expiry.
   */
  async function resumeDeviceRequests(): Promise<void> {
    const records = (await listPendingRequestKeys().catch(() => [])).sort((a, b) => b.createdAtMs - a.createdAtMs);
    let resumed: DeviceRequestProgress | null = null;
    for (const record of records) {
      let state: DeviceRequestState;
      try {
        state = await getDeviceRequest(record.requestId);
      } catch (error) {
        if (error instanceof ApiError && error.code === 'APPROVAL_REQUEST_NOT_FOUND' && record.expiresAtMs + 86_400_000 < Date.now()) {
          await deletePendingRequestKey(record.requestId).catch(() => undefined);
        }
        continue;
      }
      if (state.status === 'pending') {
        if (!resumed) {
          const code = await deviceCode(fromBase64Url(record.spkiBase64Url), fromBase64Url(state.serverNonce));
          resumed = { requestId: record.requestId, nickname: state.nickname, code, expiresAtMs: state.expiresAtMs, status: 'pending', certificate: null };
        }
        continue;
      }
      try {
        const settled = await settle(record, state);
        if (!resumed && settled.certificate) resumed = settled;
      } catch {
        // A certificate that fails the check was discarded; the list shows what the server holds.
      }
    }
    if (resumed) deviceRequest.value = resumed;
    if (records.length > 0) await refreshDeviceKeys();
  }

  /** Clears a finished request from the screen (the form comes back). */
  function dismissDeviceRequest(): void {
    if (deviceRequest.value?.status !== 'pending') deviceRequest.value = null;
  }

  // --- On the master device: approve, reject, revoke ---------------------------

  async function describePending(request: PendingDeviceRequest): Promise<PendingRequestView> {
    try {
      const spki = fromBase64(request.spkiBase64);
      const [localCode, localHash] = await Promise.all([deviceCode(spki, fromBase64Url(request.serverNonce)), sha256Hex(spki)]);
      return { ...request, localCode, consistent: localCode === request.code && localHash === request.spkiSha256Hex.toLowerCase() };
    } catch {
      return { ...request, localCode: '', consistent: false };
    }
  }

  /** Loads the pending requests and computes each one's code here. */
  async function loadPending(): Promise<void> {
    const list = await listPendingDeviceRequests();
    pendingRequests.value = await Promise.all(list.map(describePending));
  }

  /** Loads my certificate history. */
  async function loadHistory(): Promise<void> {
    history.value = await listCertificateHistory();
  }

  async function openMasterKey(password: string): Promise<{ master: CertificateInfo; key: CryptoKey }> {
    const master = activeMaster.value;
    if (!master) throw new CertificateFlowError('masterKeyMissing');
    const record = await loadDeviceKey(master.id).catch(() => null);
    if (!record) throw new CertificateFlowError('masterKeyMissing');
    return { master, key: await openPrivateKey(record.encryptedKeyPem, password) };
  }

  async function reloadAfterDecision(): Promise<void> {
    await Promise.all([load(), loadPending(), loadHistory()]).catch(() => undefined);
  }

  /**
   * Approves a pending request: the master key, opened with its password for this
   * one signature, signs the approval text built from what this device computed
   * (code and key hash), never from the server's word alone.
   */
  async function approveRequest(requestId: string, password: string): Promise<void> {
    const request = pendingRequests.value.find((candidate) => candidate.id === requestId);
    if (!request) throw new ApiError({ status: 404, code: 'APPROVAL_REQUEST_NOT_FOUND', title: 'No such certificate request' });
    if (!request.consistent) throw new CertificateFlowError('codeMismatch');
    const user = session.user;
    if (!user) throw new ApiError({ status: 401, code: 'AUTH_REQUIRED', title: 'Log in to continue' });
    const { master, key } = await openMasterKey(password);
    const message = approvalMessage({
      requestId: request.id,
      userId: user.id,
      spkiSha256Hex: await sha256Hex(fromBase64(request.spkiBase64)),
      nickname: request.nickname,
      code: request.localCode,
      expiresAtMs: request.expiresAtMs,
    });
    const signature = await signP1363(key, utf8(message));
    try {
      await approveDeviceRequest(request.id, master.id, toBase64Url(signature));
    } finally {
      await reloadAfterDecision();
    }
  }

  /** Rejects a pending request. */
  async function rejectRequest(requestId: string): Promise<void> {
    try {
      await rejectDeviceRequest(requestId);
    } finally {
      await reloadAfterDecision();
    }
  }

  /**
   * Revokes an additional certificate with the master key's signature over the
   * revocation text and a fresh one-time challenge. The password is checked (the
   * key opened) before anything is asked of the server. After a success the list
   * still shows the old status until the caller reloads it.
   */
  async function revokeAdditional(certificateId: string, password: string, reason: RevocationReason): Promise<CertificateInfo> {
    const item = items.value.find((candidate) => candidate.id === certificateId);
    if (!item || item.kind !== 'additional') throw new ApiError({ status: 404, code: 'CERTIFICATE_NOT_FOUND', title: 'Certificate not found' });
    const { master, key } = await openMasterKey(password);
    const challenge = await createCertificateChallenge();
    const message = revocationMessage({ certificateId: item.id, serialHex: item.serialHex, reason, challengeId: challenge.challengeId, challenge: challenge.challenge });
    const signature = await signP1363(key, utf8(message));
    // On success the caller reloads: reloading here would unmount the form before it reports back.
    try {
      return await revokeCertificate(item.id, reason, { masterCertificateId: master.id, challengeId: challenge.challengeId, signature: toBase64Url(signature) });
    } catch (error) {
      await Promise.all([load(), loadHistory()]).catch(() => undefined);
      throw error;
    }
  }

  /** Forgets the list (another account may be next). The device keys stay: they belong to the device. */
  function reset(): void {
    items.value = [];
    loaded.value = false;
    pendingRequests.value = [];
    history.value = [];
    deviceRequest.value = null;
  }

  return {
    items,
    loaded,
    activeMaster,
    masterHere,
    usableHere,
    paymentCertificate,
    standing,
    deviceRequest,
    pendingRequests,
    history,
    holdsKey,
    load,
    issueMaster,
    importKey,
    testCertificate,
    openSigningKey,
    keyForLogin,
    enableCertificateLogin,
    loginCertificates,
    loginWithCertificate,
    loginProof,
    exportFiles,
    requestAdditional,
    awaitDecision,
    resumeDeviceRequests,
    dismissDeviceRequest,
    loadPending,
    loadHistory,
    approveRequest,
    rejectRequest,
    revokeAdditional,
    reset,
  };
});
