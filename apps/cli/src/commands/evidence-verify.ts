/**
 * `coconutpay verify <file> --trust root.pem [--crl current.crl]… [--order CP-…]`:
 * checks payment evidence or a seller-signed receipt (CMS SignedData, DER or PEM;
 * which one is read from the signed content) offline with core's verifier
 * — every named check, the chain at the time-stamp's time with the revocation data
 * the file carries — and prints a JSON verdict. `--crl` adds current CRLs (DER or
 * PEM, e.g. from /pki/crl/<issuer>.crl) to report the signer's status today (or at
 * `--status-at`, a time at which those CRLs are current);
 * `--order` asks that the evidence be about that order. `--ca` is another name for
 * `--trust`. `--online URL` also asks that CoconutPay server (its public verify
 * endpoint) for the live status and its records, and reports its answer beside the
 * offline verdict; without `--ca` it then takes the root from `URL/pki/root.pem`, which
 * the output says. Exit code 0 when valid, 1 when invalid (with `--online`: when either
 * verdict is invalid); usage mistakes throw {@link UsageError} (exit code 2).
 */
import { readFileSync, statSync } from 'node:fs';
import { verifyEvidence, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { parseSignedData } from '@coconutpay/core/pki/cms';
import { allPemBlocks, fromPem } from '@coconutpay/core/pki/pem';
import { readReceiptContent, verifyReceipt, type ReceiptVerdict } from '@coconutpay/core/receipt';
import { pemCrlsOrDer } from './cert-verify.js';
import { UsageError } from '../usage-error.js';
import { INPUT_FILE_BYTES_MAX } from './cert-verify.js';

function readLimited(path: string, what: string): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new UsageError(`cannot read ${what} ${JSON.stringify(path)}`);
  }
  if (size > INPUT_FILE_BYTES_MAX) throw new UsageError(`${what} is larger than ${INPUT_FILE_BYTES_MAX} bytes`);
  return readFileSync(path);
}

/** Most `--crl` files accepted. */
const CRL_FILES_MAX = 16;

/** How long `--online` waits for the server. */
export const ONLINE_TIMEOUT_MS = 15_000;

/** What the server said, beside the offline verdict. */
export interface OnlineAnswer {
  url: string;
  valid: boolean;
  verdict: unknown;
}

/** The JSON the command prints: the offline verdict, what kind of file, and the server's answer with `--online`. */
export type VerifyOutput = (EvidenceVerdict | ReceiptVerdict) & { kind: 'payment-evidence' | 'receipt'; trustAnchorFrom: string; online?: OnlineAnswer };

/** Whether a CMS file holds a receipt (rather than a payment authorization): its content says so. */
function holdsReceipt(der: Uint8Array): boolean {
  try {
    return readReceiptContent(parseSignedData(der).content) !== undefined;
  } catch {
    return false;
  }
}

async function fetchText(url: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(ONLINE_TIMEOUT_MS) });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    throw new UsageError(`cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export async function runEvidenceVerify(args: readonly string[], now: Date): Promise<{ verdict: VerifyOutput; exitCode: number }> {
  let file: string | undefined;
  let trustPath: string | undefined;
  let onlineUrl: string | undefined;
  let orderNumber: string | undefined;
  let statusAt = now;
  const crlPaths: string[] = [];
  const valueOf = (arg: string, i: number): [string, number] => {
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
    if (!value) throw new UsageError(`${arg.split('=')[0]} needs a value`);
    return [value, arg.includes('=') ? i : i + 1];
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--trust' || arg.startsWith('--trust=') || arg === '--ca' || arg.startsWith('--ca=')) {
      if (trustPath !== undefined) throw new UsageError('--trust (or --ca) is given twice');
      [trustPath, i] = valueOf(arg, i);
    } else if (arg === '--online' || arg.startsWith('--online=')) {
      if (onlineUrl !== undefined) throw new UsageError('--online is given twice');
      [onlineUrl, i] = valueOf(arg, i);
      if (!/^https?:\/\/[^\s/]+/.test(onlineUrl)) throw new UsageError('--online needs the server URL, e.g. https://pay.example');
      onlineUrl = onlineUrl.replace(/\/+$/, '');
    } else if (arg === '--crl' || arg.startsWith('--crl=')) {
      let value: string;
      [value, i] = valueOf(arg, i);
      if (crlPaths.length >= CRL_FILES_MAX) throw new UsageError(`at most ${CRL_FILES_MAX} --crl files`);
      crlPaths.push(value);
    } else if (arg === '--status-at' || arg.startsWith('--status-at=')) {
      let value: string;
      [value, i] = valueOf(arg, i);
      statusAt = new Date(value);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || !Number.isFinite(statusAt.getTime())) throw new UsageError('--status-at needs an ISO 8601 time, e.g. 2030-01-01T00:00:00Z');
    } else if (arg === '--order' || arg.startsWith('--order=')) {
      if (orderNumber !== undefined) throw new UsageError('--order is given twice');
      [orderNumber, i] = valueOf(arg, i);
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      if (file !== undefined) throw new UsageError('give one evidence file');
      file = arg;
    }
  }
  if (!file) throw new UsageError('give the evidence or receipt file to verify');
  if (!trustPath && !onlineUrl) throw new UsageError('--trust (or --ca) is required (the CoconutPay root certificate, PEM; GET /pki/root.pem gives it), unless --online names the server');
  let trustText: string;
  let trustAnchorFrom: string;
  if (trustPath) {
    trustText = readLimited(trustPath, 'trust file').toString('utf8');
    trustAnchorFrom = trustPath;
  } else {
    const root = await fetchText(`${onlineUrl}/pki/root.pem`);
    if (root.status !== 200) throw new UsageError(`${onlineUrl}/pki/root.pem answered ${root.status}`);
    trustText = root.text;
    trustAnchorFrom = `${onlineUrl}/pki/root.pem`;
  }
  const anchors = allPemBlocks(trustText, 'CERTIFICATE');
  if (anchors.length === 0) throw new UsageError('the trust file holds no PEM certificate');
  const raw = readLimited(file, 'evidence file');
  const text = raw.toString('latin1');
  let der: Uint8Array = new Uint8Array(raw);
  if (text.includes('-----BEGIN')) {
    try {
      der = fromPem(text, text.includes('BEGIN PKCS7') ? 'PKCS7' : 'CMS');
    } catch {
      throw new UsageError('the evidence file is PEM but not a CMS or PKCS7 block');
    }
  }
  const currentCrls = crlPaths.flatMap((p) => pemCrlsOrDer(readLimited(p, 'CRL file')));
  const statusOptions = currentCrls.length > 0 ? { currentCrls, now: statusAt } : {};
  const receipt = holdsReceipt(der);
  if (receipt && orderNumber !== undefined) throw new UsageError('--order applies to payment evidence, not to a receipt (the receipt names its order)');
  const offline = receipt
    ? await verifyReceipt(der, anchors, statusOptions)
    : await verifyEvidence(der, anchors, { ...statusOptions, ...(orderNumber === undefined ? {} : { expectedOrderNumber: orderNumber }) });
  const verdict: VerifyOutput = { kind: receipt ? 'receipt' : 'payment-evidence', trustAnchorFrom, ...offline };
  if (onlineUrl) {
    const url = `${onlineUrl}${receipt ? '/api/receipts/verify' : '/api/evidence/verify'}`;
    const answer = await fetchText(url, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cmsBase64: Buffer.from(der).toString('base64'), ...(!receipt && orderNumber !== undefined ? { expectedOrderNumber: orderNumber } : {}) }),
    });
    let online: unknown;
    try {
      online = JSON.parse(answer.text);
    } catch {
      throw new UsageError(`${url} answered ${answer.status} with no JSON`);
    }
    verdict.online = { url, valid: answer.status === 200 && (online as { valid?: unknown }).valid === true, verdict: online };
  }
  return { verdict, exitCode: verdict.valid && (verdict.online?.valid ?? true) ? 0 : 1 };
}
