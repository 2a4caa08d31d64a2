/**
 * Every public endpoint of the OpenAPI document, fuzzed (fast-check): bodies generated from
 * the endpoint's own schema (valid-looking) and malformed ones (any JSON, deep nesting,
 * SQL meta-characters and path traversal in every string, wrong types), path ids that are
 * random, another user's, or hostile; as a logged-in buyer and as nobody. No answer may be
 * a 5xx, every refusal is problem+json, and no balance moves except the fuzzing buyer's own
 * top-ups, by exactly their amounts. `FUZZ_RUNS` sets the cases per endpoint (1,000 for the
 * full run; CI uses the default).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyerWithCertificate, type Holder } from './payment-client.js';
import { newClient, startTestApp, type SignedClient, type TestApp } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
type Schema = Record<string, unknown> & { $ref?: string; type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; enum?: unknown[]; const?: unknown };
type Operation = { method: string; path: string; body?: Schema; query?: { name: string; schema: Schema }[]; bodiless: boolean };

/** Strings an attacker tries in every field. */
const HOSTILE = [
  "' OR '1'='1", "'; DROP TABLE users; --", '" OR ""="', '../../../../etc/passwd', '..%2f..%2fetc%2fpasswd', '\u0000', '%00', '<script>alert(1)</script>',
  '${jndi:ldap://x}', '{{7*7}}', '\\', '\u202e', '0x7fffffff', '-1', '1e309', 'NaN', '💳'.repeat(300), 'a'.repeat(70_000),
];
const hostileString = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 50 }));

function resolve(schema: Schema, components: Record<string, Schema>): Schema {
  if (schema.$ref) return resolve(components[schema.$ref.split('/').at(-1)!] ?? {}, components);
  return schema;
}

/** Values shaped like `schema` (sizes kept small): what a client that read the docs would send. */
function valueOf(schema: Schema, components: Record<string, Schema>, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema, components);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const union = s.anyOf ?? s.oneOf;
  if (union) return fc.oneof(...union.map((u) => valueOf(u, components, depth + 1)));
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      if (depth > 4 || !s.properties) return fc.constant({});
      const required = new Set(s.required ?? []);
      const entries = Object.entries(s.properties).map(([key, value]) => [key, valueOf(value, components, depth + 1)] as const);
      return fc.record(Object.fromEntries(entries), { requiredKeys: [...required].filter((k) => k in s.properties!) });
    }
    case 'array':
      return fc.array(s.items ? valueOf(s.items, components, depth + 1) : fc.jsonValue(), { maxLength: 4 });
    case 'integer': {
      // fc.integer covers 32 bits: bounds beyond that are clamped into it.
      const clamp = (v: number) => Math.max(-2_000_000_000, Math.min(2_000_000_000, v));
      const min = typeof s.minimum === 'number' ? clamp(s.minimum) : -1_000_000;
      const max = typeof s.maximum === 'number' ? clamp(s.maximum) : 2_000_000_000;
      return fc.integer({ min: Math.min(min, max), max: Math.max(min, max) });
    }
    case 'number':
      return fc.double({ noNaN: true, min: -1e12, max: 1e12 });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string': {
      if (s.format === 'uuid') return fc.uuid();
      if (typeof s.pattern === 'string') {
        try {
          return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length <= (typeof s.maxLength === 'number' ? s.maxLength : 500));
        } catch {
          return hostileString;
        }
      }
      const minLength = typeof s.minLength === 'number' ? Math.min(s.minLength, 500) : 0;
      return fc.string({ minLength, maxLength: Math.max(minLength, Math.min(typeof s.maxLength === 'number' ? s.maxLength : 60, 60)) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Malformed bodies: anything JSON, deep nesting, hostile strings where strings belong, wrong types. */
const malformed = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 20, max: 400 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown),
  fc.dictionary(fc.string({ maxLength: 20 }), hostileString, { maxKeys: 6 }),
  fc.constant('not an object'),
);

describe('API fuzzing', () => {
  let t: TestApp;
  let buyer: Holder;
  let bystander: SignedClient;
  let seller: SignedClient;
  let operations: Operation[];
  let knownIds: string[];

  beforeAll(async () => {
    t = await startTestApp();
    seller = await newClient(t, 'seller');
    const productId = (await seller.request('POST', '/api/seller/products', { name: '퍼즈', category: 'food', description: '', priceWon: 7_000, stock: 100 })).json().id as string;
    buyer = await buyerWithCertificate(t);
    bystander = await newClient(t, 'buyer');
    expect((await bystander.request('POST', '/api/me/wallet/top-ups', { amountWon: 30_000 })).statusCode).toBe(201);
    const strangersOrder = (await bystander.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json().id as string;
    const ownOrder = (await buyer.client.request('POST', '/api/orders', { source: 'product', productId, quantity: 1 })).json().id as string;
    // Ids the fuzzer may put in paths: its own, another user's (IDOR), a product, a certificate.
    knownIds = [productId, strangersOrder, ownOrder, buyer.certificateId, bystander.userId, seller.userId];

    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> }; parameters?: { in: string; name: string; schema: Schema }[]; summary?: string }>>; components?: { schemas?: Record<string, Schema> } };
    const components = doc.components?.schemas ?? {};
    operations = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        // Event streams stay open by design: they are exercised by their own tests.
        if (path.endsWith('/events') || /server-sent events/i.test(op.summary ?? '')) continue;
        const body = op.requestBody?.content?.['application/json']?.schema;
        operations.push({
          method: method.toUpperCase(), path,
          ...(body ? { body: resolve(body, components) } : {}),
          query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
          bodiless: !body,
        });
      }
    }
    (globalThis as { __components?: Record<string, Schema> }).__components = components;
    expect(operations.length).toBeGreaterThan(50);
  });
  afterAll(async () => t.close());

  // Read from the ledger itself, not through a session the fuzzer may have ended.
  const balanceOf = async (client: SignedClient) => Number(await t.app.internals.ledger.walletBalanceWon(client.userId));

  it(`no 5xx, problem+json refusals, and no balance moves but the buyer's own top-ups (${RUNS} cases per endpoint)`, { timeout: 600_000 }, async () => {
    const components = (globalThis as { __components?: Record<string, Schema> }).__components ?? {};
    const before = { buyer: await balanceOf(buyer.client), bystander: await balanceOf(bystander), seller: await balanceOf(seller) };
    let toppedUp = 0;
    const statuses = new Map<number, number>();
    const idArb = fc.oneof(fc.constantFrom(...knownIds), fc.uuid(), hostileString.map(encodeURIComponent));
    for (const op of operations) {
      const bodyArb = op.body ? fc.oneof(valueOf(op.body, components), malformed) : fc.oneof(fc.constant(undefined), malformed);
      const queryArb = fc.array(fc.tuple(op.query && op.query.length > 0 ? fc.constantFrom(...op.query.map((q) => q.name)) : fc.string({ maxLength: 8 }), hostileString), { maxLength: 3 });
      await fc.assert(
        // Logging out would end the fuzzing session: that route is fuzzed without one.
        fc.asyncProperty(bodyArb, idArb, queryArb, op.path === '/api/auth/logout' ? fc.constant(false) : fc.boolean(), async (body, id, query, signedIn) => {
          const path = op.path.replace(/\{[^}]+\}/g, id);
          const qs = query.length > 0 ? `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}` : '';
          const url = `${path}${qs}`;
          const res = signedIn
            ? await buyer.client.request(op.method, url, body)
            : await t.app.inject({ method: op.method as 'GET', url, ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          expect(res.statusCode, `${op.method} ${url.slice(0, 200)} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
          if (res.statusCode >= 400) expect(res.headers['content-type'], `${op.method} ${op.path} ${res.statusCode} ${res.body.slice(0, 200)}`).toMatch(/^application\/problem\+json/);
          if (signedIn && op.method === 'POST' && op.path === '/api/me/wallet/top-ups' && res.statusCode === 201) toppedUp += Number((body as { amountWon: number }).amountWon);
        }),
        { numRuns: RUNS },
      );
    }
    // Money: only what the buyer topped up moved, and only into the buyer's wallet.
    expect(await balanceOf(bystander)).toBe(before.bystander);
    expect(await balanceOf(seller)).toBe(before.seller);
    expect(await balanceOf(buyer.client)).toBe(before.buyer + toppedUp);
    // The fuzzer reached past validation: some requests were accepted, and many refused.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    console.log(`[fuzz] ${operations.length} endpoints × ${RUNS} cases; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; buyer topped up ${toppedUp} won`);
  });
});
