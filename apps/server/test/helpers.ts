/**
 * Test harness: real databases (SQLite always; PostgreSQL and MariaDB when
 * POSTGRES_URL / MARIADB_URL are set), a real app through `app.inject()`, and a
 * client that signs requests with the dual-token proof exactly as the browser does.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { importSecretToken, nonceFromBytes, signRequest } from '@coconutpay/core/protocol';
import { utf8 } from '@coconutpay/core/encoding';
import { buildApp, type BuildOptions } from '../src/app.js';
import { loadConfig, type Config, type DatabaseEngine } from '../src/config.js';
import { announceSkip } from './announce-skip.js';
import type { PasswordHasher } from '../src/services/password-hasher.js';

export interface EngineUnderTest {
  engine: DatabaseEngine;
  /** Creates an empty database of this engine; returns its URL and how to drop it. */
  create(): Promise<{ url: string; drop(): Promise<void> }>;
}

const announced = new Set<string>();
/** Skips an engine once per run, loudly; in CI a missing engine fails the run instead. */
function skipEngine(name: string, variable: string): void {
  if (announced.has(name)) return;
  announceSkip(name, `${variable} is not set`);
  announced.add(name);
}

function uniqueName(): string {
  return `cp_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** The engines to test against in this run. */
export function enginesUnderTest(): EngineUnderTest[] {
  const engines: EngineUnderTest[] = [
    {
      engine: 'sqlite',
      async create() {
        const dir = mkdtempSync(path.join(tmpdir(), 'cp-sqlite-'));
        return { url: `sqlite:${path.join(dir, 'test.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  const postgresUrl = process.env.POSTGRES_URL;
  if (postgresUrl) {
    engines.push({
      engine: 'postgres',
      async create() {
        const name = uniqueName();
        const admin = new pg.Client({ connectionString: postgresUrl });
        await admin.connect();
        await admin.query(`create database ${name}`);
        await admin.end();
        const url = new URL(postgresUrl);
        url.pathname = `/${name}`;
        return {
          url: url.toString(),
          async drop() {
            const c = new pg.Client({ connectionString: postgresUrl });
            await c.connect();
            await c.query(`drop database if exists ${name} with (force)`);
            await c.end();
          },
        };
      },
    });
  } else skipEngine('PostgreSQL', 'POSTGRES_URL');
  const mariadbUrl = process.env.MARIADB_URL;
  if (mariadbUrl) {
    engines.push({
      engine: 'mysql',
      async create() {
        const name = uniqueName();
        const admin = await mysql.createConnection(mariadbUrl.replace(/^mariadb:/, 'mysql:'));
        await admin.query(`create database ${name} character set utf8mb4 collate utf8mb4_nopad_bin`);
        await admin.end();
        const url = new URL(mariadbUrl.replace(/^mariadb:/, 'mysql:'));
        url.pathname = `/${name}`;
        return {
          url: url.toString(),
          async drop() {
            const c = await mysql.createConnection(mariadbUrl.replace(/^mariadb:/, 'mysql:'));
            await c.query(`drop database if exists ${name}`);
            await c.end();
          },
        };
      },
    });
  } else skipEngine('MariaDB', 'MARIADB_URL');
  return engines;
}

/** A clock tests can move. */
export class TestClock {
  constructor(public nowMs = Date.now()) {}
  readonly now = () => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

export interface TestApp {
  app: FastifyInstance;
  clock: TestClock;
  config: Readonly<Config>;
  dataDir: string;
  close(): Promise<void>;
}

/** Builds an app on a fresh database of `engine` (SQLite by default) and a fresh data folder. */
export async function startTestApp(
  options: {
    engine?: EngineUnderTest; env?: Record<string, string>; clock?: TestClock; configOverrides?: Partial<Config>;
    build?: Pick<BuildOptions, 'onFatal' | 'sqliteFault'>; passwordHasher?: PasswordHasher;
  } = {},
): Promise<TestApp> {
  const engine = options.engine ?? enginesUnderTest()[0]!;
  const database = await engine.create();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cp-data-'));
  const config = loadConfig(
    { DATA_DIR: dataDir, DATABASE_URL: database.url, DEMO: 'off', PASSWORD_HASH_LOG_N: '10', LOG_LEVEL: 'silent', WEB_DIST_DIR: path.join(dataDir, 'no-web'), ...RATE_LIMITS_LIFTED, ...options.env },
    options.configOverrides,
  );
  const clock = options.clock ?? new TestClock();
  const app = await buildApp(config, { clock: clock.now, logger: false, ...options.build, ...(options.passwordHasher ? { passwordHasher: options.passwordHasher } : {}) });
  await app.ready();
  return {
    app, clock, config, dataDir,
    async close() {
      await app.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Rate limits lifted out of the way: tests make many requests from one address in
 * moments. A test of the limits passes its own values in `env`.
 */
export const RATE_LIMITS_LIFTED: Record<string, string> = Object.fromEntries(
  ['LOGIN', 'REGISTRATION', 'EVIDENCE_VERIFICATION', 'CODE_ISSUING', 'CSR_SUBMISSION', 'PUBLIC'].map((kind) => [`RATE_LIMIT_${kind}_PER_MINUTE`, '1000000']),
);

let counter = 0;
/** A login id no other test uses. */
export function freshLoginId(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}${randomBytes(3).toString('hex')}`;
}

export const GOOD_PASSWORD = 'correct horse battery';

export function buyerRegistration(loginId = freshLoginId('buyer')) {
  return { role: 'buyer', loginId, password: GOOD_PASSWORD, name: '홍길동', phone: '010-1111-2222', address: '서울시 중구 1', email: `${loginId}@example.test` };
}

export function sellerRegistration(loginId = freshLoginId('seller')) {
  return {
    ...buyerRegistration(loginId),
    role: 'seller',
    store: { storeName: `Store ${loginId}`, businessNumber: '123-45-67890', storeAddress: '서울시 중구 2', representative: '김대표', storePhone: '02-123-4567' },
  };
}

/** Options to break a signed request on purpose. */
export interface Tamper {
  /** Sign this body but send `sendBody`. */
  sendBody?: string;
  /** Sign this path but request `sendPath`. */
  sendPath?: string;
  timestampMs?: number;
  nonce?: string;
  proof?: string;
  publicToken?: string;
  headers?: Record<string, string>;
}

/** A logged-in client that signs each request as the web app does. */
export class SignedClient {
  constructor(
    private readonly t: TestApp,
    readonly publicToken: string,
    private readonly secretKey: CryptoKey,
    readonly userId: string,
    readonly sessionId: string,
  ) {}

  static async login(t: TestApp, loginId: string, password = GOOD_PASSWORD): Promise<SignedClient> {
    const res = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { loginId, password } });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    const body = res.json();
    return new SignedClient(t, body.publicToken, await importSecretToken(body.secretToken), body.user.id, body.sessionId);
  }

  /** Sends a signed request. `body` is JSON-encoded unless it is a Buffer (then sent raw). */
  async request(method: string, pathWithQuery: string, body?: unknown, tamper: Tamper = {}, contentType?: string): Promise<LightMyRequestResponse> {
    const raw = body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : utf8(JSON.stringify(body));
    const headers = await signRequest({
      publicToken: this.publicToken,
      secretKey: this.secretKey,
      method,
      pathWithQuery,
      ...(raw ? { body: raw as Uint8Array<ArrayBuffer> } : {}),
      timestampMs: tamper.timestampMs ?? this.t.clock.nowMs,
      nonce: tamper.nonce ?? nonceFromBytes(randomBytes(16)),
    });
    if (tamper.proof) headers['x-coconutpay-proof'] = tamper.proof;
    if (tamper.publicToken) headers.authorization = `CoconutPay-DualToken ${tamper.publicToken}`;
    const payload = tamper.sendBody ?? (raw ? Buffer.from(raw) : undefined);
    return this.t.app.inject({
      method: method as 'GET',
      url: tamper.sendPath ?? pathWithQuery,
      headers: { ...headers, ...(payload !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}), ...tamper.headers },
      ...(payload !== undefined ? { payload } : {}),
    });
  }

  /** Signed headers for a body-less request sent some other way (fetch, for streams). */
  async signedHeaders(method: string, pathWithQuery: string): Promise<Record<string, string>> {
    return { ...(await signRequest({
      publicToken: this.publicToken, secretKey: this.secretKey, method, pathWithQuery,
      timestampMs: this.t.clock.nowMs, nonce: nonceFromBytes(randomBytes(16)),
    })) };
  }

  get(path: string, tamper?: Tamper) {
    return this.request('GET', path, undefined, tamper);
  }
}

/** Registers and logs in a fresh buyer or seller. */
export async function newClient(t: TestApp, role: 'buyer' | 'seller'): Promise<SignedClient> {
  const registration = role === 'buyer' ? buyerRegistration() : sellerRegistration();
  const res = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: registration });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  return SignedClient.login(t, registration.loginId);
}
