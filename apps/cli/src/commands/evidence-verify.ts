/**
 * `coconutpay verify <file> --trust root.pem`: checks payment evidence (CMS
 * SignedData, DER or PEM) offline and prints a JSON verdict. Exit code 0 when
 * valid, 1 when invalid; usage mistakes throw {@link UsageError} (exit code 2).
 */
import { readFileSync, statSync } from 'node:fs';
import { verifyEvidence, type EvidenceVerdict } from '@coconutpay/core/payment/evidence';
import { allPemBlocks, fromPem } from '@coconutpay/core/pki/pem';
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

export async function runEvidenceVerify(args: readonly string[]): Promise<{ verdict: EvidenceVerdict; exitCode: number }> {
  let file: string | undefined;
  let trustPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--trust' || arg.startsWith('--trust=')) {
      if (trustPath !== undefined) throw new UsageError('--trust is given twice');
      trustPath = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (!trustPath) throw new UsageError('--trust needs a value');
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
  const verdict = await verifyEvidence(der, anchors);
  return { verdict, exitCode: verdict.valid ? 0 : 1 };
}
