import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../encoding/index.js';
import {
  AUTH_SCHEME,
  EMPTY_BODY_SHA256_HEX,
  NONCE_HEADER,
  NONCE_PATTERN,
  PROOF_HEADER,
  PROOF_VERSION,
  TIMESTAMP_HEADER,
  canonicalRequest,
  computeProof,
  deriveSecretToken,
  importSecretToken,
  nonceFromBytes,
  sha256Hex,
  signRequest,
  verifyProof,
  type CanonicalRequestInput,
} from './dual-token.js';
import { sharedVectorPath } from '../../../../test-support/shared-vectors.js';

/** 32 bytes 0x00, 0x01, …, 0x1f: a secret token anyone can rebuild by hand. */
const WORKED_SECRET_BYTES = Uint8Array.from({ length: 32 }, (_, i) => i);
const WORKED_SECRET_TOKEN = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
/** The worked example of docs/protocol.md, figure for figure. */
const WORKED_BODY = '{"quantity":2}';
const WORKED_INPUT: CanonicalRequestInput = {
  method: 'put',
  pathWithQuery: '/api/cart/items/3f0c8a52-9a8e-4c1b-9d55-0d6c2f1e7a10',
  timestampMs: 1_795_420_800_000,
  nonce: 'bm9uY2Utb2YtMTYtYnl0ZQ',
  bodySha256Hex: 'e71ff9768dda684ac2b95e952bc1f0ad19bab9c6632b91d062279a7c34e9cab7',
};
const WORKED_PROOF = 'yTsrRDuvHhCSbCv_CDYAUpumRRVoh8Ym-QY9XzYIqpY';

const BASE_INPUT: CanonicalRequestInput = {
  method: 'GET',
  pathWithQuery: '/api/products?page=2',
  timestampMs: 1_767_225_600_000,
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
  bodySha256Hex: EMPTY_BODY_SHA256_HEX,
};

/** Deterministic bytes for keys, so a failing run can be repeated exactly. */
function patternBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

async function hmacKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

describe('canonicalRequest', () => {
  it('joins six lines with the version first, the method upper-cased and no trailing newline', () => {
    const text = canonicalRequest({ ...BASE_INPUT, method: 'get' });
    expect(text).toBe(
      'CPT1\nGET\n/api/products?page=2\n1767225600000\nAAAAAAAAAAAAAAAAAAAAAA\n' +
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe(PROOF_VERSION);
    expect(text.endsWith('\n')).toBe(false);
  });

  it('canonicalises the method to upper case whatever case it arrives in', () => {
    const upper = canonicalRequest({ ...BASE_INPUT, method: 'DELETE' });
    expect(canonicalRequest({ ...BASE_INPUT, method: 'delete' })).toBe(upper);
    expect(canonicalRequest({ ...BASE_INPUT, method: 'DeLeTe' })).toBe(upper);
  });

  it('accepts the edges of each field', () => {
    expect(() => canonicalRequest({ ...BASE_INPUT, timestampMs: 0 })).not.toThrow();
    expect(() => canonicalRequest({ ...BASE_INPUT, timestampMs: Number.MAX_SAFE_INTEGER })).not.toThrow();
    expect(() => canonicalRequest({ ...BASE_INPUT, nonce: 'a'.repeat(16) })).not.toThrow();
    expect(() => canonicalRequest({ ...BASE_INPUT, nonce: '-_'.repeat(32) })).not.toThrow();
    expect(() => canonicalRequest({ ...BASE_INPUT, pathWithQuery: '/' })).not.toThrow();
  });

  const invalid: [string, Partial<CanonicalRequestInput>][] = [
    ['a nonce of 15 characters', { nonce: 'a'.repeat(15) }],
    ['a nonce of 65 characters', { nonce: 'a'.repeat(65) }],
    ['an empty nonce', { nonce: '' }],
    ['a nonce with standard base64 characters', { nonce: 'abcdefghijklmno+/' }],
    ['a nonce with padding', { nonce: 'abcdefghijklmnop==' }],
    ['a nonce with a newline', { nonce: 'abcdefghijklmnop\nq' }],
    ['an upper-case body hash', { bodySha256Hex: EMPTY_BODY_SHA256_HEX.toUpperCase() }],
    ['a body hash with a non-hex digit', { bodySha256Hex: `${EMPTY_BODY_SHA256_HEX.slice(0, 63)}g` }],
    ['a body hash of 63 digits', { bodySha256Hex: EMPTY_BODY_SHA256_HEX.slice(1) }],
    ['a body hash of 65 digits', { bodySha256Hex: `${EMPTY_BODY_SHA256_HEX}0` }],
    ['an empty body hash', { bodySha256Hex: '' }],
    ['a negative timestamp', { timestampMs: -1 }],
    ['a fractional timestamp', { timestampMs: 1_767_225_600_000.5 }],
    ['a NaN timestamp', { timestampMs: Number.NaN }],
    ['an infinite timestamp', { timestampMs: Number.POSITIVE_INFINITY }],
    ['a timestamp beyond the safe integers', { timestampMs: Number.MAX_SAFE_INTEGER + 1 }],
    ['a path without a leading slash', { pathWithQuery: 'api/products' }],
    ['an empty path', { pathWithQuery: '' }],
    ['a path with a newline', { pathWithQuery: '/api/products\nGET' }],
    ['a path with a carriage return', { pathWithQuery: '/api/products\r' }],
  ];
  it.each(invalid)('refuses %s with a RangeError', (_label, change) => {
    expect(() => canonicalRequest({ ...BASE_INPUT, ...change })).toThrow(RangeError);
  });
});

describe('computeProof and verifyProof', () => {
  it('verifies a proof computed under the same key and input', async () => {
    const key = await hmacKey(patternBytes(32, 1));
    const proof = await computeProof(key, BASE_INPUT);
    expect(proof).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(verifyProof(key, BASE_INPUT, proof)).resolves.toBe(true);
  });

  const changes: [string, Partial<CanonicalRequestInput>][] = [
    ['method', { method: 'POST' }],
    ['path', { pathWithQuery: '/api/products/other?page=2' }],
    ['query', { pathWithQuery: '/api/products?page=3' }],
    ['removed query', { pathWithQuery: '/api/products' }],
    ['timestamp', { timestampMs: BASE_INPUT.timestampMs + 1 }],
    ['nonce', { nonce: 'AAAAAAAAAAAAAAAAAAAAAB' }],
    ['body hash', { bodySha256Hex: createHash('sha256').update('{}').digest('hex') }],
  ];
  it.each(changes)('refuses the proof when the %s changes', async (_field, change) => {
    const key = await hmacKey(patternBytes(32, 2));
    const proof = await computeProof(key, BASE_INPUT);
    const changed = { ...BASE_INPUT, ...change };
    // The change must really alter the canonical text, or this test would prove nothing.
    expect(canonicalRequest(changed)).not.toBe(canonicalRequest(BASE_INPUT));
    await expect(verifyProof(key, changed, proof)).resolves.toBe(false);
  });

  it('does not care about the case of the method, which is canonicalised', async () => {
    const key = await hmacKey(patternBytes(32, 3));
    const proof = await computeProof(key, { ...BASE_INPUT, method: 'get' });
    await expect(verifyProof(key, { ...BASE_INPUT, method: 'GET' }, proof)).resolves.toBe(true);
  });

  it('refuses a proof made under another key', async () => {
    const key = await hmacKey(patternBytes(32, 4));
    const otherKey = await hmacKey(patternBytes(32, 5));
    const proof = await computeProof(otherKey, BASE_INPUT);
    await expect(verifyProof(key, BASE_INPUT, proof)).resolves.toBe(false);
  });

  it('refuses a proof with one bit flipped, wherever the bit is', async () => {
    const key = await hmacKey(patternBytes(32, 6));
    const mac = fromBase64Url(await computeProof(key, BASE_INPUT));
    for (const index of [0, 15, 31]) {
      const flipped = mac.slice();
      flipped[index] = flipped[index]! ^ 0x01;
      await expect(verifyProof(key, BASE_INPUT, toBase64Url(flipped)), `byte ${index}`).resolves.toBe(false);
    }
  });

  const garbage: [string, string][] = [
    ['an empty proof', ''],
    ['characters outside base64url', 'not base64url at all!'],
    ['standard base64 with padding', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
    ['an impossible length', 'A'],
    ['a 16-byte proof', toBase64Url(new Uint8Array(16))],
    ['a 31-byte proof', toBase64Url(new Uint8Array(31))],
    ['a 33-byte proof', toBase64Url(new Uint8Array(33))],
    ['a 64-byte proof', toBase64Url(new Uint8Array(64))],
  ];
  it.each(garbage)('answers false, without throwing, for %s', async (_label, proof) => {
    const key = await hmacKey(patternBytes(32, 7));
    await expect(verifyProof(key, BASE_INPUT, proof)).resolves.toBe(false);
  });

  it('answers false for a correct-length proof that is simply wrong', async () => {
    const key = await hmacKey(patternBytes(32, 8));
    await expect(verifyProof(key, BASE_INPUT, toBase64Url(new Uint8Array(32)))).resolves.toBe(false);
  });
});

describe('worked example', () => {
  it('matches an HMAC-SHA-256 computed independently with node:crypto, and the published value', async () => {
    expect(toBase64Url(WORKED_SECRET_BYTES)).toBe(WORKED_SECRET_TOKEN);
    expect(createHash('sha256').update(WORKED_BODY).digest('hex')).toBe(WORKED_INPUT.bodySha256Hex);
    await expect(sha256Hex(utf8(WORKED_BODY))).resolves.toBe(WORKED_INPUT.bodySha256Hex);

    const canonical = [
      'CPT1',
      'PUT',
      WORKED_INPUT.pathWithQuery,
      String(WORKED_INPUT.timestampMs),
      WORKED_INPUT.nonce,
      WORKED_INPUT.bodySha256Hex,
    ].join('\n');
    expect(canonicalRequest(WORKED_INPUT)).toBe(canonical);

    const independent = createHmac('sha256', Buffer.from(WORKED_SECRET_BYTES)).update(canonical, 'utf8').digest('base64url');
    expect(independent).toBe(WORKED_PROOF);

    const key = await importSecretToken(WORKED_SECRET_TOKEN);
    await expect(computeProof(key, WORKED_INPUT)).resolves.toBe(WORKED_PROOF);
    await expect(verifyProof(key, WORKED_INPUT, WORKED_PROOF)).resolves.toBe(true);

    const headers = await signRequest({
      publicToken: 'public-token-of-the-example',
      secretKey: key,
      method: WORKED_INPUT.method,
      pathWithQuery: WORKED_INPUT.pathWithQuery,
      body: utf8(WORKED_BODY),
      timestampMs: WORKED_INPUT.timestampMs,
      nonce: WORKED_INPUT.nonce,
    });
    expect(headers[PROOF_HEADER]).toBe(WORKED_PROOF);
  });

  it('is the example docs/protocol.md shows', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../../docs/protocol.md', import.meta.url)), 'utf8');
    for (const figure of [WORKED_SECRET_TOKEN, WORKED_INPUT.pathWithQuery, String(WORKED_INPUT.timestampMs), WORKED_INPUT.nonce, WORKED_INPUT.bodySha256Hex, WORKED_PROOF]) {
      expect(doc).toContain(figure);
    }
  });
});

describe('signRequest', () => {
  it('produces exactly the four headers of the scheme', async () => {
    const key = await hmacKey(patternBytes(32, 9));
    const headers = await signRequest({
      publicToken: 'pt.example',
      secretKey: key,
      method: 'get',
      pathWithQuery: '/api/me',
      timestampMs: 1_700_000_000_123,
      nonce: 'nonce_nonce-nonce1',
    });
    expect(Object.keys(headers).sort()).toEqual(['authorization', NONCE_HEADER, PROOF_HEADER, TIMESTAMP_HEADER].sort());
    expect(headers.authorization).toBe(`${AUTH_SCHEME} pt.example`);
    expect(headers[TIMESTAMP_HEADER]).toBe('1700000000123');
    expect(headers[NONCE_HEADER]).toBe('nonce_nonce-nonce1');
    const input = { method: 'GET', pathWithQuery: '/api/me', timestampMs: 1_700_000_000_123, nonce: 'nonce_nonce-nonce1', bodySha256Hex: EMPTY_BODY_SHA256_HEX };
    await expect(verifyProof(key, input, headers[PROOF_HEADER])).resolves.toBe(true);
  });

  it('hashes an absent body and an empty body as the empty input', async () => {
    const key = await hmacKey(patternBytes(32, 10));
    const base = { publicToken: 'pt', secretKey: key, method: 'POST', pathWithQuery: '/api/x', timestampMs: 5, nonce: 'abcdefghijklmnop' };
    const expected = await computeProof(key, { ...base, bodySha256Hex: EMPTY_BODY_SHA256_HEX });
    expect((await signRequest(base))[PROOF_HEADER]).toBe(expected);
    expect((await signRequest({ ...base, body: new Uint8Array(0) }))[PROOF_HEADER]).toBe(expected);
  });

  it('binds a non-empty body through its SHA-256', async () => {
    const key = await hmacKey(patternBytes(32, 11));
    const body = utf8('{"quantity":3}');
    const base = { publicToken: 'pt', secretKey: key, method: 'POST', pathWithQuery: '/api/x', timestampMs: 5, nonce: 'abcdefghijklmnop' };
    const proof = (await signRequest({ ...base, body }))[PROOF_HEADER];
    const bodyHash = createHash('sha256').update(body).digest('hex');
    await expect(verifyProof(key, { ...base, bodySha256Hex: bodyHash }, proof)).resolves.toBe(true);
    await expect(verifyProof(key, { ...base, bodySha256Hex: EMPTY_BODY_SHA256_HEX }, proof)).resolves.toBe(false);
  });

  it('uses a constant that really is the SHA-256 of empty input', async () => {
    expect(EMPTY_BODY_SHA256_HEX).toBe(createHash('sha256').update(Buffer.alloc(0)).digest('hex'));
    await expect(sha256Hex(new Uint8Array(0))).resolves.toBe(EMPTY_BODY_SHA256_HEX);
  });
});

describe('importSecretToken', () => {
  it.each([0, 1, 16, 31, 33, 64])('refuses a key of %i bytes', async (length) => {
    await expect(importSecretToken(toBase64Url(patternBytes(length, 12)))).rejects.toThrow(RangeError);
  });

  it('refuses text that is not base64url', async () => {
    await expect(importSecretToken('this is not a token!')).rejects.toThrow(new TypeError('not base64url'));
  });

  it('yields a non-extractable HMAC key by default', async () => {
    const key = await importSecretToken(toBase64Url(patternBytes(32, 13)));
    expect(key.extractable).toBe(false);
    expect(key.algorithm).toMatchObject({ name: 'HMAC', hash: { name: 'SHA-256' } });
    expect([...key.usages].sort()).toEqual(['sign', 'verify']);
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toMatchObject({ name: expect.stringMatching(/^InvalidAccess/) });
  });

  it('yields an extractable key holding the same 32 bytes only when asked to', async () => {
    const raw = patternBytes(32, 14);
    const key = await importSecretToken(toBase64Url(raw), true);
    expect(key.extractable).toBe(true);
    expect(new Uint8Array(await crypto.subtle.exportKey('raw', key))).toEqual(raw);
  });
});

describe('deriveSecretToken', () => {
  it('is HMAC-SHA-256 of the public token, deterministic per key', async () => {
    const raw = patternBytes(32, 15);
    const key = await hmacKey(raw);
    const first = await deriveSecretToken(key, 'user-1.session-1');
    expect(await deriveSecretToken(key, 'user-1.session-1')).toBe(first);
    expect(first).toBe(createHmac('sha256', Buffer.from(raw)).update('user-1.session-1').digest('base64url'));
    // What the server derives must be what a client can import.
    expect(fromBase64Url(first)).toHaveLength(32);
    await expect(importSecretToken(first)).resolves.toBeDefined();
  });

  it('differs across keys and across public tokens', async () => {
    const keyA = await hmacKey(patternBytes(32, 16));
    const keyB = await hmacKey(patternBytes(32, 17));
    const a = await deriveSecretToken(keyA, 'user-1.session-1');
    expect(await deriveSecretToken(keyB, 'user-1.session-1')).not.toBe(a);
    expect(await deriveSecretToken(keyA, 'user-1.session-2')).not.toBe(a);
  });
});

describe('nonceFromBytes', () => {
  it('turns 16 random bytes into a nonce the canonical form accepts', () => {
    const nonce = nonceFromBytes(patternBytes(16, 18));
    expect(nonce).toHaveLength(22);
    expect(nonce).toMatch(NONCE_PATTERN);
  });

  it('refuses fewer than 12 bytes', () => {
    expect(() => nonceFromBytes(new Uint8Array(11))).toThrow(RangeError);
    expect(nonceFromBytes(new Uint8Array(12))).toMatch(NONCE_PATTERN);
  });
});

interface WycheproofMacTest {
  tcId: number;
  comment: string;
  key: string;
  msg: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface WycheproofMacGroup {
  keySize: number;
  tagSize: number;
  tests: WycheproofMacTest[];
}
interface WycheproofMacFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: WycheproofMacGroup[];
}


function loadWycheproof(): WycheproofMacFile {
  const file = sharedVectorPath('wycheproof/hmac_sha256_test.json');
  return JSON.parse(readFileSync(file, 'utf8')) as WycheproofMacFile;
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * Wycheproof HMAC-SHA256, through the WebCrypto calls verifyProof relies on
 * (importKey raw HMAC/SHA-256, then verify). Groups with a 256-bit tag go through
 * crypto.subtle.verify. Groups with a shorter (128-bit) tag cannot: WebCrypto only
 * verifies full-length tags, and so does verifyProof; those are checked by signing
 * and comparing the truncated MAC instead.
 */
describe('Wycheproof HMAC-SHA256 vectors', () => {
  const vectors = loadWycheproof();

  it('is the file we expect, with every test counted', () => {
    expect(vectors.algorithm).toBe('HMACSHA256');
    const total = vectors.testGroups.reduce((n, g) => n + g.tests.length, 0);
    expect(total).toBe(vectors.numberOfTests);
    expect(vectors.testGroups.some((g) => g.tagSize === 256 && g.tests.some((t) => t.result === 'valid'))).toBe(true);
    expect(vectors.testGroups.some((g) => g.tagSize === 256 && g.tests.some((t) => t.result === 'invalid'))).toBe(true);
  });

  it.each(vectors.testGroups.map((g) => [g.keySize, g.tagSize, g] as const))(
    'key of %i bits, tag of %i bits',
    async (_keySize, tagSize, group) => {
      const failures: string[] = [];
      for (const test of group.tests) {
        const key = await crypto.subtle.importKey('raw', hexBytes(test.key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
        const message = hexBytes(test.msg);
        const tag = hexBytes(test.tag);
        let accepted: boolean;
        if (tagSize === 256) {
          accepted = await crypto.subtle.verify('HMAC', key, tag, message);
        } else {
          const full = new Uint8Array(await crypto.subtle.sign('HMAC', key, message));
          const truncated = full.slice(0, tagSize / 8);
          accepted = tag.length === truncated.length && truncated.every((b, i) => b === tag[i]);
        }
        // No HMAC vector is "acceptable"; one would need a decision here.
        if (test.result === 'acceptable') failures.push(`tcId ${test.tcId}: unexpected result "acceptable"`);
        else if (accepted !== (test.result === 'valid')) failures.push(`tcId ${test.tcId} (${test.comment}): expected ${test.result}`);
      }
      expect(failures).toEqual([]);
    },
  );
});
