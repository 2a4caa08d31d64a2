/**
 * Checks the dual-token proof of a protected request (docs/protocol.md) and returns
 * the actor. The order of checks matters: nothing about the session is looked up
 * before the proof shows the caller holds the secret token, and a nonce is only
 * spent by a request that passed every other check.
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '@coconutpay/core/errors';
import {
  AUTH_SCHEME, NONCE_HEADER, NONCE_PATTERN, PROOF_HEADER, TIMESTAMP_HEADER, TIMESTAMP_WINDOW_MS,
  deriveSecretToken, importSecretToken, sha256Hex, verifyProof, EMPTY_BODY_SHA256_HEX,
} from '@coconutpay/core/protocol';
import type { SessionsRepository } from '../db/sessions-repository.js';
import type { Role } from '../db/schema.js';
import type { Actor } from './actor.js';
import type { ReplayCache } from './replay-cache.js';
import type { TokenKeyRing } from './token-keys.js';

/** Issuer claim of every public token. */
export const TOKEN_ISSUER = 'coconutpay';

/** The parts of an HTTP request the proof covers. */
export interface SignedRequest {
  method: string;
  /** Request target as received: path and query. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body bytes, or undefined when there was no body. */
  rawBody: Uint8Array<ArrayBuffer> | undefined;
}

/** A session is touched in the database at most this often; idle timeout is far coarser. */
const TOUCH_INTERVAL_MS = 30_000;

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? undefined : value;
}

export class RequestAuthenticator {
  constructor(
    private readonly keys: TokenKeyRing,
    private readonly sessions: SessionsRepository,
    private readonly replay: ReplayCache,
    private readonly limits: { sessionIdleTimeoutMs: number },
    private readonly clock: () => number,
  ) {}

  async authenticate(request: SignedRequest): Promise<Actor> {
    const authorization = header(request.headers, 'authorization');
    if (authorization === undefined) throw new AppError('AUTH_REQUIRED');
    const prefix = `${AUTH_SCHEME} `;
    if (!authorization.startsWith(prefix)) throw new AppError('AUTH_MALFORMED');
    const publicToken = authorization.slice(prefix.length).trim();
    const timestampText = header(request.headers, TIMESTAMP_HEADER);
    const nonce = header(request.headers, NONCE_HEADER);
    const proof = header(request.headers, PROOF_HEADER);
    if (!timestampText || !/^[0-9]{1,15}$/.test(timestampText) || !nonce || !NONCE_PATTERN.test(nonce) || !proof || !/^[A-Za-z0-9_-]{43}$/.test(proof)) {
      throw new AppError('AUTH_MALFORMED');
    }
    const timestampMs = Number(timestampText);

    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(publicToken).kid;
    } catch {
      throw new AppError('TOKEN_INVALID');
    }
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (!key) throw new AppError(kid !== undefined && this.keys.isRetired(kid) ? 'TOKEN_KEY_RETIRED' : 'TOKEN_INVALID');

    const nowMs = this.clock();
    let claims: { sub?: string; sid?: unknown; role?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(publicToken, key.publicTokenKey, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
      }));
    } catch (cause) {
      if (cause instanceof joseErrors.JWTExpired) throw new AppError('SESSION_EXPIRED');
      throw new AppError('TOKEN_INVALID', { cause });
    }
    if (typeof claims.sid !== 'string' || typeof claims.sub !== 'string' || typeof claims.role !== 'string') throw new AppError('TOKEN_INVALID');

    const secretKey = await importSecretToken(await deriveSecretToken(key.secretTokenKey, publicToken));
    const bodySha256Hex = request.rawBody && request.rawBody.length > 0 ? await sha256Hex(request.rawBody) : EMPTY_BODY_SHA256_HEX;
    const proofOk = await verifyProof(secretKey, { method: request.method, pathWithQuery: request.url, timestampMs, nonce, bodySha256Hex }, proof);
    if (!proofOk) throw new AppError('PROOF_INVALID');

    if (Math.abs(nowMs - timestampMs) > TIMESTAMP_WINDOW_MS) throw new AppError('TIMESTAMP_OUT_OF_WINDOW');

    const session = await this.sessions.findById(claims.sid);
    if (!session || session.userId !== claims.sub) throw new AppError('TOKEN_INVALID');
    if (session.revokedAtMs !== null) throw new AppError('SESSION_REVOKED');
    if (nowMs >= session.expiresAtMs) throw new AppError('SESSION_EXPIRED');
    if (nowMs - session.lastSeenAtMs > this.limits.sessionIdleTimeoutMs) {
      await this.sessions.revoke(session.id, 'idle_timeout', nowMs);
      throw new AppError('SESSION_IDLE_TIMEOUT');
    }

    if (!(await this.replay.remember(session.id, nonce, nowMs))) throw new AppError('NONCE_REPLAYED');
    if (nowMs - session.lastSeenAtMs > TOUCH_INTERVAL_MS) await this.sessions.touch(session.id, nowMs);

    return { userId: session.userId, role: claims.role as Role, sessionId: session.id };
  }
}
