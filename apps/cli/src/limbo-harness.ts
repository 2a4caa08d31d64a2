/**
 * The x509-limbo harness protocol (see shared/vectors/README.md): read a suite of
 * test cases, validate each with CoconutPay's path validator, and report
 * SUCCESS, FAILURE or SKIPPED with a context sentence per case.
 */
import { allPemBlocks } from '@coconutpay/core/pki/pem';
import { parseCertificate } from '@coconutpay/core/pki/path-certificate';
import { validatePath, type PathValidationResult, type Purpose } from '@coconutpay/core/pki/validate-path';
import { matchesPeerName, type PeerName } from './peer-name.js';

/** One test case, with the fields the harness reads. */
export interface LimboCase {
  id: string;
  features?: string[] | null;
  validation_kind: 'SERVER' | 'CLIENT' | string;
  trusted_certs: string[];
  untrusted_intermediates: string[];
  peer_certificate: string;
  validation_time?: string | null;
  signature_algorithms?: string[] | null;
  key_usage?: string[] | null;
  extended_key_usage?: string[] | null;
  expected_result: 'SUCCESS' | 'FAILURE';
  expected_peer_name?: PeerName | null;
  expected_peer_names?: PeerName[] | null;
  max_chain_depth?: number | null;
  crls?: string[] | null;
}

/** The suite file. */
export interface LimboSuite {
  version: number;
  testcases: LimboCase[];
}

/** One result line of the protocol. */
export interface LimboResult {
  id: string;
  actual_result: 'SUCCESS' | 'FAILURE' | 'SKIPPED';
  context: string;
}

/** The harness output document. */
export interface LimboResults {
  version: 1;
  harness: 'coconutpay';
  results: LimboResult[];
}

/** Per-case time budget handed to the validator (the protocol allows 2 s per case). */
export const CASE_BUDGET_MS = 1500;

const EKU_PURPOSES: Readonly<Record<string, Purpose>> = {
  serverAuth: 'serverAuth',
  clientAuth: 'clientAuth',
  OCSPSigning: 'ocsp',
};

const KEY_USAGE_BITS: Readonly<Record<string, number>> = {
  digitalSignature: 0,
  contentCommitment: 1,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
};

/**
 * Cases outside CoconutPay's validation profile. The validator implements the
 * RFC 5280 profile plus CoconutPay's purposes; these cases test CA/Browser Forum
 * Baseline Requirements rules that RFC 5280 does not make, and several of them
 * contradict the RFC 5280 expectations of the same suite (for example
 * `rfc5280::ca-as-leaf` passes while `webpki::ca-as-leaf` fails). Each entry is an
 * id prefix and the reason written into the result.
 */
export const SKIPPED_PREFIXES: readonly (readonly [string, string])[] = [
  ['webpki::cn::', 'CABF BR 7.1.4.3 subject commonName rules: host names are matched against subjectAltName only, the CN is not read'],
  ['webpki::aki::', 'CABF BR 7.1.2.1.3 root AKI field rules go beyond RFC 5280 §4.2.1.1'],
  ['webpki::eku::', 'CABF BR 7.1.2 EKU presence/criticality rules for the Web PKI differ from RFC 5280 §4.2.1.12 (absent EKU = any use)'],
  ['webpki::san::public-suffix', 'public-suffix wildcard rules need the Public Suffix List, which a payment validator does not ship'],
  ['webpki::nc::permitted-dns-match-noncritical', 'CABF tolerates non-critical nameConstraints; RFC 5280 §4.2.1.10 requires critical (rfc5280::nc::permitted-dns-match-noncritical)'],
  ['webpki::san::san-critical-with-nonempty-subject', 'CABF BR 7.1.2.7.12 forbids a critical SAN with a non-empty subject; RFC 5280 allows it'],
  ['webpki::ca-as-leaf', 'CABF BR 7.1.2.7.8 forbids a CA certificate as leaf; RFC 5280 allows it (rfc5280::ca-as-leaf)'],
];

function skipReason(testCase: LimboCase): string | undefined {
  for (const [prefix, why] of SKIPPED_PREFIXES) if (testCase.id.startsWith(prefix)) return why;
  return undefined;
}

function pemCertificates(text: string): Uint8Array[] {
  return allPemBlocks(text, 'CERTIFICATE');
}

function pemCrls(text: string): Uint8Array[] {
  return allPemBlocks(text, 'X509 CRL');
}

function firstReason(result: PathValidationResult): string {
  const first = result.reasons[0];
  if (!first) return 'invalid';
  return `${first.code} ${first.message}${first.depth === undefined ? '' : ` (depth ${first.depth})`}`;
}

/** Options for running cases. */
export interface LimboRunOptions {
  /** Validation time for cases without `validation_time`. Defaults to the current time. */
  now?: Date;
}

/**
 * Runs one case and returns its protocol result.
 *
 * @example
 * const result = await runLimboCase(suite.testcases[0]!);
 */
export async function runLimboCase(testCase: LimboCase, options: LimboRunOptions = {}): Promise<LimboResult> {
  const id = testCase.id;
  const skip = skipReason(testCase);
  if (skip) return { id, actual_result: 'SKIPPED', context: skip };
  if (testCase.signature_algorithms && testCase.signature_algorithms.length > 0) {
    return { id, actual_result: 'SKIPPED', context: 'restricting signature algorithms per case is not supported; the validator has one fixed algorithm policy' };
  }
  const purposes: Purpose[] = [];
  for (const name of testCase.extended_key_usage ?? []) {
    const purpose = EKU_PURPOSES[name];
    if (!purpose) return { id, actual_result: 'SKIPPED', context: `extended key usage ${name} has no CoconutPay purpose` };
    purposes.push(purpose);
  }
  if (purposes.length === 0) {
    if (testCase.validation_kind === 'SERVER') purposes.push('serverAuth');
    else if (testCase.validation_kind === 'CLIENT') purposes.push('clientAuth');
    else return { id, actual_result: 'SKIPPED', context: `validation kind ${testCase.validation_kind} is not supported` };
  }
  const at = testCase.validation_time ? new Date(testCase.validation_time) : (options.now ?? new Date());
  let trustAnchors: Uint8Array[];
  let intermediates: Uint8Array[];
  let leaf: Uint8Array;
  let crls: Uint8Array[];
  try {
    trustAnchors = testCase.trusted_certs.flatMap(pemCertificates);
    intermediates = testCase.untrusted_intermediates.flatMap(pemCertificates);
    const leaves = pemCertificates(testCase.peer_certificate);
    if (leaves.length !== 1 || !leaves[0]) return { id, actual_result: 'FAILURE', context: 'the peer certificate is not exactly one PEM certificate' };
    leaf = leaves[0];
    crls = (testCase.crls ?? []).flatMap(pemCrls);
  } catch (error) {
    return { id, actual_result: 'FAILURE', context: `unreadable PEM: ${error instanceof Error ? error.message : 'unknown'}` };
  }
  for (const purpose of purposes) {
    const result = await validatePath({
      trustAnchors,
      intermediates,
      leaf,
      at,
      purpose,
      crls,
      revocation: crls.length > 0 ? 'crl-if-present' : 'none',
      ...(testCase.max_chain_depth === null || testCase.max_chain_depth === undefined ? {} : { maxDepth: testCase.max_chain_depth + 2 }),
      timeBudgetMs: CASE_BUDGET_MS,
    });
    if (!result.valid) return { id, actual_result: 'FAILURE', context: firstReason(result) };
  }
  // The path is valid; now the checks a TLS client adds on top: key usage asked by the case and the peer's name.
  const certificate = parseCertificate(leaf);
  for (const usage of testCase.key_usage ?? []) {
    const bit = KEY_USAGE_BITS[usage];
    if (bit === undefined) return { id, actual_result: 'SKIPPED', context: `key usage ${usage} is not known to the harness` };
    if (!certificate.keyUsage?.has(bit)) return { id, actual_result: 'FAILURE', context: `the leaf keyUsage does not assert ${usage}` };
  }
  const expectedNames = [...(testCase.expected_peer_name ? [testCase.expected_peer_name] : []), ...(testCase.expected_peer_names ?? [])];
  for (const name of expectedNames) {
    if (!matchesPeerName(certificate.subjectAltNames, name)) {
      return { id, actual_result: 'FAILURE', context: `the leaf subjectAltName does not match the peer name ${name.kind}:${name.value}` };
    }
  }
  return { id, actual_result: 'SUCCESS', context: `valid path for ${purposes.join(', ')}` };
}

/**
 * Runs a whole suite, one case after another (results in input order).
 *
 * @example
 * const output = await runLimboSuite(JSON.parse(text) as LimboSuite);
 */
export async function runLimboSuite(suite: LimboSuite, options: LimboRunOptions = {}): Promise<LimboResults> {
  const results: LimboResult[] = [];
  for (const testCase of suite.testcases) results.push(await runLimboCase(testCase, options));
  return { version: 1, harness: 'coconutpay', results };
}
