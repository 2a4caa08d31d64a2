/**
 * The server as a separate OS process, spoken to over real HTTP only: started from main.ts
 * with tsx (its own process group, so a stop or a SIGKILL reaches tsx's child node process
 * too), a health poll, and a logged-in client that signs every request with the dual-token
 * proof as the web app does. Used by qr-two-servers.test.ts and the bank test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { utf8 } from '@coconutpay/core/encoding';
import { importSecretToken, nonceFromBytes, signRequest } from '@coconutpay/core/protocol';
import pg from 'pg';
import { GOOD_PASSWORD, RATE_LIMITS_LIFTED } from './helpers.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = path.join(ROOT, 'apps/server/src/main.ts');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
/** tsx compiles the whole server on start; on a busy two-core machine that takes a while. */
export const START_TIMEOUT_MS = 60_000;

/** One server process started from main.ts. */
export interface ServerProcess {
  name: string;
  url: string;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  exitCode(): number | null | undefined;
  /** Ends the process and whatever tsx started under it; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL to the whole group, as a power cut would: no shutdown code runs. Resolves once it has exited. */
  kill(): Promise<void>;
}

/** `count` ports free on the loopback now, found together so that they differ. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => {
    const address = s.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export function startServer(name: string, port: number, env: Record<string, string>): ServerProcess {
  const child: ChildProcess = spawn(TSX, ['--conditions=source', MAIN], {
    cwd: ROOT,
    // Only what the test chooses (plus what tsx needs to run): a CA_KEY_PASSPHRASE,
    // METRICS_ADDRESS or NODE_ENV in the developer's shell must not change what is tested.
    env: {
      PATH: process.env.PATH ?? '',
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: tsx runs the server in a child node process, and stopping the
    // group reaches both, so no server outlives the test.
    detached: true,
  });
  let text = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      // Keep the tail only: the log is for diagnosing a failure, not for assertions.
      text = (text + chunk).slice(-20_000);
    });
  }
  let code: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (c) => {
    code = c;
    resolve();
  }));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is gone already.
    }
  };
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    output: () => text,
    exitCode: () => code,
    async stop() {
      if (code !== undefined) return;
      signalGroup('SIGTERM');
      // main.ts closes the app on SIGTERM (streams, Redis, the pool); force it if it hangs.
      const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (code !== undefined) return;
      signalGroup('SIGKILL');
      await exited;
    },
  };
}

/** Waits until the process answers GET /healthz with 200 (it then has its database and keys). */
export async function untilHealthy(server: ServerProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode() !== undefined) throw new Error(`server ${server.name} exited with ${server.exitCode()} before it was healthy:\n${server.output()}`);
    try {
      const res = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server ${server.name} was not healthy within ${START_TIMEOUT_MS} ms:\n${server.output()}`);
}

export interface Answer {
  status: number;
  /** The JSON answer, typed as loosely as `res.json()` in the app.inject() tests; the text otherwise. */
  body: any;
  text: string;
  headers: Headers;
}

export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') && text !== '';
  return { status: res.status, body: json ? JSON.parse(text) : text, text, headers: res.headers };
}

/** An unauthenticated request. */
export async function publicRequest(baseUrl: string, method: string, pathWithQuery: string, body?: unknown, timeoutMs?: number): Promise<Answer> {
  return answerOf(await fetch(`${baseUrl}${pathWithQuery}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  }));
}

/** Options of one signed request. */
export interface SendOptions {
  /** Extra headers (an Idempotency-Key, say). */
  headers?: Record<string, string>;
  /** Aborts the request after this long: its fate is then unknown to the caller. */
  timeoutMs?: number;
}

/**
 * A logged-in session bound to one server address, signing each request with the
 * dual-token proof as the web app does (helpers.ts's SignedClient, over real HTTP and
 * with the real clock).
 */
export class HttpSession {
  private constructor(
    readonly baseUrl: string,
    private readonly publicToken: string,
    private readonly secretKey: CryptoKey,
    readonly userId: string,
    readonly sessionId: string,
  ) {}

  static async login(baseUrl: string, loginId: string): Promise<HttpSession> {
    const res = await publicRequest(baseUrl, 'POST', '/api/auth/login', { loginId, password: GOOD_PASSWORD });
    if (res.status !== 200) throw new Error(`login on ${baseUrl} failed: ${res.status} ${res.text}`);
    return new HttpSession(baseUrl, res.body.publicToken, await importSecretToken(res.body.secretToken), res.body.user.id, res.body.sessionId);
  }

  /** The same session spoken to at another address (another process behind the same load balancer). */
  at(baseUrl: string): HttpSession {
    return new HttpSession(baseUrl, this.publicToken, this.secretKey, this.userId, this.sessionId);
  }

  /** The signed headers of a request; the proof covers the exact bytes that are sent. */
  async signedHeaders(method: string, pathWithQuery: string, body?: Uint8Array<ArrayBuffer>): Promise<Record<string, string>> {
    return {
      ...(await signRequest({
        publicToken: this.publicToken, secretKey: this.secretKey, method, pathWithQuery,
        ...(body ? { body } : {}),
        timestampMs: Date.now(),
        nonce: nonceFromBytes(randomBytes(16)),
      })),
    };
  }

  /**
   * Sends a signed request. A body given as a string is sent as those exact bytes (a retry
   * with an idempotency key must send the same body); anything else is JSON-encoded.
   * Each call signs afresh: nonces are single-use, so even a retry needs a new proof.
   */
  async request(method: string, pathWithQuery: string, body?: unknown, options: SendOptions = {}): Promise<Answer> {
    const raw = body === undefined ? undefined : utf8(typeof body === 'string' ? body : JSON.stringify(body));
    const headers = await this.signedHeaders(method, pathWithQuery, raw);
    return answerOf(await fetch(`${this.baseUrl}${pathWithQuery}`, {
      method,
      headers: { ...headers, ...(raw ? { 'content-type': 'application/json' } : {}), ...options.headers },
      ...(raw ? { body: raw } : {}),
      ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
    }));
  }

  get(pathWithQuery: string, options?: SendOptions): Promise<Answer> {
    return this.request('GET', pathWithQuery, undefined, options);
  }
}

/**
 * Two server processes behind one address, as a deployment of several processes runs: one
 * fresh PostgreSQL database, one Redis and one data folder (keys) shared. A starts first and
 * alone: it makes the keys in the shared folder and migrates the database (started together,
 * each would make keys of its own and refuse what the other signed). `PUBLIC_URL` is A's
 * address for both. Call `start` in `beforeAll` and `stop` in `afterAll`.
 */
export function twoServersOnPostgres(postgresUrl: string, redisUrl: string, extraEnv: Record<string, string> = {}) {
  const databaseName = `cp_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  let databaseCreated = false;
  let dataDir: string | undefined;
  let databaseUrl: string | undefined;
  const servers: ServerProcess[] = [];
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  return {
    servers,
    /** Creates the database and starts A, then B; answers both, the database's URL and the shared data folder. */
    async start(): Promise<{ a: ServerProcess; b: ServerProcess; databaseUrl: string; dataDir: string }> {
      await admin(`create database ${databaseName}`);
      databaseCreated = true;
      const url = new URL(postgresUrl);
      url.pathname = `/${databaseName}`;
      databaseUrl = url.toString();
      dataDir = mkdtempSync(path.join(tmpdir(), 'cp-two-servers-'));
      const [portA, portB] = await freePorts(2);
      const shared = {
        DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, DATA_DIR: dataDir, PUBLIC_URL: `http://127.0.0.1:${portA}`,
        DEMO: 'off', LOG_LEVEL: 'warn', PASSWORD_HASH_LOG_N: '10', WEB_DIST_DIR: path.join(dataDir, 'no-web'),
        ...RATE_LIMITS_LIFTED, ...extraEnv,
      };
      const a = startServer('A', portA!, shared);
      servers.push(a);
      await untilHealthy(a);
      const b = startServer('B', portB!, shared);
      servers.push(b);
      await untilHealthy(b);
      return { a, b, databaseUrl, dataDir };
    },
    /** Stops the processes first (they hold connections to the database dropped next). */
    async stop(): Promise<void> {
      await Promise.all(servers.map((s) => s.stop()));
      if (databaseCreated) await admin(`drop database if exists ${databaseName} with (force)`);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
