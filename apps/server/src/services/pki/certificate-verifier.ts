/**
 * The server's door to core's path validator, with a verdict cache.
 *
 * Path validation (signatures, profile, name constraints) costs milliseconds; a
 * signature check on every payment must not. The structural verdict of a chain
 * cannot change while the time stays inside every certificate's validity window,
 * so it is cached for exactly that window. Revocation is NOT cached here: the
 * certificate table is the source of truth for our own certificates and the caller
 * reads the status from it on every use.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { AppError, isErrorCode } from '@coconutpay/core/errors';
import { checkMasterApproval, type ApprovalProblem } from '@coconutpay/core/pki/master-approval';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { signerIdentifier, type SignatureCheckPrimitives, type SignerIdentifier } from '@coconutpay/core/pki/cms';
import { validatePath, type PathValidationReason, type Purpose } from '@coconutpay/core/pki/validate-path';
import type { CertificateAuthority } from './certificate-authority.js';

export interface Verdict {
  valid: boolean;
  reasons: PathValidationReason[];
}

interface CachedVerdict extends Verdict {
  /** The verdict holds for validation times in [fromMs, untilMs). */
  fromMs: number;
  untilMs: number;
}

/** Most cached verdicts; the oldest entry leaves first. */
export const VERDICT_CACHE_MAX = 10_000;

/** Stores `value` under `key`, first dropping the oldest entry when the cache is full. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= VERDICT_CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
}

/** What the hot path needs of one certificate, derived from its bytes once. */
interface CertificateFacts {
  key?: KeyObject;
  signer?: SignerIdentifier;
  sha256?: Buffer;
}

/**
 * The cache key of a certificate: its bytes as a one-byte string, read in place. A
 * base64 key (as the verdict cache uses) first copied the bytes into a Buffer and then
 * encoded them, which cost as much per payment as the SHA-256 of the content; this is
 * one memcpy, and it is still the whole certificate, so two certificates never share
 * an entry and a changed certificate is a different key.
 */
export function certificateCacheKey(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
}

/**
 * The cache key of a list of certificates: each one's length, then its bytes read in place
 * ({@link certificateCacheKey}). The lengths make the split unambiguous (a leaf with an
 * intermediate appended is not that leaf with that intermediate), as the base64 alphabet
 * and its separators did, without copying and encoding the certificates on every check.
 */
export function certificateListKey(ders: readonly Uint8Array[]): string {
  let key = '';
  for (const der of ders) key += `|${der.length}:${certificateCacheKey(der)}`;
  return key;
}

export class CertificateVerifier {
  private readonly cache = new Map<string, CachedVerdict>();
  private readonly approvals = new Map<string, ApprovalProblem | undefined>();
  /** Per certificate (by {@link certificateCacheKey}): its key, CMS signer identifier and hash, each made on first use. */
  private readonly facts = new Map<string, CertificateFacts>();
  private readonly anchors: Uint8Array[];
  private readonly intermediates: Uint8Array[];
  private hits = 0;
  private misses = 0;

  constructor(ca: CertificateAuthority) {
    this.anchors = [new Uint8Array(ca.root.certificate.rawData)];
    this.intermediates = [new Uint8Array(ca.issuing.certificate.rawData)];
  }

  /** Counters for /metrics and the benchmark. */
  stats(): { hits: number; misses: number; size: number } {
    return { hits: this.hits, misses: this.misses, size: this.cache.size };
  }

  /**
   * The chain verdict of `der` for `purpose` at `atMs`, against the service CA.
   * `extraIntermediates` lets a later profile add a user's master to the chain.
   */
  async verify(der: Uint8Array, purpose: Purpose, atMs: number, extraIntermediates: Uint8Array[] = []): Promise<Verdict> {
    const key = `${purpose}${certificateListKey([der, ...extraIntermediates])}`;
    const cached = this.cache.get(key);
    if (cached && atMs >= cached.fromMs && atMs < cached.untilMs) {
      this.hits++;
      return { valid: cached.valid, reasons: cached.reasons };
    }
    this.misses++;
    const result = await validatePath({
      trustAnchors: this.anchors,
      intermediates: [...this.intermediates, ...extraIntermediates],
      leaf: der,
      at: new Date(atMs),
      purpose,
      revocation: 'none',
    });
    // The verdict can only change when the time crosses a validity bound of a certificate involved.
    let fromMs = Number.NEGATIVE_INFINITY;
    let untilMs = Number.POSITIVE_INFINITY;
    for (const certificateDer of result.chain.length > 0 ? result.chain : [der]) {
      try {
        const parsed = parseCertificate(certificateDer);
        fromMs = Math.max(fromMs, parsed.notBeforeSeconds * 1000);
        untilMs = Math.min(untilMs, parsed.notAfterSeconds * 1000 + 1000);
      } catch {
        untilMs = atMs + 1; // unreadable: do not cache
      }
    }
    if (atMs < fromMs) {
      // Not yet valid: cache nothing across the start of validity.
      untilMs = fromMs;
      fromMs = Number.NEGATIVE_INFINITY;
    }
    remember(this.cache, key, { valid: result.valid, reasons: result.reasons, fromMs, untilMs });
    return { valid: result.valid, reasons: result.reasons };
  }

  /**
   * The master-approval check of an additional certificate (see core's
   * master-approval.ts). It depends on the two certificates' bytes only, so its
   * verdict is cached forever under that pair.
   */
  async approval(additionalDer: Uint8Array, masterDer: Uint8Array): Promise<ApprovalProblem | undefined> {
    const key = certificateListKey([additionalDer, masterDer]);
    if (this.approvals.has(key)) {
      this.hits++;
      return this.approvals.get(key);
    }
    this.misses++;
    const problem = await checkMasterApproval(additionalDer, masterDer);
    remember(this.approvals, key, problem);
    return problem;
  }

  /** The cached facts of `der`, an empty entry made (the oldest dropped when full) on first sight. */
  private factsOf(der: Uint8Array): CertificateFacts {
    const cacheKey = certificateCacheKey(der);
    let facts = this.facts.get(cacheKey);
    if (!facts) {
      facts = {};
      remember(this.facts, cacheKey, facts);
    }
    return facts;
  }

  /** How many certificates have cached facts (for tests of the bound). */
  certificatesKnown(): number {
    return this.facts.size;
  }

  /**
   * The public key of a certificate, imported once per certificate: importing checks
   * that the point is on the curve, which costs as much as a signature check. Keyed by
   * the certificate's bytes, so it cannot go stale. Only P-256 keys are accepted.
   */
  publicKey(der: Uint8Array): KeyObject {
    const facts = this.factsOf(der);
    if (facts.key) return facts.key;
    const key = createPublicKey({ key: Buffer.from(parseCertificate(der).spki), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new AppError('CERTIFICATE_CHAIN_INVALID', { detail: 'The certificate key is not P-256.' });
    facts.key = key;
    return key;
  }

  /** Whether an ECDSA P-256/SHA-256 signature (IEEE P1363, 64 bytes) by the certificate's key verifies over `data`. */
  signatureValid(der: Uint8Array, signatureP1363: Uint8Array, data: Uint8Array): boolean {
    if (signatureP1363.length !== 64) return false;
    return verify('sha256', data, { key: this.publicKey(der), dsaEncoding: 'ieee-p1363' }, signatureP1363);
  }

  /**
   * The issuer and serial that name a certificate as a CMS signer, read once per
   * certificate (keyed by its bytes, like the keys): evidence is assembled on every payment.
   */
  signer(der: Uint8Array): SignerIdentifier {
    const facts = this.factsOf(der);
    facts.signer ??= signerIdentifier(der);
    return facts.signer;
  }

  /**
   * SHA-256 of the certificate's bytes (what a CMS signing-certificate-v2 attribute
   * names), computed once per certificate: the bytes are the cache key, so the hash
   * cannot belong to another certificate.
   */
  sha256(der: Uint8Array): Buffer {
    const facts = this.factsOf(der);
    facts.sha256 ??= createHash('sha256').update(der).digest();
    return facts.sha256;
  }

  /** Core's CMS signature check on node:crypto with this cache's keys. */
  readonly cmsPrimitives: SignatureCheckPrimitives = {
    sha256: (bytes) => createHash('sha256').update(bytes).digest(),
    verify: (der, signatureP1363, data) => this.signatureValid(der, signatureP1363, data),
  };

  /** Throws the first reason's registry code when the chain is not valid. */
  async assertValid(der: Uint8Array, purpose: Purpose, atMs: number, extraIntermediates: Uint8Array[] = []): Promise<void> {
    const verdict = await this.verify(der, purpose, atMs, extraIntermediates);
    if (!verdict.valid) {
      const first = verdict.reasons[0];
      throw new AppError(first && isErrorCode(first.code) ? first.code : 'CERTIFICATE_CHAIN_INVALID', first ? { detail: first.message } : {});
    }
  }
}
