/**
 * Mutual authentication at login (seed 004): the password (and later the
 * certificate) authenticates the person to us; this assertion authenticates us to
 * the browser. The authentication server S signs the browser's fresh nonce together
 * with the new session, with a key whose certificate chains to our root.
 */
import { toHex, utf8 } from '../encoding/index.js';
import { signJson, verifySignedJson } from '../pki/signed-json.js';

export interface ServerAssertion {
  v: 1;
  type: 'coconutpay-server-assertion';
  /** The browser's nonce from the login request (base64url), or null when it sent none. */
  clientNonce: string | null;
  sessionId: string;
  userId: string;
  /** SHA-256 of the public token t_p, hex: ties the assertion to this session's token. */
  publicTokenSha256: string;
  issuedAtMs: number;
}

/** How far the assertion's time may be from the browser's clock. */
export const ASSERTION_CLOCK_SKEW_MS = 5 * 60_000;

export async function sha256HexOfText(text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(text))));
}

export async function signServerAssertion(assertion: ServerAssertion, privateKey: CryptoKey, x5c: readonly Uint8Array[]): Promise<string> {
  return signJson(assertion, privateKey, x5c, 'coconutpay-s+jws');
}

/**
 * The browser's check: S's certificate chains to our root with the session-authority
 * usage, the signature holds, and the assertion names this login's nonce and token.
 */
export async function verifyServerAssertion(
  jws: string,
  trustAnchors: Uint8Array[],
  at: Date,
  expected: { clientNonce: string; publicToken: string },
): Promise<{ ok: true; assertion: ServerAssertion } | { ok: false; reason: string }> {
  const check = await verifySignedJson<ServerAssertion>(jws, trustAnchors, at, 'session', 'SERVER_AUTHENTICATION_FAILED');
  if (!check.ok) return { ok: false, reason: check.reasons.map((r) => r.message).join('; ') };
  const a = check.value;
  if (a?.type !== 'coconutpay-server-assertion' || a.v !== 1) return { ok: false, reason: 'not a server assertion' };
  if (a.clientNonce !== expected.clientNonce) return { ok: false, reason: 'the assertion answers another login' };
  if (a.publicTokenSha256 !== (await sha256HexOfText(expected.publicToken))) return { ok: false, reason: 'the assertion names another session token' };
  if (Math.abs(a.issuedAtMs - at.getTime()) > ASSERTION_CLOCK_SKEW_MS) return { ok: false, reason: 'the assertion is not fresh' };
  return { ok: true, assertion: a };
}
