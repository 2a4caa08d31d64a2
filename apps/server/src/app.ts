/**
 * Builds the whole server from a config: database, services, HTTP routes and the
 * web app. Tests call `buildApp` and talk to it with `app.inject()`; `main.ts`
 * adds only `listen`.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'kysely';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { Type } from '@sinclair/typebox';
import { TIMESTAMP_WINDOW_MS } from '@coconutpay/core/protocol';
import type { Config } from './config.js';
import { CartRepository } from './db/cart-repository.js';
import { openDatabase, type DatabaseHandle, type OpenDatabaseOptions } from './db/database.js';
import { LedgerRepository } from './db/ledger-repository.js';
import { LoginThrottlesRepository } from './db/login-throttles-repository.js';
import { LoginChallengesRepository } from './db/login-challenges-repository.js';
import { migrateToLatest } from './db/migrate.js';
import { ProductsRepository } from './db/products-repository.js';
import { SessionsRepository } from './db/sessions-repository.js';
import { SessionCache } from './services/session-cache.js';
import { UsersRepository } from './db/users-repository.js';
import { installAuthentication } from './http/authenticate.js';
import { installBodyParsers } from './http/body-parsers.js';
import { installAccessLog } from './http/access-log.js';
import { logDestination } from './http/log-destination.js';
import { requestChildLogger } from './http/request-logger.js';
import { buildMetricsApp, installMetrics, serveMetrics } from './http/metrics.js';
import { installProblemHandlers, sendProblem } from './http/problem.js';
import { installRateLimits } from './http/rate-limits.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { authRoutes } from './http/routes/auth-routes.js';
import { cartRoutes } from './http/routes/cart-routes.js';
import { catalogueRoutes } from './http/routes/catalogue-routes.js';
import { opsRoutes, VERSION } from './http/routes/ops-routes.js';
import { sharedSchemas } from './http/schemas.js';
import { installValidation } from './http/validation.js';
import { installWebHost } from './http/web-host.js';
import { AccountsService } from './services/accounts.js';
import { CartService } from './services/cart.js';
import { CatalogueService } from './services/catalogue.js';
import { CertificatePossession } from './services/certificate-possession.js';
import { seedDemoData } from './services/demo-data.js';
import { ImageStore } from './services/image-store.js';
import { PasswordHasher } from './services/password-hasher.js';
import { MemoryReplayCache, RedisReplayCache, type ReplayCache } from './services/replay-cache.js';
import { RequestAuthenticator } from './services/request-authenticator.js';
import { TokenKeyRing } from './services/token-keys.js';
import { VerificationCodeKey } from './services/verification-code-key.js';
import { CertificatesRepository } from './db/certificates-repository.js';
import { CertificatesService } from './services/certificates.js';
import { CertificateAuthority } from './services/pki/certificate-authority.js';
import { CertificateVerifier } from './services/pki/certificate-verifier.js';
import { DecisionHub, DeviceCertificatesService } from './services/device-certificates.js';
import { EventHub } from './services/event-hub.js';
import { CertificateRequestsRepository } from './db/certificate-requests-repository.js';
import { CrlPublisher } from './services/pki/crl-publisher.js';
import { OcspResponder } from './services/pki/ocsp-responder.js';
import { caPassphrase } from './services/pki/ca-passphrase.js';
import { certificateRoutes, certificateSchemas } from './http/routes/certificate-routes.js';
import { pkiRoutes } from './http/routes/pki-routes.js';
import { IdempotencyRepository } from './db/idempotency-repository.js';
import { OrdersRepository } from './db/orders-repository.js';
import { installIdempotency } from './http/idempotency.js';
import { orderRoutes, orderSchemas } from './http/routes/order-routes.js';
import { walletRoutes } from './http/routes/wallet-routes.js';
import { ExpirySweeper } from './services/expiry-sweeper.js';
import { OrdersService } from './services/orders.js';
import { PaymentsService } from './services/payments.js';
import { PaymentAuthService, type SharedCode } from './services/payment-auth.js';
import { PaymentAuthRepository } from './db/payment-auth-repository.js';
import { openServerRoles, type ServerRoles } from './services/pki/server-roles.js';
import { TimeStampAuthority } from './services/pki/time-stamp-authority.js';
import { paymentRoutes } from './http/routes/payment-routes.js';
import { qrRoutes } from './http/routes/qr-routes.js';
import { certificateLoginRoutes } from './http/routes/certificate-login-routes.js';
import { CertificateLoginService } from './services/certificate-login.js';
import { CertificateLoginRepository } from './db/certificate-login-repository.js';
import { QrPaymentService } from './services/qr-payments.js';
import { QrSessionsRepository } from './db/qr-sessions-repository.js';
import type { QrSessionEvent } from '@coconutpay/core/payment/qr';
import { WalletService } from './services/wallet.js';
import { ReceiptsRepository } from './db/receipts-repository.js';
import { ReceiptsService, type ReceiptIssuedEvent } from './services/receipts.js';
import { StoresService } from './services/stores.js';
import { receiptRoutes } from './http/routes/receipt-routes.js';
import { sellerRoutes } from './http/routes/seller-routes.js';
import { auditRoutes } from './http/routes/audit-routes.js';
import { adminRoutes } from './http/routes/admin-routes.js';
import { AdminService } from './services/admin.js';
import { PaymentPoliciesService } from './services/payment-policies.js';
import { AuditLogRepository } from './db/audit-log-repository.js';
import { AuditLog } from './services/audit-log.js';
import { AccountControlsRepository } from './db/account-controls-repository.js';

/** What tests may reach into besides HTTP. */
export interface AppInternals {
  database: DatabaseHandle;
  keys: TokenKeyRing;
  replay: ReplayCache;
  accounts: AccountsService;
  ledger: LedgerRepository;
  orders: OrdersService;
  /** `payOrder` for tests and, later, the payment protocol: no HTTP route reaches it directly. */
  payments: PaymentsService;
  paymentAuth: PaymentAuthService;
  /** Opens a stored verification code: tests and the bench stand in for the person who reads its picture. */
  codeKey: VerificationCodeKey;
  roles: ServerRoles;
  /** The RFC 3161 time-stamp authority: `stampSignature` for payment evidence, `respond` behind `POST /pki/tsa`. */
  tsa: TimeStampAuthority;
  wallet: WalletService;
  sweeper: ExpirySweeper;
  ca: CertificateAuthority;
  verifier: CertificateVerifier;
  devices: DeviceCertificatesService;
  certificates: CertificatesRepository;
  crls: CrlPublisher;
  /** Seller-signed receipts: tests reach the service to check refusals beside HTTP. */
  receipts: ReceiptsService;
  /** The audit log: tests append, sign heads and read it beside HTTP. */
  audit: AuditLog;
  /** The listener of its own for /metrics when METRICS_ADDRESS is set; main.ts calls its `listen`. */
  metricsApp: FastifyInstance | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    internals: AppInternals;
  }
}

export interface BuildOptions {
  /** The clock every service reads; tests pass a controllable one. */
  clock?: () => number;
  /** The password hasher; by default scrypt at `config.passwordHashLogN`. Tests pass one that counts its work. */
  passwordHasher?: PasswordHasher;
  /** `false` silences logging; a stream receives the JSON log lines (with the same redaction). */
  logger?: false | { stream: NodeJS.WritableStream };
  /**
   * Called once when the database can no longer promise durability (a failed sync of a
   * SQLite commit). main.ts ends the process with a non-zero code; tests pass a spy.
   */
  onFatal?: (error: unknown) => void;
  /** Makes chosen SQLite statements fail as an I/O failure would (tests only). */
  sqliteFault?: OpenDatabaseOptions['sqliteFault'];
}

/** The Content-Security-Policy of the web app: same-origin everything, no inline script or style. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
  upgradeInsecureRequests: null,
};

/** Log redaction: no token, proof, password or key ever reaches a log line. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-coconutpay-proof"]',
  'req.headers.cookie',
  'password', '*.password', '*.currentPassword', '*.newPassword', '*.secretToken', '*.publicToken', '*.privateKey',
];

export async function buildApp(config: Readonly<Config>, options: BuildOptions = {}): Promise<FastifyInstance> {
  const clock = options.clock ?? Date.now;
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, stream: options.logger?.stream ?? logDestination() },
    genReqId: () => randomUUID(),
    // request.log without redacting the request id on every request: see http/request-logger.ts.
    ...(options.logger === false ? {} : { childLoggerFactory: requestChildLogger }),
    // One line per request instead of two: see http/access-log.ts.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    // A hop count arrives as a number; Fastify takes it as such at run time.
    trustProxy: config.trustProxy as boolean,
    bodyLimit: config.jsonBodyLimitBytes,
    // OCSP GET requests (RFC 6960 A.1) carry a base64 request of a few hundred characters in the path.
    routerOptions: { maxParamLength: 2048 },
    // The router's own refusals (a path segment too long, bad percent-encoding) leave as
    // problem+json with our codes too, not as Fastify's default JSON naming its internals.
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply as FastifyReply, request as FastifyRequest, (error as { code?: string }).code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'URI_TOO_LONG' : 'URL_MALFORMED');
    },
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
  }) as unknown as FastifyInstance;

  const database = openDatabase(config.databaseUrl, {
    onBackgroundError: (message) => app.log.error({ message }, 'database background work failed'),
    onFatal: (error) => {
      app.log.fatal({ err: error }, 'the database reported an I/O failure (a commit may not be on disk); stopping so that a restart recovers from what is on disk');
      options.onFatal?.(error);
    },
    ...(options.sqliteFault ? { sqliteFault: options.sqliteFault } : {}),
  });
  app.addHook('onClose', async () => database.close());
  await migrateToLatest(database.db, database.engine);

  const nowMs = clock();
  const keys = await TokenKeyRing.open(config.dataDir, nowMs);
  await keys.retireSuperseded(config.sessionLifetimeMs, nowMs);
  const replayTtlMs = 2 * TIMESTAMP_WINDOW_MS;
  const replay: ReplayCache = config.redisUrl
    ? new RedisReplayCache(new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 }), replayTtlMs)
    : new MemoryReplayCache(replayTtlMs, config.replayCacheEntriesMax, { perSessionMax: config.replayCacheEntriesPerSessionMax });
  app.addHook('onClose', async () => replay.close());

  const { db } = database;
  const users = new UsersRepository(db);
  const sessionCache = new SessionCache(
    clock,
    config.redisUrl ? { publisher: new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 }), subscriber: new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 }) } : undefined,
  );
  app.addHook('onClose', async () => sessionCache.close());
  const sessions = new SessionsRepository(db, sessionCache);
  const ledger = new LedgerRepository(db, database.engine);
  const products = new ProductsRepository(db);
  await ledger.ensureFundingAccount(nowMs);

  const catalogue = new CatalogueService(products, new ImageStore(config.dataDir), clock);
  const ca = await CertificateAuthority.open({ dataDir: config.dataDir, passphrase: caPassphrase(config), publicUrl: config.publicUrl, nowMs });
  const roles = await openServerRoles({ dataDir: config.dataDir, passphrase: caPassphrase(config), ca, nowMs });
  const audit = new AuditLog({
    db, engine: database.engine, repo: new AuditLogRepository(db, database.engine), clock, signer: roles.auth,
    onError: (error, what) => app.log.error({ err: error }, `${what} failed`),
  });
  const certificateRecords = new CertificatesRepository(db, sessionCache);
  const crls = new CrlPublisher(ca, certificateRecords, clock);
  const ocsp = new OcspResponder(ca, certificateRecords, clock);
  const verifier = new CertificateVerifier(ca);
  const certificateRequests = new CertificateRequestsRepository(db);
  const certificates = new CertificatesService({ db, certificates: certificateRecords, requests: certificateRequests, users, sessions, ca, crls, clock, validityDays: config.certificateValidityDays, audit });
  const redisOptions = { maxRetriesPerRequest: 1, connectTimeout: 2000 };
  const decisions = new DecisionHub(
    config.redisUrl ? { publisher: new Redis(config.redisUrl, redisOptions), subscriber: new Redis(config.redisUrl, redisOptions) } : undefined,
  );
  app.addHook('onClose', async () => decisions.close());
  const devices = new DeviceCertificatesService({
    db, certificates: certificateRecords, requests: certificateRequests, users, certificateService: certificates, sessions, ca, crls, verifier, hub: decisions, clock,
    validityDays: config.certificateValidityDays, maxAdditional: config.maxAdditionalCertificates, audit,
  });
  const accountControls = new AccountControlsRepository(db);
  const possession = new CertificatePossession({ challenges: new LoginChallengesRepository(db), users, devices, verifier, clock });
  const accounts = new AccountsService({
    db, users, sessions, ledger, keys, clock, possession,
    throttles: new LoginThrottlesRepository(db, database.engine),
    hasher: options.passwordHasher ?? new PasswordHasher(config.passwordHashLogN),
    limits: config, audit, controls: accountControls,
  });
  const carts = new CartService(new CartRepository(db), products, clock);
  const orderRecords = new OrdersRepository(db, database.engine);
  const idempotency = new IdempotencyRepository(db, database.engine);
  const orders = new OrdersService({ db, engine: database.engine, orders: orderRecords, users, clock });
  const payments = new PaymentsService({ db, engine: database.engine, orders: orderRecords, ledger, clock });
  const tsa = await TimeStampAuthority.create({ identity: roles.tsa, clock });
  const paymentRecords = new PaymentAuthRepository(db, database.engine, clock);
  const codeKey = VerificationCodeKey.open(config.dataDir);
  await paymentRecords.ensureDefaultPolicy(nowMs);
  const codeRelay = new EventHub<SharedCode>(
    'coconutpay:shared-codes',
    config.redisUrl ? { publisher: new Redis(config.redisUrl, redisOptions), subscriber: new Redis(config.redisUrl, redisOptions) } : undefined,
  );
  app.addHook('onClose', async () => codeRelay.close());
  const qrHub = new EventHub<QrSessionEvent>(
    'coconutpay:qr-sessions',
    config.redisUrl ? { publisher: new Redis(config.redisUrl, redisOptions), subscriber: new Redis(config.redisUrl, redisOptions) } : undefined,
  );
  app.addHook('onClose', async () => qrHub.close());
  const qr = new QrPaymentService({ repo: new QrSessionsRepository(db, database.engine), orders: orderRecords, codeKey, hub: qrHub, publicUrl: config.publicUrl, clock });
  const paymentAuth = new PaymentAuthService({
    db, engine: database.engine, repo: paymentRecords, orders: orderRecords, users, devices, payments, roles, ca, verifier, clock, codeKey, codeRelay, qr,
    revocationData: async () => Promise.all([crls.current(ca.issuing), crls.current(ca.root)]),
    timeStamps: tsa, audit,
    onAfterCommitError: (error, what) => app.log.error({ err: error }, `${what} failed after the payment committed`),
  });
  const certificateLogins = new CertificateLoginService({ repo: new CertificateLoginRepository(db), users, devices, accounts, roles, clock });
  const wallet = new WalletService({ db, engine: database.engine, ledger, clock, topUpDailyLimitWon: config.topUpDailyLimitWon });
  const receiptRecords = new ReceiptsRepository(db, database.engine);
  const receiptEvents = new EventHub<ReceiptIssuedEvent>(
    'coconutpay:receipts',
    config.redisUrl ? { publisher: new Redis(config.redisUrl, redisOptions), subscriber: new Redis(config.redisUrl, redisOptions) } : undefined,
  );
  app.addHook('onClose', async () => receiptEvents.close());
  const receipts = new ReceiptsService({
    db, engine: database.engine, receipts: receiptRecords, orders: orderRecords, users, certificates: certificateRecords, devices, ca, clock,
    revocationData: async () => Promise.all([crls.current(ca.issuing), crls.current(ca.root)]),
    timeStamps: tsa, events: receiptEvents, audit,
  });
  const stores = new StoresService({ users, receipts: receiptRecords, wallet, clock });
  const sweeper = new ExpirySweeper({ orders, idempotency, clock, onError: (error) => app.log.error({ err: error }, 'expiry sweep failed') });
  // The event loop's delay for the operators' dashboard (sampled every 20 ms, read and reset by each reading).
  const eventLoopDelay = monitorEventLoopDelay({ resolution: 20 });
  eventLoopDelay.enable();
  app.addHook('onClose', async () => eventLoopDelay.disable());
  const admin = new AdminService({
    db, engine: database.engine, users, sessions, controls: accountControls, certificates: certificateRecords, certificateService: certificates,
    requests: certificateRequests, crls, audit, clock, sessionIdleTimeoutMs: config.sessionIdleTimeoutMs,
    ping: async () => void (await sql`select 1`.execute(db)),
    eventLoopLagMs: () => {
      const p99Ms = eventLoopDelay.percentile(99) / 1e6;
      eventLoopDelay.reset();
      return Number.isFinite(p99Ms) ? p99Ms : 0;
    },
  });
  const policies = new PaymentPoliciesService({ db, engine: database.engine, repo: paymentRecords, admin, audit, clock });
  const authenticator = new RequestAuthenticator(keys, sessions, replay, config, clock);

  if (config.demoData && (await users.count()) === 0) {
    // Demo products get distinct creation times a second apart, so "newest" has a stable order.
    let demoStepMs = nowMs - 3_600_000;
    const demoCatalogue = new CatalogueService(products, new ImageStore(config.dataDir), () => (demoStepMs += 1_000));
    await seedDemoData(accounts, demoCatalogue, ledger, nowMs);
    app.log.info('demo data created (accounts are listed in the README)');
  }

  app.decorate('internals', {
    database, keys, replay, accounts, ledger, orders, payments, paymentAuth, codeKey, roles, tsa, wallet, sweeper, ca, verifier, devices, certificates: certificateRecords, crls,
    receipts, audit, metricsApp: undefined,
  });

  installAccessLog(app);
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  await installSecurityHeaders(app, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    crossOriginEmbedderPolicy: false,
    hsts: config.tls ? { maxAge: 15_552_000, includeSubDomains: false } : false,
  });
  installProblemHandlers(app, { supportContact: config.supportContact });
  const schemas = [...sharedSchemas, ...orderSchemas, ...certificateSchemas];
  installValidation(app, schemas);
  for (const schema of schemas) app.addSchema(schema);
  installBodyParsers(app, config.jsonBodyLimitBytes);
  installAuthentication(app, authenticator);
  // Before any route: routes added earlier would not be limited.
  const rateLimitRedis = config.redisUrl ? new Redis(config.redisUrl, redisOptions) : undefined;
  if (rateLimitRedis) app.addHook('onClose', async () => void (await rateLimitRedis.quit()));
  await installRateLimits(app, config, rateLimitRedis);
  installIdempotency(app, idempotency, { clock, ttlMs: config.idempotencyKeyTtlMs });
  const registry = installMetrics(app);
  new Gauge({
    name: 'coconutpay_session_cache_lookups',
    help: 'Sessions looked up in the in-memory cache since start, by result (a miss reads the database)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const { hits, misses } = sessionCache.stats();
      this.set({ result: 'hit' }, hits);
      this.set({ result: 'miss' }, misses);
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'CoconutPay API', version: VERSION, description: 'Certificate-based payment service. Protected routes need the dual-token proof (docs/protocol.md).' },
      servers: [{ url: config.publicUrl }],
      components: { securitySchemes: { dualToken: { type: 'http', scheme: 'CoconutPay-DualToken', description: 'Public token plus x-coconutpay-timestamp, -nonce and -proof headers' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true, response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) } } }, async () => app.swagger());

  opsRoutes(app, db);
  // Not served to whoever reaches the API: only with the token, or on the operator's own address.
  if (config.metricsToken !== undefined) serveMetrics(app, registry, { token: config.metricsToken });
  if (config.metricsAddress !== undefined) {
    const metricsApp = buildMetricsApp(registry, { token: config.metricsToken, logger: false });
    app.internals.metricsApp = metricsApp;
    app.addHook('onClose', async () => metricsApp.close());
  }
  authRoutes(app, accounts, possession, roles.auth, clock);
  certificateLoginRoutes(app, certificateLogins, roles.auth, clock);
  catalogueRoutes(app, catalogue);
  cartRoutes(app, carts);
  orderRoutes(app, orders);
  walletRoutes(app, wallet);
  paymentRoutes(app, paymentAuth, ca, codeRelay);
  qrRoutes(app, qr, qrHub);
  pkiRoutes(app, ca, crls, ocsp, tsa);
  certificateRoutes(app, certificates, devices, decisions);
  sellerRoutes(app, stores);
  receiptRoutes(app, receipts, receiptEvents);
  auditRoutes(app, audit, admin, config.auditExportToken);
  adminRoutes(app, admin, accounts, policies);
  await installWebHost(app, config.webDistDir);

  // Expired orders give their stock back even when nobody reads them; stopped before the
  // database closes, so no sweep runs against a closed pool.
  sweeper.start(config.expirySweepIntervalMs);
  app.addHook('preClose', async () => sweeper.stop());
  audit.start(config.auditHeadIntervalMs);
  app.addHook('preClose', async () => audit.stop());

  return app;
}
