/**
 * A logged-in user over real HTTP, signing every protected request with the
 * dual-token proof of packages/core/src/protocol — the same canonical request and
 * HMAC the web app computes, here with node:crypto so the load core has cycles left.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { fromBase64Url, utf8 } from '@coconutpay/core/encoding';
import { AUTH_SCHEME, canonicalRequest, EMPTY_BODY_SHA256_HEX, NONCE_HEADER, nonceFromBytes, PROOF_HEADER, TIMESTAMP_HEADER } from '@coconutpay/core/protocol';
import { HttpConnection, type HttpAnswer } from './http-client.js';

/** A failed call: the step, the status and the server's answer. */
export class UnexpectedAnswer extends Error {
  constructor(
    readonly step: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${step}: HTTP ${status} ${body.slice(0, 300)}`);
    this.name = 'UnexpectedAnswer';
  }
}

/** Throws unless the answer has the `expected` status; returns its JSON. */
export function expectStatus<T>(step: string, answer: HttpAnswer, expected: number): T {
  if (answer.status !== expected) throw new UnexpectedAnswer(step, answer.status, answer.text);
  return answer.json as T;
}

/** Sends an anonymous JSON request. */
export function sendJson(connection: HttpConnection, method: string, path: string, body?: unknown): Promise<HttpAnswer> {
  return connection.send(method, path, {}, body === undefined ? undefined : utf8(JSON.stringify(body)));
}

/** The dual-token headers of one request: HMAC(t_s, canonical request), fresh time and nonce. */
export function signedHeaders(publicToken: string, secretToken: Uint8Array, method: string, path: string, body: Uint8Array | undefined): Record<string, string> {
  const timestampMs = Date.now();
  const nonce = nonceFromBytes(randomBytes(16));
  const bodySha256Hex = body && body.length > 0 ? createHash('sha256').update(body).digest('hex') : EMPTY_BODY_SHA256_HEX;
  const proof = createHmac('sha256', secretToken).update(canonicalRequest({ method, pathWithQuery: path, timestampMs, nonce, bodySha256Hex })).digest('base64url');
  return { authorization: `${AUTH_SCHEME} ${publicToken}`, [TIMESTAMP_HEADER]: String(timestampMs), [NONCE_HEADER]: nonce, [PROOF_HEADER]: proof };
}

export class SignedClient {
  private constructor(
    readonly connection: HttpConnection,
    readonly publicToken: string,
    private readonly secretToken: Uint8Array,
    readonly userId: string,
  ) {}

  /** Logs in over `connection` and keeps the session's tokens. */
  static async login(connection: HttpConnection, loginId: string, password: string): Promise<SignedClient> {
    const body = expectStatus<{ publicToken: string; secretToken: string; user: { id: string } }>('login', await sendJson(connection, 'POST', '/api/auth/login', { loginId, password }), 200);
    return new SignedClient(connection, body.publicToken, fromBase64Url(body.secretToken), body.user.id);
  }

  /**
   * Sends a signed request; `body` is serialised once and the proof covers those bytes.
   * `extraHeaders` go beside the proof's (an `idempotency-key`, which the proof does not cover).
   */
  async request(method: string, path: string, body?: unknown, extraHeaders?: Record<string, string>): Promise<HttpAnswer> {
    const raw = body === undefined ? undefined : utf8(JSON.stringify(body));
    const headers = signedHeaders(this.publicToken, this.secretToken, method, path, raw);
    return this.connection.send(method, path, extraHeaders ? { ...headers, ...extraHeaders } : headers, raw);
  }
}
