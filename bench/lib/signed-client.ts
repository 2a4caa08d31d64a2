/**
 * A logged-in user over real HTTP, signing every protected request with the
 * dual-token proof exactly as the web app does (packages/core/src/protocol).
 */
import { randomBytes } from 'node:crypto';
import { utf8 } from '@coconutpay/core/encoding';
import { importSecretToken, nonceFromBytes, signRequest } from '@coconutpay/core/protocol';
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

export class SignedClient {
  private constructor(
    readonly connection: HttpConnection,
    readonly publicToken: string,
    private readonly secretKey: CryptoKey,
    readonly userId: string,
  ) {}

  /** Logs in over `connection` and keeps the session's tokens. */
  static async login(connection: HttpConnection, loginId: string, password: string): Promise<SignedClient> {
    const body = expectStatus<{ publicToken: string; secretToken: string; user: { id: string } }>('login', await sendJson(connection, 'POST', '/api/auth/login', { loginId, password }), 200);
    return new SignedClient(connection, body.publicToken, await importSecretToken(body.secretToken), body.user.id);
  }

  /** Sends a signed request; `body` is serialised once and the proof covers those bytes. */
  async request(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    const raw = body === undefined ? undefined : utf8(JSON.stringify(body));
    const headers = await signRequest({
      publicToken: this.publicToken,
      secretKey: this.secretKey,
      method,
      pathWithQuery: path,
      ...(raw ? { body: raw } : {}),
      timestampMs: Date.now(),
      nonce: nonceFromBytes(randomBytes(16)),
    });
    return this.connection.send(method, path, { ...headers }, raw);
  }
}
