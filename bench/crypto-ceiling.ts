/**
 * Ceiling (a): the cryptography of one payment alone, on one core, with nothing
 * else — no HTTP, no database. Each side runs its own code paths:
 *
 * - server: the three request proofs (the authenticator itself, with its session
 *   lookup and replay cache stubbed out), opening the REQ, checking its device
 *   signature, signing the COM as A, sealing it to the reply key, and checking the
 *   CMS-signed authorization — the same functions the payment service calls;
 * - client (the load generator, on the other core): the three request proofs, the
 *   one-payment reply key, signing and sealing the REQ, opening and checking the COM,
 *   signing the authorization;
 * - browser, for reference: the same client steps with core's WebCrypto code, which is
 *   what the web app runs (not part of the ceiling: the browser is not on this machine).
 *
 * Also the code's own cost (issuing: random code + picture; checking: its HMAC proof).
 * Each operation runs for a fixed time with a few calls in flight; its cost is the
 * process's CPU time per call (thread-pool work included), and a payment's cost is the
 * sum over its operations.
 *
 * Run as a child of bench/run.ts (IPC), or alone: `npx tsx --conditions=source bench/crypto-ceiling.ts`.
 */
import { KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decodeProtectedHeader } from 'jose';
import { canonicalJson, canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';
import { fromBase64Url, utf8 } from '@coconutpay/core/encoding';
import {
  authorizationContent, codeProof, REPLY_KEY_BYTES, replyKey, seal, signCanonical, unseal, verifyCommand,
  type PaymentAuthorization, type PaymentCommand, type PaymentRequest,
} from '@coconutpay/core/payment';
import { assembleSignedData, OID_CMS, signedAttributes } from '@coconutpay/core/pki/cms';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import { generateSigningKeyPair } from '@coconutpay/core/pki/key-pair';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { deriveSecretToken, importSecretToken, nonceFromBytes, signRequest } from '@coconutpay/core/protocol';
import type { SessionsRepository } from '../apps/server/src/db/sessions-repository.js';
import { RequestAuthenticator } from '../apps/server/src/services/request-authenticator.js';
import type { ReplayCache } from '../apps/server/src/services/replay-cache.js';
import { openCompactJwe, openDirectJwe, p256AgreementKey, p256PublicPoint, replyKeyFromJwk, sealCompactJwe, sealDirectJwe } from '../apps/server/src/services/pki/compact-jwe.js';
import { JsonSigner } from '../apps/server/src/services/pki/json-signer.js';
import { authorizationSigningTimeMs, presentedCodeProof, sealCommand } from '../apps/server/src/services/payment-auth.js';
import { newVerificationCode, renderVerificationCode } from '../apps/server/src/services/verification-code-image.js';
import { newClient, startTestApp } from '../apps/server/test/helpers.js';
import { CommandVerifier } from './lib/payer.js';
import { signedHeaders } from './lib/signed-client.js';
import { round } from './lib/stats.js';

/** One operation's measured cost. */
export interface OperationCost {
  name: string;
  /** How many times one payment does it. */
  perPayment: number;
  us_per_call: number;
}

export interface CryptoSide {
  operations: OperationCost[];
  us_per_payment: number;
  per_s: number;
}

export interface CryptoCeiling {
  server: CryptoSide;
  client: CryptoSide;
  /** The web app's client steps with core's WebCrypto code, for reference (full runs only). */
  browser: (CryptoSide & { full_chain_check_us: number }) | null;
  code: { issue_us: number; check_us: number };
  /** The lower of server and client: each has one core. */
  per_s: number;
}

const IN_FLIGHT = 4;

/** Core time per call of `work`, run for `durationMs` with IN_FLIGHT calls at a time. */
async function costOf(work: () => unknown, durationMs: number): Promise<number> {
  for (let i = 0; i < 20; i++) await work();
  let calls = 0;
  const cpu0 = process.cpuUsage();
  const until = performance.now() + durationMs;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < until) {
      await work();
      calls += 1;
    }
  }));
  const cpu = process.cpuUsage(cpu0);
  // Process CPU time includes the libuv pool threads that did any WebCrypto work.
  return (cpu.user + cpu.system) / calls;
}

function side(operations: OperationCost[]): CryptoSide {
  const us = operations.reduce((s, o) => s + o.perPayment * o.us_per_call, 0);
  return { operations: operations.map((o) => ({ ...o, us_per_call: round(o.us_per_call) })), us_per_payment: round(us), per_s: round(1e6 / us, 0) };
}

/**
 * @param dataDir where the app keeps its CA and keys; bench/run.ts passes an empty
 *   folder and then copies it for every later server, which saves making a CA each time
 */
export async function measureCryptoCeiling(durationMsPerOperation: number, withBrowser = true, dataDir?: string): Promise<CryptoCeiling> {
  const d = durationMsPerOperation;
  const t = await startTestApp(dataDir ? { env: { DATA_DIR: dataDir } } : {});
  try {
    const { roles, keys, verifier } = t.app.internals;
    const buyer = await newClient(t, 'buyer');
    const deviceKeys = await generateSigningKeyPair();
    const deviceKey = KeyObject.from(deviceKeys.privateKey);
    const issued = await buyer.request('POST', '/api/certificates/master', { csrPem: await buildCsr(deviceKeys, 'crypto ceiling') });
    if (issued.statusCode !== 201) throw new Error(`certificate: ${issued.body}`);
    const certificateId = issued.json().certificate.id as string;
    const certificateDer = new Uint8Array(Buffer.from(issued.json().certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    const issuingDer = new Uint8Array(t.app.internals.ca.issuing.certificate.rawData);
    const rootDer = new Uint8Array(t.app.internals.ca.root.certificate.rawData);
    const agreementPublic = p256PublicPoint(roles.paymentAgreement.publicJwk);
    const agreementPrivate = p256AgreementKey(KeyObject.from(roles.paymentAgreement.privateKey).export({ format: 'jwk' }));
    const commandSigner = new JsonSigner(KeyObject.from(roles.payment.privateKey), roles.payment.x5c, 'coconutpay-com+jws');

    // One realistic exchange: the same shapes and sizes as a benchmark payment.
    const reply = randomBytes(REPLY_KEY_BYTES);
    const request: PaymentRequest = {
      v: 1, type: 'coconutpay-payment-request', orderId: randomUUID(), payerUserId: buyer.userId, certificateId,
      nonce: randomBytes(16).toString('base64url'), issuedAtMs: Date.now(), locale: 'ko',
      replyKey: { kty: 'oct', k: reply.toString('base64url') },
    };
    const requestSignature = sign('sha256', canonicalJsonBytes(request), { key: deviceKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const sealedRequest = sealCompactJwe(canonicalJsonBytes({ request, signature: requestSignature }), agreementPublic, 'coconutpay-payment-request');
    const command: PaymentCommand = {
      v: 1, type: 'coconutpay-payment-command', comId: randomUUID(), orderId: request.orderId, orderNumber: '20260101-ABCDEF',
      payer: { userId: buyer.userId, loginId: 'benchbuyer1', name: '벤치 사용자' },
      payee: { sellerId: randomUUID(), storeName: '벤치 상점', businessNumber: '123-45-67890' },
      items: [{ productId: randomUUID(), name: '벤치 상품 1-1', quantity: 1, unitPriceWon: 12_000, lineTotalWon: 12_000 }],
      amountWon: 12_000, currency: 'KRW', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 120_000,
      nonce: randomBytes(16).toString('base64url'), requestNonce: request.nonce, locale: 'ko', certificateId,
      verification: { codeRequired: false, codeId: null, policyRule: 'default' },
    };
    const commandJson = canonicalJson(command);
    const jws = commandSigner.signCanonical(commandJson);
    const sealedCommand = sealDirectJwe(canonicalJsonBytes({ jws }), reply, 'coconutpay-payment-command');
    const authorization: PaymentAuthorization = { v: 1, type: 'coconutpay-payment-authorization', command, commandJws: jws, codeProof: null };
    const content = authorizationContent(authorization);
    const attributes = await signedAttributes(content, new Date(), certificateDer);
    const signatureDer = p1363ToDer(sign('sha256', attributes, { key: deviceKey, dsaEncoding: 'ieee-p1363' }));
    const bodies = [
      utf8(JSON.stringify({ source: 'product', productId: randomUUID(), quantity: 1 })),
      utf8(JSON.stringify({ sealedRequest, locale: 'ko' })),
      utf8(JSON.stringify({ comId: command.comId, content: Buffer.from(content).toString('base64url'), signedAttributes: Buffer.from(attributes).toString('base64url'), signature: Buffer.from(signatureDer).toString('base64url') })),
    ];

    // The authenticator itself; only its session lookup and replay cache are stubbed.
    const session = { id: buyer.sessionId, userId: buyer.userId, createdAtMs: Date.now(), lastSeenAtMs: Date.now(), expiresAtMs: Date.now() + 3_600_000, revokedAtMs: null };
    const sessions = { findById: async () => session, touch: async () => undefined, revoke: async () => undefined } as unknown as SessionsRepository;
    const replay: ReplayCache = { remember: async () => true, close: async () => undefined };
    const authenticator = new RequestAuthenticator(keys, sessions, replay, { sessionIdleTimeoutMs: 3_600_000, adminSessionIdleTimeoutMs: 3_600_000 }, Date.now);
    const secretToken = fromBase64Url(await deriveSecretToken(keys.get(decodeProtectedHeader(buyer.publicToken).kid!)!.secretTokenKey, buyer.publicToken));
    const evidenceCrls = await Promise.all([t.app.internals.crls.current(t.app.internals.ca.issuing), t.app.internals.crls.current(t.app.internals.ca.root)]);
    const evidenceToken = await t.app.internals.tsa.stampSignature(signatureDer);
    // The proofs are made by the client (measured on its side below), so they are made
    // before the server's operation is timed: signing them inside it counted the load
    // generator's SHA-256 and HMAC as the server's. Each is a fresh time and nonce; the
    // stubbed replay cache lets them be presented again, and the server's work is the same.
    const proofs = Array.from({ length: 256 }, (_, i) => {
      const body = bodies[i % bodies.length]!;
      return { body, headers: signedHeaders(buyer.publicToken, secretToken, 'POST', '/api/orders', body) };
    });
    let next = 0;
    const authenticate = () => {
      const { body, headers } = proofs[next++ % proofs.length]!;
      return authenticator.authenticate({ method: 'POST', url: '/api/orders', headers, rawBody: body });
    };

    const server = side([
      { name: 'request authentication (dual-token proof; token verdict cached)', perPayment: 3, us_per_call: await costOf(authenticate, d) },
      { name: 'open REQ (JWE ECDH-ES + A256GCM)', perPayment: 1, us_per_call: await costOf(() => JSON.parse(openCompactJwe(sealedRequest, agreementPrivate, 'coconutpay-payment-request').toString('utf8')), d) },
      {
        name: 'verify REQ device signature (ECDSA; certificate key cached)', perPayment: 1,
        us_per_call: await costOf(() => {
          if (!verifier.signatureValid(certificateDer, Buffer.from(requestSignature, 'base64url'), canonicalJsonBytes(request))) throw new Error('REQ');
        }, d),
      },
      { name: 'sign COM as A (canonical JSON + ES256 JWS)', perPayment: 1, us_per_call: await costOf(() => commandSigner.signCanonical(canonicalJson(command)), d) },
      { name: 'seal COM to the reply key (key check + JWE dir + A256GCM)', perPayment: 1, us_per_call: await costOf(() => sealCommand(jws, replyKeyFromJwk(request.replyKey)), d) },
      {
        name: 'check AUTH (content against the stored command, CMS attributes + digest + ECDSA, evidence assembled)', perPayment: 1,
        us_per_call: await costOf(() => {
          if (presentedCodeProof(content, commandJson, jws) !== null) throw new Error('content');
          if (authorizationSigningTimeMs(verifier, certificateDer, content, attributes, signatureDer) === null) throw new Error('CMS');
          assembleSignedData({
            content, signedAttributesDer: attributes, signatureDer, signerCertificate: certificateDer, signer: verifier.signer(certificateDer),
            otherCertificates: [issuingDer, rootDer], crls: evidenceCrls, unsignedAttributes: [{ oid: OID_CMS.signatureTimeStampToken, values: [evidenceToken] }],
          });
        }, d),
      },
      { name: 'time-stamp the signature (RFC 3161 token by our TSA)', perPayment: 1, us_per_call: await costOf(() => t.app.internals.tsa.stampSignature(signatureDer), d) },
    ]);

    const commands = new CommandVerifier([rootDer]);
    const client = side([
      { name: 'sign request proof (SHA-256 + HMAC)', perPayment: 3, us_per_call: await costOf(() => signedHeaders(buyer.publicToken, secretToken, 'POST', '/api/orders', bodies[1]), d) },
      { name: 'one-payment reply key (32 random bytes)', perPayment: 1, us_per_call: await costOf(() => randomBytes(REPLY_KEY_BYTES).toString('base64url'), d) },
      { name: 'sign REQ (canonical JSON + ECDSA)', perPayment: 1, us_per_call: await costOf(() => sign('sha256', canonicalJsonBytes(request), { key: deviceKey, dsaEncoding: 'ieee-p1363' }), d) },
      { name: 'seal REQ to A (JWE ECDH-ES + A256GCM)', perPayment: 1, us_per_call: await costOf(() => sealCompactJwe(canonicalJsonBytes({ request, signature: requestSignature }), agreementPublic, 'coconutpay-payment-request'), d) },
      { name: 'open COM (JWE dir + A256GCM)', perPayment: 1, us_per_call: await costOf(() => openDirectJwe(sealedCommand, reply, 'coconutpay-payment-command'), d) },
      { name: "verify COM (ES256 + canonical form; A's chain verdict cached)", perPayment: 1, us_per_call: await costOf(() => commands.verify(jws, Date.now()), d) },
      {
        name: 'sign AUTH (canonical JSON + CMS signed attributes + ECDSA)', perPayment: 1,
        us_per_call: await costOf(async () => p1363ToDer(sign('sha256', await signedAttributes(authorizationContent(authorization), new Date(), certificateDer), { key: deviceKey, dsaEncoding: 'ieee-p1363' })), d),
      },
    ]);

    // The web app's client steps, with core's WebCrypto code.
    const browser = withBrowser ? await measureBrowser() : null;
    const code = {
      issue_us: round(await costOf(() => renderVerificationCode(newVerificationCode()), d)),
      check_us: round(await costOf(() => codeProof('AC3D4E', command.comId), d)),
    };
    return {
      server, client, code,
      browser: browser ? { ...browser, full_chain_check_us: browser.operations.find((o) => o.name.startsWith('verify COM'))!.us_per_call } : null,
      per_s: Math.min(server.per_s, client.per_s),
    };

    async function measureBrowser(): Promise<CryptoSide> {
      const secretKey = await importSecretToken(await deriveSecretToken(keys.get(decodeProtectedHeader(buyer.publicToken).kid!)!.secretTokenKey, buyer.publicToken));
      const agreementKey = await crypto.subtle.importKey('jwk', { ...roles.paymentAgreement.publicJwk, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);
      const webReply = await replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES)));
      const webSealedCommand = sealDirectJwe(canonicalJsonBytes({ jws }), replyKeyFromJwk(webReply.jwk), 'coconutpay-payment-command');
      const browserSide = side([
        { name: 'sign request proof', perPayment: 3, us_per_call: await costOf(() => signRequest({ publicToken: buyer.publicToken, secretKey, method: 'POST', pathWithQuery: '/api/orders', body: bodies[1]!, timestampMs: Date.now(), nonce: nonceFromBytes(randomBytes(16)) }), d) },
        { name: 'one-payment reply key (32 random bytes)', perPayment: 1, us_per_call: await costOf(() => replyKey(crypto.getRandomValues(new Uint8Array(REPLY_KEY_BYTES))), d) },
        { name: 'sign REQ', perPayment: 1, us_per_call: await costOf(() => signCanonical(deviceKeys.privateKey, request), d) },
        { name: 'seal REQ to A', perPayment: 1, us_per_call: await costOf(() => seal({ request, signature: requestSignature }, agreementKey, 'coconutpay-payment-request'), d) },
        { name: 'open COM (JWE dir + A256GCM)', perPayment: 1, us_per_call: await costOf(() => unseal(webSealedCommand, webReply.key, 'coconutpay-payment-command'), d) },
        { name: "verify COM (A's chain, signature, canonical form)", perPayment: 1, us_per_call: await costOf(() => verifyCommand(jws, [rootDer], new Date()), d) },
        {
          name: 'sign AUTH', perPayment: 1,
          us_per_call: await costOf(async () => crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, deviceKeys.privateKey, await signedAttributes(authorizationContent(authorization), new Date(), certificateDer)), d),
        },
      ]);
      return browserSide;
    }
  } finally {
    await t.close();
  }
}

if (process.send) {
  process.once('message', (message: { durationMs: number; browser: boolean; dataDir: string }) => {
    measureCryptoCeiling(message.durationMs, message.browser, message.dataDir).then(
      (result) => process.send!({ type: 'crypto', result }, () => process.exit(0)),
      (error: unknown) => process.send!({ type: 'failed', error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1)),
    );
  });
} else if (process.argv[1]?.endsWith('crypto-ceiling.ts')) {
  measureCryptoCeiling(300).then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`));
}
