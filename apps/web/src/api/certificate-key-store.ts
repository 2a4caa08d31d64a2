/**
 * The certificate keys this device holds, in IndexedDB (database `coconutpay-keys`,
 * apart from the session store). Only password-encrypted PKCS#8 is ever written:
 * the plain private key exists in memory just long enough to encrypt or to sign.
 *
 * A second object store keeps the key of a device request that is waiting for the
 * master device, so that the wait survives a reload. When the certificate
 * arrives, the key moves to the first store in one transaction; when the request
 * is rejected or expires, it is deleted.
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
  /** An additional certificate's device nickname (records kept before it was stored have none). */
  nickname?: string;
}

/** The key of a device request still waiting for the master device's decision. */
export interface PendingRequestKeyRecord {
  requestId: string;
  nickname: string;
  /** PEM `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2), as in {@link DeviceKeyRecord}. */
  encryptedKeyPem: string;
  /** The request's public key (SPKI DER, base64url): what the certificate must certify. */
  spkiBase64Url: string;
  expiresAtMs: number;
  createdAtMs: number;
}

const DB_NAME = 'coconutpay-keys';
// Version 2 adds the pending-request store; version 1 databases keep their keys.
const DB_VERSION = 2;
const STORE_NAME = 'certificate-keys';
const PENDING_STORE_NAME = 'pending-requests';
/** A bound on waiting requests kept on one device. */
export const PENDING_REQUEST_RECORDS_MAX = 20;
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
      if (!request.result.objectStoreNames.contains(PENDING_STORE_NAME)) request.result.createObjectStore(PENDING_STORE_NAME, { keyPath: 'requestId' });
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

function run<T>(mode: IDBTransactionMode, action: (store: IDBObjectStore) => IDBRequest<T>, storeName = STORE_NAME): Promise<T> {
  return openDb().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(storeName, mode);
        const request = action(tx.objectStore(storeName));
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

function isPendingRequestKeyRecord(value: unknown): value is PendingRequestKeyRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<PendingRequestKeyRecord>;
  return (
    typeof v.requestId === 'string' &&
    typeof v.nickname === 'string' &&
    typeof v.encryptedKeyPem === 'string' &&
    typeof v.spkiBase64Url === 'string' &&
    typeof v.expiresAtMs === 'number' &&
    typeof v.createdAtMs === 'number'
  );
}

/** Every waiting request's key on this device. */
export async function listPendingRequestKeys(): Promise<PendingRequestKeyRecord[]> {
  const values = await run<unknown[]>('readonly', (store) => store.getAll(null, PENDING_REQUEST_RECORDS_MAX), PENDING_STORE_NAME);
  return values.filter(isPendingRequestKeyRecord);
}

/** Keeps a waiting request's encrypted key. */
export async function savePendingRequestKey(record: PendingRequestKeyRecord): Promise<void> {
  await run('readwrite', (store) => store.put(record), PENDING_STORE_NAME);
}

/** Forgets a waiting request's key (rejected, expired, or given up). */
export async function deletePendingRequestKey(requestId: string): Promise<void> {
  await run('readwrite', (store) => store.delete(requestId), PENDING_STORE_NAME);
}

/**
 * Turns a waiting request's key into a certificate's key record: one transaction
 * writes the record and deletes the pending entry, so the key is never in both
 * stores or in neither.
 */
export async function promotePendingRequestKey(requestId: string, record: DeviceKeyRecord): Promise<void> {
  const db = await openDb();
  await new Promise<void>((resolve, reject) => {
    const tx = db.transaction([STORE_NAME, PENDING_STORE_NAME], 'readwrite');
    tx.objectStore(STORE_NAME).put(record);
    tx.objectStore(PENDING_STORE_NAME).delete(requestId);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}
