/**
 * `coconutpay verify <file> --trust root.pem [--crl current.crl]… [--order CP-…]`:
 * checks payment evidence (CMS SignedData, DER or PEM) offline with core's verifier
 * — every named check, the chain at the time-stamp's time with the revocation data
 * the file carries — and prints a JSON verdict. `--crl` adds current CRLs (DER or
 * PEM, e.g. from /pki/crl/<issuer>.crl) to report the signer's status today (or at
 * `--status-at`, a time at which those CRLs are current);
 * `--order` asks that the evidence be about that order. Exit code 0 when valid, 1
 * when invalid; usage mistakes throw {@link UsageError} (exit code 2).
 */
import { readFileSync, statSync } from 'node:fs';
import { verifyEvidence, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { allPemBlocks, fromPem } from '@coconutpay/core/pki/pem';
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

export async function runEvidenceVerify(args: readonly string[], now: Date): Promise<{ verdict: EvidenceVerdict; exitCode: number }> {
  let file: string | undefined;
  let trustPath: string | undefined;
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
    if (arg === '--trust' || arg.startsWith('--trust=')) {
      if (trustPath !== undefined) throw new UsageError('--trust is given twice');
      [trustPath, i] = valueOf(arg, i);
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
  if (!file) throw new UsageError('give the evidence file to verify');
  if (!trustPath) throw new UsageError('--trust is required (the CoconutPay root certificate, PEM; GET /pki/ca.pem gives the chain)');
  const anchors = allPemBlocks(readLimited(trustPath, 'trust file').toString('utf8'), 'CERTIFICATE');
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
  const verdict = await verifyEvidence(der, anchors, {
    ...(currentCrls.length > 0 ? { currentCrls, now: statusAt } : {}),
    ...(orderNumber === undefined ? {} : { expectedOrderNumber: orderNumber }),
  });
  return { verdict, exitCode: verdict.valid ? 0 : 1 };
}
