/**
 * JSON signed by one of our servers: a JWS (compact, ES256) whose payload is RFC 8785
 * canonical JSON and whose `x5c` header carries the signer's certificate and the
 * issuing CA, so a browser or a command line can check it against our root alone.
 * A (payment commands) and S (login assertions) sign this way.
 */
import { CompactSign, compactVerify, importX509 } from 'jose';
import { canonicalJson, canonicalJsonBytes } from '../encoding/canonical-json.js';
import { fromBase64Url } from '../encoding/index.js';
import { toPem } from './pem.js';
import { validatePath, type PathValidationReason, type Purpose } from './validate-path.js';

export type SignedJsonCheck<T> = { ok: true; value: T; signerCertificate: Uint8Array } | { ok: false; reasons: (PathValidationReason | { code: string; message: string })[] };

export async function signJson(value: unknown, privateKey: CryptoKey, x5c: readonly Uint8Array[], typ: string): Promise<string> {
  return new CompactSign(canonicalJsonBytes(value))
    .setProtectedHeader({ alg: 'ES256', typ, x5c: x5c.map((c) => btoa(String.fromCharCode(...c))) })
    .sign(privateKey);
}

/**
 * Checks the signer's chain to `trustAnchors` for `purpose` at `at`, the signature,
 * and that the payload is canonical (what is shown is exactly what was signed).
 * `failureCode` names the problem when the signature or payload is wrong.
 */
export async function verifySignedJson<T>(jws: string, trustAnchors: Uint8Array[], at: Date, purpose: Purpose, failureCode: string): Promise<SignedJsonCheck<T>> {
  const bad = (message: string): SignedJsonCheck<T> => ({ ok: false, reasons: [{ code: failureCode, message }] });
  const [headerPart] = jws.split('.');
  let x5c: Uint8Array[];
  try {
    const header = JSON.parse(new TextDecoder().decode(fromBase64Url(headerPart ?? ''))) as { alg?: string; x5c?: string[] };
    if (header.alg !== 'ES256' || !Array.isArray(header.x5c) || header.x5c.length < 1 || header.x5c.length > 4) return bad('unexpected JWS header');
    x5c = header.x5c.map((c) => Uint8Array.from(atob(c), (ch) => ch.charCodeAt(0)));
  } catch {
    return bad('unreadable JWS header');
  }
  const path = await validatePath({ trustAnchors, intermediates: x5c.slice(1), leaf: x5c[0]!, at, purpose, revocation: 'none' });
  if (!path.valid) return { ok: false, reasons: path.reasons };
  let payload: Uint8Array;
  try {
    const key = await importX509(toPem(x5c[0]!, 'CERTIFICATE'), 'ES256');
    payload = (await compactVerify(jws, key, { algorithms: ['ES256'] })).payload;
  } catch {
    return bad('the signature does not verify');
  }
  const text = new TextDecoder().decode(payload);
  let value: T;
  try {
    value = JSON.parse(text) as T;
  } catch {
    return bad('the payload is not JSON');
  }
  if (canonicalJson(value) !== text) return bad('the payload is not in canonical form');
  return { ok: true, value, signerCertificate: x5c[0]! };
}
