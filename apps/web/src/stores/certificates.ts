/**
 * The certificate center: my certificates as the server reports them, which of
 * their keys this device holds, and the flows that touch a private key (issue,
 * import, test, export). The plain key lives only inside one flow: it is
 * encrypted (issue) or imported as a non-extractable key (import, test) and the
 * PKCS#8 bytes are zeroed before the flow returns.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { toBase64Url, utf8 } from '@coconutpay/core/encoding';
import { buildCsr } from '@coconutpay/core/pki/csr';
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
  certificateTestMessage,
  createCertificateChallenge,
  getCertificate,
  issueMasterCertificate,
  listCertificates,
  proveCertificate,
  type CertificateInfo,
} from '../api/certificates.js';
import { listDeviceKeys, loadDeviceKey, saveDeviceKey, type DeviceKeyRecord } from '../api/certificate-key-store.js';
import type { MessageRef } from '../composables/use-message.js';
import { errorMessage } from '../composables/use-message.js';

/** Shortest certificate password (the same floor as the login password). */
export const CERTIFICATE_PASSWORD_LENGTH_MIN = 10;

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
  | 'localCheckFailed';

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

/** Serials compared as numbers: lower case, no leading zeros. */
function normalizeSerial(serialHex: string): string {
  return serialHex.toLowerCase().replace(/^0+(?=.)/, '');
}

function fileStem(record: Pick<DeviceKeyRecord, 'kind' | 'serialHex'>): string {
  return `coconutpay-${record.kind}-${record.serialHex.slice(0, 16)}`;
}

/** The certificates store. */
export const useCertificatesStore = defineStore('certificates', () => {
  const items = ref<CertificateInfo[]>([]);
  /** Certificate ids whose encrypted key this device holds. */
  const deviceKeyIds = ref<Set<string>>(new Set());
  const loaded = ref(false);

  const activeMaster = computed(() => items.value.find((item) => item.kind === 'master' && item.status === 'active') ?? null);

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
    const encryptedDer = await timed(TIMING.keyEncryption, async () => {
      const pkcs8 = await exportPrivateKeyPkcs8(keys.privateKey);
      try {
        return await encryptPrivateKey(pkcs8, input.password, {
          salt: randomBytes(KEY_ENCRYPTION_SALT_LENGTH),
          iv: randomBytes(AES_CBC_IV_LENGTH),
          iterations: KEY_ENCRYPTION_ITERATIONS_DEFAULT,
        });
      } finally {
        pkcs8.fill(0);
      }
    });

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
    const result = await proveCertificate(certificateId, challenge.challengeId, toBase64Url(signature));
    await load();
    return { checkedAtMs: result.checkedAtMs, locallyVerified };
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

  /** Forgets the list (another account may be next). The device keys stay: they belong to the device. */
  function reset(): void {
    items.value = [];
    loaded.value = false;
  }

  return { items, loaded, activeMaster, holdsKey, load, issueMaster, importKey, testCertificate, exportFiles, reset };
});
