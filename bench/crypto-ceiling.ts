/**
 * Ceiling (a): the cryptography of one payment alone, on one core, with nothing
 * else — no HTTP, no database. Server side: the three request proofs (dual token),
 * unsealing the REQ, checking its device signature, signing the COM as A, sealing it
 * to the reply key, and checking the CMS-signed authorization. Client side, separately
 * (it runs on the load core): the three request proofs, the one-payment reply key,
 * signing and sealing the REQ, opening and checking the COM, signing the authorization.
 * Also the code's own cost (issuing: random code + picture; checking: its HMAC proof).
 *
 * Each operation runs for a fixed time with a few calls in flight (WebCrypto hands
 * work to libuv's pool, pinned to the same core), and its cost is the core time per
 * call; a payment's cost is the sum over its operations.
 *
 * Run as a child of bench/run.ts (IPC), or alone: `tsx bench/crypto-ceiling.ts`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { utf8 } from '@coconutpay/core/encoding';
import {
  authorizationContent, codeProof, replyKeyPair, seal, signCanonical, signCommand, unseal, verifyCanonical, verifyCommand,
  type PaymentAuthorization, type PaymentCommand, type PaymentRequest,
} from '@coconutpay/core/payment';
import { assembleSignedData, checkSignedDataSignature, parseSignedData, signedAttributes } from '@coconutpay/core/pki/cms';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { p1363ToDer } from '@coconutpay/core/pki/signature';
import { generateSigningKeyPair } from '@coconutpay/core/pki/key-pair';
import { buildCsr } from '@coconutpay/core/pki/csr';
import { deriveSecretToken, importSecretToken, nonceFromBytes, sha256Hex, signRequest, verifyProof, EMPTY_BODY_SHA256_HEX } from '@coconutpay/core/protocol';
import { TOKEN_ISSUER } from '../apps/server/src/services/request-authenticator.js';
import { newVerificationCode, renderVerificationCode } from '../apps/server/src/services/verification-code-image.js';
import { newClient, startTestApp } from '../apps/server/test/helpers.js';
import { CommandVerifier } from './lib/payer.js';
import { round } from './lib/stats.js';

/** One operation's measured cost. */
export interface OperationCost {
  name: string;
  /** How many times one payment does it. */
  perPayment: number;
  us_per_call: number;
}

export interface CryptoCeiling {
  server: { operations: OperationCost[]; us_per_payment: number; per_s: number };
  client: { operations: OperationCost[]; us_per_payment: number; per_s: number; full_chain_check_us: number };
  code: { issue_us: number; check_us: number };
  /** The lower of the two sides: server and load generator each have one core. */
  per_s: number;
}

const IN_FLIGHT = 4;

/** Core time per call of `work`, run for `durationMs` with IN_FLIGHT calls at a time. */
async function costOf(work: () => Promise<unknown>, durationMs: number): Promise<number> {
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
  // Process CPU time includes the libuv pool threads that did the WebCrypto work.
  return (cpu.user + cpu.system) / calls;
}

export async function measureCryptoCeiling(durationMsPerOperation: number): Promise<CryptoCeiling> {
  const t = await startTestApp();
  try {
    const { roles, keys } = t.app.internals;
    const buyer = await newClient(t, 'buyer');
    const deviceKeys = await generateSigningKeyPair();
    const issued = await buyer.request('POST', '/api/certificates/master', { csrPem: await buildCsr(deviceKeys, 'crypto ceiling') });
    if (issued.statusCode !== 201) throw new Error(`certificate: ${issued.body}`);
    const certificateId = issued.json().certificate.id as string;
    const certificateDer = new Uint8Array(Buffer.from(issued.json().certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    const issuingDer = new Uint8Array(t.app.internals.ca.issuing.certificate.rawData);
    const rootDer = new Uint8Array(t.app.internals.ca.root.certificate.rawData);
    const agreementKey = await crypto.subtle.importKey('jwk', { ...roles.paymentAgreement.publicJwk, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []);

    // A realistic exchange: the same shapes and sizes as a benchmark payment.
    const reply = await replyKeyPair();
    const request: PaymentRequest = {
      v: 1, type: 'coconutpay-payment-request', orderId: randomUUID(), payerUserId: buyer.userId, certificateId,
      nonce: randomBytes(16).toString('base64url'), issuedAtMs: Date.now(), locale: 'ko', replyKey: reply.jwk,
    };
    const requestSignature = await signCanonical(deviceKeys.privateKey, request);
    const sealedRequest = await seal({ request, signature: requestSignature }, agreementKey, 'coconutpay-payment-request');
    const command: PaymentCommand = {
      v: 1, type: 'coconutpay-payment-command', comId: randomUUID(), orderId: request.orderId, orderNumber: '20260101-ABCDEF',
      payer: { userId: buyer.userId, loginId: 'benchbuyer1', name: '벤치 사용자' },
      payee: { sellerId: randomUUID(), storeName: '벤치 상점', businessNumber: '123-45-67890' },
      items: [{ productId: randomUUID(), name: '벤치 상품 1-1', quantity: 1, unitPriceWon: 12_000, lineTotalWon: 12_000 }],
      amountWon: 12_000, currency: 'KRW', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 120_000,
      nonce: randomBytes(16).toString('base64url'), requestNonce: request.nonce, locale: 'ko', certificateId,
      verification: { codeRequired: false, codeId: null, policyRule: 'default' },
    };
    const jws = await signCommand(command, roles.payment.privateKey, roles.payment.x5c);
    const sealedCommand = await seal({ jws }, await crypto.subtle.importKey('jwk', { ...reply.jwk, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []), 'coconutpay-payment-command');
    const authorization: PaymentAuthorization = { v: 1, type: 'coconutpay-payment-authorization', command, commandJws: jws, codeProof: null };
    const content = authorizationContent(authorization);
    const attributes = await signedAttributes(content, new Date());
    const signatureDer = p1363ToDer(new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, deviceKeys.privateKey, attributes)));

    // Dual-token request proof, as the authenticator checks it; bodies of the three POSTs' sizes.
    const bodies = [utf8(JSON.stringify({ source: 'product', productId: randomUUID(), quantity: 1 })), utf8(JSON.stringify({ sealedRequest, locale: 'ko' })), utf8('x'.repeat(content.length * 1.4))];
    const clientSecret = await importSecretToken(await deriveSecretToken(keys.get(decodeProtectedHeader(buyer.publicToken).kid!)!.secretTokenKey, buyer.publicToken));
    const proofs = await Promise.all(bodies.map(async (body) => {
      const timestampMs = Date.now();
      const nonce = nonceFromBytes(randomBytes(16));
      const headers = await signRequest({ publicToken: buyer.publicToken, secretKey: clientSecret, method: 'POST', pathWithQuery: '/api/orders', body, timestampMs, nonce });
      return { body, timestampMs, nonce, proof: headers['x-coconutpay-proof'] };
    }));
    let proofIndex = 0;
    const checkProof = async () => {
      const p = proofs[proofIndex++ % proofs.length]!;
      const kid = decodeProtectedHeader(buyer.publicToken).kid!;
      const key = keys.get(kid)!;
      await jwtVerify(buyer.publicToken, key.publicTokenKey, { algorithms: ['HS256'], issuer: TOKEN_ISSUER, requiredClaims: ['sub', 'sid', 'exp', 'iat'] });
      const secretKey = await importSecretToken(await deriveSecretToken(key.secretTokenKey, buyer.publicToken));
      const bodySha256Hex = p.body.length > 0 ? await sha256Hex(p.body) : EMPTY_BODY_SHA256_HEX;
      if (!(await verifyProof(secretKey, { method: 'POST', pathWithQuery: '/api/orders', timestampMs: p.timestampMs, nonce: p.nonce, bodySha256Hex }, p.proof))) throw new Error('proof');
    };

    const d = durationMsPerOperation;
    const server: OperationCost[] = [
      { name: 'request proof check (JWT HS256, HMAC derive, SHA-256, HMAC verify)', perPayment: 3, us_per_call: await costOf(checkProof, d) },
      { name: 'unseal REQ (JWE ECDH-ES + A256GCM)', perPayment: 1, us_per_call: await costOf(() => unseal(sealedRequest, roles.paymentAgreement.privateKey, 'coconutpay-payment-request'), d) },
      {
        name: 'verify REQ device signature (SPKI import + ECDSA verify)', perPayment: 1,
        us_per_call: await costOf(async () => {
          if (!(await verifyCanonical(parseCertificate(certificateDer).spki, request, requestSignature))) throw new Error('REQ');
        }, d),
      },
      { name: 'sign COM as A (canonical JSON + ES256 JWS)', perPayment: 1, us_per_call: await costOf(() => signCommand(command, roles.payment.privateKey, roles.payment.x5c), d) },
      {
        name: 'seal COM to reply key (JWK import + JWE ECDH-ES + A256GCM)', perPayment: 1,
        us_per_call: await costOf(async () => seal({ jws }, await crypto.subtle.importKey('jwk', { ...reply.jwk, ext: true }, { name: 'ECDH', namedCurve: 'P-256' }, true, []), 'coconutpay-payment-command'), d),
      },
      {
        name: 'check AUTH (canonical compare, CMS assemble + parse + digest + ECDSA verify)', perPayment: 1,
        us_per_call: await costOf(async () => {
          if (Buffer.compare(Buffer.from(authorizationContent(authorization)), Buffer.from(content)) !== 0) throw new Error('content');
          const parsed = parseSignedData(assembleSignedData({ content, signedAttributesDer: attributes, signatureDer, signerCertificate: certificateDer, otherCertificates: [issuingDer] }));
          if (!(await checkSignedDataSignature(parsed)).ok) throw new Error('CMS');
        }, d),
      },
    ];

    const commands = new CommandVerifier([rootDer]);
    const client: OperationCost[] = [
      {
        name: 'sign request proof (SHA-256 + HMAC)', perPayment: 3,
        us_per_call: await costOf(() => signRequest({ publicToken: buyer.publicToken, secretKey: clientSecret, method: 'POST', pathWithQuery: '/api/orders', body: bodies[1]!, timestampMs: Date.now(), nonce: nonceFromBytes(randomBytes(16)) }), d),
      },
      { name: 'one-payment reply key (ECDH P-256 key pair + JWK export)', perPayment: 1, us_per_call: await costOf(() => replyKeyPair(), d) },
      { name: 'sign REQ (canonical JSON + ECDSA)', perPayment: 1, us_per_call: await costOf(() => signCanonical(deviceKeys.privateKey, request), d) },
      { name: 'seal REQ to A (JWE ECDH-ES + A256GCM)', perPayment: 1, us_per_call: await costOf(() => seal({ request, signature: requestSignature }, agreementKey, 'coconutpay-payment-request'), d) },
      { name: 'unseal COM', perPayment: 1, us_per_call: await costOf(() => unseal(sealedCommand, reply.keys.privateKey, 'coconutpay-payment-command'), d) },
      { name: "verify COM (ES256 JWS + canonical form; A's chain verdict cached)", perPayment: 1, us_per_call: await costOf(() => commands.verify(jws, Date.now()), d) },
      {
        name: 'sign AUTH (canonical JSON + CMS signed attributes + ECDSA)', perPayment: 1,
        us_per_call: await costOf(async () => {
          const bytes = authorizationContent(authorization);
          const attrs = await signedAttributes(bytes, new Date());
          return p1363ToDer(new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, deviceKeys.privateKey, attrs)));
        }, d),
      },
    ];
    const fullChainCheckUs = await costOf(() => verifyCommand(jws, [rootDer], new Date()), d);
    const code = {
      issue_us: round(await costOf(async () => renderVerificationCode(newVerificationCode()), d)),
      check_us: round(await costOf(() => codeProof('AC3D4E', command.comId), d)),
    };

    const sum = (ops: OperationCost[]) => ops.reduce((s, o) => s + o.perPayment * o.us_per_call, 0);
    const roundOps = (ops: OperationCost[]) => ops.map((o) => ({ ...o, us_per_call: round(o.us_per_call) }));
    const serverUs = sum(server);
    const clientUs = sum(client);
    return {
      server: { operations: roundOps(server), us_per_payment: round(serverUs), per_s: round(1e6 / serverUs, 0) },
      client: { operations: roundOps(client), us_per_payment: round(clientUs), per_s: round(1e6 / clientUs, 0), full_chain_check_us: round(fullChainCheckUs) },
      code,
      per_s: round(Math.min(1e6 / serverUs, 1e6 / clientUs), 0),
    };
  } finally {
    await t.close();
  }
}

if (process.send) {
  process.once('message', (message: { durationMs: number }) => {
    measureCryptoCeiling(message.durationMs).then(
      (result) => process.send!({ type: 'crypto', result }, () => process.exit(0)),
      (error: unknown) => process.send!({ type: 'failed', error: error instanceof Error ? error.stack : String(error) }, () => process.exit(1)),
    );
  });
} else if (process.argv[1]?.endsWith('crypto-ceiling.ts')) {
  measureCryptoCeiling(500).then((result) => console.log(JSON.stringify(result, null, 2)));
}
