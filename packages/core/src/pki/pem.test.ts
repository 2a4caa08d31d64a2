import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allPemBlocks, fromPem, PEM_BLOCKS_MAX, PemError, toPem } from './pem.js';

describe('PEM', () => {
  it('round-trips any bytes and wraps lines at 64 characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), (der) => {
        const pem = toPem(der, 'CERTIFICATE');
        for (const line of pem.split('\n')) expect(line.length).toBeLessThanOrEqual(64);
        expect(pem.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
        expect(fromPem(pem, 'CERTIFICATE')).toEqual(der);
      }),
    );
  });

  it('matches the base64 Node produces', () => {
    const der = new Uint8Array(100).map((_, i) => i * 7);
    const body = Buffer.from(der).toString('base64');
    expect(body.length).toBe(136);
    expect(toPem(der, 'PUBLIC KEY')).toBe(`-----BEGIN PUBLIC KEY-----\n${body.slice(0, 64)}\n${body.slice(64, 128)}\n${body.slice(128)}\n-----END PUBLIC KEY-----\n`);
  });

  it('finds the blocks of one label among others, in order, with CRLF line ends', () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array([4, 5, 6, 7]);
    const text = ['subject=CN=x', toPem(a, 'CERTIFICATE'), toPem(new Uint8Array([9]), 'ENCRYPTED PRIVATE KEY'), toPem(b, 'CERTIFICATE')].join('\n').replace(/\n/g, '\r\n');
    expect(allPemBlocks(text, 'CERTIFICATE')).toEqual([a, b]);
    expect(fromPem(text, 'ENCRYPTED PRIVATE KEY')).toEqual(new Uint8Array([9]));
  });

  it('does not mistake one label for a longer one', () => {
    const text = toPem(new Uint8Array([1]), 'ENCRYPTED PRIVATE KEY');
    expect(() => fromPem(text, 'PRIVATE KEY')).toThrow(PemError);
  });

  it('refuses damaged base64, a missing block, bad labels and too many blocks', () => {
    expect(() => fromPem('-----BEGIN CERTIFICATE-----\nAQI\n-----END CERTIFICATE-----\n', 'CERTIFICATE')).toThrow(PemError);
    expect(() => fromPem('-----BEGIN CERTIFICATE-----\nA=QI\n-----END CERTIFICATE-----\n', 'CERTIFICATE')).toThrow(PemError);
    expect(() => fromPem('-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n', 'CERTIFICATE')).toThrow(PemError);
    expect(() => fromPem('no pem here', 'CERTIFICATE')).toThrow(PemError);
    expect(() => toPem(new Uint8Array([1]), 'BAD-----LABEL')).toThrow(PemError);
    expect(() => toPem(new Uint8Array([1]), '')).toThrow(PemError);
    expect(() => toPem(new Uint8Array(0), 'CERTIFICATE')).toThrow(PemError);
    const many = toPem(new Uint8Array([1]), 'CERTIFICATE').repeat(PEM_BLOCKS_MAX + 1);
    expect(() => allPemBlocks(many, 'CERTIFICATE')).toThrow(PemError);
    expect(allPemBlocks(toPem(new Uint8Array([1]), 'CERTIFICATE').repeat(PEM_BLOCKS_MAX), 'CERTIFICATE')).toHaveLength(PEM_BLOCKS_MAX);
  });
});
