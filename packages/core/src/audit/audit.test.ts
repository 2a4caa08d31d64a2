import { describe, expect, it } from 'vitest';
import { canonicalJsonBytes } from '../encoding/canonical-json.js';
import { toBase64Url } from '../encoding/index.js';
import { AUDIT_GENESIS_HASH, AUDIT_HEAD_TYPE, auditEntryBytes, auditEntryHash, parseAuditExport, verifyAuditChain, type AuditEntry, type AuditHead } from './index.js';

async function chain(length: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let prevHash = AUDIT_GENESIS_HASH;
  for (let sequence = 1; sequence <= length; sequence++) {
    const content = { sequence, atMs: 1_700_000_000_000 + sequence, kind: 'login.succeeded', actor: `user-${sequence}`, subject: null, detail: { n: sequence }, prevHash };
    const hash = await auditEntryHash(content);
    entries.push({ ...content, hash });
    prevHash = hash;
  }
  return entries;
}

/** A head as the server writes it, with a placeholder signature: these tests give no trust anchor. */
function unsignedHead(sequence: number, hash: string): AuditHead {
  const header = toBase64Url(canonicalJsonBytes({ alg: 'ES256', typ: AUDIT_HEAD_TYPE }));
  const payload = toBase64Url(canonicalJsonBytes({ typ: AUDIT_HEAD_TYPE, sequence, hash, signedAtMs: 1_700_000_000_000 }));
  return { sequence, jws: `${header}.${payload}.c2ln` };
}

describe('audit chain', () => {
  it('verifies an untouched chain and its heads, and an empty one', async () => {
    const entries = await chain(6);
    const verdict = await verifyAuditChain(entries, [unsignedHead(4, entries[3]!.hash), unsignedHead(6, entries[5]!.hash)]);
    expect(verdict).toMatchObject({ valid: true, entries: 6, lastSequence: 6, heads: 2, signedThroughSequence: 6, headSignaturesChecked: false });
    expect(verdict.lastHash).toBe(entries[5]!.hash);
    expect(await verifyAuditChain([], [])).toMatchObject({ valid: true, entries: 0, lastHash: AUDIT_GENESIS_HASH });
  });

  it('hashes exactly the canonical bytes it exposes (the server hashes those with node:crypto)', async () => {
    const content = { sequence: 7, atMs: 1_700_000_000_000, kind: 'payment.authorized', actor: 'u1', subject: 'o1', detail: { b: 2, a: [1, '둘'] }, prevHash: AUDIT_GENESIS_HASH };
    const hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', auditEntryBytes(content))), (b) => b.toString(16).padStart(2, '0')).join('');
    expect(await auditEntryHash(content)).toBe(hex);
    expect(new TextDecoder().decode(auditEntryBytes(content))).toBe(`{"actor":"u1","atMs":1700000000000,"detail":{"a":[1,"둘"],"b":2},"kind":"payment.authorized","prevHash":"${AUDIT_GENESIS_HASH}","sequence":7,"subject":"o1"}`);
  });

  it('hashes every field: changing any one changes the hash', async () => {
    const [entry] = await chain(1);
    const base = await auditEntryHash(entry!);
    for (const change of [{ sequence: 2 }, { atMs: 1 }, { kind: 'x' }, { actor: null }, { subject: 's' }, { detail: { n: 2 } }, { prevHash: '1'.repeat(64) }]) {
      expect(await auditEntryHash({ ...entry!, ...change })).not.toBe(base);
    }
  });

  it('names a deleted entry', async () => {
    const entries = await chain(6);
    const verdict = await verifyAuditChain(entries.filter((e) => e.sequence !== 4), []);
    expect(verdict.problem).toMatchObject({ code: 'AUDIT_ENTRY_MISSING', sequence: 4 });
    expect(verdict.valid).toBe(false);
  });

  it('names an edited entry', async () => {
    const entries = await chain(6);
    entries[2] = { ...entries[2]!, detail: { n: 999 } };
    expect((await verifyAuditChain(entries, [])).problem).toMatchObject({ code: 'AUDIT_ENTRY_ALTERED', sequence: 3 });
  });

  it('names moved entries, whether lines are swapped or sequence numbers', async () => {
    const entries = await chain(6);
    const swapped = [...entries];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    expect((await verifyAuditChain(swapped, [])).problem).toMatchObject({ code: 'AUDIT_ENTRY_OUT_OF_ORDER', sequence: 3 });
    const renumbered = [...swapped];
    renumbered[2] = { ...renumbered[2]!, sequence: 3 };
    renumbered[3] = { ...renumbered[3]!, sequence: 4 };
    expect((await verifyAuditChain(renumbered, [])).problem).toMatchObject({ code: 'AUDIT_ENTRY_OUT_OF_ORDER', sequence: 3 });
  });

  it('catches a rewrite that recomputed every later hash, and the signed head catches it too', async () => {
    const entries = await chain(6);
    const head = unsignedHead(6, entries[5]!.hash);
    // The forger edits entry 3 and rehashes it alone: entry 4 no longer follows.
    const edited = [...entries];
    edited[2] = { ...edited[2]!, detail: { n: 0 } };
    edited[2] = { ...edited[2]!, hash: await auditEntryHash(edited[2]!) };
    expect((await verifyAuditChain(edited, [head])).problem).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', sequence: 4 });
    // The forger rehashes the whole tail: the chain is consistent, the head is not.
    for (let i = 3; i < edited.length; i++) {
      edited[i] = { ...edited[i]!, prevHash: edited[i - 1]!.hash };
      edited[i] = { ...edited[i]!, hash: await auditEntryHash(edited[i]!) };
    }
    expect((await verifyAuditChain(edited, [])).valid).toBe(true);
    expect((await verifyAuditChain(edited, [head])).problem).toMatchObject({ code: 'AUDIT_HEAD_MISMATCH', sequence: 6 });
  });

  it('catches entries cut off below a signed head', async () => {
    const entries = await chain(6);
    const verdict = await verifyAuditChain(entries.slice(0, 4), [unsignedHead(6, entries[5]!.hash)]);
    expect(verdict.problem).toMatchObject({ code: 'AUDIT_ENTRY_MISSING', sequence: 6 });
  });

  it('refuses a head that does not verify to the trust anchor', async () => {
    const entries = await chain(2);
    const verdict = await verifyAuditChain(entries, [unsignedHead(2, entries[1]!.hash)], { trustAnchors: [new Uint8Array([0x30, 0x00])] });
    expect(verdict.problem).toMatchObject({ code: 'AUDIT_HEAD_SIGNATURE_INVALID', sequence: 2 });
  });

  it('reads an export of JSON lines and names a bad line', async () => {
    const entries = await chain(2);
    const head = unsignedHead(2, entries[1]!.hash);
    const text = [...entries.map((e) => JSON.stringify({ type: 'entry', ...e })), JSON.stringify({ type: 'head', ...head }), ''].join('\n');
    expect(parseAuditExport(text)).toEqual({ entries, heads: [head] });
    expect(() => parseAuditExport(`${text}\n{"type":"other"}`)).toThrow(/line 5/);
  });
});
