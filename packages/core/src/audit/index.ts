/**
 * The audit log's hash chain (docs/admin.md, "The audit chain"): how an entry's hash is
 * computed, how the server's signed chain heads read, and the one verifier the server's
 * tests and `coconutpay audit verify` both use.
 *
 * An entry's hash is SHA-256 over the RFC 8785 canonical JSON of
 * `{ sequence, atMs, kind, actor, subject, detail, prevHash }`, hex; the first entry's
 * `prevHash` is 64 zeros. A head is a JWS (S's key, `x5c`) over
 * `{ typ: 'coconutpay-audit-head', sequence, hash, signedAtMs }`: the server vouches that
 * the chain ended in that hash at that sequence. The chain alone catches an edited,
 * deleted or moved row; the heads catch a rewrite that recomputed every later hash, and
 * the removal of entries up to the last signed head.
 */
import { canonicalJsonBytes, type CanonicalValue } from '../encoding/canonical-json.js';
import { fromBase64Url, toHex } from '../encoding/index.js';
import { verifySignedJson } from '../pki/signed-json.js';

/** The `prevHash` of the first entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** The JWS `typ` and payload `typ` of a signed head. */
export const AUDIT_HEAD_TYPE = 'coconutpay-audit-head';

/** What an entry's hash covers. */
export interface AuditEntryContent {
  sequence: number;
  atMs: number;
  /** What happened, e.g. `login.succeeded`, `payment.authorized`. */
  kind: string;
  /** Who did it (a user id), or null for the server itself or an anonymous caller. */
  actor: string | null;
  /** What it was done to (a user, certificate, order or policy id), or null. */
  subject: string | null;
  detail: { readonly [key: string]: CanonicalValue };
  prevHash: string;
}

/** One entry as stored and exported. */
export interface AuditEntry extends AuditEntryContent {
  hash: string;
}

/** One signed head as stored and exported. */
export interface AuditHead {
  sequence: number;
  jws: string;
}

/** The payload a head signs. */
export interface AuditHeadPayload {
  typ: typeof AUDIT_HEAD_TYPE;
  sequence: number;
  hash: string;
  signedAtMs: number;
}

/** One line of an export (JSON lines): entries in sequence order, heads after them. */
export type AuditExportLine = ({ type: 'entry' } & AuditEntry) | ({ type: 'head' } & AuditHead);

/** The bytes an entry's hash is taken over: its content in canonical JSON (RFC 8785). */
export function auditEntryBytes(content: AuditEntryContent): Uint8Array<ArrayBuffer> {
  const { sequence, atMs, kind, actor, subject, detail, prevHash } = content;
  return canonicalJsonBytes({ sequence, atMs, kind, actor, subject, detail, prevHash });
}

/** SHA-256 (hex) of an entry's canonical content. */
export async function auditEntryHash(content: AuditEntryContent): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', auditEntryBytes(content))));
}

/** Why a chain does not verify, at the first entry found wrong. */
export type AuditProblemCode =
  /** The entry with this sequence number is absent (deleted, or the log was cut short below a signed head). */
  | 'AUDIT_ENTRY_MISSING'
  /** The entry's content no longer hashes to its stored hash (edited). */
  | 'AUDIT_ENTRY_ALTERED'
  /** The entry at this place belongs elsewhere in the chain (rows moved or renumbered). */
  | 'AUDIT_ENTRY_OUT_OF_ORDER'
  /** The entry hashes correctly but does not follow its predecessor (hashes recomputed after a change). */
  | 'AUDIT_CHAIN_BROKEN'
  /** A signed head names a hash the chain does not have at that sequence. */
  | 'AUDIT_HEAD_MISMATCH'
  /** A head's signature, chain or payload does not verify. */
  | 'AUDIT_HEAD_SIGNATURE_INVALID'
  /** A line is not a well-formed entry or head. */
  | 'AUDIT_EXPORT_MALFORMED';

export interface AuditProblem {
  code: AuditProblemCode;
  /** The sequence number of the first bad entry (or of the head's entry). */
  sequence: number;
  message: string;
}

export interface AuditVerdict {
  valid: boolean;
  entries: number;
  /** Last sequence number read (0 for an empty log). */
  lastSequence: number;
  lastHash: string;
  /** Heads checked against the chain. */
  heads: number;
  /** Whether head signatures were checked to a trust anchor (false without anchors). */
  headSignaturesChecked: boolean;
  /** Highest sequence vouched for by a signed head; entries after it can be cut off undetected. */
  signedThroughSequence: number;
  /** The first problem found, in chain order. */
  problem?: AuditProblem;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isEntry(line: unknown): line is AuditEntry {
  const e = line as Partial<AuditEntry> | null;
  return (
    !!e && Number.isSafeInteger(e.sequence) && Number.isSafeInteger(e.atMs) && typeof e.kind === 'string' &&
    (e.actor === null || typeof e.actor === 'string') && (e.subject === null || typeof e.subject === 'string') &&
    typeof e.detail === 'object' && e.detail !== null && !Array.isArray(e.detail) &&
    typeof e.prevHash === 'string' && HEX64.test(e.prevHash) && typeof e.hash === 'string' && HEX64.test(e.hash)
  );
}

/** Reads the payload of a head's JWS without checking it (to learn when it was signed). */
function headPayload(jws: string): AuditHeadPayload | undefined {
  try {
    const payload = JSON.parse(new TextDecoder().decode(fromBase64Url(jws.split('.')[1] ?? ''))) as Partial<AuditHeadPayload>;
    if (payload.typ !== AUDIT_HEAD_TYPE || !Number.isSafeInteger(payload.sequence) || typeof payload.hash !== 'string' || !Number.isSafeInteger(payload.signedAtMs)) return undefined;
    return payload as AuditHeadPayload;
  } catch {
    return undefined;
  }
}

/**
 * Recomputes the chain in the order given and checks every head; stops at the first
 * problem and names the entry by sequence number. With `trustAnchors`, each head's JWS
 * must verify to them (S's certificate, purpose `session`) at the time it was signed;
 * without, heads are compared with the chain but their signatures are not trusted, which
 * the verdict says.
 *
 * @example
 * const verdict = await verifyAuditChain(entries, heads, { trustAnchors: [rootDer] });
 * if (!verdict.valid) console.log(verdict.problem?.sequence);
 */
export async function verifyAuditChain(entries: readonly AuditEntry[], heads: readonly AuditHead[], options: { trustAnchors?: Uint8Array[] } = {}): Promise<AuditVerdict> {
  const verdict: AuditVerdict = {
    valid: true, entries: 0, lastSequence: 0, lastHash: AUDIT_GENESIS_HASH, heads: 0,
    headSignaturesChecked: options.trustAnchors !== undefined, signedThroughSequence: 0,
  };
  const fail = (code: AuditProblemCode, sequence: number, message: string): AuditVerdict => ({ ...verdict, valid: false, problem: { code, sequence, message } });
  // Where each stored hash sits: a row whose prevHash names another row than its predecessor was moved.
  const storedHashes = new Set(entries.map((e) => e.hash));
  const sequences = new Set(entries.map((e) => e.sequence));
  const hashAt = new Map<number, string>();
  let expectedPrev = AUDIT_GENESIS_HASH;
  for (const entry of entries) {
    const expected = verdict.lastSequence + 1;
    if (!isEntry(entry)) return fail('AUDIT_EXPORT_MALFORMED', expected, `the entry after sequence ${verdict.lastSequence} is not a well-formed audit entry`);
    if (entry.prevHash !== expectedPrev && entry.prevHash !== AUDIT_GENESIS_HASH && storedHashes.has(entry.prevHash)) {
      return fail('AUDIT_ENTRY_OUT_OF_ORDER', expected, `entry ${expected} is not in its place: the entry found there follows another entry of the log`);
    }
    if (entry.sequence > expected && !sequences.has(expected)) return fail('AUDIT_ENTRY_MISSING', expected, `entry ${expected} is missing`);
    if (entry.sequence !== expected) return fail('AUDIT_ENTRY_OUT_OF_ORDER', expected, `entry ${expected} is not in its place: found sequence ${entry.sequence} there`);
    if ((await auditEntryHash(entry)) !== entry.hash) return fail('AUDIT_ENTRY_ALTERED', expected, `entry ${expected} was altered: its content does not hash to its stored hash`);
    if (entry.prevHash !== expectedPrev) return fail('AUDIT_CHAIN_BROKEN', expected, `entry ${expected} does not follow entry ${expected - 1}: the chain was rewritten from here`);
    hashAt.set(entry.sequence, entry.hash);
    expectedPrev = entry.hash;
    verdict.entries += 1;
    verdict.lastSequence = entry.sequence;
    verdict.lastHash = entry.hash;
  }
  for (const head of [...heads].sort((a, b) => a.sequence - b.sequence)) {
    const payload = headPayload(head.jws);
    if (!payload || payload.sequence !== head.sequence) return fail('AUDIT_HEAD_SIGNATURE_INVALID', head.sequence, `the signed head at entry ${head.sequence} is unreadable`);
    if (options.trustAnchors) {
      const check = await verifySignedJson<AuditHeadPayload>(head.jws, options.trustAnchors, new Date(payload.signedAtMs), 'session', 'AUDIT_HEAD_SIGNATURE_INVALID');
      if (!check.ok) return fail('AUDIT_HEAD_SIGNATURE_INVALID', head.sequence, `the signed head at entry ${head.sequence} does not verify to the trust anchor`);
    }
    const hash = hashAt.get(payload.sequence);
    if (hash === undefined) return fail('AUDIT_ENTRY_MISSING', payload.sequence, `entry ${payload.sequence}, vouched for by a signed head, is missing: the log was cut short`);
    if (hash !== payload.hash) return fail('AUDIT_HEAD_MISMATCH', payload.sequence, `entry ${payload.sequence} differs from what the server signed at that point`);
    verdict.heads += 1;
    verdict.signedThroughSequence = Math.max(verdict.signedThroughSequence, payload.sequence);
  }
  return verdict;
}

/**
 * Splits a JSON-lines export into entries and heads; throws `Error` naming the line of
 * the first unreadable one.
 */
export function parseAuditExport(text: string): { entries: AuditEntry[]; heads: AuditHead[] } {
  const entries: AuditEntry[] = [];
  const heads: AuditHead[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: AuditExportLine;
    try {
      value = JSON.parse(line) as AuditExportLine;
    } catch {
      throw new Error(`line ${index + 1} is not JSON`);
    }
    if (value.type === 'entry') {
      entries.push({ sequence: value.sequence, atMs: value.atMs, kind: value.kind, actor: value.actor, subject: value.subject, detail: value.detail, prevHash: value.prevHash, hash: value.hash });
    } else if (value.type === 'head' && Number.isSafeInteger(value.sequence) && typeof value.jws === 'string') {
      heads.push({ sequence: value.sequence, jws: value.jws });
    } else {
      throw new Error(`line ${index + 1} is neither an audit entry nor a signed head`);
    }
  }
  return { entries, heads };
}
