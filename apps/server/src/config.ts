/**
 * Server configuration: one validated, frozen object built from the environment.
 * `main.ts` is the only caller that passes `process.env`; tests build configs directly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(sqlite:|postgres://|postgresql://|mysql://|mariadb://)' })),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  TRUST_PROXY: Type.Union([Type.Literal('true'), Type.Literal('false'), Type.String({ pattern: '^[0-9]+$' })], { default: 'false' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  DEMO: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  WEB_DIST_DIR: Type.Optional(Type.String({ minLength: 1 })),
  PASSWORD_HASH_LOG_N: Type.Integer({ minimum: 10, maximum: 20, default: 15 }),
  CA_KEY_PASSPHRASE: Type.Optional(Type.String({ minLength: 16, maxLength: 1024 })),
  CERT_VALIDITY_DAYS: Type.Integer({ minimum: 1, maximum: 825, default: 365 }),
  TOP_UP_DAILY_LIMIT_WON: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, default: 5_000_000 }),
  MAX_ADDITIONAL_CERTIFICATES: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  SUPPORT_CONTACT: Type.String({ minLength: 3, maxLength: 200, default: 'support@coconutpay.example' }),
  NODE_ENV: Type.Optional(Type.String({ minLength: 1 })),
  // Requests per minute from one client address, per route of each kind (see RateLimitPolicy).
  RATE_LIMIT_LOGIN_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 }),
  RATE_LIMIT_REGISTRATION_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  RATE_LIMIT_EVIDENCE_VERIFICATION_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 }),
  RATE_LIMIT_CODE_ISSUING_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 }),
  RATE_LIMIT_CSR_SUBMISSION_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10 }),
  RATE_LIMIT_PUBLIC_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 600 }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 32, maxLength: 1024, pattern: '^[\\x21-\\x7e]+$' })),
  AUDIT_EXPORT_TOKEN: Type.Optional(Type.String({ minLength: 32, maxLength: 1024, pattern: '^[\\x21-\\x7e]+$' })),
  METRICS_ADDRESS: Type.Optional(Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$' })),
});
type Env = Static<typeof EnvSchema>;

/** The engines the server runs on. */
export type DatabaseEngine = 'sqlite' | 'postgres' | 'mysql';

/**
 * The kinds of route that have their own rate limit, per client address. `public` covers
 * every unauthenticated route that has no kind of its own (PKI, catalogue, the web app).
 */
export type RateLimitPolicy = 'login' | 'registration' | 'evidenceVerification' | 'codeIssuing' | 'csrSubmission' | 'public';

/** The validated configuration. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  databaseEngine: DatabaseEngine;
  publicUrl: string;
  /**
   * Whether `publicUrl` is the `http(s)://localhost:<PORT>` default because PUBLIC_URL was
   * not set. The CA writes `publicUrl` into every certificate's CRL and OCSP URLs, so with
   * the default no other machine can check a certificate's status.
   */
  publicUrlIsDefault: boolean;
  /** NODE_ENV=production: settings that only suit a developer's machine are refused. */
  production: boolean;
  tls: { cert: Buffer; key: Buffer } | undefined;
  trustProxy: boolean | number;
  redisUrl: string | undefined;
  /** Seed demo accounts and products into an empty embedded database. */
  demoData: boolean;
  logLevel: string;
  /** Folder of the built web app; absent folder means API only. */
  webDistDir: string;
  /** Whom a locked-out person should contact (e-mail or phone), shown with every lock. */
  supportContact: string;
  /** scrypt cost parameter N = 2^passwordHashLogN. */
  passwordHashLogN: number;
  /** Passphrase encrypting the CA keys at rest; undefined → one generated into the data folder. */
  caKeyPassphrase: string | undefined;
  /** Validity of user certificates. */
  certificateValidityDays: number;
  /** Most active additional certificates plus pending requests per user. */
  maxAdditionalCertificates: number;
  /** Session limits. */
  /** An operator's session ends after this long without a request (shorter than anyone else's). */
  adminSessionIdleTimeoutMs: number;
  sessionIdleTimeoutMs: number;
  sessionLifetimeMs: number;
  /** Login throttling: consecutive failures before a lock, and its length. */
  loginFailuresMax: number;
  loginLockMs: number;
  /** Password spraying: failed logins from one client address, across login ids, per window. */
  loginAddressFailuresMax: number;
  loginAddressWindowMs: number;
  /** Largest JSON body, in bytes. */
  jsonBodyLimitBytes: number;
  /** Most (session, nonce) pairs the in-memory replay cache holds. */
  replayCacheEntriesMax: number;
  /** Most remembered requests of one session at a time (the in-process replay cache), so one client cannot fill it for all. */
  replayCacheEntriesPerSessionMax: number;
  /** Most won one user may top up per Korean calendar day. */
  topUpDailyLimitWon: bigint;
  /** How often expired orders and idempotency keys are swept. */
  expirySweepIntervalMs: number;
  /** How long a stored Idempotency-Key result is kept. */
  idempotencyKeyTtlMs: number;
  /** Requests one client address may make to one route of each kind per `rateLimitWindowMs`. */
  rateLimits: Readonly<Record<RateLimitPolicy, number>>;
  rateLimitWindowMs: number;
  /** Prefix of the rate-limit counters in Redis; apps sharing one Redis and one prefix share the counts. */
  rateLimitRedisPrefix: string;
  /** Bearer token that lets a scraper read /metrics on the main listener; undefined → not served there. */
  metricsToken: string | undefined;
  /** A listener of its own for /metrics, e.g. 127.0.0.1:9464; undefined → none. */
  metricsAddress: { host: string; port: number } | undefined;
  /** Bearer token that lets `coconutpay audit verify --online` read the audit export; undefined → the export is not served. */
  auditExportToken: string | undefined;
  /** How often the audit chain's head is signed while entries arrive. */
  auditHeadIntervalMs: number;
}

/** The error thrown when the environment is invalid; it lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads `NAME` or, when `NAME_FILE` is set, the trimmed contents of that file (for secrets). */
function withFileSecrets(env: Record<string, string | undefined>, names: string[]): Record<string, string | undefined> {
  const out = { ...env };
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (file && !env[name]) out[name] = readFileSync(file, 'utf8').trim();
  }
  return out;
}

/** `host:port` or `[v6]:port` → its parts; the brackets are dropped, as `listen` wants. */
function metricsAddressOf(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(value.slice(colon + 1)) };
}

function engineOf(url: string): DatabaseEngine {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  return 'mysql';
}

/**
 * Validates the environment and returns a frozen config. Unknown variables are ignored;
 * every invalid one is reported in one `ConfigError`.
 *
 * @example
 * const config = loadConfig({ PORT: '0', DATA_DIR: '/tmp/cp' });
 */
export function loadConfig(rawEnv: Record<string, string | undefined>, overrides: Partial<Config> = {}): Readonly<Config> {
  const env = withFileSecrets(rawEnv, ['DATABASE_URL', 'REDIS_URL', 'CA_KEY_PASSPHRASE', 'METRICS_TOKEN', 'AUDIT_EXPORT_TOKEN']);
  const known = Object.fromEntries(
    Object.keys(EnvSchema.properties)
      .filter((k) => env[k] !== undefined && env[k] !== '')
      .map((k) => [k, env[k]]),
  );
  const candidate = Value.Default(EnvSchema, Value.Convert(EnvSchema, known));
  const problems = [...Value.Errors(EnvSchema, candidate)].map((e) => `${e.path.slice(1) || '(root)'}: ${e.message}`);
  if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) problems.push('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  if (known.NODE_ENV === 'production' && known.PUBLIC_URL === undefined) {
    problems.push(`PUBLIC_URL: must be set when NODE_ENV=production; its localhost default would be written into every certificate's CRL and OCSP URLs`);
  }
  const metricsPort = typeof known.METRICS_ADDRESS === 'string' ? Number(known.METRICS_ADDRESS.slice(known.METRICS_ADDRESS.lastIndexOf(':') + 1)) : undefined;
  if (metricsPort !== undefined && metricsPort > 65535) problems.push('METRICS_ADDRESS: the port must be at most 65535');
  if (problems.length > 0) throw new ConfigError(problems);
  const e = candidate as Env;

  const dataDir = path.resolve(e.DATA_DIR);
  const databaseUrl = e.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'coconutpay.db')}`;
  const databaseEngine = engineOf(databaseUrl);
  const tls = e.TLS_CERT_FILE && e.TLS_KEY_FILE ? { cert: readFileSync(e.TLS_CERT_FILE), key: readFileSync(e.TLS_KEY_FILE) } : undefined;
  const scheme = tls ? 'https' : 'http';
  const publicUrl = (e.PUBLIC_URL ?? `${scheme}://localhost:${e.PORT}`).replace(/\/+$/, '');
  const trustProxy = e.TRUST_PROXY === 'true' ? true : e.TRUST_PROXY === 'false' ? false : Number(e.TRUST_PROXY);

  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    dataDir,
    databaseUrl,
    databaseEngine,
    publicUrl,
    // An override of publicUrl (tests, the benchmark) is a chosen address, not the default.
    publicUrlIsDefault: e.PUBLIC_URL === undefined && overrides.publicUrl === undefined,
    production: e.NODE_ENV === 'production',
    tls,
    trustProxy,
    redisUrl: e.REDIS_URL,
    // Demo accounts belong to the embedded quick start only, never to a production engine.
    demoData: e.DEMO === 'on' && databaseEngine === 'sqlite',
    supportContact: e.SUPPORT_CONTACT,
    logLevel: e.LOG_LEVEL,
    webDistDir: path.resolve(e.WEB_DIST_DIR ?? new URL('../../web/dist', import.meta.url).pathname),
    passwordHashLogN: e.PASSWORD_HASH_LOG_N,
    caKeyPassphrase: e.CA_KEY_PASSPHRASE,
    certificateValidityDays: e.CERT_VALIDITY_DAYS,
    maxAdditionalCertificates: e.MAX_ADDITIONAL_CERTIFICATES,
    sessionIdleTimeoutMs: 15 * 60_000,
    adminSessionIdleTimeoutMs: 5 * 60_000,
    sessionLifetimeMs: 12 * 3_600_000,
    loginFailuresMax: 5,
    loginLockMs: 15 * 60_000,
    loginAddressFailuresMax: 20,
    loginAddressWindowMs: 15 * 60_000,
    jsonBodyLimitBytes: 64 * 1024,
    replayCacheEntriesMax: 500_000,
    // A tenth of the cache: 50,000 in its 120 s, 416 signed requests a second from one session.
    replayCacheEntriesPerSessionMax: 50_000,
    topUpDailyLimitWon: BigInt(e.TOP_UP_DAILY_LIMIT_WON),
    expirySweepIntervalMs: 30_000,
    idempotencyKeyTtlMs: 24 * 3_600_000,
    rateLimits: Object.freeze({
      login: e.RATE_LIMIT_LOGIN_PER_MINUTE,
      registration: e.RATE_LIMIT_REGISTRATION_PER_MINUTE,
      evidenceVerification: e.RATE_LIMIT_EVIDENCE_VERIFICATION_PER_MINUTE,
      codeIssuing: e.RATE_LIMIT_CODE_ISSUING_PER_MINUTE,
      csrSubmission: e.RATE_LIMIT_CSR_SUBMISSION_PER_MINUTE,
      public: e.RATE_LIMIT_PUBLIC_PER_MINUTE,
    }),
    rateLimitWindowMs: 60_000,
    rateLimitRedisPrefix: 'coconutpay:rate-limit:',
    metricsToken: e.METRICS_TOKEN,
    metricsAddress: e.METRICS_ADDRESS === undefined ? undefined : metricsAddressOf(e.METRICS_ADDRESS),
    auditExportToken: e.AUDIT_EXPORT_TOKEN,
    auditHeadIntervalMs: 60_000,
    ...overrides,
  };
  return Object.freeze(config);
}

/**
 * The one start-up warning for a PUBLIC_URL left at its localhost default, or `undefined`
 * when PUBLIC_URL was set. `main.ts` logs it once per start; production never gets here,
 * because `loadConfig` refuses the default there.
 *
 * @example
 * const warning = publicUrlDefaultWarning(config);
 * if (warning) app.log.warn(warning);
 */
export function publicUrlDefaultWarning(config: Pick<Config, 'publicUrl' | 'publicUrlIsDefault'>): string | undefined {
  if (!config.publicUrlIsDefault) return undefined;
  return (
    `WARNING: PUBLIC_URL is not set, so ${config.publicUrl} is baked into every certificate's CRL and OCSP URLs ` +
    `and no other machine can check certificate status; set PUBLIC_URL to the address users reach (NODE_ENV=production refuses to start without it)`
  );
}
