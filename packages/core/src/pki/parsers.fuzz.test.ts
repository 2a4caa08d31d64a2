/**
 * The parsers we own, fed random bytes and mutations of real inputs (fast-check): a
 * certificate, a CRL, CMS SignedData and its signed attributes, a CSR, PEM text, a
 * receipt's content, the login messages' verifier checks. Each must answer or throw an
 * Error — never hang (every call is timed), never throw something that is not an Error,
 * never crash the process. `FUZZ_RUNS` sets the cases per parser (CI: the default).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCertificate } from './certificate-builder.js';
import { assembleSignedData, parseSignedAttributes, parseSignedData, signedAttributes } from './cms.js';
import { verifyCsrSignature, weakCsrSignatureAlgorithm } from './csr.js';
import { readCertificate } from './key-pair.js';
import { parseCertificate } from './path-certificate.js';
import { parseCrl } from './path-crl.js';
import { allPemBlocks, fromPem } from './pem.js';
import { EKU } from './oids.js';
import { readReceiptContent } from '../receipt/index.js';
import { loginAuthMessage, pinProofMatches } from '../protocol/certificate-login.js';
import { p1363ToDer } from './signature.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** A parser that takes longer than this on a few kilobytes is treated as hanging. */
const CALL_BUDGET_MS = 500;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Runs `parse` and checks the outcome's shape and time; answers whether it accepted the input. */
async function survives(parse: (bytes: Uint8Array) => unknown, bytes: Uint8Array): Promise<boolean> {
  const started = performance.now();
  let accepted = true;
  try {
    await parse(bytes);
  } catch (error) {
    accepted = false;
    expect(error, 'parsers throw Errors only').toBeInstanceOf(Error);
  }
  expect(performance.now() - started, 'a parse must not hang').toBeLessThan(CALL_BUDGET_MS);
  return accepted;
}

/** Mutations of a real input: flipped bits, truncation, inserted and deleted runs, a changed length byte. */
function mutationsOf(sample: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = sample.length;
  return fc.oneof(
    fc.array(fc.tuple(fc.nat(n - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
      const copy = new Uint8Array(sample);
      for (const [at, mask] of flips) copy[at] = copy[at]! ^ mask;
      return copy;
    }),
    fc.nat(n).map((cut) => sample.slice(0, cut)),
    fc.tuple(fc.nat(n), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, extra]) => new Uint8Array([...sample.slice(0, at), ...extra, ...sample.slice(at)])),
    fc.tuple(fc.nat(n - 1), fc.integer({ min: 1, max: 32 })).map(([at, len]) => new Uint8Array([...sample.slice(0, at), ...sample.slice(at + len)])),
    // The length bytes of the first few TLVs: the classic way to make a DER parser read past its end.
    fc.tuple(fc.integer({ min: 1, max: Math.min(12, n - 1) }), fc.integer({ min: 0, max: 255 })).map(([at, value]) => {
      const copy = new Uint8Array(sample);
      copy[at] = value;
      return copy;
    }),
  );
}

const anyBytes = fc.uint8Array({ maxLength: 4096 });

describe('parsers under random and mutated input', () => {
  let certificateDer: Uint8Array;
  let crlDer: Uint8Array;
  let cmsDer: Uint8Array;
  let attributesDer: Uint8Array;
  let csrDer: Uint8Array;

  beforeAll(async () => {
    const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01', name: 'CN=Fuzz Root', keys, signingAlgorithm: ALG, notBefore: new Date('2026-01-01'), notAfter: new Date('2030-01-01'),
      extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    });
    const leaf = await createCertificate({
      serialNumberHex: '0a0b0c', subject: 'C=KR, O=CoconutPay, CN=fuzzer, 2.5.4.5=00000000-0000-7000-8000-000000000000', issuer: root.subjectName, publicKey: keys.publicKey, signingKey: keys.privateKey,
      notBefore: new Date('2026-01-01'), notAfter: new Date('2027-01-01'),
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension([EKU.paymentSigning])],
    });
    certificateDer = new Uint8Array(leaf.rawData);
    const crl = await x509.X509CrlGenerator.create({
      issuer: root.subjectName, thisUpdate: new Date('2026-06-01'), nextUpdate: new Date('2026-06-08'), signingAlgorithm: ALG, signingKey: keys.privateKey,
      entries: [{ serialNumber: '0a0b0c', revocationDate: new Date('2026-05-30'), reason: x509.X509CrlReason.keyCompromise }],
    });
    crlDer = new Uint8Array(crl.rawData);
    const content = new TextEncoder().encode('{"type":"fuzz","v":1}');
    attributesDer = await signedAttributes(content, new Date('2026-06-01T00:00:00Z'), certificateDer);
    const signature = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, keys.privateKey, new Uint8Array(attributesDer)));
    cmsDer = assembleSignedData({ content, signedAttributesDer: attributesDer, signatureDer: p1363ToDer(signature), signerCertificate: certificateDer, otherCertificates: [new Uint8Array(root.rawData)], crls: [crlDer] });
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=device', keys, signingAlgorithm: ALG });
    csrDer = new Uint8Array(csr.rawData);
    // The real inputs parse: otherwise the mutations below would test nothing.
    expect(parseCertificate(certificateDer)).toBeTruthy();
    expect(parseCrl(crlDer)).toBeTruthy();
    expect(parseSignedData(cmsDer).content).toEqual(content);
    expect(await verifyCsrSignature(csrDer)).toBe(true);
  });

  const cases: [string, () => Uint8Array, (bytes: Uint8Array) => unknown][] = [
    ['certificate (path validator)', () => certificateDer, (b) => parseCertificate(b)],
    ['certificate (facts)', () => certificateDer, (b) => readCertificate(b)],
    ['CRL', () => crlDer, (b) => parseCrl(b)],
    ['CMS SignedData', () => cmsDer, (b) => parseSignedData(b)],
    ['CMS signed attributes', () => attributesDer, (b) => parseSignedAttributes(b)],
    ['CSR signature', () => csrDer, (b) => verifyCsrSignature(b)],
    ['CSR algorithm', () => csrDer, (b) => weakCsrSignatureAlgorithm(b)],
  ];

  for (const [name, sample, parse] of cases) {
    it(`${name}: random bytes and mutations of a real one never hang or crash`, async () => {
      let accepted = 0;
      let refused = 0;
      await fc.assert(fc.asyncProperty(fc.oneof(anyBytes, fc.constant(null).chain(() => mutationsOf(sample()))), async (bytes) => {
        if (await survives(parse, bytes)) accepted += 1;
        else refused += 1;
      }), { numRuns: RUNS });
      // Both outcomes happened: the inputs reached the parser's checks, and it still accepts what it should.
      expect(refused).toBeGreaterThan(0);
      expect(await survives(parse, sample())).toBe(true);
      expect(accepted + refused).toBe(RUNS);
    });
  }

  it('PEM text, receipt content and PIN proofs: random text never hangs or crashes', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }), async (text, bytes) => {
      await survives(() => allPemBlocks(text, 'CERTIFICATE'), bytes);
      await survives(() => fromPem(`-----BEGIN CERTIFICATE-----\n${text}\n-----END CERTIFICATE-----`, 'CERTIFICATE'), bytes);
      await survives((b) => readReceiptContent(b), bytes);
      await survives(() => pinProofMatches(text, { storedKey: text }, loginAuthMessage({ loginId: text, certificateId: text, nc: text, clientTimeMs: 0 })), bytes);
    }), { numRuns: RUNS });
  });
});
