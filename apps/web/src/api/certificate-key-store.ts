/**
 * The certificate keys this device holds, in IndexedDB (database `coconutpay-keys`,
 * apart from the session store). Only password-encrypted PKCS#8 is ever written:
 * the plain private key exists in memory just long enough to encrypt or to sign.
 */
import type { CertificateKind } from './certificates.js';

/** One certificate whose key lives on this device. */
export interface DeviceKeyRecord {
  certificateId: string;
  serialHex: string;
  kind: CertificateKind;
  /** PEM `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2). */
  encryptedKeyPem: string;
  /** PEM of the certificate itself. */
  certificatePem: string;
  /** PEM of the CA chain above it: issuing CA, then root. */
  chainPem: string;
  createdAtMs: number;
}

const DB_NAME = 'coconutpay-keys';
const DB_VERSION = 1;
const STORE_NAME = 'certificate-keys';
/** A bound on what one device keeps; more than this is a bug, not a use case. */
export const DEVICE_KEY_RECORDS_MAX = 100;

let dbPromise: Promise<IDBDatabase> | undefined;

function openDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new Error('IndexedDB is not available'));
      return;
    }
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE_NAME)) request.result.createObjectStore(STORE_NAME, { keyPath: 'certificateId' });
    };
    request.onsuccess = () => {
      // Another tab deleting or upgrading the database must not be blocked by us.
      request.result.onversionchange = () => {
        request.result.close();
        dbPromise = undefined;
      };
      resolve(request.result);
    };
    request.onerror = () => reject(request.error ?? new Error('IndexedDB open failed'));
  });
  dbPromise.catch(() => {
    dbPromise = undefined;
  });
  return dbPromise;
}

function run<T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return openDb().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE_NAME, mode);
        const request = action(tx.objectStore(STORE_NAME));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
        tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      }),
  );
}

function isDeviceKeyRecord(value: unknown): value is DeviceKeyRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<DeviceKeyRecord>;
  return (
    typeof v.certificateId === 'string' &&
    typeof v.serialHex === 'string' &&
    (v.kind === 'master' || v.kind === 'additional') &&
    typeof v.encryptedKeyPem === 'string' &&
    typeof v.certificatePem === 'string' &&
    typeof v.chainPem === 'string' &&
    typeof v.createdAtMs === 'number'
  );
}

/** Every key record on this device. */
export async function listDeviceKeys(): Promise<DeviceKeyRecord[]> {
  const values = await run<unknown[]>('readonly', (store) => store.getAll(null, DEVICE_KEY_RECORDS_MAX));
  return values.filter(isDeviceKeyRecord);
}

/** The key record of one certificate, or null. */
export async function loadDeviceKey(certificateId: string): Promise<DeviceKeyRecord | null> {
  const value = await run<unknown>('readonly', (store) => store.get(certificateId));
  return isDeviceKeyRecord(value) ? value : null;
}

/**
 * Stores a key record. The write is one IndexedDB transaction: it either lands
 * whole or not at all.
 */
export async function saveDeviceKey(record: DeviceKeyRecord): Promise<void> {
  await run('readwrite', (store) => store.put(record));
}

/** Forgets the key of one certificate on this device. */
export async function deleteDeviceKey(certificateId: string): Promise<void> {
  await run('readwrite', (store) => store.delete(certificateId));
}
