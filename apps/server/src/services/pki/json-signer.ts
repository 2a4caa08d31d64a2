/**
 * A server role's signature over JSON — the format of core's `signJson` (JWS compact,
 * ES256, payload = RFC 8785 canonical JSON, header `{alg, typ, x5c}`), made with
 * `node:crypto` and a header encoded once: A signs a command on every payment, and
 * WebCrypto's thread-pool round trip costs more than the signature itself. Browsers
 * and the CLI check the result with core's `verifySignedJson`, as before.
 */
import { sign, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from '@coconutpay/core/encoding/canonical-json';

export class JsonSigner {
  private readonly headerPart: string;

  /**
   * @param privateKey the role's P-256 signing key
   * @param x5c the role's certificate, then the issuing CA (DER)
   * @param typ the JWS `typ` naming the message kind
   */
  constructor(
    private readonly privateKey: KeyObject,
    x5c: readonly Uint8Array[],
    typ: string,
  ) {
    const header = { alg: 'ES256', typ, x5c: x5c.map((c) => Buffer.from(c).toString('base64')) };
    this.headerPart = Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
  }

  /** The compact JWS of `value`'s canonical JSON. */
  sign(value: unknown): string {
    return this.signCanonical(canonicalJsonBytes(value));
  }

  /** The compact JWS of bytes that are already canonical JSON (the caller keeps them too). */
  signCanonical(canonical: Uint8Array | string): string {
    const signingInput = `${this.headerPart}.${Buffer.from(canonical).toString('base64url')}`;
    const signature = sign('sha256', Buffer.from(signingInput, 'ascii'), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${signature.toString('base64url')}`;
  }
}
