/**
 * Keeps the session credentials in IndexedDB.
 *
 * The secret token is stored only as a non-extractable WebCrypto key: IndexedDB
 * can hold a CryptoKey (it is structured-cloneable) while page scripts can use it
 * to sign but can never read its bytes back. Nothing here touches localStorage.
 */
import type { User } from './types.js';

/** What a logged-in tab needs to sign requests. */
export interface StoredSession {
  publicToken: string;
  /** HMAC-SHA-256 key imported from the secret token, non-extractable. */
  secretKey: CryptoKey;
  sessionId: string;
  expiresAtMs: number;
  idleTimeoutMs: number;
  user: User;
}

const DB_NAME = 'coconutpay';
const DB_VERSION = 1;
const STORE_NAME = 'session';
const RECORD_KEY = 'current';

// Without IndexedDB (some private modes refuse it) the session lives only as
// long as the tab; `memory` is also a cache so that signing does not wait on IDB.
let memory: StoredSession | null | undefined;
let dbPromise: Promise<IDBDatabase> | undefined;

function openDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new Error('IndexedDB is not available'));
      return;
    }
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE_NAME)) request.result.createObjectStore(STORE_NAME);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB open failed'));
  });
  // A failed open is not cached, so that a later call may try again.
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

function isStoredSession(value: unknown): value is StoredSession {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<StoredSession>;
  return typeof v.publicToken === 'string' && v.secretKey instanceof CryptoKey && typeof v.user === 'object' && v.user !== null;
}

/** Saves the session of a fresh login, replacing any earlier one. */
export async function saveSession(session: StoredSession): Promise<void> {
  memory = session;
  try {
    await run('readwrite', (store) => store.put(session, RECORD_KEY));
  } catch (error) {
    console.warn('Session kept in memory only:', error);
  }
}

/** The stored session, or null when logged out. */
export async function loadSession(): Promise<StoredSession | null> {
  if (memory !== undefined) return memory;
  try {
    const value = await run<unknown>('readonly', (store) => store.get(RECORD_KEY));
    memory = isStoredSession(value) ? value : null;
  } catch {
    memory = null;
  }
  return memory;
}

/** Replaces the cached user details (after the server reports newer ones). */
export async function updateStoredUser(user: User): Promise<void> {
  const current = await loadSession();
  if (current) await saveSession({ ...current, user });
}

/** Forgets the session, in memory and in IndexedDB. */
export async function clearSession(): Promise<void> {
  memory = null;
  try {
    await run('readwrite', (store) => store.delete(RECORD_KEY));
  } catch {
    // Nothing was stored if IndexedDB cannot be opened.
  }
}
