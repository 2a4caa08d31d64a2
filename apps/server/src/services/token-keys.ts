/**
 * The server keys K of the dual token. Each key has an id (`kid`, carried in the
 * public token's header) so keys can be rotated without logging everyone out: new
 * sessions use the newest key, existing sessions keep verifying under the key they
 * were issued with until that key is retired.
 *
 * Keys live in `<DATA_DIR>/keys/token-keys.json` (mode 0600), created at first start.
 * From each 32-byte key two purpose keys are derived with HKDF-SHA-256, one to MAC the
 * public token and one to derive secret tokens, so no key serves two purposes.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hkdfSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { writeSecretFile } from './write-secret-file.js';

interface StoredKey {
  kid: string;
  secret: string;
  createdAtMs: number;
  retiredAtMs?: number;
}

/** One usable key with its derived purpose keys. */
export interface TokenKey {
  kid: string;
  createdAtMs: number;
  /** HS256 key for the public token (JWT). */
  publicTokenKey: Uint8Array;
  /** HMAC key that turns a public token into its secret token. */
  secretTokenKey: CryptoKey;
}

async function deriveKey(stored: StoredKey): Promise<TokenKey> {
  const secret = Buffer.from(stored.secret, 'base64url');
  const publicTokenKey = new Uint8Array(hkdfSync('sha256', secret, Buffer.alloc(0), 'coconutpay public token v1', 32));
  const secretRaw = new Uint8Array(hkdfSync('sha256', secret, Buffer.alloc(0), 'coconutpay secret token v1', 32));
  const secretTokenKey = await crypto.subtle.importKey('raw', secretRaw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return { kid: stored.kid, createdAtMs: stored.createdAtMs, publicTokenKey, secretTokenKey };
}

/** The set of token keys, persisted in the data folder. */
export class TokenKeyRing {
  private stored: StoredKey[] = [];
  private active = new Map<string, TokenKey>();

  private constructor(private readonly file: string) {}

  /** Loads the ring from `dataDir`, creating a first key when none exists. */
  static async open(dataDir: string, nowMs: number): Promise<TokenKeyRing> {
    const ring = new TokenKeyRing(path.join(dataDir, 'keys', 'token-keys.json'));
    if (existsSync(ring.file)) {
      ring.stored = (JSON.parse(readFileSync(ring.file, 'utf8')) as { keys: StoredKey[] }).keys;
    }
    if (!ring.stored.some((k) => k.retiredAtMs === undefined)) ring.stored.push(ring.newKey(nowMs));
    ring.save();
    await ring.refresh();
    return ring;
  }

  private newKey(nowMs: number): StoredKey {
    return { kid: `k${nowMs.toString(36)}${randomBytes(4).toString('hex')}`, secret: randomBytes(32).toString('base64url'), createdAtMs: nowMs };
  }

  private save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeSecretFile(this.file, JSON.stringify({ keys: this.stored }, null, 2));
  }

  private async refresh(): Promise<void> {
    const next = new Map<string, TokenKey>();
    for (const key of this.stored) if (key.retiredAtMs === undefined) next.set(key.kid, await deriveKey(key));
    this.active = next;
  }

  /** The key new sessions are issued under: the newest one not retired. */
  current(): TokenKey {
    const newest = [...this.active.values()].sort((a, b) => b.createdAtMs - a.createdAtMs)[0];
    if (!newest) throw new Error('no active token key');
    return newest;
  }

  /** The key with id `kid`, or `undefined` when it is unknown or retired. */
  get(kid: string): TokenKey | undefined {
    return this.active.get(kid);
  }

  /** True when `kid` was ours but has been retired. */
  isRetired(kid: string): boolean {
    return this.stored.some((k) => k.kid === kid && k.retiredAtMs !== undefined);
  }

  /** Adds a new current key; older keys stay valid for the sessions issued under them. */
  async rotate(nowMs: number): Promise<string> {
    const key = this.newKey(nowMs);
    this.stored.push(key);
    this.save();
    await this.refresh();
    return key.kid;
  }

  /**
   * Retires a key: sessions issued under it stop working. The secret is erased from
   * the file; only the id stays, so such tokens get a precise error.
   */
  async retire(kid: string, nowMs: number): Promise<void> {
    const key = this.stored.find((k) => k.kid === kid);
    if (!key || key.retiredAtMs !== undefined) return;
    if (this.active.size === 1) throw new Error('cannot retire the last active key; rotate first');
    key.retiredAtMs = nowMs;
    key.secret = '';
    this.save();
    await this.refresh();
  }

  /**
   * Retires every key that was superseded more than `maxAgeMs` ago. With `maxAgeMs`
   * equal to the session lifetime, no live session can still need such a key.
   */
  async retireSuperseded(maxAgeMs: number, nowMs: number): Promise<string[]> {
    const keys = [...this.active.values()];
    const supersededAt = (k: TokenKey) => Math.min(...keys.filter((o) => o.createdAtMs > k.createdAtMs).map((o) => o.createdAtMs));
    const old = keys.filter((k) => nowMs - supersededAt(k) > maxAgeMs).map((k) => k.kid);
    for (const kid of old) await this.retire(kid, nowMs);
    return old;
  }
}
