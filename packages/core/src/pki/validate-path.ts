/**
 * Certification path validation (RFC 5280 §6.1) as CoconutPay decides it.
 *
 * The validator builds candidate paths from the leaf towards a trust anchor
 * (issuer/subject names, then authority/subject key identifiers; anchors tried
 * before untrusted intermediates; backtracking over alternatives; a certificate,
 * or a subject and key pair, never twice in one path), verifies each signature as
 * it goes, and runs every check below on each complete path until one passes.
 *
 * Decisions worth knowing:
 * - The trust anchor is a certificate and the end of the path. Its validity,
 *   basicConstraints, keyUsage, pathLenConstraint, nameConstraints, EKU and
 *   critical extensions are checked like any CA certificate's; only its own
 *   signature is not (x509-limbo expects this).
 * - `maxDepth` counts certificates from leaf to anchor, both included, and like
 *   pathLenConstraint does not count self-issued intermediates; no path may hold
 *   more than twice `maxDepth` certificates in total.
 * - Extended key usage. CoconutPay purposes (payment, receipt, deviceApproval),
 *   `ocsp` and `timeStamping` need their EKU listed explicitly in the leaf;
 *   anyExtendedKeyUsage does not stand in for them. `timeStamping` follows RFC 3161
 *   §2.3 as OpenSSL does: id-kp-timeStamping is the only EKU and the extension is
 *   critical. For serverAuth/clientAuth an absent EKU allows any use
 *   (RFC 5280 §4.2.1.12) and anyExtendedKeyUsage is accepted. A CA certificate
 *   (anchor included) that carries extKeyUsage restricts the path below it: it must
 *   list the purpose's EKU or anyExtendedKeyUsage.
 * - Key usage of the leaf: digitalSignature for deviceApproval and ocsp,
 *   digitalSignature and nonRepudiation for payment and receipt, digitalSignature
 *   or nonRepudiation and no other bit for timeStamping; for serverAuth and
 *   clientAuth no bit is demanded (TLS needs depend on the key exchange, and RFC 5280
 *   allows a CA certificate as leaf). `issuing` validates a CA certificate: cA and
 *   keyCertSign are required of the leaf.
 * - Revocation (RFC 5280 §6.3), checked once a path passes every other check, for
 *   each certificate below the anchor. The modes:
 *   - 'none': not checked.
 *   - 'require': every certificate below the anchor needs a status.
 *   - 'crl-if-present' (the default): the same as 'require' as soon as a revocation
 *     source was given — at least one CRL in `crls` (even one that cannot be
 *     decoded) or the `ocsp` hook; with neither, not checked. So supplying one CRL
 *     means every certificate below the anchor must be covered by some CRL (or by
 *     OCSP), not only the certificates that happen to have one.
 *   A status comes from the usable CRLs and the OCSP hook. A CRL is usable for a
 *   certificate when it decodes without problems (see path-crl.ts: v2, cRLNumber,
 *   no unknown critical extension, no delta CRL), is in scope (§6.3.3 b: issued by
 *   the certificate issuer, or as an indirect CRL by the cRLIssuer one of the
 *   certificate's distribution points names; distribution point names,
 *   onlyContainsUserCerts/CACerts and onlySomeReasons agree), is current
 *   (thisUpdate ≤ `at` ≤ nextUpdate), and its signature verifies with the key of an
 *   authorized CRL signer whose keyUsage, if present, asserts cRLSign and whose key
 *   identifier matches the CRL's authorityKeyIdentifier when both are present.
 *   Authorized signers, searched among the trust anchors and intermediates given:
 *   for a direct CRL, the certificate issuer's certificate and the certificates of
 *   the same name above it in the path (self-issued key rollover), or another
 *   certificate of that name issued by the same CA or self-issued by it (a separate
 *   CRL key, new-with-old / old-with-new rollover certificates) whose own path
 *   validates to the same trust anchor (§6.3.3 f); for an indirect CRL, a
 *   certificate of the CRL issuer whose own path validates to the same trust
 *   anchor. Such a signer's own path is validated with the same revocation settings,
 *   at most two levels deep; deeper, it fails closed.
 *   The reasons the usable CRLs cover are united (interim_reasons_mask /
 *   reasons_mask of §6.3.3); the certificate is not revoked only once every reason
 *   is covered. Unlike the order-dependent early stop of §6.3.3, every usable CRL is
 *   read, and any usable source saying revoked wins: an entry with any reason code
 *   except removeFromCRL, certificateHold included. An OCSP 'good' also gives a
 *   status. A certificate left without a status is REVOCATION_UNKNOWN, which is
 *   rejected unless `unknownStatus` is 'accept'.
 * - The result is deterministic for identical input, except that a path search
 *   cut short by `timeBudgetMs` fails closed.
 */
import { EKU, OID } from './oids.js';
import { DerError, toHex } from './path-der.js';
import { constrainedNames, KEY_USAGE, parseCertificate, type ParsedCertificate } from './path-certificate.js';
import { ALL_REASONS, CRL_REASON, REASON_FLAG, crlFreshnessProblem, crlScopeOf, crlSignerProblem, findCrlEntry, parseCrl, readCrlDistributionPoints, type CrlEntry, type ParsedCrl } from './path-crl.js';
import { formatDistinguishedName, nameConstraintViolation, namesEqual, type DistinguishedName, type NameConstraints } from './path-names.js';
import { createWebCryptoVerifier, schemeKeyMismatch } from './path-signature.js';

/** What the leaf certificate is being validated for. */
export type Purpose = 'payment' | 'receipt' | 'deviceApproval' | 'command' | 'session' | 'issuing' | 'ocsp' | 'timeStamping' | 'serverAuth' | 'clientAuth' | 'any';

/** Everything {@link validatePath} needs; it reads nothing else. */
export interface PathValidationInput {
  /** DER certificates the caller trusts; each may end a path. */
  trustAnchors: Uint8Array[];
  /** DER certificates that may help build a path: untrusted, any order, may contain junk or cycles. */
  intermediates?: Uint8Array[];
  /** DER of the certificate being validated. */
  leaf: Uint8Array;
  /** Validation time. Compared at whole seconds (fractions are dropped). */
  at: Date;
  purpose: Purpose;
  /** DER CRLs: complete CRLs, direct or indirect, for any certificate of the path (see the header). */
  crls?: Uint8Array[];
  /**
   * Default 'crl-if-present': a status is required of every certificate below the
   * anchor once any CRL or the OCSP hook is given, and nothing is checked otherwise.
   * 'require' always requires one; 'none' checks nothing.
   */
  revocation?: 'none' | 'crl-if-present' | 'require';
  /** Asked for each certificate below the anchor when revocation is checked. */
  ocsp?: (cert: Uint8Array, issuer: Uint8Array) => Promise<'good' | 'revoked' | 'unknown'>;
  /** Policy when revocation status is unknown. Default 'reject'. */
  unknownStatus?: 'accept' | 'reject';
  /** Most certificates in a path, leaf and anchor included, self-issued intermediates not counted. Default 8. */
  maxDepth?: number;
  /** Time the search may take before it fails closed. Default 1500. */
  timeBudgetMs?: number;
  /** Milliseconds from any fixed origin, for the budget. Defaults to `performance.now` when present. */
  clock?: () => number;
  /** Verifies a DER SIGNED{…} structure (certificate or CRL) with an issuer's SubjectPublicKeyInfo. Default WebCrypto. */
  verifySignature?: (tbsSigned: Uint8Array, issuerSpki: Uint8Array) => Promise<boolean>;
}

/** One reason a path was refused. `code` is an error-registry code; `message` starts with a detail code. */
export interface PathValidationReason {
  code: string;
  message: string;
  /** Position in the path: 0 is the leaf. */
  depth?: number;
}

/** The verdict. `chain` runs leaf → anchor: the valid path, or the first complete path tried when none was valid. */
export interface PathValidationResult {
  valid: boolean;
  chain: Uint8Array[];
  reasons: PathValidationReason[];
}

/** Default for {@link PathValidationInput.maxDepth}. */
export const MAX_DEPTH_DEFAULT = 8;
/** Largest accepted {@link PathValidationInput.maxDepth}. */
export const MAX_DEPTH_LIMIT = 1024;
/** Default for {@link PathValidationInput.timeBudgetMs}. */
export const TIME_BUDGET_MS_DEFAULT = 1500;
/** Most trust anchors accepted in one call. */
export const TRUST_ANCHORS_MAX = 4096;
/** Most untrusted intermediates accepted in one call. */
export const INTERMEDIATES_MAX = 512;
/** Most CRLs accepted in one call. */
export const CRLS_MAX = 256;
/** Most complete paths checked before giving up (each one failed). */
export const PATHS_TRIED_MAX = 32;
/** Most signature verifications in one search; a clock-free bound on the work. */
export const SIGNATURE_CHECKS_MAX = 4096;
/** Most name-against-subtree comparisons for one path (quadratic blow-up guard, as in Go's crypto/x509). */
export const NAME_CONSTRAINT_CHECKS_MAX = 250_000;
/** Most reasons reported. */
const REASONS_MAX = 20;
/** How deep the validation of a CRL signer's own path may nest (a signer's signer's…). */
const CRL_SIGNER_DEPTH_MAX = 2;
/** Most CRL signer paths validated in one search. */
const CRL_SIGNER_PATHS_MAX = 16;
/** Most candidate signer certificates tried for one CRL. */
const CRL_SIGNER_CANDIDATES_MAX = 16;
/** Most unusable-CRL explanations in one REVOCATION_UNKNOWN message. */
const REVOCATION_NOTES_MAX = 4;

const CHAIN_INVALID = 'CERTIFICATE_CHAIN_INVALID';

const PURPOSE_EKU: Readonly<Record<Purpose, string | undefined>> = {
  payment: EKU.paymentSigning,
  receipt: EKU.receiptSigning,
  deviceApproval: EKU.deviceApproval,
  command: EKU.commandIssuing,
  session: EKU.sessionAuthority,
  ocsp: EKU.ocspSigning,
  timeStamping: EKU.timeStamping,
  serverAuth: EKU.serverAuth,
  clientAuth: EKU.clientAuth,
  issuing: undefined,
  any: undefined,
};

/** Purposes whose EKU must be named explicitly (anyExtendedKeyUsage does not count) and must be present. */
const EXPLICIT_EKU_PURPOSES: ReadonlySet<Purpose> = new Set(['payment', 'receipt', 'deviceApproval', 'command', 'session', 'ocsp', 'timeStamping']);

const ANY_POLICY = '2.5.29.32.0';

/**
 * Profile problems that do not disqualify a trust anchor: the authority key
 * identifier only helps find an issuer, and an anchor has none to find; its serial
 * number is never looked up on a CRL. (x509-limbo's cve-2024-0567 trusts a
 * cross-signed root without AKI; some public roots have serial number 0.)
 */
const ANCHOR_EXEMPT_PROBLEMS: ReadonlySet<string> = new Set(['AKI_MISSING', 'SERIAL_INVALID']);

interface Candidate {
  readonly certificate: ParsedCertificate;
  readonly index: number;
  readonly isAnchor: boolean;
  readonly spkiIndex: number;
}

class BudgetExhausted extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

function reason(code: string, detail: string, message: string, depth?: number): PathValidationReason {
  return depth === undefined ? { code, message: `${detail}: ${message}` } : { code, message: `${detail}: ${message}`, depth };
}

function invalid(detail: string, message: string): PathValidationResult {
  return { valid: false, chain: [], reasons: [reason(CHAIN_INVALID, detail, message)] };
}

function describeError(error: unknown): string {
  return error instanceof DerError || error instanceof Error ? error.message : 'unreadable';
}

/**
 * Validates the certification path of `leaf` for `purpose` at time `at`.
 * Never throws for bad certificates or CRLs; they become reasons.
 *
 * @example
 * const result = await validatePath({ trustAnchors: [rootDer], intermediates: [issuingCaDer], leaf: userDer, at: now, purpose: 'payment' });
 * if (!result.valid) console.log(result.reasons[0]?.code); // e.g. CERTIFICATE_EXPIRED
 */
export async function validatePath(input: PathValidationInput): Promise<PathValidationResult> {
  const maxDepth = input.maxDepth ?? MAX_DEPTH_DEFAULT;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH_LIMIT) return invalid('INPUT_INVALID', `maxDepth must be an integer from 1 to ${MAX_DEPTH_LIMIT}`);
  const timeBudgetMs = input.timeBudgetMs ?? TIME_BUDGET_MS_DEFAULT;
  if (!(timeBudgetMs >= 0)) return invalid('INPUT_INVALID', 'timeBudgetMs must be a non-negative number');
  const atMs = input.at instanceof Date ? input.at.getTime() : Number.NaN;
  if (!Number.isFinite(atMs)) return invalid('INPUT_INVALID', 'at is not a valid date');
  if (!Object.hasOwn(PURPOSE_EKU, input.purpose)) return invalid('INPUT_INVALID', `unknown purpose ${String(input.purpose)}`);
  const anchorsDer = input.trustAnchors ?? [];
  const intermediatesDer = input.intermediates ?? [];
  const crlsDer = input.crls ?? [];
  if (anchorsDer.length > TRUST_ANCHORS_MAX) return invalid('INPUT_TOO_LARGE', `more than ${TRUST_ANCHORS_MAX} trust anchors`);
  if (intermediatesDer.length > INTERMEDIATES_MAX) return invalid('INPUT_TOO_LARGE', `more than ${INTERMEDIATES_MAX} intermediates`);
  if (crlsDer.length > CRLS_MAX) return invalid('INPUT_TOO_LARGE', `more than ${CRLS_MAX} CRLs`);

  const clock = input.clock ?? defaultClock();
  const startedMs = clock();
  const search = new PathSearch({
    atSeconds: Math.floor(atMs / 1000),
    purpose: input.purpose,
    maxDepth,
    revocation: input.revocation ?? 'crl-if-present',
    crlsSupplied: crlsDer.length,
    crlSignerDepth: 0,
    unknownStatus: input.unknownStatus ?? 'reject',
    ocsp: input.ocsp,
    verify: input.verifySignature ?? createWebCryptoVerifier(),
    overBudget: () => clock() - startedMs > timeBudgetMs,
  });

  let leaf: ParsedCertificate;
  try {
    leaf = parseCertificate(input.leaf);
  } catch (error) {
    return invalid('CERTIFICATE_MALFORMED', `the leaf certificate cannot be decoded: ${describeError(error)}`);
  }
  search.addLeaf(leaf);
  for (const der of anchorsDer) search.addCertificate(der, true);
  for (const der of intermediatesDer) search.addCertificate(der, false);
  for (const der of crlsDer) search.addCrl(der);
  return search.run();
}

function defaultClock(): () => number {
  const performance = (globalThis as { performance?: { now(): number } }).performance;
  if (performance && typeof performance.now === 'function') return () => performance.now();
  // Without a clock only the clock-free work bounds apply.
  return () => 0;
}

interface SearchSettings {
  readonly atSeconds: number;
  readonly purpose: Purpose;
  readonly maxDepth: number;
  readonly revocation: 'none' | 'crl-if-present' | 'require';
  /** How many CRLs the caller gave, decodable or not. */
  readonly crlsSupplied: number;
  /** 0 for the caller's validation; 1 and more inside the validation of a CRL signer's path. */
  readonly crlSignerDepth: number;
  readonly unknownStatus: 'accept' | 'reject';
  readonly ocsp: PathValidationInput['ocsp'];
  readonly verify: (signed: Uint8Array, issuerSpki: Uint8Array) => Promise<boolean>;
  readonly overBudget: () => boolean;
}

interface TriedPath {
  readonly path: readonly Candidate[];
  readonly reasons: readonly PathValidationReason[];
}

/** One validation call's state: the certificate pool, caches and what was tried. */
class PathSearch {
  private readonly candidates: Candidate[] = [];
  private readonly bySubject = new Map<string, Candidate[]>();
  private readonly seenDer = new Map<string, Candidate>();
  private readonly spkiIndexes = new Map<string, number>();
  private readonly signatureResults = new Map<string, Promise<boolean>>();
  private crls: ParsedCrl[] = [];
  private crlProblems: string[] = [];
  private readonly crlSignatureResults = new Map<string, Promise<boolean>>();
  private readonly signerPathResults = new Map<string, Promise<boolean>>();
  private readonly tried: TriedPath[] = [];
  private readonly pruned: PathValidationReason[] = [];
  private readonly prunedSeen = new Set<string>();
  private signatureChecks = 0;
  private leaf: Candidate | undefined;

  constructor(private readonly settings: SearchSettings) {}

  addLeaf(certificate: ParsedCertificate): void {
    this.leaf = this.register(certificate, false);
  }

  addCertificate(der: Uint8Array, isAnchor: boolean): void {
    let certificate: ParsedCertificate;
    try {
      certificate = parseCertificate(der);
    } catch {
      // Junk among the inputs is ignored: it cannot be part of any path.
      return;
    }
    this.addParsedCertificate(certificate, isAnchor);
  }

  addParsedCertificate(certificate: ParsedCertificate, isAnchor: boolean): void {
    const known = this.seenDer.get(certificate.id);
    if (known) {
      // The same certificate given as anchor and as intermediate is an anchor.
      if (isAnchor && !known.isAnchor) {
        const upgraded: Candidate = { ...known, isAnchor: true };
        this.replace(known, upgraded);
      }
      return;
    }
    const candidate = this.register(certificate, isAnchor);
    const list = this.bySubject.get(certificate.subject.key) ?? [];
    list.push(candidate);
    this.bySubject.set(certificate.subject.key, list);
  }

  addCrl(der: Uint8Array): void {
    try {
      this.crls.push(parseCrl(der));
    } catch (error) {
      this.crlProblems.push(describeError(error));
    }
  }

  /** Uses another search's decoded CRLs (a CRL signer's path is judged with the same ones). */
  shareCrls(crls: ParsedCrl[], problems: string[]): void {
    this.crls = crls;
    this.crlProblems = problems;
  }

  private register(certificate: ParsedCertificate, isAnchor: boolean): Candidate {
    const spkiKey = toHex(certificate.spki);
    let spkiIndex = this.spkiIndexes.get(spkiKey);
    if (spkiIndex === undefined) {
      spkiIndex = this.spkiIndexes.size;
      this.spkiIndexes.set(spkiKey, spkiIndex);
    }
    const candidate: Candidate = { certificate, index: this.candidates.length, isAnchor, spkiIndex };
    this.candidates.push(candidate);
    this.seenDer.set(certificate.id, candidate);
    return candidate;
  }

  private replace(old: Candidate, next: Candidate): void {
    this.candidates[old.index] = next;
    this.seenDer.set(next.certificate.id, next);
    if (this.leaf === old) this.leaf = next;
    const list = this.bySubject.get(next.certificate.subject.key);
    if (list) {
      const at = list.indexOf(old);
      if (at >= 0) list[at] = next;
    }
  }

  async run(): Promise<PathValidationResult> {
    const leaf = this.leaf;
    if (!leaf) return invalid('INPUT_INVALID', 'no leaf');
    let found: Candidate[] | undefined;
    try {
      if (leaf.isAnchor) {
        // The leaf itself is trusted: the path is just the leaf.
        const reasons = await this.checkPath([leaf]);
        if (reasons.length === 0) found = [leaf];
        else this.tried.push({ path: [leaf], reasons });
      } else {
        found = await this.extend([leaf]);
      }
    } catch (error) {
      if (!(error instanceof BudgetExhausted)) throw error;
      return {
        valid: false,
        chain: [],
        reasons: [reason(CHAIN_INVALID, 'BUDGET_EXHAUSTED', `path search stopped: ${error.why}; failing closed`)],
      };
    }
    if (found) return { valid: true, chain: found.map((candidate) => candidate.certificate.der), reasons: [] };
    const first = this.tried[0];
    if (first) return { valid: false, chain: first.path.map((candidate) => candidate.certificate.der), reasons: [...first.reasons] };
    const reasons = [reason(CHAIN_INVALID, 'NO_PATH_TO_ANCHOR', 'no chain from the leaf to a trust anchor could be built'), ...this.pruned];
    return { valid: false, chain: [], reasons: reasons.slice(0, REASONS_MAX) };
  }

  private note(entry: PathValidationReason): void {
    const key = `${entry.message}|${entry.depth ?? ''}`;
    if (this.prunedSeen.has(key) || this.pruned.length >= REASONS_MAX) return;
    this.prunedSeen.add(key);
    this.pruned.push(entry);
  }

  private checkBudget(): void {
    if (this.settings.overBudget()) throw new BudgetExhausted('the time budget was used up');
  }

  /** Issuer candidates of a certificate, anchors first, key-identifier matches first, then input order. */
  private issuersOf(child: ParsedCertificate): Candidate[] {
    const list = this.bySubject.get(child.issuer.key) ?? [];
    const usable = list.filter((candidate) => {
      if (!child.authorityKeyId || !candidate.certificate.subjectKeyId) return true;
      return toHex(child.authorityKeyId) === toHex(candidate.certificate.subjectKeyId);
    });
    const rank = (candidate: Candidate): number =>
      (candidate.isAnchor ? 0 : 2) + (child.authorityKeyId && candidate.certificate.subjectKeyId ? 0 : 1);
    return usable
      .map((candidate, order) => ({ candidate, order }))
      .sort((a, b) => rank(a.candidate) - rank(b.candidate) || a.order - b.order)
      .map((entry) => entry.candidate);
  }

  private countedLength(path: readonly Candidate[], next: Candidate): number {
    // Leaf and anchor count; intermediates count unless self-issued.
    const intermediates = next.isAnchor ? path.slice(1) : [...path.slice(1), next];
    return 2 + intermediates.filter((candidate) => !candidate.certificate.selfIssued).length;
  }

  private async signatureHolds(child: Candidate, issuer: Candidate, depth: number): Promise<boolean> {
    const subject = child.certificate;
    if (!subject.scheme) {
      this.note(reason(CHAIN_INVALID, 'SIGNATURE_ALGORITHM_UNSUPPORTED', subject.schemeProblem ?? 'unknown signature algorithm', depth));
      return false;
    }
    const key = issuer.certificate.publicKey;
    if (!key) {
      this.note(reason(CHAIN_INVALID, 'KEY_UNSUPPORTED', `the issuer key is refused: ${issuer.certificate.publicKeyProblem ?? 'unknown'}`, depth + 1));
      return false;
    }
    const mismatch = schemeKeyMismatch(subject.scheme, key);
    if (mismatch) {
      this.note(reason(CHAIN_INVALID, 'SIGNATURE_ALGORITHM_UNSUPPORTED', mismatch, depth));
      return false;
    }
    const cacheKey = `${child.index}:${issuer.spkiIndex}`;
    let result = this.signatureResults.get(cacheKey);
    if (!result) {
      this.checkBudget();
      if (++this.signatureChecks > SIGNATURE_CHECKS_MAX) throw new BudgetExhausted(`more than ${SIGNATURE_CHECKS_MAX} signature checks`);
      result = this.safeVerify(subject.der, issuer.certificate.spki);
      this.signatureResults.set(cacheKey, result);
    }
    const ok = await result;
    if (!ok) this.note(reason(CHAIN_INVALID, 'SIGNATURE_INVALID', 'the signature does not verify with the candidate issuer key', depth));
    return ok;
  }

  private async safeVerify(signed: Uint8Array, spki: Uint8Array): Promise<boolean> {
    try {
      return (await this.settings.verify(signed, spki)) === true;
    } catch {
      return false;
    }
  }

  /** Depth-first search for a valid path; returns it, or undefined when every branch failed. */
  private async extend(path: Candidate[]): Promise<Candidate[] | undefined> {
    this.checkBudget();
    const child = path[path.length - 1] as Candidate;
    const depth = path.length - 1;
    for (const issuer of this.issuersOf(child.certificate)) {
      if (path.some((entry) => entry.index === issuer.index)) continue;
      // Loop detection by (subject, key) pair (RFC 4158 §5.2): catches cross-signed loops too.
      if (path.some((entry) => entry.spkiIndex === issuer.spkiIndex && namesEqual(entry.certificate.subject, issuer.certificate.subject))) continue;
      const counted = this.countedLength(path, issuer);
      if (counted > this.settings.maxDepth || path.length + (issuer.isAnchor ? 1 : 2) > this.settings.maxDepth * 2) {
        this.note(reason(CHAIN_INVALID, 'DEPTH_LIMIT', `a path through this issuer would exceed ${this.settings.maxDepth} certificates`, depth + 1));
        continue;
      }
      if (!(await this.signatureHolds(child, issuer, depth))) continue;
      const next = [...path, issuer];
      if (issuer.isAnchor) {
        const reasons = await this.checkPath(next);
        if (reasons.length === 0) return next;
        this.tried.push({ path: next, reasons });
        if (this.tried.length >= PATHS_TRIED_MAX) throw new BudgetExhausted(`${PATHS_TRIED_MAX} candidate paths failed`);
        continue;
      }
      const found = await this.extend(next);
      if (found) return found;
    }
    return undefined;
  }

  /** All RFC 5280 §6.1 checks of one complete path (leaf first, anchor last). Empty means valid. */
  private async checkPath(path: readonly Candidate[]): Promise<PathValidationReason[]> {
    const reasons: PathValidationReason[] = [];
    const add = (entry: PathValidationReason): void => {
      if (reasons.length < REASONS_MAX) reasons.push(entry);
    };
    const settings = this.settings;
    const last = path.length - 1;
    let remainingCas = Number.POSITIVE_INFINITY;
    const constraints: { depth: number; value: NameConstraints }[] = [];
    const purposeEku = PURPOSE_EKU[settings.purpose];
    const policy = new PolicyState(path.length - 1);

    for (let depth = last; depth >= 0; depth--) {
      const certificate = (path[depth] as Candidate).certificate;
      const isLeaf = depth === 0;
      const isAnchor = depth === last;
      for (const problem of certificate.problems) {
        if (isAnchor && ANCHOR_EXEMPT_PROBLEMS.has(problem.detail)) continue;
        add(reason(CHAIN_INVALID, problem.detail, problem.message, depth));
      }
      if (settings.atSeconds < certificate.notBeforeSeconds) {
        add(reason('CERTIFICATE_NOT_YET_VALID', 'NOT_YET_VALID', `valid from ${isoSeconds(certificate.notBeforeSeconds)}`, depth));
      }
      if (settings.atSeconds > certificate.notAfterSeconds) {
        add(reason('CERTIFICATE_EXPIRED', 'EXPIRED', `valid until ${isoSeconds(certificate.notAfterSeconds)}`, depth));
      }

      // Path length (RFC 5280 §6.1.4 l, m): checked for certificates that issue others.
      if (!isLeaf && !isAnchor && !certificate.selfIssued) {
        if (remainingCas <= 0) add(reason(CHAIN_INVALID, 'PATH_LENGTH_EXCEEDED', 'a pathLenConstraint above forbids this intermediate', depth));
        remainingCas -= 1;
      }

      // Name constraints from certificates above; self-issued intermediates are exempt (RFC 5280 §6.1.3 b).
      if (constraints.length > 0 && (isLeaf || !certificate.selfIssued)) {
        const names = constrainedNames(certificate);
        const work = constraints.reduce((sum, entry) => sum + (entry.value.permitted.length + entry.value.excluded.length) * names.length, 0);
        if (work > NAME_CONSTRAINT_CHECKS_MAX) {
          add(reason(CHAIN_INVALID, 'NAME_CONSTRAINTS_TOO_COMPLEX', `checking ${names.length} names against the constraints needs ${work} comparisons; at most ${NAME_CONSTRAINT_CHECKS_MAX} are done`, depth));
        } else {
          for (const entry of constraints) {
            for (const name of names) {
              const violation = nameConstraintViolation(name, entry.value);
              if (violation) add(reason(CHAIN_INVALID, 'NAME_CONSTRAINTS_VIOLATED', `${violation} (constraint at depth ${entry.depth})`, depth));
            }
          }
        }
      }

      if (!isLeaf) {
        if (!certificate.hasBasicConstraints || !certificate.isCa) {
          add(reason(CHAIN_INVALID, 'NOT_A_CA', 'an issuer must have basicConstraints with cA set (RFC 5280 §4.2.1.9)', depth));
        }
        if (certificate.keyUsage && !certificate.keyUsage.has(KEY_USAGE.keyCertSign)) {
          add(reason(CHAIN_INVALID, 'KEY_CERT_SIGN_MISSING', 'an issuer keyUsage must assert keyCertSign', depth));
        }
        if (purposeEku && certificate.extendedKeyUsage && !certificate.extendedKeyUsage.includes(purposeEku) && !certificate.extendedKeyUsage.includes(EKU.any)) {
          add(reason(CHAIN_INVALID, 'EKU_NOT_ALLOWED_BY_ISSUER', `this CA certificate's extKeyUsage does not allow ${settings.purpose}`, depth));
        }
        if (certificate.pathLength !== undefined) remainingCas = Math.min(remainingCas, certificate.pathLength);
        if (certificate.nameConstraints) constraints.push({ depth, value: certificate.nameConstraints });
      } else {
        for (const problem of leafPurposeProblems(certificate, settings.purpose)) add(reason(CHAIN_INVALID, problem.detail, problem.message, depth));
      }

      // The anchor's own policy extensions are not processed (RFC 5280 §6.1: it is not part of the path).
      if (!isAnchor) {
        const why = policy.process(certificate, isLeaf);
        if (why) add(reason(CHAIN_INVALID, 'POLICY_CHECK_FAILED', why, depth));
      }
    }
    if (reasons.length > 0 || !this.revocationChecked()) return reasons;
    this.checkBudget();
    for (let depth = 0; depth < last; depth++) {
      const entry = await this.revocationReason(path, depth);
      this.checkBudget();
      if (entry) add(entry);
    }
    return reasons;
  }

  /** Whether the revocation mode asks for a status at all (see the header). */
  private revocationChecked(): boolean {
    const settings = this.settings;
    if (settings.revocation === 'none') return false;
    if (settings.revocation === 'require') return true;
    return settings.crlsSupplied > 0 || settings.ocsp !== undefined;
  }

  /** The revocation verdict for `path[depth]` (RFC 5280 §6.3.3); undefined when not revoked, or unknown and accepted. */
  private async revocationReason(path: readonly Candidate[], depth: number): Promise<PathValidationReason | undefined> {
    const settings = this.settings;
    const certificate = (path[depth] as Candidate).certificate;
    const issuer = (path[depth + 1] as Candidate).certificate;
    const notes: string[] = [];
    const note = (text: string): void => {
      if (!notes.includes(text)) notes.push(text);
    };
    // Only CRLs of the issuer, or of a CRL issuer its distribution points name, are worth explaining when out of scope.
    const crlIssuers = readCrlDistributionPoints(certificate).points.flatMap((point) => point.crlIssuer ?? []);
    const concerns = (crl: ParsedCrl): boolean =>
      namesEqual(crl.issuer, certificate.issuer) || crlIssuers.some((name) => name.kind === 'directory' && namesEqual(name.name, crl.issuer));
    let reasonsMask = 0;
    for (let crlIndex = 0; crlIndex < this.crls.length; crlIndex++) {
      const crl = this.crls[crlIndex] as ParsedCrl;
      const scope = crlScopeOf(crl, certificate);
      if (scope.reasonsMask === 0) {
        if (concerns(crl)) note(`a CRL of ${formatDistinguishedName(crl.issuer)} is out of scope: ${scope.problems.join('; ')}`);
        continue;
      }
      if (crl.problems.length > 0) {
        note(`CRL refused: ${crl.problems.join('; ')}`);
        continue;
      }
      const stale = crlFreshnessProblem(crl, settings.atSeconds);
      if (stale) {
        note(stale);
        continue;
      }
      const unsigned = await this.crlSignatureProblem(crlIndex, crl, path, depth);
      this.checkBudget();
      if (unsigned) {
        note(unsigned);
        continue;
      }
      const entry = findCrlEntry(crl, certificate.issuer, certificate.serialHex);
      // removeFromCRL undoes a hold (§6.3.3 j); every other listed reason, hold included, is revoked.
      if (entry && entry.reasonCode !== CRL_REASON.removeFromCRL) return revokedReason(certificate, crl, entry, depth);
      reasonsMask |= scope.reasonsMask;
    }
    let good = reasonsMask === ALL_REASONS;
    if (reasonsMask !== 0 && !good) note(`the usable CRLs cover only some revocation reasons; not covered: ${describeReasons(ALL_REASONS & ~reasonsMask)}`);
    if (settings.ocsp) {
      let answer: 'good' | 'revoked' | 'unknown';
      try {
        answer = await settings.ocsp(certificate.der, issuer.der);
      } catch {
        answer = 'unknown';
      }
      if (answer === 'revoked') return reason('CERTIFICATE_REVOKED', 'REVOKED_BY_OCSP', 'the OCSP responder reports the certificate revoked', depth);
      if (answer === 'good') good = true;
      else note('the OCSP responder does not know the status');
    }
    if (good || settings.unknownStatus === 'accept') return undefined;
    if (this.crlProblems.length > 0) note(`${this.crlProblems.length} of the CRLs given cannot be decoded`);
    if (notes.length === 0) note(this.crls.length === 0 && !settings.ocsp ? 'no CRL or OCSP answer is available' : `no CRL given covers certificates of ${formatDistinguishedName(certificate.issuer)}`);
    return reason(CHAIN_INVALID, 'REVOCATION_UNKNOWN', `revocation status is unknown: ${notes.slice(0, REVOCATION_NOTES_MAX).join('; ')}`, depth);
  }

  /**
   * Why no authorized key signed `crl` for `path[depth]` (§6.3.3 f, g), or undefined
   * when one did. See the header for who is authorized.
   */
  private async crlSignatureProblem(crlIndex: number, crl: ParsedCrl, path: readonly Candidate[], depth: number): Promise<string | undefined> {
    const certificate = (path[depth] as Candidate).certificate;
    const anchor = path[path.length - 1] as Candidate;
    const direct = namesEqual(crl.issuer, certificate.issuer);
    // Certificates of the CRL issuer already in the path above: validated with it, so trusted as signers.
    const trusted: Candidate[] = [];
    let superior: DistinguishedName | undefined;
    for (let at = depth + 1; at < path.length; at++) {
      const candidate = path[at] as Candidate;
      if (!namesEqual(candidate.certificate.subject, crl.issuer)) {
        // For a direct CRL only the unbroken run of the issuer's own certificates counts.
        if (direct) break;
        continue;
      }
      trusted.push(candidate);
      superior = candidate.certificate.issuer;
    }
    const used = new Set(path.slice(0, depth + 1).map((candidate) => candidate.index));
    for (const candidate of trusted) used.add(candidate.index);
    let foreign = 0;
    const others = (this.bySubject.get(crl.issuer.key) ?? []).filter((candidate) => {
      if (used.has(candidate.index)) return false;
      if (!direct) return true;
      // A separate CRL key of a direct CRL is certified by the same CA, or self-issued by the issuer (key rollover).
      const from = candidate.certificate.issuer;
      const sameCa = namesEqual(from, crl.issuer) || (superior !== undefined && namesEqual(from, superior));
      if (!sameCa) foreign++;
      return sameCa;
    });
    const signers = [...trusted.map((candidate) => ({ candidate, needsPath: false })), ...others.slice(0, CRL_SIGNER_CANDIDATES_MAX).map((candidate) => ({ candidate, needsPath: candidate.index !== anchor.index }))];
    const problems: string[] = [];
    const problem = (text: string): void => {
      if (!problems.includes(text)) problems.push(text);
    };
    if (foreign > 0) problem(`${foreign} certificate(s) named as the CRL issuer but issued by another CA may not sign its CRLs`);
    if (signers.length === 0) problem(`no certificate of the CRL issuer ${formatDistinguishedName(crl.issuer)} that may sign its CRLs is available`);
    for (const { candidate, needsPath } of signers) {
      const why = crlSignerProblem(crl, candidate.certificate);
      if (why) {
        problem(why);
        continue;
      }
      if (!(await this.crlSignatureHolds(crlIndex, crl, candidate))) {
        problem('the CRL signature does not verify with the key of any certificate of its issuer');
        continue;
      }
      if (needsPath && !(await this.signerPathValid(candidate, anchor))) {
        problem('the certificate whose key signed the CRL has no valid path to the same trust anchor');
        continue;
      }
      return undefined;
    }
    return problems.join('; ');
  }

  private async crlSignatureHolds(crlIndex: number, crl: ParsedCrl, signer: Candidate): Promise<boolean> {
    const cacheKey = `${crlIndex}:${signer.spkiIndex}`;
    let result = this.crlSignatureResults.get(cacheKey);
    if (!result) {
      this.checkBudget();
      if (++this.signatureChecks > SIGNATURE_CHECKS_MAX) throw new BudgetExhausted(`more than ${SIGNATURE_CHECKS_MAX} signature checks`);
      result = this.safeVerify(crl.der, signer.certificate.spki);
      this.crlSignatureResults.set(cacheKey, result);
    }
    return result;
  }

  /** Whether a CRL signer certificate has a valid path, revocation included, to `anchor` (§6.3.3 f). */
  private signerPathValid(signer: Candidate, anchor: Candidate): Promise<boolean> {
    // Deeper nesting would let a chain of CRL signers vouch for each other; it fails closed.
    if (this.settings.crlSignerDepth >= CRL_SIGNER_DEPTH_MAX) return Promise.resolve(false);
    const cacheKey = `${signer.index}:${anchor.index}`;
    let result = this.signerPathResults.get(cacheKey);
    if (!result) {
      if (this.signerPathResults.size >= CRL_SIGNER_PATHS_MAX) return Promise.resolve(false);
      result = this.validateSignerPath(signer, anchor);
      this.signerPathResults.set(cacheKey, result);
    }
    return result;
  }

  private async validateSignerPath(signer: Candidate, anchor: Candidate): Promise<boolean> {
    const nested = new PathSearch({ ...this.settings, purpose: 'any', crlSignerDepth: this.settings.crlSignerDepth + 1 });
    nested.addLeaf(signer.certificate);
    nested.addParsedCertificate(anchor.certificate, true);
    for (const candidate of this.candidates) {
      if (candidate !== this.leaf) nested.addParsedCertificate(candidate.certificate, false);
    }
    nested.shareCrls(this.crls, this.crlProblems);
    return (await nested.run()).valid;
  }
}

const REASON_NAMES: readonly (readonly [string, number])[] = Object.entries(REASON_FLAG);

function describeReasons(mask: number): string {
  return REASON_NAMES.filter(([, bit]) => (mask & bit) !== 0).map(([name]) => name).join(', ');
}

function revokedReason(certificate: ParsedCertificate, crl: ParsedCrl, entry: CrlEntry, depth: number): PathValidationReason {
  const held = entry.reasonCode === CRL_REASON.certificateHold;
  const name = entry.reasonCode === undefined ? undefined : Object.entries(CRL_REASON).find(([, code]) => code === entry.reasonCode)?.[0];
  const state = held ? 'on hold' : 'revoked';
  return reason(
    'CERTIFICATE_REVOKED',
    'REVOKED_BY_CRL',
    `serial ${certificate.serialHex} is ${state} since ${isoSeconds(entry.revokedAtSeconds)}${name ? ` (${name})` : ''} on the CRL of ${formatDistinguishedName(crl.issuer)}`,
    depth,
  );
}

interface Problem {
  readonly detail: string;
  readonly message: string;
}

function leafPurposeProblems(leaf: ParsedCertificate, purpose: Purpose): Problem[] {
  const problems: Problem[] = [];
  const required = PURPOSE_EKU[purpose];
  const eku = leaf.extendedKeyUsage;
  if (required) {
    if (EXPLICIT_EKU_PURPOSES.has(purpose)) {
      if (!eku || !eku.includes(required)) problems.push({ detail: 'EKU_MISSING', message: `extKeyUsage must list ${required} for ${purpose}` });
    } else if (eku && !eku.includes(required) && !eku.includes(EKU.any)) {
      problems.push({ detail: 'EKU_MISSING', message: `extKeyUsage does not allow ${purpose}` });
    }
  }
  if (purpose === 'timeStamping' && eku) {
    if (eku.length !== 1) problems.push({ detail: 'EKU_NOT_ALLOWED', message: 'a time-stamping certificate must list id-kp-timeStamping as its only extKeyUsage (RFC 3161 §2.3)' });
    if (!leaf.extensions.some((extension) => extension.oid === OID.extKeyUsage && extension.critical)) {
      problems.push({ detail: 'EXTENSION_CRITICALITY', message: 'the extKeyUsage of a time-stamping certificate must be critical (RFC 3161 §2.3)' });
    }
  }
  const keyUsage = leaf.keyUsage;
  if (purpose === 'timeStamping') {
    // As OpenSSL's timestampsign purpose: one of the two signing bits and nothing else; unlike it, keyUsage must be present.
    const allowed: number[] = [KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation];
    if (!keyUsage || !allowed.some((bit) => keyUsage.has(bit))) problems.push({ detail: 'KEY_USAGE_MISSING', message: 'keyUsage must assert digitalSignature or nonRepudiation for timeStamping' });
    else if ([...keyUsage].some((bit) => !allowed.includes(bit))) problems.push({ detail: 'KEY_USAGE_NOT_ALLOWED', message: 'keyUsage of a time-stamping certificate may assert only digitalSignature and nonRepudiation' });
  }
  const needs: number[] = [];
  if (purpose === 'payment' || purpose === 'receipt') needs.push(KEY_USAGE.digitalSignature, KEY_USAGE.nonRepudiation);
  if (purpose === 'deviceApproval' || purpose === 'ocsp') needs.push(KEY_USAGE.digitalSignature);
  if (purpose === 'issuing') needs.push(KEY_USAGE.keyCertSign);
  const names = Object.entries(KEY_USAGE);
  for (const bit of needs) {
    if (!keyUsage || !keyUsage.has(bit)) {
      const name = names.find(([, value]) => value === bit)?.[0] ?? String(bit);
      problems.push({ detail: 'KEY_USAGE_MISSING', message: `keyUsage must assert ${name} for ${purpose}` });
    }
  }
  if (purpose === 'issuing' && !leaf.isCa) problems.push({ detail: 'NOT_A_CA', message: 'the issuing purpose needs a CA certificate' });
  if (EXPLICIT_EKU_PURPOSES.has(purpose) && leaf.isCa) problems.push({ detail: 'LEAF_IS_CA', message: `a ${purpose} certificate must not be a CA certificate` });
  return problems;
}

/**
 * Certificate policy processing reduced to what CoconutPay needs: the set of
 * policies valid along the path (no policy mapping), anyPolicy with
 * inhibitAnyPolicy, and requireExplicitPolicy. Critical policyMappings cannot be
 * honoured and are refused.
 */
class PolicyState {
  private valid: Set<string> | undefined = new Set([ANY_POLICY]);
  private explicitPolicy: number;
  private inhibitAnyPolicy: number;

  constructor(pathLength: number) {
    this.explicitPolicy = pathLength + 1;
    this.inhibitAnyPolicy = pathLength + 1;
  }

  process(certificate: ParsedCertificate, isLeaf: boolean): string | undefined {
    const info = certificate.policy;
    if (info.hasPolicyMappings && certificate.extensions.some((extension) => extension.oid === '2.5.29.33' && extension.critical)) {
      return 'critical policyMappings are not supported';
    }
    const anyAllowed = this.inhibitAnyPolicy > 0 || (!isLeaf && certificate.selfIssued);
    if (!info.policies) this.valid = undefined;
    else if (this.valid) {
      const offered = new Set(info.policies.filter((policy) => policy !== ANY_POLICY || anyAllowed));
      if (this.valid.has(ANY_POLICY)) this.valid = offered;
      else if (!offered.has(ANY_POLICY)) this.valid = new Set([...this.valid].filter((policy) => offered.has(policy)));
      if (this.valid.size === 0) this.valid = undefined;
    }
    if (!isLeaf && !certificate.selfIssued) {
      if (this.explicitPolicy > 0) this.explicitPolicy--;
      if (this.inhibitAnyPolicy > 0) this.inhibitAnyPolicy--;
    }
    if (info.requireExplicitPolicy !== undefined) this.explicitPolicy = Math.min(this.explicitPolicy, info.requireExplicitPolicy);
    if (info.inhibitAnyPolicy !== undefined) this.inhibitAnyPolicy = Math.min(this.inhibitAnyPolicy, info.inhibitAnyPolicy);
    if (isLeaf && this.explicitPolicy > 0) this.explicitPolicy--;
    if (this.explicitPolicy === 0 && !this.valid) return 'an explicit certificate policy is required but none is valid for the path';
    return undefined;
  }
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}
