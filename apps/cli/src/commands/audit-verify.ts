/**
 * `coconutpay audit verify (--export FILE | --online URL) [--ca root.pem] [--token-file F]`:
 * recomputes the audit log's hash chain, checks every signed head against it and, with a
 * trust anchor, each head's signature to our root (core's `verifyAuditChain`), and prints
 * a JSON verdict naming the first bad entry by sequence number.
 *
 * `--export` reads a JSON-lines export (the console's, or one saved from the endpoint).
 * `--online` pages through `URL/admin/api/audit/export` with the audit export token (from
 * `--token-file` or the COCONUTPAY_AUDIT_TOKEN environment variable); without `--ca` it takes
 * the root from `URL/pki/root.pem`, which the output says. Offline without `--ca`, the heads
 * are compared with the chain but their signatures are not trusted (`headSignaturesChecked:
 * false`). Exit code 0 valid, 1 invalid; usage mistakes throw {@link UsageError} (2).
 */
import { readFileSync, statSync } from 'node:fs';
import { parseAuditExport, verifyAuditChain, type AuditEntry, type AuditHead, type AuditVerdict } from '@coconutpay/core/audit';
import { allPemBlocks } from '@coconutpay/core/pki/pem';
import { UsageError } from '../usage-error.js';
import { INPUT_FILE_BYTES_MAX } from './cert-verify.js';

/** Largest export file read. */
export const AUDIT_EXPORT_BYTES_MAX = 256 * 1024 * 1024;

/** Entries asked for per page of the online export (the server's most is larger). */
const PAGE_ENTRIES = 2_000;

/** Most pages read online: a bound on a server that never ends its log. */
const PAGES_MAX = 10_000;

/** How long one online request may take. */
const ONLINE_TIMEOUT_MS = 15_000;

export type AuditVerifyOutput = AuditVerdict & { source: string; trustAnchorFrom: string | null };

function readLimited(path: string, what: string, bytesMax: number): Buffer {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new UsageError(`cannot read ${what} ${JSON.stringify(path)}`);
  }
  if (size > bytesMax) throw new UsageError(`${what} is larger than ${bytesMax} bytes`);
  return readFileSync(path);
}

async function fetchText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(ONLINE_TIMEOUT_MS) });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    throw new UsageError(`cannot reach ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parse(text: string, where: string): { entries: AuditEntry[]; heads: AuditHead[] } {
  try {
    return parseAuditExport(text);
  } catch (error) {
    throw new UsageError(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Reads the whole log from the server, page after page, until an empty page. */
async function fetchLog(baseUrl: string, token: string): Promise<{ entries: AuditEntry[]; heads: AuditHead[] }> {
  const entries: AuditEntry[] = [];
  const heads: AuditHead[] = [];
  let after = 0;
  for (let page = 0; page < PAGES_MAX; page++) {
    const url = `${baseUrl}/admin/api/audit/export?after=${after}&limit=${PAGE_ENTRIES}`;
    const answer = await fetchText(url, { authorization: `Bearer ${token}` });
    if (answer.status !== 200) throw new UsageError(`${url} answered ${answer.status}${answer.status === 401 ? ' (is the audit export token right?)' : ''}`);
    const part = parse(answer.text, url);
    if (part.entries.length === 0) return { entries, heads };
    entries.push(...part.entries);
    heads.push(...part.heads);
    after = part.entries.at(-1)!.sequence;
  }
  throw new UsageError(`the log did not end within ${PAGES_MAX} pages`);
}

export async function runAuditVerify(args: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<{ verdict: AuditVerifyOutput; exitCode: number }> {
  let exportPath: string | undefined;
  let onlineUrl: string | undefined;
  let caPath: string | undefined;
  let tokenPath: string | undefined;
  const valueOf = (arg: string, i: number): [string, number] => {
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[i + 1];
    if (!value) throw new UsageError(`${arg.split('=')[0]} needs a value`);
    return [value, arg.includes('=') ? i : i + 1];
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.split('=')[0];
    if (name === '--export') {
      if (exportPath !== undefined) throw new UsageError('--export is given twice');
      [exportPath, i] = valueOf(arg, i);
    } else if (name === '--online') {
      if (onlineUrl !== undefined) throw new UsageError('--online is given twice');
      [onlineUrl, i] = valueOf(arg, i);
      if (!/^https?:\/\/[^\s/]+/.test(onlineUrl)) throw new UsageError('--online needs the server URL, e.g. https://pay.example');
      onlineUrl = onlineUrl.replace(/\/+$/, '');
    } else if (name === '--ca' || name === '--trust') {
      if (caPath !== undefined) throw new UsageError('--ca is given twice');
      [caPath, i] = valueOf(arg, i);
    } else if (name === '--token-file') {
      if (tokenPath !== undefined) throw new UsageError('--token-file is given twice');
      [tokenPath, i] = valueOf(arg, i);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  if ((exportPath === undefined) === (onlineUrl === undefined)) throw new UsageError('give either --export FILE or --online URL');

  let trustText: string | undefined;
  let trustAnchorFrom: string | null = null;
  if (caPath !== undefined) {
    trustText = readLimited(caPath, 'trust file', INPUT_FILE_BYTES_MAX).toString('utf8');
    trustAnchorFrom = caPath;
  } else if (onlineUrl !== undefined) {
    const root = await fetchText(`${onlineUrl}/pki/root.pem`);
    if (root.status !== 200) throw new UsageError(`${onlineUrl}/pki/root.pem answered ${root.status}`);
    trustText = root.text;
    trustAnchorFrom = `${onlineUrl}/pki/root.pem`;
  }
  const trustAnchors = trustText === undefined ? undefined : allPemBlocks(trustText, 'CERTIFICATE');
  if (trustAnchors !== undefined && trustAnchors.length === 0) throw new UsageError('the trust file holds no PEM certificate');

  let log: { entries: AuditEntry[]; heads: AuditHead[] };
  if (onlineUrl !== undefined) {
    const token = tokenPath !== undefined ? readLimited(tokenPath, 'token file', 4096).toString('utf8').trim() : env.COCONUTPAY_AUDIT_TOKEN;
    if (!token) throw new UsageError('--online needs the audit export token: --token-file F or COCONUTPAY_AUDIT_TOKEN');
    log = await fetchLog(onlineUrl, token);
  } else {
    log = parse(readLimited(exportPath!, 'export file', AUDIT_EXPORT_BYTES_MAX).toString('utf8'), exportPath!);
  }
  const verdict = await verifyAuditChain(log.entries, log.heads, trustAnchors === undefined ? {} : { trustAnchors });
  return { verdict: { source: onlineUrl ?? exportPath!, trustAnchorFrom, ...verdict }, exitCode: verdict.valid ? 0 : 1 };
}
