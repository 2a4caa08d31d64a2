/**
 * Checking payment evidence without us, years later: one function with named
 * checks, used by the CLI, the public verify page and the server alike.
 *
 * A file is valid when every check holds:
 * - `format`: a CMS SignedData of the shape we make, holding a payment authorization;
 * - `signature`: the content matches its signed digest and the signer's key signed
 *   the attributes;
 * - `signingCertificate`: the signed ESS signing-certificate-v2 attribute names
 *   exactly the signer's certificate;
 * - `command`: A's JWS over the command verifies with an A certificate valid when the
 *   command was issued (and, with the chain check below, not revoked at the
 *   time-stamp), and the signed authorization carries exactly that command;
 * - `payer`: the signer certificate's subject names the command's payer (the user id
 *   in the subject serialNumber); for an additional certificate, the master that
 *   approved it in the file belongs to the same user and its approval holds;
 * - `signingTime`: the device's signingTime lies within the command's validity window
 *   (with {@link EVIDENCE_CLOCK_TOLERANCE_MS} either side, the device's clock being
 *   its own) and not after the time-stamp;
 * - `timeStamp`: an RFC 3161 token from a TSA certified by our root covers the
 *   signature value, and its time lies within the command's window (with the
 *   token's accuracy and {@link TIMESTAMP_DELAY_MS_MAX});
 * - `chain`: the signer's chain (and A's and the TSA's) is valid *at the time-stamp's time*, with
 *   the revocation status at that time proven by the CRLs embedded in the file —
 *   revocation data that does not prove a status fails closed;
 * - `order` (when an order number is expected): the command is about that order;
 * - `statusNow` (when current CRLs are given): the signer's status now. A revocation
 *   after the time-stamp is shown, not treated as invalidating the earlier payment;
 *   a revocation (or a key compromise, by its invalidity date) at or before it is;
 * - `record` (only the service can run it, {@link withEvidenceCheck}): the service
 *   holds this very signature as the evidence of that command — a command signed twice
 *   or a file for a command it never paid is not on record.
 *
 * Every failure has its own code in the error registry.
 */
import { fromBase64Url, toHex } from '../encoding/index.js';
import { checkMasterApproval, serialNumberAttribute } from '../pki/master-approval.js';
import { EXTENSION } from '../pki/oids.js';
import { checkSignedDataSignature, OID_CMS, parseSignedData, type ParsedSignedData } from '../pki/cms.js';
import { formatDistinguishedName, namesEqual } from '../pki/path-names.js';
import { parseCertificate, type ParsedCertificate } from '../pki/path-certificate.js';
import { crlStatusOf } from '../pki/path-crl.js';
import { derToP1363 } from '../pki/signature.js';
import { verifyTimeStampToken } from '../pki/time-stamp.js';
import { validatePath, type PathValidationReason } from '../pki/validate-path.js';
import { verifyCommand, type PaymentAuthorization } from './index.js';

/** How far a device's signingTime may lie outside the command's window: the device's clock is its own. */
export const EVIDENCE_CLOCK_TOLERANCE_MS = 5 * 60_000;
/** How long after the command's end the time-stamp may be taken (A checks the command's end, then stamps). */
export const TIMESTAMP_DELAY_MS_MAX = 10_000;

/** The named checks, in the order they are reported. */
export const EVIDENCE_CHECKS = ['format', 'signature', 'signingCertificate', 'command', 'payer', 'signingTime', 'timeStamp', 'chain', 'order', 'statusNow', 'record'] as const;
/** Checks that run only when their input is given (an expected order, current CRLs, the service's records). */
const OPTIONAL_CHECKS: ReadonlySet<EvidenceCheckName> = new Set(['order', 'statusNow', 'record']);
export type EvidenceCheckName = (typeof EVIDENCE_CHECKS)[number];

export interface EvidenceReason {
  code: string;
  message: string;
}

/** One named check's outcome. `skipped` when an earlier failure made it meaningless or it was not asked for. */
export interface EvidenceCheck {
  name: EvidenceCheckName;
  outcome: 'passed' | 'failed' | 'skipped';
  /** The failure's registry codes, empty when passed. */
  codes: string[];
}

/** The signer's revocation status now, from current CRLs (informational unless it predates the time-stamp). */
export interface EvidenceStatusNow {
  checkedAt: string;
  status: 'good' | 'revoked' | 'unknown';
  /** When revoked: the revocation date, its reason code (RFC 5280 §5.3.1), and whether it came after the time-stamp. */
  revokedAt?: string;
  reasonCode?: number;
  revokedAfterTimeStamp?: boolean;
  /** Why the status is unknown. */
  detail?: string;
}

export interface EvidenceVerdict {
  valid: boolean;
  reasons: EvidenceReason[];
  checks: EvidenceCheck[];
  signer: { subject: string; serialHex: string; kind: 'master' | 'additional' | 'unknown' } | null;
  signingTime: string | null;
  /** The trusted time: the RFC 3161 token's genTime and the TSA that vouches for it. */
  timeStamp: { time: string; tsa: string; serialHex: string } | null;
  payment: {
    comId: string;
    orderNumber: string;
    amountWon: number;
    currency: string;
    payee: { storeName: string; businessNumber: string };
    payer: { loginId: string; name: string };
    items: { name: string; quantity: number; lineTotalWon: number }[];
    issuedAt: string;
  } | null;
  /** The device's ECDSA signature (r‖s) in hex, as seed 000's screens show it. */
  signatureHex: string | null;
  statusNow: EvidenceStatusNow | null;
}

export interface EvidenceVerifyOptions {
  /** The order number the evidence must be about (a verifier checking a claimed payment). */
  expectedOrderNumber?: string;
  /** Current CRLs, to report the signer's status now; `now` is then required. */
  currentCrls?: Uint8Array[];
  now?: Date;
}

/** The kind our CA wrote into a user certificate (its certificate-kind extension). */
export function certificateKindOf(certificate: ParsedCertificate): 'master' | 'additional' | 'unknown' {
  const extension = certificate.extensions.find((e) => e.oid === EXTENSION.certificateKind);
  if (!extension) return 'unknown';
  const text = new TextDecoder().decode(extension.value.subarray(2));
  return text === 'master' || text === 'additional' ? text : 'unknown';
}

/**
 * Whether a signer's certificate speaks for `userId` (the payer of a command, the seller of
 * a receipt): a master certificate must name the user; an additional one must carry the
 * approval of a master certificate in `others` that names the same user and subject.
 * Answers each problem found (`approval`: the master's approval itself fails), none when
 * the certificate speaks for the user. Shared by the payment and the receipt verifier.
 */
export async function signerOwnershipProblems(
  signerDer: Uint8Array, signer: ParsedCertificate, kind: 'master' | 'additional' | 'unknown', others: readonly Uint8Array[], userId: string,
): Promise<{ approval: boolean; message: string }[]> {
  const problems: { approval: boolean; message: string }[] = [];
  if (kind === 'additional') {
    let approved = false;
    let lastProblem = 'no master certificate in the file approved this device';
    for (const candidate of others) {
      const problem = await checkMasterApproval(signerDer, candidate);
      if (problem) {
        lastProblem = problem.message;
        continue;
      }
      const master = parseCertificate(candidate);
      if (serialNumberAttribute(master) !== userId || !namesEqual(master.subject, signer.subject)) problems.push({ approval: false, message: 'the approving master belongs to another user' });
      approved = true;
      break;
    }
    if (!approved) problems.push({ approval: true, message: lastProblem });
  } else if (kind !== 'master') {
    problems.push({ approval: false, message: 'the signer certificate is not a CoconutPay user certificate' });
  }
  return problems;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Registry codes for a path verdict: revocation data that proves nothing gets its own code (the receipt verifier shares it). */
export function chainCodes(reasons: readonly PathValidationReason[]): EvidenceReason[] {
  return reasons.map((r) => ({ code: r.message.startsWith('REVOCATION_UNKNOWN') ? 'EVIDENCE_REVOCATION_UNPROVEN' : r.code, message: r.message }));
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * Collects a verifier's named checks in report order; a check fails with one or more reasons.
 * `optional` names the checks that may stay skipped in a valid verdict (they run only when
 * their input is given). Shared by the payment-evidence and the receipt verifier.
 */
export class VerdictChecks<N extends string> {
  readonly results = new Map<N, { name: N; outcome: 'passed' | 'failed' | 'skipped'; codes: string[] }>();
  readonly reasons: EvidenceReason[] = [];

  constructor(
    private readonly order: readonly N[],
    private readonly optional: ReadonlySet<N>,
  ) {}

  fail(name: N, code: string, message: string): void {
    const entry = this.results.get(name) ?? { name, outcome: 'failed', codes: [] };
    entry.outcome = 'failed';
    if (!entry.codes.includes(code)) entry.codes.push(code);
    this.results.set(name, entry);
    this.reasons.push({ code, message: `${name}: ${message}` });
  }

  pass(name: N): void {
    if (!this.results.has(name)) this.results.set(name, { name, outcome: 'passed', codes: [] });
  }

  failed(name: N): boolean {
    return this.results.get(name)?.outcome === 'failed';
  }

  list(): { name: N; outcome: 'passed' | 'failed' | 'skipped'; codes: string[] }[] {
    return this.order.map((name) => this.results.get(name) ?? { name, outcome: 'skipped', codes: [] });
  }

  /** Valid when every check passed, or was skipped and is optional. */
  judge(list: readonly { name: N; outcome: 'passed' | 'failed' | 'skipped' }[]): boolean {
    return list.every((c) => c.outcome === 'passed' || (c.outcome === 'skipped' && this.optional.has(c.name)));
  }
}

function readAuthorization(content: Uint8Array): PaymentAuthorization | undefined {
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content)) as PaymentAuthorization;
    const c = value?.command;
    if (value?.type !== 'coconutpay-payment-authorization' || typeof value.commandJws !== 'string' || !c || typeof c !== 'object') return undefined;
    const text = (v: unknown): boolean => typeof v === 'string';
    const whole = (v: unknown): boolean => Number.isSafeInteger(v);
    // Everything the verdict shows must have its type, so that a crafted file cannot make a verdict unshowable.
    if (!whole(c.issuedAtMs) || !whole(c.expiresAtMs) || !whole(c.amountWon) || !text(c.comId) || !text(c.orderNumber) || !text(c.currency)) return undefined;
    if (!c.payer || !text(c.payer.userId) || !text(c.payer.loginId) || !text(c.payer.name)) return undefined;
    if (!c.payee || !text(c.payee.storeName) || !text(c.payee.businessNumber)) return undefined;
    if (!Array.isArray(c.items) || c.items.length > 1000 || !c.items.every((i) => i && text(i.name) && whole(i.quantity) && whole(i.lineTotalWon))) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/**
 * Verifies evidence against `trustAnchors` (our root; the root carried in the file is
 * never trusted by itself). Never throws for bad input: everything wrong becomes a
 * failed check with its code.
 *
 * @example
 * const verdict = await verifyEvidence(p7sDer, [rootDer], { currentCrls: [issuingCrl, rootCrl], now: new Date() });
 * if (!verdict.valid) console.log(verdict.checks.filter((c) => c.outcome === 'failed'));
 */
export async function verifyEvidence(der: Uint8Array, trustAnchors: Uint8Array[], options: EvidenceVerifyOptions = {}): Promise<EvidenceVerdict> {
  const checks = new VerdictChecks(EVIDENCE_CHECKS, OPTIONAL_CHECKS);
  const verdict: EvidenceVerdict = {
    valid: false, reasons: checks.reasons, checks: [], signer: null, signingTime: null, timeStamp: null, payment: null, signatureHex: null, statusNow: null,
  };
  const finish = (): EvidenceVerdict => {
    verdict.checks = checks.list();
    verdict.valid = checks.judge(verdict.checks);
    return verdict;
  };

  let parsed: ParsedSignedData;
  try {
    parsed = parseSignedData(der);
  } catch (error) {
    checks.fail('format', 'EVIDENCE_INVALID', error instanceof Error ? error.message : 'unreadable');
    return finish();
  }
  const authorization = readAuthorization(parsed.content);
  if (!authorization) {
    checks.fail('format', 'EVIDENCE_INVALID', 'the signed content is not a payment authorization');
    return finish();
  }
  checks.pass('format');
  const command = authorization.command;
  verdict.signingTime = iso(parsed.signingTimeSeconds * 1000);
  try {
    verdict.signatureHex = toHex(derToP1363(parsed.signatureDer));
  } catch {
    verdict.signatureHex = toHex(parsed.signatureDer);
  }
  verdict.payment = {
    comId: String(command.comId), orderNumber: String(command.orderNumber), amountWon: command.amountWon, currency: command.currency,
    payee: { storeName: command.payee?.storeName, businessNumber: command.payee?.businessNumber },
    payer: { loginId: command.payer.loginId, name: command.payer.name },
    items: command.items.map((i) => ({ name: i.name, quantity: i.quantity, lineTotalWon: i.lineTotalWon })),
    issuedAt: iso(command.issuedAtMs),
  };

  // signature and signingCertificate
  const signature = await checkSignedDataSignature({ ...parsed, signingCertificateHash: undefined });
  if (!signature.ok) {
    checks.fail('signature', 'SIGNATURE_INVALID', signature.reason);
    return finish();
  }
  checks.pass('signature');
  const signerDer = signature.signerCertificate;
  const signer = parseCertificate(signerDer);
  const kind = certificateKindOf(signer);
  verdict.signer = { subject: formatDistinguishedName(signer.subject), serialHex: toHex(signer.serial), kind };
  if (!parsed.signingCertificateHash) checks.fail('signingCertificate', 'EVIDENCE_SIGNING_CERTIFICATE_MISMATCH', 'the signed attributes carry no signing-certificate-v2');
  else if (toHex(parsed.signingCertificateHash) !== toHex(await sha256(signerDer))) checks.fail('signingCertificate', 'EVIDENCE_SIGNING_CERTIFICATE_MISMATCH', 'signing-certificate-v2 names another certificate');
  else checks.pass('signingCertificate');

  // command: A's signature, A's certificate valid when the command was issued.
  const commandCheck = await verifyCommand(authorization.commandJws, trustAnchors, new Date(command.issuedAtMs));
  let paymentServerCertificate: Uint8Array | undefined;
  let paymentServerIntermediates: Uint8Array[] = [];
  if (!commandCheck.ok) {
    for (const r of commandCheck.reasons) checks.fail('command', r.code === 'COMMAND_SIGNATURE_INVALID' ? r.code : 'COMMAND_SIGNATURE_INVALID', `payment command: ${r.code}: ${r.message}`);
  } else if (JSON.stringify(commandCheck.command) !== JSON.stringify(command)) {
    checks.fail('command', 'COMMAND_SIGNATURE_INVALID', 'the signed command differs from the one the payment server signed');
  } else {
    checks.pass('command');
    paymentServerCertificate = commandCheck.signerCertificate;
    paymentServerIntermediates = jwsIntermediates(authorization.commandJws);
  }

  // payer: the certificate names the command's payer; an additional certificate's master too.
  const others = parsed.certificates.filter((c) => c !== signerDer);
  const signerUser = serialNumberAttribute(signer);
  if (signerUser === undefined || signerUser !== command.payer.userId) {
    checks.fail('payer', 'EVIDENCE_SIGNER_NOT_PAYER', `the signer certificate belongs to user ${signerUser ?? '(none)'}, the command's payer is ${command.payer.userId}`);
  }
  for (const problem of await signerOwnershipProblems(signerDer, signer, kind, others, command.payer.userId)) {
    checks.fail('payer', problem.approval ? 'MASTER_APPROVAL_INVALID' : 'EVIDENCE_SIGNER_NOT_PAYER', problem.message);
  }
  checks.pass('payer');

  // timeStamp: a token over the signature value from a TSA under our root.
  const windowStartMs = command.issuedAtMs;
  const windowEndMs = command.expiresAtMs;
  let timeStampMs: number | undefined;
  let timeStampAuthority: { certificate: Uint8Array; chain: Uint8Array[] } | undefined;
  const tokens = parsed.unsignedAttributes.filter((a) => a.oid === OID_CMS.signatureTimeStampToken).flatMap((a) => a.values);
  if (tokens.length === 0) {
    checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_MISSING', 'the file carries no signature time-stamp');
  } else if (tokens.length > 1) {
    checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_INVALID', 'the file carries more than one signature time-stamp');
  } else {
    // The token's own checks at its time; the TSA's revocation status is judged with the other chains below.
    const token = await verifyTimeStampToken(tokens[0]!, {
      trustAnchors, intermediates: parsed.certificates, expectedImprint: await sha256(parsed.signatureDer), revocation: 'none',
    });
    if (!token.ok) {
      checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_INVALID', `${token.code}: ${token.message}`);
    } else {
      const genMs: number = token.genTime.getTime();
      timeStampMs = genMs;
      timeStampAuthority = { certificate: token.tsaCertificate, chain: token.chain };
      const tsa = parseCertificate(token.tsaCertificate);
      verdict.timeStamp = { time: iso(genMs), tsa: formatDistinguishedName(tsa.subject), serialHex: token.serialHex };
      const accuracyMs = Math.ceil((token.accuracySeconds ?? 0) * 1000);
      if (genMs + accuracyMs < windowStartMs || genMs - accuracyMs > windowEndMs + TIMESTAMP_DELAY_MS_MAX) {
        checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_OUTSIDE_COMMAND', `the time-stamp ${iso(genMs)} lies outside the command's window ${iso(windowStartMs)} – ${iso(windowEndMs)}`);
      }
      checks.pass('timeStamp');
    }
  }

  // signingTime: inside the command's window (device clock tolerance), and not after the time-stamp.
  const signingMs = parsed.signingTimeSeconds * 1000;
  if (signingMs < windowStartMs - EVIDENCE_CLOCK_TOLERANCE_MS || signingMs > windowEndMs + EVIDENCE_CLOCK_TOLERANCE_MS) {
    checks.fail('signingTime', 'EVIDENCE_SIGNING_TIME_OUTSIDE_COMMAND', `signingTime ${iso(signingMs)} lies outside the command's window ${iso(windowStartMs)} – ${iso(windowEndMs)} (tolerance ${EVIDENCE_CLOCK_TOLERANCE_MS / 60_000} min)`);
  } else if (timeStampMs !== undefined && signingMs > timeStampMs + EVIDENCE_CLOCK_TOLERANCE_MS) {
    checks.fail('signingTime', 'EVIDENCE_SIGNING_TIME_OUTSIDE_COMMAND', `signingTime ${iso(signingMs)} is after the time-stamp ${iso(timeStampMs)}`);
  } else {
    checks.pass('signingTime');
  }

  // chain: valid at the time-stamp's time, status at that time from the embedded CRLs.
  let signerChain: Uint8Array[] = [];
  if (timeStampMs === undefined) {
    // Without a trusted time there is no time to validate at; the device's own clock is not one.
    checks.fail('chain', 'EVIDENCE_TIMESTAMP_MISSING', 'without a valid time-stamp the chain cannot be judged at the time of payment');
  } else {
    const at = new Date(timeStampMs);
    const path = await validatePath({ trustAnchors, intermediates: others, leaf: signerDer, at, purpose: 'payment', crls: parsed.crls, revocation: 'require' });
    for (const r of chainCodes(path.reasons)) checks.fail('chain', r.code, `signer: ${r.message}`);
    if (path.valid) signerChain = path.chain;
    if (timeStampAuthority) {
      const tsa = await validatePath({
        trustAnchors, intermediates: [...timeStampAuthority.chain, ...others], leaf: timeStampAuthority.certificate, at, purpose: 'timeStamping', crls: parsed.crls, revocation: 'require',
      });
      for (const r of chainCodes(tsa.reasons)) checks.fail('chain', r.code, `time-stamp authority: ${r.message}`);
    }
    if (paymentServerCertificate) {
      const server = await validatePath({
        trustAnchors, intermediates: [...paymentServerIntermediates, ...others], leaf: paymentServerCertificate, at, purpose: 'command', crls: parsed.crls, revocation: 'require',
      });
      for (const r of chainCodes(server.reasons)) checks.fail('chain', r.code, `payment server: ${r.message}`);
    }
    checks.pass('chain');
  }

  // order: about the order the verifier expects.
  if (options.expectedOrderNumber !== undefined) {
    if (options.expectedOrderNumber !== command.orderNumber) checks.fail('order', 'EVIDENCE_ORDER_MISMATCH', `the evidence is about order ${command.orderNumber}, not ${options.expectedOrderNumber}`);
    else checks.pass('order');
  }

  // statusNow: what current CRLs say of the signer, judged against the time-stamp.
  if (options.currentCrls && options.now && signerChain.length >= 2) {
    verdict.statusNow = await statusNow(signerChain, options.currentCrls, options.now, timeStampMs);
    if (verdict.statusNow.status === 'revoked' && !verdict.statusNow.revokedAfterTimeStamp) {
      checks.fail('statusNow', 'CERTIFICATE_REVOKED', `the signer certificate was revoked at ${verdict.statusNow.revokedAt}, not after the time-stamp`);
    } else {
      checks.pass('statusNow');
    }
  }
  return finish();
}

function judge(list: readonly EvidenceCheck[]): boolean {
  return new VerdictChecks(EVIDENCE_CHECKS, OPTIONAL_CHECKS).judge(list);
}

/**
 * The verdict with one more check's outcome (the service's `record` check), its
 * validity judged again. `failure` undefined means passed.
 */
export function withEvidenceCheck(verdict: EvidenceVerdict, name: EvidenceCheckName, failure?: EvidenceReason): EvidenceVerdict {
  const checks = verdict.checks.map((c) => (c.name === name ? { name, outcome: failure ? ('failed' as const) : ('passed' as const), codes: failure ? [failure.code] : [] } : c));
  const reasons = failure ? [...verdict.reasons, { code: failure.code, message: `${name}: ${failure.message}` }] : verdict.reasons;
  return { ...verdict, checks, reasons, valid: judge(checks) };
}

/** The intermediates of a JWS `x5c` header (after the signer), or none when unreadable. */
function jwsIntermediates(jws: string): Uint8Array[] {
  try {
    const header = JSON.parse(new TextDecoder().decode(fromBase64Url(jws.split('.')[0] ?? ''))) as { x5c?: string[] };
    return (header.x5c ?? []).slice(1, 4).map((c) => Uint8Array.from(atob(c), (ch) => ch.charCodeAt(0)));
  } catch {
    return [];
  }
}

/**
 * The leaf's status now from the current CRL of its issuer (`chain` runs leaf → anchor).
 * Shared with the receipt verifier, which asks it of every certificate of a chain.
 */
export async function statusNow(chain: Uint8Array[], crls: Uint8Array[], now: Date, timeStampMs: number | undefined): Promise<EvidenceStatusNow> {
  const checkedAt = now.toISOString();
  const leaf = parseCertificate(chain[0]!);
  const issuer = parseCertificate(chain[1]!);
  const problems: string[] = [];
  let good = false;
  for (const crl of crls) {
    const answer = await crlStatusOf({ crl, certificate: leaf, signer: issuer, at: now });
    if (!answer.usable) {
      problems.push(...answer.problems);
      continue;
    }
    if (answer.revoked && answer.entry) {
      const entry = answer.entry;
      // A compromised key is untrustworthy from its invalidity date, which may predate the revocation.
      const effectiveSeconds = Math.min(entry.revokedAtSeconds, entry.invalidityDateSeconds ?? Number.POSITIVE_INFINITY);
      return {
        checkedAt, status: 'revoked', revokedAt: iso(entry.revokedAtSeconds * 1000), ...(entry.reasonCode === undefined ? {} : { reasonCode: entry.reasonCode }),
        revokedAfterTimeStamp: timeStampMs !== undefined && effectiveSeconds * 1000 > timeStampMs,
      };
    }
    if (answer.allReasons) good = true;
  }
  if (good) return { checkedAt, status: 'good' };
  return { checkedAt, status: 'unknown', detail: problems.length > 0 ? problems.join('; ') : 'no current CRL of the issuer was given' };
}
