/**
 * `coconutpay cert verify`: validates a certificate path from files and prints a
 * JSON verdict. Exit code 0 when valid, 1 when invalid; usage mistakes throw
 * {@link UsageError} (exit code 2).
 */
import { readFileSync } from 'node:fs';
import { allPemBlocks } from '@coconutpay/core/pki/pem';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { formatDistinguishedName } from '@coconutpay/core/pki/path-names';
import { validatePath, type PathValidationReason, type Purpose } from '@coconutpay/core/pki/validate-path';
import { UsageError } from '../usage-error.js';

/** Purposes `--purpose` accepts. */
export const PURPOSES: readonly Purpose[] = ['payment', 'receipt', 'issuing', 'deviceApproval', 'ocsp', 'timeStamping', 'serverAuth', 'clientAuth', 'any'];

/** Largest input file read. */
export const INPUT_FILE_BYTES_MAX = 4 * 1024 * 1024;

/** One certificate of the chain as printed. */
export interface ChainEntry {
  subject: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
}

/** The printed verdict. */
export interface CertVerifyVerdict {
  valid: boolean;
  purpose: Purpose;
  at: string;
  chain: ChainEntry[];
  reasons: PathValidationReason[];
}

interface CertVerifyOptions {
  trustPath: string;
  chainPath: string;
  crlPaths: string[];
  at: Date;
  purpose: Purpose;
}

function parseArgs(args: readonly string[], now: Date): CertVerifyOptions {
  let trustPath: string | undefined;
  let chainPath: string | undefined;
  const crlPaths: string[] = [];
  let at = now;
  let purpose: Purpose = 'payment';
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] as string;
    const [name, inline] = flag.startsWith('--') && flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = (): string => {
      const next = inline ?? args[++i];
      if (next === undefined || next === '') throw new UsageError(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case '--trust':
        if (trustPath !== undefined) throw new UsageError('--trust is given twice');
        trustPath = value();
        break;
      case '--chain':
        if (chainPath !== undefined) throw new UsageError('--chain is given twice');
        chainPath = value();
        break;
      case '--crl':
        crlPaths.push(value());
        break;
      case '--at': {
        const text = value();
        if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text) || Number.isNaN(Date.parse(text))) {
          throw new UsageError(`--at must be an ISO 8601 time such as 2025-01-31T12:00:00Z (got ${JSON.stringify(text)})`);
        }
        at = new Date(text);
        break;
      }
      case '--purpose': {
        const text = value();
        if (!(PURPOSES as readonly string[]).includes(text)) throw new UsageError(`--purpose must be one of ${PURPOSES.join(', ')} (got ${JSON.stringify(text)})`);
        purpose = text as Purpose;
        break;
      }
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(flag)}; see coconutpay --help`);
    }
  }
  if (trustPath === undefined) throw new UsageError('--trust is required');
  if (chainPath === undefined) throw new UsageError('--chain is required');
  return { trustPath, chainPath, crlPaths, at, purpose };
}

function readInput(path: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (bytes.length > INPUT_FILE_BYTES_MAX) throw new UsageError(`${what} ${path} is too large`);
  return bytes;
}

function isPem(bytes: Uint8Array): boolean {
  return new TextDecoder().decode(bytes.subarray(0, 4096)).includes('-----BEGIN ');
}

function pemBlocks(bytes: Uint8Array, label: string, what: string, path: string): Uint8Array[] {
  let blocks: Uint8Array[];
  try {
    blocks = allPemBlocks(new TextDecoder().decode(bytes), label);
  } catch (error) {
    throw new UsageError(`${what} ${path} is not readable PEM: ${(error as Error).message}`);
  }
  if (blocks.length === 0) throw new UsageError(`${what} ${path} holds no "${label}" PEM block`);
  return blocks;
}

/** The CRLs of a file: every "X509 CRL" PEM block, or the file itself when it is DER. */
export function pemCrlsOrDer(bytes: Uint8Array, path = 'CRL file'): Uint8Array[] {
  return isPem(bytes) ? pemBlocks(bytes, 'X509 CRL', '--crl file', path) : [bytes];
}

function describeChain(chain: readonly Uint8Array[]): ChainEntry[] {
  return chain.map((der) => {
    const certificate = parseCertificate(der);
    return {
      subject: formatDistinguishedName(certificate.subject),
      serialHex: certificate.serialHex,
      notBefore: new Date(certificate.notBeforeSeconds * 1000).toISOString(),
      notAfter: new Date(certificate.notAfterSeconds * 1000).toISOString(),
    };
  });
}

/**
 * Runs `cert verify` with its arguments (after `cert verify`). Returns the
 * verdict and the exit code; throws {@link UsageError} for bad arguments or files.
 *
 * @example
 * const { verdict, exitCode } = await runCertVerify(['--trust', 'ca.pem', '--chain', 'chain.pem'], new Date());
 */
export async function runCertVerify(args: readonly string[], now: Date): Promise<{ verdict: CertVerifyVerdict; exitCode: number }> {
  const options = parseArgs(args, now);
  const trustAnchors = pemBlocks(readInput(options.trustPath, '--trust file'), 'CERTIFICATE', '--trust file', options.trustPath);
  const [leaf, ...intermediates] = pemBlocks(readInput(options.chainPath, '--chain file'), 'CERTIFICATE', '--chain file', options.chainPath);
  if (!leaf) throw new UsageError('--chain holds no certificate');
  const crls = options.crlPaths.flatMap((path) => {
    const bytes = readInput(path, '--crl file');
    return pemCrlsOrDer(bytes, path);
  });
  const result = await validatePath({ trustAnchors, intermediates, leaf, at: options.at, purpose: options.purpose, crls });
  const verdict: CertVerifyVerdict = {
    valid: result.valid,
    purpose: options.purpose,
    at: options.at.toISOString(),
    chain: describeChain(result.chain),
    reasons: result.reasons,
  };
  return { verdict, exitCode: result.valid ? 0 : 1 };
}
