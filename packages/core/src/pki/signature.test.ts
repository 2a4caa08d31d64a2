import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../encoding/index.js';
import { derToP1363, importVerifyingKey, p1363ToDer, signP1363, SignatureEncodingError, verifyDer, verifyP1363 } from './signature.js';
import { sharedVectorPath } from '../../../../test-support/shared-vectors.js';

interface EcdsaVector {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  sig: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface EcdsaFile {
  numberOfTests: number;
  testGroups: { publicKeyDer: string; sha: string; tests: EcdsaVector[] }[];
}

// The vectors live beside the checkout (/work/shared), never copied into it.
function loadWycheproof(name: string): EcdsaFile {
  const file = sharedVectorPath(`wycheproof/${name}`);
  return JSON.parse(readFileSync(file, 'utf8')) as EcdsaFile;
}

const hex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));

type Outcome = { verified: number; rejected: number };
type Tally = Record<'valid' | 'invalid' | 'acceptable', Outcome> & { failures: string[] };

/** Runs every vector of a file through `check` and tallies the outcome per expected result. */
async function runVectors(file: EcdsaFile, check: (key: CryptoKey, vector: EcdsaVector) => Promise<boolean>): Promise<Tally> {
  const tally: Tally = { valid: { verified: 0, rejected: 0 }, invalid: { verified: 0, rejected: 0 }, acceptable: { verified: 0, rejected: 0 }, failures: [] };
  let seen = 0;
  for (const group of file.testGroups) {
    expect(group.sha).toBe('SHA-256');
    const key = await importVerifyingKey(hex(group.publicKeyDer));
    for (const vector of group.tests) {
      seen++;
      const verified = await check(key, vector);
      tally[vector.result][verified ? 'verified' : 'rejected']++;
      if (vector.result === 'valid' && !verified) tally.failures.push(`tcId ${vector.tcId} (${vector.comment}) should verify`);
      if (vector.result === 'invalid' && verified) tally.failures.push(`tcId ${vector.tcId} (${vector.comment}) should not verify`);
    }
  }
  // Every vector ran: a loader that silently dropped groups would otherwise pass.
  expect(seen).toBe(file.numberOfTests);
  return tally;
}

function report(name: string, tally: Tally): void {
  const line = (k: keyof Omit<Tally, 'failures'>) => `${k} ${tally[k].verified + tally[k].rejected} (verified ${tally[k].verified}, rejected ${tally[k].rejected})`;
  console.log(`[wycheproof] ${name}: ${line('valid')}; ${line('invalid')}; ${line('acceptable')}`);
}

describe('Wycheproof ECDSA P-256 SHA-256', () => {
  it('P1363 vectors through verifyP1363', async () => {
    const file = loadWycheproof('ecdsa_secp256r1_sha256_p1363_test.json');
    const tally = await runVectors(file, (key, v) => verifyP1363(key, hex(v.sig), hex(v.msg)));
    report('ecdsa_secp256r1_sha256_p1363_test.json', tally);
    expect(tally.failures).toEqual([]);
    expect(tally.valid.verified).toBeGreaterThan(100);
    expect(tally.invalid.rejected).toBeGreaterThan(50);
  });

  it('DER vectors through the strict DER → P1363 conversion and verifyP1363', async () => {
    const file = loadWycheproof('ecdsa_secp256r1_sha256_test.json');
    let refusedByParser = 0;
    const tally = await runVectors(file, async (key, v) => {
      let p1363: Uint8Array;
      try {
        p1363 = derToP1363(hex(v.sig));
      } catch (error) {
        expect(error).toBeInstanceOf(SignatureEncodingError);
        refusedByParser++;
        return false;
      }
      return verifyP1363(key, p1363, hex(v.msg));
    });
    report('ecdsa_secp256r1_sha256_test.json', tally);
    console.log(`[wycheproof] ecdsa_secp256r1_sha256_test.json: ${refusedByParser} refused by the strict DER parser, the rest by verification`);
    expect(tally.failures).toEqual([]);
    expect(tally.valid.verified).toBeGreaterThan(100);
  });

  it('verifyDer agrees with the conversion path on the DER vectors', async () => {
    const file = loadWycheproof('ecdsa_secp256r1_sha256_test.json');
    const tally = await runVectors(file, (key, v) => verifyDer(key, hex(v.sig), hex(v.msg)));
    expect(tally.failures).toEqual([]);
  });
});

describe('DER ↔ P1363', () => {
  const scalar = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('round-trips any pair of 32-byte scalars', () => {
    fc.assert(
      fc.property(scalar, scalar, (r, s) => {
        const p1363 = new Uint8Array([...r, ...s]);
        expect(derToP1363(p1363ToDer(p1363))).toEqual(p1363);
      }),
    );
  });

  it('produces minimal DER that OpenSSL-style parsers expect', () => {
    const r = new Uint8Array(32);
    r[31] = 1;
    const s = new Uint8Array(32).fill(0xff);
    const der = p1363ToDer(new Uint8Array([...r, ...s]));
    expect(Buffer.from(der).toString('hex')).toBe(`3026020101022100${'ff'.repeat(32)}`);
  });

  it('throws only SignatureEncodingError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          const out = derToP1363(bytes);
          expect(out).toHaveLength(64);
          // Whatever it accepts is canonical: encoding it back gives the same bytes.
          expect(p1363ToDer(out)).toEqual(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(SignatureEncodingError);
        }
      }),
    );
  });

  const valid = `3006020101020102`;
  it.each([
    ['accepts the smallest signature', valid, true],
    ['refuses a long-form sequence length', `308106020101020102`, false],
    ['refuses a long-form integer length', `300702810101020102`, false],
    ['refuses a superfluous leading zero', `300702020001020102`, false],
    ['refuses a negative integer', `3006020181020102`, false],
    ['refuses trailing bytes', `300602010102010200`, false],
    ['refuses a wrong sequence length', `3007020101020102`, false],
    ['refuses an empty integer', `30050200020102`, false],
    ['refuses a 34-byte integer', `302702220080${'01'.repeat(32)}020101`, false],
    ['refuses a 33-byte integer without a sign byte', `3026022101${'01'.repeat(32)}020101`, false],
    ['refuses another type', `3006040101020102`, false],
    ['refuses a SET', `3106020101020102`, false],
    ['refuses indefinite length', `30800201010201020000`, false],
  ])('%s', (_name, input, accepted) => {
    const run = () => derToP1363(hex(input));
    if (accepted) expect(run()).toHaveLength(64);
    else expect(run).toThrow(SignatureEncodingError);
  });

  it('refuses a P1363 signature of the wrong length', () => {
    expect(() => p1363ToDer(new Uint8Array(63))).toThrow(SignatureEncodingError);
  });
});

describe('sign and verify', () => {
  it('verifies its own signatures, and no others', async () => {
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const message = utf8('coconutpay-certificate-test\nid\nchallenge');
    const signature = await signP1363(keys.privateKey, message);
    expect(signature).toHaveLength(64);
    expect(await verifyP1363(keys.publicKey, signature, message)).toBe(true);
    expect(await verifyDer(keys.publicKey, p1363ToDer(signature), message)).toBe(true);
    expect(await verifyP1363(keys.publicKey, signature, utf8('another message'))).toBe(false);
    const flipped = new Uint8Array(signature);
    flipped[10] = flipped[10]! ^ 1;
    expect(await verifyP1363(keys.publicKey, flipped, message)).toBe(false);
    expect(await verifyP1363(keys.publicKey, signature.subarray(0, 63), message)).toBe(false);
    expect(await verifyP1363(keys.publicKey, new Uint8Array([...signature, 0]), message)).toBe(false);
  });
});
