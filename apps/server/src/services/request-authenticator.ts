/**
 * Checks the dual-token proof of a protected request (docs/protocol.md) and returns
 * the actor. The order of checks matters: nothing about the session is looked up
 * before the proof shows the caller holds the secret token, and a nonce is only
 * spent by a request that passed every other check.
 */
import { createHmac, hash, KeyObject, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '@coconutpay/core/errors';
import {
  AUTH_SCHEME, NONCE_HEADER, NONCE_PATTERN, PROOF_HEADER, TIMESTAMP_HEADER, TIMESTAMP_WINDOW_MS,
  canonicalRequest, EMPTY_BODY_SHA256_HEX,
} from '@coconutpay/core/protocol';
import type { SessionsRepository } from '../db/sessions-repository.js';
import type { Role } from '../db/schema.js';
import type { Actor } from './actor.js';
import type { ReplayCache } from './replay-cache.js';
import type { TokenKey, TokenKeyRing } from './token-keys.js';

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

/** What the Authorization header starts with. */
const AUTH_PREFIX = `${AUTH_SCHEME} `;

/** A session is touched in the database at most this often; idle timeout is far coarser. */
const TOUCH_INTERVAL_MS = 30_000;

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? undefined : value;
}

/** A token key in the forms the hot path uses, made once per key. */
interface PreparedTokenKey {
  publicTokenKey: CryptoKey;
  secretTokenKey: KeyObject;
}

/** A public token whose MAC and claims passed, with what it says and its secret token. */
interface VerifiedToken {
  key: TokenKey;
  sub: string;
  sid: string;
  role: string;
  /** The certificate a certificate login bound the session to; undefined for a password login. */
  cid: string | undefined;
  expSeconds: number;
  nbfSeconds: number | undefined;
  secretToken: Buffer;
}

/** Public tokens remembered as verified; the oldest entry leaves first. */
export const VERIFIED_TOKENS_MAX = 20_000;

export class RequestAuthenticator {
  private readonly prepared = new WeakMap<TokenKey, Promise<PreparedTokenKey>>();
  /**
   * Verdicts on public tokens, by their exact text. A token's MAC verdict cannot
   * change while its key is in the ring, so only the time claims are checked again on
   * a hit; session, proof, time window and nonce are checked on every request.
   */
  private readonly verified = new Map<string, VerifiedToken>();
  /**
   * When this process began accepting proofs. Nonces seen before it are not remembered
   * (the in-process cache starts empty), so a proof made before it is refused: a request
   * captured before a restart cannot be replayed after it. Browsers retry such a refusal
   * with a fresh time, as for any clock difference.
   */
  private readonly startedAtMs: number;

  constructor(
    private readonly keys: TokenKeyRing,
    private readonly sessions: SessionsRepository,
    private readonly replay: ReplayCache,
    private readonly limits: { sessionIdleTimeoutMs: number; adminSessionIdleTimeoutMs: number },
    private readonly clock: () => number,
  ) {
    this.startedAtMs = clock();
  }

  /**
   * The public token key imported for jose once (not on every request), and the secret
   * token key as a node:crypto key: the proof is the same HMAC as core's `verifyProof`
   * computes, at a tenth of WebCrypto's cost per request.
   */
  private prepare(key: TokenKey): Promise<PreparedTokenKey> {
    let prepared = this.prepared.get(key);
    if (!prepared) {
      prepared = crypto.subtle.importKey('raw', new Uint8Array(key.publicTokenKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
        .then((publicTokenKey) => ({ publicTokenKey, secretTokenKey: KeyObject.from(key.secretTokenKey) }));
      this.prepared.set(key, prepared);
    }
    return prepared;
  }

  /** The public token's claims after its MAC and time claims are checked (see `verified`). */
  private async verifiedToken(publicToken: string, known: VerifiedToken | undefined, key: TokenKey, nowMs: number): Promise<VerifiedToken> {
    const nowSeconds = Math.floor(nowMs / 1000);
    if (known && known.key === key) {
      // The checks jose's jwtVerify makes of the time claims.
      if (known.expSeconds <= nowSeconds) {
        this.verified.delete(publicToken);
        throw new AppError('SESSION_EXPIRED');
      }
      if (known.nbfSeconds !== undefined && known.nbfSeconds > nowSeconds) throw new AppError('TOKEN_INVALID');
      return known;
    }
    const prepared = await this.prepare(key);
    let claims: { sub?: unknown; sid?: unknown; role?: unknown; cid?: unknown; exp?: unknown; nbf?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(publicToken, prepared.publicTokenKey, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
      }));
    } catch (cause) {
      if (cause instanceof joseErrors.JWTExpired) throw new AppError('SESSION_EXPIRED');
      throw new AppError('TOKEN_INVALID', { cause });
    }
    if (typeof claims.sid !== 'string' || typeof claims.sub !== 'string' || typeof claims.role !== 'string' || typeof claims.exp !== 'number') throw new AppError('TOKEN_INVALID');
    const verified: VerifiedToken = {
      key, sub: claims.sub, sid: claims.sid, role: claims.role, cid: typeof claims.cid === 'string' ? claims.cid : undefined, expSeconds: claims.exp, nbfSeconds: typeof claims.nbf === 'number' ? claims.nbf : undefined,
      // t_s = HMAC(K_ts, t_p), as core's deriveSecretToken computes it.
      secretToken: createHmac('sha256', prepared.secretTokenKey).update(publicToken, 'utf8').digest(),
    };
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(publicToken, verified);
    return verified;
  }

  async authenticate(request: SignedRequest): Promise<Actor> {
    const authorization = header(request.headers, 'authorization');
    if (authorization === undefined) throw new AppError('AUTH_REQUIRED');
    if (!authorization.startsWith(AUTH_PREFIX)) throw new AppError('AUTH_MALFORMED');
    const publicToken = authorization.slice(AUTH_PREFIX.length).trim();
    const timestampText = header(request.headers, TIMESTAMP_HEADER);
    const nonce = header(request.headers, NONCE_HEADER);
    const proof = header(request.headers, PROOF_HEADER);
    if (!timestampText || !/^[0-9]{1,15}$/.test(timestampText) || !nonce || !NONCE_PATTERN.test(nonce) || !proof || !/^[A-Za-z0-9_-]{43}$/.test(proof)) {
      throw new AppError('AUTH_MALFORMED');
    }
    const timestampMs = Number(timestampText);

    // A token verified before names its key in the verdict: its header need not be decoded
    // again (the key must still be the ring's, or the token is judged afresh). One lookup
    // serves both uses: hashing and comparing a token of a few hundred characters is not free.
    const known = this.verified.get(publicToken);
    let key = known && this.keys.get(known.key.kid) === known.key ? known.key : undefined;
    if (!key) {
      let kid: string | undefined;
      try {
        kid = decodeProtectedHeader(publicToken).kid;
      } catch {
        throw new AppError('TOKEN_INVALID');
      }
      key = kid === undefined ? undefined : this.keys.get(kid);
      if (!key) throw new AppError(kid !== undefined && this.keys.isRetired(kid) ? 'TOKEN_KEY_RETIRED' : 'TOKEN_INVALID');
    }

    const nowMs = this.clock();
    const claims = await this.verifiedToken(publicToken, known, key, nowMs);

    // The proof is HMAC(t_s, canonical request), as core's verifyProof computes it.
    // crypto.hash: the one-shot digest, without a Hash object per request.
    const bodySha256Hex = request.rawBody && request.rawBody.length > 0 ? hash('sha256', request.rawBody, 'hex') : EMPTY_BODY_SHA256_HEX;
    const expected = createHmac('sha256', claims.secretToken).update(canonicalRequest({ method: request.method, pathWithQuery: request.url, timestampMs, nonce, bodySha256Hex }), 'utf8').digest();
    // The header pattern above allows exactly 43 base64url characters: 32 bytes.
    if (!timingSafeEqual(expected, Buffer.from(proof, 'base64url'))) throw new AppError('PROOF_INVALID');

    if (Math.abs(nowMs - timestampMs) > TIMESTAMP_WINDOW_MS) throw new AppError('TIMESTAMP_OUT_OF_WINDOW');
    if (timestampMs < this.startedAtMs) throw new AppError('TIMESTAMP_OUT_OF_WINDOW', { detail: 'The request was made before the server started; send it again.' });

    // Usually a copy in memory (session-cache.ts); a copy that would end the session as idle
    // is read again, since another process may have seen the session more recently.
    let session = await this.sessions.findById(claims.sid);
    if (!session || session.userId !== claims.sub) throw new AppError('TOKEN_INVALID');
    if (session.revokedAtMs !== null) throw new AppError('SESSION_REVOKED');
    if (nowMs >= session.expiresAtMs) throw new AppError('SESSION_EXPIRED');
    // An operator's session idles out sooner: an unattended console is the costliest one to leave open.
    const idleTimeoutMs = claims.role === 'admin' ? this.limits.adminSessionIdleTimeoutMs : this.limits.sessionIdleTimeoutMs;
    if (nowMs - session.lastSeenAtMs > idleTimeoutMs) session = (await this.sessions.findById(claims.sid, { fresh: true })) ?? session;
    if (session.revokedAtMs !== null) throw new AppError('SESSION_REVOKED');
    if (nowMs - session.lastSeenAtMs > idleTimeoutMs) {
      await this.sessions.revoke(session.id, 'idle_timeout', nowMs);
      throw new AppError('SESSION_IDLE_TIMEOUT');
    }

    if (!(await this.replay.remember(session.id, nonce, nowMs))) throw new AppError('NONCE_REPLAYED');
    if (nowMs - session.lastSeenAtMs > TOUCH_INTERVAL_MS) await this.sessions.touch(session.id, nowMs);

    return { userId: session.userId, role: claims.role as Role, sessionId: session.id, ...(claims.cid ? { certificateId: claims.cid } : {}) };
  }
}
