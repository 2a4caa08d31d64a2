/**
 * The operators' API under `/admin/api/…` (docs/admin.md). Every route needs a session;
 * the service admits only an operator whose session came from certificate login and whose
 * password was confirmed again in it (`POST /admin/api/session/confirm`), and refuses
 * everyone else with ADMIN_ONLY before reading anything.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { actorOf } from '../authenticate.js';
import type { AccountsService } from '../../services/accounts.js';
import { OPERATOR_REVOCATION_REASONS, USER_PAGE_MAX, type AdminService } from '../../services/admin.js';
import {
  POLICY_RULES_MAX, POLICY_SETTINGS_RANGES, RULE_AMOUNT_MAX_WON, RULE_CERTIFICATE_AGE_DAYS_MAX,
  type PaymentPoliciesService, type PolicySettings as PolicySettingsRecord, type PolicyVersion as PolicyVersionRecord,
} from '../../services/payment-policies.js';
import { IdParams, responses, Text200 } from '../schemas.js';

const Role = Type.Union([Type.Literal('buyer'), Type.Literal('seller'), Type.Literal('admin')]);
const UserSummary = Type.Object({
  id: Type.String(), loginId: Type.String(), role: Role, name: Type.String(), email: Type.String(), createdAtMs: Type.Integer(),
  lockedAtMs: Type.Union([Type.Integer(), Type.Null()]), lockReason: Type.Union([Type.String(), Type.Null()]),
});
const AuditEntry = Type.Object({
  sequence: Type.Integer(), atMs: Type.Integer(), kind: Type.String(), actor: Type.Union([Type.String(), Type.Null()]), subject: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Object({}, { additionalProperties: true }), prevHash: Type.String(), hash: Type.String(),
});
const Certificate = Type.Object({
  id: Type.String(), serialHex: Type.String(), kind: Type.String(), subject: Type.String(), status: Type.String(),
  notBeforeMs: Type.Integer(), notAfterMs: Type.Integer(), revokedAtMs: Type.Union([Type.Integer(), Type.Null()]), revocationReason: Type.Union([Type.String(), Type.Null()]),
  deviceNickname: Type.Union([Type.String(), Type.Null()]), approvedByCertificateId: Type.Union([Type.String(), Type.Null()]), lastUsedAtMs: Type.Union([Type.Integer(), Type.Null()]),
  createdAtMs: Type.Integer(),
});
const UserDetail = Type.Object({
  user: Type.Intersect([UserSummary, Type.Object({ phone: Type.String(), address: Type.String() })]),
  certificates: Type.Array(Certificate),
  control: Type.Object({
    lockedAtMs: Type.Union([Type.Integer(), Type.Null()]), lockReason: Type.Union([Type.String(), Type.Null()]), lockedBy: Type.Union([Type.String(), Type.Null()]),
    passwordChangeRequired: Type.Boolean(),
  }),
  recentLogins: Type.Array(AuditEntry),
});

const ConfirmBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
const ReasonBody = Type.Object({ reason: Text200 }, { additionalProperties: false });
const RevokeBody = Type.Object(
  { reason: Type.Union(OPERATOR_REVOCATION_REASONS.map((r) => Type.Literal(r))), note: Type.String({ maxLength: 200, default: '' }) },
  { additionalProperties: false },
);
const UsersQuery = Type.Object(
  {
    query: Type.Optional(Type.String({ maxLength: 32 })),
    role: Type.Optional(Role),
    after: Type.Optional(Type.String({ maxLength: 32 })),
    limit: Type.Integer({ minimum: 1, maximum: USER_PAGE_MAX, default: 50 }),
  },
  { additionalProperties: false },
);
const AuditQuery = Type.Object(
  {
    kind: Type.Optional(Type.String({ maxLength: 64 })),
    actor: Type.Optional(Type.String({ maxLength: 36 })),
    subject: Type.Optional(Type.String({ maxLength: 100 })),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

const RuleFields = {
  priority: Type.Integer({ minimum: 1, maximum: 100_000 }),
  rule: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,39}$' }),
  description: Type.String({ minLength: 1, maxLength: 200 }),
  certificateKind: Type.Union([Type.Literal('master'), Type.Literal('additional'), Type.Null()]),
  minAmountWon: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  firstPaymentOfCertificate: Type.Union([Type.Boolean(), Type.Null()]),
  requireCode: Type.Boolean(),
  enabled: Type.Boolean(),
};
/** "Certificate issued less than N days ago" (a new device); null: any age. */
const CertificateIssuedWithinDays = Type.Union([Type.Integer({ minimum: 1, maximum: RULE_CERTIFICATE_AGE_DAYS_MAX }), Type.Null()]);
const RuleInput = Type.Object({ ...RuleFields, certificateIssuedWithinDays: Type.Optional(CertificateIssuedWithinDays) }, { additionalProperties: false });
const Rule = Type.Object({ id: Type.String(), ...RuleFields, certificateIssuedWithinDays: CertificateIssuedWithinDays });
const ranges = POLICY_SETTINGS_RANGES;
/** A version's settings; the ranges are the service's (payment-policies.ts), checked here first so each bad field is named. */
const Settings = Type.Object(
  {
    dailyLimitWon: Type.Union([Type.Integer({ minimum: Number(ranges.dailyLimitWon.min), maximum: Number(ranges.dailyLimitWon.max) }), Type.Null()]),
    failedAttemptsMax: Type.Integer({ minimum: ranges.failedAttemptsMax.min, maximum: ranges.failedAttemptsMax.max }),
    lockDurationMs: Type.Integer({ minimum: ranges.lockDurationMs.min, maximum: ranges.lockDurationMs.max }),
    codeValidityMs: Type.Integer({ minimum: ranges.codeValidityMs.min, maximum: ranges.codeValidityMs.max }),
  },
  { additionalProperties: false },
);
const PolicyVersion = Type.Object({
  version: Type.Integer(), rules: Type.Array(Rule), settings: Settings, author: Type.Union([Type.String(), Type.Null()]), reason: Type.String(),
  restoredFrom: Type.Union([Type.Integer(), Type.Null()]), createdAtMs: Type.Integer(),
});
const PublishBody = Type.Object(
  { rules: Type.Array(RuleInput, { minItems: 1, maxItems: POLICY_RULES_MAX }), settings: Type.Optional(Settings), reason: Text200 },
  { additionalProperties: false },
);
const PreviewBody = Type.Object(
  {
    amountWon: Type.Integer({ minimum: 1, maximum: Number(RULE_AMOUNT_MAX_WON) }),
    certificateKind: Type.Union([Type.Literal('master'), Type.Literal('additional')]),
    firstPayment: Type.Boolean(),
    certificateAgeDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500 })),
    paidTodayWon: Type.Optional(Type.Integer({ minimum: 0, maximum: Number(RULE_AMOUNT_MAX_WON) })),
    rules: Type.Optional(Type.Array(RuleInput, { minItems: 1, maxItems: POLICY_RULES_MAX })),
    settings: Type.Optional(Settings),
  },
  { additionalProperties: false },
);
const PreviewAnswer = Type.Object({
  rule: Type.String(), requireCode: Type.Boolean(), reason: Type.String(),
  factors: Type.Array(Type.Union([Type.Literal('password'), Type.Literal('device-key'), Type.Literal('code')])),
  refusal: Type.Union([Type.Literal('PAYMENT_DAILY_LIMIT_EXCEEDED'), Type.Null()]),
  dailyLimitRemainingWon: Type.Union([Type.Integer(), Type.Null()]),
  settings: Settings,
});
const RollbackBody = Type.Object({ version: Type.Integer({ minimum: 1 }), reason: Text200 }, { additionalProperties: false });

/** Settings as JSON: the limit as an integer (at most 10^12, far below 2^53). */
function settingsJson(s: PolicySettingsRecord) {
  return { ...s, dailyLimitWon: s.dailyLimitWon === null ? null : Number(s.dailyLimitWon) };
}

/** A version as JSON: amounts as integers (thresholds stay far below 2^53). */
function versionJson(v: PolicyVersionRecord) {
  return { ...v, rules: v.rules.map((r) => ({ ...r, minAmountWon: r.minAmountWon === null ? null : Number(r.minAmountWon) })), settings: settingsJson(v.settings) };
}

const tags = ['admin'];

export function adminRoutes(app: FastifyInstance, admin: AdminService, accounts: AccountsService, policies: PaymentPoliciesService): void {
  app.get(
    '/admin/api/policies',
    { preValidation: app.authenticate, schema: { tags, summary: 'The current authorization policy and its history (newest first)', response: responses({ 200: Type.Object({ current: PolicyVersion, versions: Type.Array(PolicyVersion) }) }) } },
    async (request) => {
      const { current, versions } = await policies.current(actorOf(request));
      return { current: versionJson(current), versions: versions.map(versionJson) };
    },
  );

  app.put<{ Body: Static<typeof PublishBody> }>(
    '/admin/api/policies',
    { preValidation: app.authenticate, schema: { tags, summary: 'Publish a new version of the policy (it decides the next payment)', body: PublishBody, response: responses({ 200: PolicyVersion }) } },
    async (request) => versionJson(await policies.publish(actorOf(request), request.body.rules, request.body.reason, request.body.settings)),
  );

  app.post<{ Body: Static<typeof PreviewBody> }>(
    '/admin/api/policies/preview',
    { preValidation: app.authenticate, schema: { tags, summary: 'What a payment would need under the given rules and settings (or the current ones), and what is left of the daily limit', body: PreviewBody, response: responses({ 200: PreviewAnswer }) } },
    async (request) => {
      const { rules, settings, ...facts } = request.body;
      const preview = await policies.preview(actorOf(request), facts, { ...(rules ? { rules } : {}), ...(settings ? { settings } : {}) });
      return {
        ...preview, settings: settingsJson(preview.settings),
        dailyLimitRemainingWon: preview.dailyLimitRemainingWon === null ? null : Number(preview.dailyLimitRemainingWon),
      };
    },
  );

  app.post<{ Body: Static<typeof RollbackBody> }>(
    '/admin/api/policies/rollback',
    { preValidation: app.authenticate, schema: { tags, summary: 'Publish the rules of an earlier version as a new version', body: RollbackBody, response: responses({ 200: PolicyVersion }) } },
    async (request) => versionJson(await policies.rollback(actorOf(request), request.body.version, request.body.reason)),
  );

  app.post<{ Body: Static<typeof ConfirmBody> }>(
    '/admin/api/session/confirm',
    {
      preValidation: app.authenticate,
      config: { rateLimitPolicy: 'login' },
      schema: { tags, summary: "The operator's account password, again, after the certificate login: marks this session for the admin routes", body: ConfirmBody, response: responses({ 204: Type.Null() }) },
    },
    async (request, reply) => {
      await accounts.confirmAdminPassword(actorOf(request), request.body.password, request.ip);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: Static<typeof UsersQuery> }>(
    '/admin/api/users',
    { preValidation: app.authenticate, schema: { tags, summary: 'Users by login id, searched by login id or name prefix', querystring: UsersQuery, response: responses({ 200: Type.Object({ items: Type.Array(UserSummary) }) }) } },
    async (request) => {
      const { query, role, after, limit } = request.query;
      return { items: await admin.listUsers(actorOf(request), { ...(query !== undefined ? { query } : {}), ...(role !== undefined ? { role } : {}), ...(after !== undefined ? { afterLoginId: after } : {}), limit }) };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/admin/api/users/:id',
    { preValidation: app.authenticate, schema: { tags, summary: "A user's security picture: profile, certificates, lock, recent logins and failures", params: IdParams, response: responses({ 200: UserDetail }) } },
    async (request) => admin.userDetail(actorOf(request), request.params.id),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReasonBody> }>(
    '/admin/api/users/:id/lock',
    { preValidation: app.authenticate, schema: { tags, summary: 'Lock an account (no login, no payment) and end its sessions', params: IdParams, body: ReasonBody, response: responses({ 200: Type.Object({ sessionsRevoked: Type.Integer() }) }) } },
    async (request) => admin.lock(actorOf(request), request.params.id, request.body.reason),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReasonBody> }>(
    '/admin/api/users/:id/unlock',
    { preValidation: app.authenticate, schema: { tags, summary: "Lift an operator's lock", params: IdParams, body: ReasonBody, response: responses({ 204: Type.Null() }) } },
    async (request, reply) => {
      await admin.unlock(actorOf(request), request.params.id, request.body.reason);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReasonBody> }>(
    '/admin/api/users/:id/logout',
    { preValidation: app.authenticate, schema: { tags, summary: 'End every session of the account', params: IdParams, body: ReasonBody, response: responses({ 200: Type.Object({ sessionsRevoked: Type.Integer() }) }) } },
    async (request) => admin.forceLogout(actorOf(request), request.params.id, request.body.reason),
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof RevokeBody> }>(
    '/admin/api/certificates/:id/revoke',
    { preValidation: app.authenticate, schema: { tags, summary: "Revoke any user's certificate with an RFC 5280 reason (a master takes its devices with it)", params: IdParams, body: RevokeBody, response: responses({ 200: Certificate }) } },
    async (request) => admin.revokeCertificate(actorOf(request), request.params.id, request.body.reason, request.body.note),
  );

  app.get(
    '/admin/api/dashboard',
    {
      preValidation: app.authenticate,
      schema: {
        tags, summary: 'Live figures: active sessions, payments and amount per hour over 24 hours, database latency, event-loop lag',
        response: responses({
          200: Type.Object({
            atMs: Type.Integer(), activeSessions: Type.Integer(),
            paymentsPerHour: Type.Array(Type.Object({ hourStartMs: Type.Integer(), count: Type.Integer(), amountWon: Type.Integer() })),
            databaseLatencyMs: Type.Number(), eventLoopLagMs: Type.Union([Type.Number(), Type.Null()]),
          }),
        }),
      },
    },
    async (request) => admin.dashboard(actorOf(request)),
  );

  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/admin/api/audit',
    { preValidation: app.authenticate, schema: { tags, summary: 'The audit log, newest first, filtered by kind, actor or subject', querystring: AuditQuery, response: responses({ 200: Type.Object({ items: Type.Array(AuditEntry) }) }) } },
    async (request) => {
      const { kind, actor, subject, before, limit } = request.query;
      const filter = { ...(kind !== undefined ? { kind } : {}), ...(actor !== undefined ? { actor } : {}), ...(subject !== undefined ? { subject } : {}), ...(before !== undefined ? { beforeSequence: before } : {}), limit };
      return { items: await admin.auditEntries(actorOf(request), filter) };
    },
  );
}
