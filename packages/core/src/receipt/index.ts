/**
 * Seller-signed receipts (docs/receipts.md): what a receipt says, how its content is
 * encoded for signing, the Korean business registration number's check digit, and one
 * verifier — used by the server, the public verify page and the CLI alike.
 *
 * A receipt is a CMS SignedData (the same shape as payment evidence, cms.ts) whose
 * content is the RFC 8785 canonical JSON of a {@link ReceiptContent}. The server builds
 * the content from its records; the seller's browser signs it with the seller's
 * certificate key; the server adds the chain, current CRLs and our RFC 3161 time-stamp
 * over the signature, so anyone can check it offline years later.
 *
 * The verifier's checks, in report order:
 * - `format`: a CMS SignedData of our shape holding a receipt;
 * - `signature`: the content matches its signed digest and the signer's key signed the attributes;
 * - `signingCertificate`: the signed signing-certificate-v2 attribute names exactly the signer's certificate;
 * - `signer`: the certificate belongs to the store's seller (the user id in the subject
 *   serialNumber); an additional certificate's approving master is in the file and holds;
 * - `timeStamp`: our TSA's RFC 3161 token covers the signature value;
 * - `signingTime`: the signing time is not before the sale and not after the time-stamp
 *   (with {@link RECEIPT_CLOCK_TOLERANCE_MS}, the browser's clock being its own);
 * - `chain`: the signer's chain (for the `receipt` purpose) and the TSA's are valid at the
 *   time-stamp's time, the status then proven by the CRLs the file carries;
 * - `statusNow` (when current CRLs are given): a revocation after the time-stamp is shown,
 *   not held against the receipt; one at or before it is;
 * - `record` (the service only, {@link withReceiptCheck}): this very signature is the
 *   receipt we stored under that number.
 */
import { canonicalJsonBytes } from '../encoding/canonical-json.js';
import { toHex } from '../encoding/index.js';
import { certificateKindOf, chainCodes, signerOwnershipProblems, VerdictChecks, statusNow, type EvidenceReason, type EvidenceStatusNow } from '../payment/evidence.js';
import { assembleSignedData, checkSignedDataSignature, OID_CMS, parseSignedData, signedAttributes, type ParsedSignedData } from '../pki/cms.js';
import { serialNumberAttribute } from '../pki/master-approval.js';
import { parseCertificate } from '../pki/path-certificate.js';
import { formatDistinguishedName } from '../pki/path-names.js';
import { derToP1363, p1363ToDer } from '../pki/signature.js';
import { verifyTimeStampToken } from '../pki/time-stamp.js';
import { validatePath } from '../pki/validate-path.js';

/** The content type a receipt's JSON names. */
export const RECEIPT_TYPE = 'coconutpay-receipt';
/** How far the signing time may lie before the sale or after the time-stamp: the browser's clock is its own. */
export const RECEIPT_CLOCK_TOLERANCE_MS = 5 * 60_000;
/** Most lines a receipt may hold (an order holds far fewer). */
export const RECEIPT_LINES_MAX = 200;
/** A receipt number: the order number and the receipt's sequence within the order (`-R1`, `-R2` after a re-issue). */
export const RECEIPT_NUMBER_PATTERN = /^CP-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{6}-R[1-9][0-9]{0,2}$/;

/** One line of a receipt: item, unit price, quantity, amount (integer won). */
export interface ReceiptLine {
  name: string;
  unitPriceWon: number;
  quantity: number;
  amountWon: number;
}

/** The store block printed at the top of a receipt. */
export interface ReceiptStore {
  /** The seller's user id: the signer certificate's subject serialNumber must name it. */
  sellerId: string;
  storeName: string;
  businessNumber: string;
  address: string;
  representative: string;
  phone: string;
}

/** What a seller signs. Built by the server from its records only. */
export interface ReceiptContent {
  v: 1;
  type: typeof RECEIPT_TYPE;
  receiptNumber: string;
  /** The receipt number this one replaces (a re-issue after a correction), or null. */
  replaces: string | null;
  orderNumber: string;
  /** When the order was paid (ms since the epoch). */
  soldAtMs: number;
  store: ReceiptStore;
  lines: ReceiptLine[];
  totalWon: number;
  currency: 'KRW';
  /** SHA-256 (hex) of the buyer's payment evidence file (DER CMS) this receipt answers. */
  paymentEvidenceSha256: string;
}

/** The exact bytes a seller signs: RFC 8785 canonical JSON of the content. */
export function receiptContentBytes(content: ReceiptContent): Uint8Array<ArrayBuffer> {
  return canonicalJsonBytes(content);
}

/** The receipt number of the `sequence`-th receipt of an order (1 for the first). */
export function receiptNumberOf(orderNumber: string, sequence: number): string {
  if (!Number.isInteger(sequence) || sequence < 1 || sequence > 999) throw new RangeError('a receipt sequence is 1 to 999');
  return `${orderNumber}-R${sequence}`;
}

/**
 * Whether a Korean business registration number (사업자등록번호, `123-45-67890` or ten
 * digits) has a valid check digit: the first nine digits weighted 1 3 7 1 3 7 1 3 5,
 * plus the tens of the ninth digit times five; the tenth digit makes the sum a multiple of ten.
 *
 * @example
 * businessNumberValid('220-81-62517') // true
 * businessNumberValid('220-81-62518') // false
 */
export function businessNumberValid(value: string): boolean {
  if (!/^[0-9]{3}-?[0-9]{2}-?[0-9]{5}$/.test(value)) return false;
  const digits = value.replace(/-/g, '').split('').map(Number);
  const weights = [1, 3, 7, 1, 3, 7, 1, 3, 5];
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += digits[i]! * weights[i]!;
  sum += Math.floor((digits[8]! * 5) / 10);
  return (10 - (sum % 10)) % 10 === digits[9];
}

/**
 * Whether a Korean telephone number is plausible: an area or mobile prefix starting
 * with 0, then two groups, separated by hyphens or not (`02-123-4567`, `010-1234-5678`,
 * `051-700-1234`, `1588-1234` for a nationwide number).
 */
export function storePhoneValid(value: string): boolean {
  return /^0[0-9]{1,2}-?[0-9]{3,4}-?[0-9]{4}$/.test(value) || /^1[5-9][0-9]{2}-?[0-9]{4}$/.test(value);
}

/** Reads a receipt's content, or undefined when it is anything else (every field typed, lines adding up). */
export function readReceiptContent(bytes: Uint8Array): ReceiptContent | undefined {
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ReceiptContent;
    const text = (v: unknown, max = 200): boolean => typeof v === 'string' && v.length <= max;
    const whole = (v: unknown): v is number => Number.isSafeInteger(v);
    if (!value || typeof value !== 'object' || value.v !== 1 || value.type !== RECEIPT_TYPE) return undefined;
    if (!text(value.receiptNumber) || !RECEIPT_NUMBER_PATTERN.test(value.receiptNumber)) return undefined;
    if (value.replaces !== null && !(text(value.replaces) && RECEIPT_NUMBER_PATTERN.test(value.replaces))) return undefined;
    if (!text(value.orderNumber) || !whole(value.soldAtMs) || value.currency !== 'KRW' || !whole(value.totalWon)) return undefined;
    if (!text(value.paymentEvidenceSha256) || !/^[0-9a-f]{64}$/.test(value.paymentEvidenceSha256)) return undefined;
    const s = value.store;
    if (!s || !text(s.sellerId) || !text(s.storeName) || !text(s.businessNumber) || !text(s.address) || !text(s.representative) || !text(s.phone)) return undefined;
    if (!Array.isArray(value.lines) || value.lines.length === 0 || value.lines.length > RECEIPT_LINES_MAX) return undefined;
    let sum = 0;
    for (const line of value.lines) {
      if (!line || !text(line.name) || !whole(line.unitPriceWon) || !whole(line.quantity) || !whole(line.amountWon)) return undefined;
      if (line.quantity < 1 || line.unitPriceWon < 0 || line.amountWon !== line.unitPriceWon * line.quantity) return undefined;
      sum += line.amountWon;
    }
    // A receipt whose lines do not add up to its total says two things at once.
    if (sum !== value.totalWon) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/**
 * Signs receipt content where the key is (the seller's browser): CMS SignedData with
 * contentType, signingTime, messageDigest and signing-certificate-v2, the content
 * encapsulated and the signer's certificate carried. The server adds the rest of the
 * chain, the CRLs and the time-stamp. `signingTime` is the caller's clock (core reads none).
 */
export async function signReceiptContent(contentBytes: Uint8Array, signingTime: Date, certificateDer: Uint8Array, privateKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  const attributes = await signedAttributes(contentBytes, signingTime, certificateDer);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, attributes));
  return assembleSignedData({ content: contentBytes, signedAttributesDer: attributes, signatureDer: p1363ToDer(signature), signerCertificate: certificateDer, otherCertificates: [] });
}

/** The named checks, in report order. */
export const RECEIPT_CHECKS = ['format', 'signature', 'signingCertificate', 'signer', 'timeStamp', 'signingTime', 'chain', 'statusNow', 'record'] as const;
export type ReceiptCheckName = (typeof RECEIPT_CHECKS)[number];
/** Checks that run only when their input is given (current CRLs, the service's records). */
const OPTIONAL_CHECKS: ReadonlySet<ReceiptCheckName> = new Set(['statusNow', 'record']);

export interface ReceiptCheck {
  name: ReceiptCheckName;
  outcome: 'passed' | 'failed' | 'skipped';
  codes: string[];
}

/** One certificate of the signer's chain, with its status when signed and now. */
export interface ReceiptChainEntry {
  subject: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
  /** `trusted` for the trust anchor itself; `good` when the embedded CRLs proved it unrevoked at the time-stamp. */
  statusAtSigning: 'good' | 'trusted' | 'unproven';
  /** From the current CRLs; `not-checked` when none were given. */
  statusNow: 'good' | 'revoked' | 'unknown' | 'trusted' | 'not-checked';
  revokedAt?: string;
}

export interface ReceiptVerdict {
  valid: boolean;
  reasons: EvidenceReason[];
  checks: ReceiptCheck[];
  signer: { subject: string; serialHex: string; userId: string | null; kind: 'master' | 'additional' | 'unknown' } | null;
  signingTime: string | null;
  timeStamp: { time: string; tsa: string; serialHex: string } | null;
  receipt: ReceiptContent | null;
  /** The seller's ECDSA signature (r‖s) in hex: the "receipt signature value". */
  signatureHex: string | null;
  /** The signer's chain, leaf first, with each certificate's status at signing and now. */
  chain: ReceiptChainEntry[];
  statusNow: EvidenceStatusNow | null;
}

export interface ReceiptVerifyOptions {
  /** Current CRLs, to report the status now; `now` is then required. */
  currentCrls?: Uint8Array[];
  now?: Date;
}

function judge(list: readonly ReceiptCheck[]): boolean {
  return new VerdictChecks(RECEIPT_CHECKS, OPTIONAL_CHECKS).judge(list);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * Verifies a receipt file against `trustAnchors` (our root; a root carried in the file
 * is never trusted by itself). Never throws for bad input: everything wrong is a failed
 * check with its registry code.
 *
 * @example
 * const verdict = await verifyReceipt(p7sDer, [rootDer], { currentCrls, now: new Date() });
 * if (verdict.valid) console.log(verdict.receipt?.totalWon, verdict.signatureHex);
 */
export async function verifyReceipt(der: Uint8Array, trustAnchors: Uint8Array[], options: ReceiptVerifyOptions = {}): Promise<ReceiptVerdict> {
  const checks = new VerdictChecks(RECEIPT_CHECKS, OPTIONAL_CHECKS);
  const verdict: ReceiptVerdict = {
    valid: false, reasons: checks.reasons, checks: [], signer: null, signingTime: null, timeStamp: null, receipt: null, signatureHex: null, chain: [], statusNow: null,
  };
  const finish = (): ReceiptVerdict => {
    verdict.checks = checks.list();
    verdict.valid = checks.judge(verdict.checks);
    return verdict;
  };

  let parsed: ParsedSignedData;
  try {
    parsed = parseSignedData(der);
  } catch (error) {
    checks.fail('format', 'RECEIPT_INVALID', error instanceof Error ? error.message : 'unreadable');
    return finish();
  }
  const receipt = readReceiptContent(parsed.content);
  if (!receipt) {
    checks.fail('format', 'RECEIPT_INVALID', 'the signed content is not a CoconutPay receipt');
    return finish();
  }
  checks.pass('format');
  verdict.receipt = receipt;
  verdict.signingTime = iso(parsed.signingTimeSeconds * 1000);
  try {
    verdict.signatureHex = toHex(derToP1363(parsed.signatureDer));
  } catch {
    verdict.signatureHex = toHex(parsed.signatureDer);
  }

  const signature = await checkSignedDataSignature({ ...parsed, signingCertificateHash: undefined });
  if (!signature.ok) {
    checks.fail('signature', 'SIGNATURE_INVALID', signature.reason);
    return finish();
  }
  checks.pass('signature');
  const signerDer = signature.signerCertificate;
  const signer = parseCertificate(signerDer);
  const kind = certificateKindOf(signer);
  const signerUser = serialNumberAttribute(signer) ?? null;
  verdict.signer = { subject: formatDistinguishedName(signer.subject), serialHex: toHex(signer.serial), userId: signerUser, kind };
  if (!parsed.signingCertificateHash) checks.fail('signingCertificate', 'EVIDENCE_SIGNING_CERTIFICATE_MISMATCH', 'the signed attributes carry no signing-certificate-v2');
  else if (toHex(parsed.signingCertificateHash) !== toHex(await sha256(signerDer))) checks.fail('signingCertificate', 'EVIDENCE_SIGNING_CERTIFICATE_MISMATCH', 'signing-certificate-v2 names another certificate');
  else checks.pass('signingCertificate');

  // signer: the store's seller, and for a device certificate its master's approval.
  const others = parsed.certificates.filter((c) => c !== signerDer);
  if (signerUser !== receipt.store.sellerId) {
    checks.fail('signer', 'RECEIPT_SIGNER_NOT_SELLER', `the signer certificate belongs to user ${signerUser ?? '(none)'}, the store's seller is ${receipt.store.sellerId}`);
  }
  for (const problem of await signerOwnershipProblems(signerDer, signer, kind, others, receipt.store.sellerId)) {
    checks.fail('signer', problem.approval ? 'MASTER_APPROVAL_INVALID' : 'RECEIPT_SIGNER_NOT_SELLER', problem.message);
  }
  checks.pass('signer');

  // timeStamp: our TSA's token over the signature value.
  let timeStampMs: number | undefined;
  let timeStampAuthority: { certificate: Uint8Array; chain: Uint8Array[] } | undefined;
  const tokens = parsed.unsignedAttributes.filter((a) => a.oid === OID_CMS.signatureTimeStampToken).flatMap((a) => a.values);
  if (tokens.length === 0) {
    checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_MISSING', 'the file carries no signature time-stamp');
  } else if (tokens.length > 1) {
    checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_INVALID', 'the file carries more than one signature time-stamp');
  } else {
    const token = await verifyTimeStampToken(tokens[0]!, {
      trustAnchors, intermediates: parsed.certificates, expectedImprint: await sha256(parsed.signatureDer), revocation: 'none',
    });
    if (!token.ok) {
      checks.fail('timeStamp', 'EVIDENCE_TIMESTAMP_INVALID', `${token.code}: ${token.message}`);
    } else {
      timeStampMs = token.genTime.getTime();
      timeStampAuthority = { certificate: token.tsaCertificate, chain: token.chain };
      verdict.timeStamp = { time: iso(timeStampMs), tsa: formatDistinguishedName(parseCertificate(token.tsaCertificate).subject), serialHex: token.serialHex };
      checks.pass('timeStamp');
    }
  }

  // signingTime: after the sale, and not after the time-stamp.
  const signingMs = parsed.signingTimeSeconds * 1000;
  if (signingMs < receipt.soldAtMs - RECEIPT_CLOCK_TOLERANCE_MS) {
    checks.fail('signingTime', 'RECEIPT_SIGNING_TIME_INVALID', `signingTime ${iso(signingMs)} is before the sale at ${iso(receipt.soldAtMs)}`);
  } else if (timeStampMs !== undefined && signingMs > timeStampMs + RECEIPT_CLOCK_TOLERANCE_MS) {
    checks.fail('signingTime', 'RECEIPT_SIGNING_TIME_INVALID', `signingTime ${iso(signingMs)} is after the time-stamp ${iso(timeStampMs)}`);
  } else {
    checks.pass('signingTime');
  }

  // chain: valid for receipts at the time-stamp's time, the status then from the embedded CRLs.
  let signerChain: Uint8Array[] = [];
  let chainValid = false;
  if (timeStampMs === undefined) {
    checks.fail('chain', 'EVIDENCE_TIMESTAMP_MISSING', 'without a valid time-stamp the chain cannot be judged at the time of signing');
  } else {
    const at = new Date(timeStampMs);
    const path = await validatePath({ trustAnchors, intermediates: others, leaf: signerDer, at, purpose: 'receipt', crls: parsed.crls, revocation: 'require' });
    for (const r of chainCodes(path.reasons)) checks.fail('chain', r.code, `signer: ${r.message}`);
    signerChain = path.chain;
    chainValid = path.valid;
    if (timeStampAuthority) {
      const tsa = await validatePath({
        trustAnchors, intermediates: [...timeStampAuthority.chain, ...others], leaf: timeStampAuthority.certificate, at, purpose: 'timeStamping', crls: parsed.crls, revocation: 'require',
      });
      for (const r of chainCodes(tsa.reasons)) checks.fail('chain', r.code, `time-stamp authority: ${r.message}`);
    }
    checks.pass('chain');
  }

  // statusNow: what current CRLs say of each certificate below the anchor.
  const now = options.currentCrls && options.now ? { crls: options.currentCrls, at: options.now } : undefined;
  const chainStatuses: (EvidenceStatusNow | undefined)[] = [];
  if (now && signerChain.length >= 2) {
    for (let i = 0; i + 1 < signerChain.length; i++) chainStatuses.push(await statusNow(signerChain.slice(i), now.crls, now.at, timeStampMs));
    verdict.statusNow = chainStatuses[0]!;
    const revokedEarly = chainStatuses.find((s) => s && s.status === 'revoked' && !s.revokedAfterTimeStamp);
    if (revokedEarly) checks.fail('statusNow', 'CERTIFICATE_REVOKED', `a certificate of the chain was revoked at ${revokedEarly.revokedAt}, not after the time-stamp`);
    else checks.pass('statusNow');
  }
  verdict.chain = signerChain.map((certificateDer, i) => {
    const c = parseCertificate(certificateDer);
    const anchor = i === signerChain.length - 1 && chainValid;
    const current = chainStatuses[i];
    return {
      subject: formatDistinguishedName(c.subject), serialHex: toHex(c.serial),
      notBefore: iso(c.notBeforeSeconds * 1000), notAfter: iso(c.notAfterSeconds * 1000),
      statusAtSigning: anchor ? 'trusted' : chainValid ? 'good' : 'unproven',
      statusNow: anchor ? 'trusted' : current ? current.status : 'not-checked',
      ...(current?.revokedAt ? { revokedAt: current.revokedAt } : {}),
    };
  });
  return finish();
}

/** The verdict with the outcome of one more check (the service's `record`), judged again. */
export function withReceiptCheck(verdict: ReceiptVerdict, name: ReceiptCheckName, failure?: EvidenceReason): ReceiptVerdict {
  const checks = verdict.checks.map((c) => (c.name === name ? { name, outcome: failure ? ('failed' as const) : ('passed' as const), codes: failure ? [failure.code] : [] } : c));
  const reasons = failure ? [...verdict.reasons, { code: failure.code, message: `${name}: ${failure.message}` }] : verdict.reasons;
  return { ...verdict, checks, reasons, valid: judge(checks) };
}
