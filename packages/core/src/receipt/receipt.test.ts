import { describe, expect, it } from 'vitest';
import { utf8 } from '../encoding/index.js';
import {
  businessNumberValid, readReceiptContent, receiptContentBytes, receiptNumberOf, storePhoneValid, verifyReceipt, type ReceiptContent,
} from './index.js';

const CONTENT: ReceiptContent = {
  v: 1,
  type: 'coconutpay-receipt',
  receiptNumber: 'CP-20261207-W6FP5C-R2',
  replaces: 'CP-20261207-W6FP5C-R1',
  orderNumber: 'CP-20261207-W6FP5C',
  soldAtMs: 1_796_552_280_000,
  store: { sellerId: '0190f3a0-0000-7000-8000-000000000001', storeName: '감귤농원', businessNumber: '220-81-62517', address: '서울', representative: '박판매', phone: '02-123-4567' },
  lines: [{ name: '감귤', unitPriceWon: 12_500, quantity: 3, amountWon: 37_500 }, { name: '한라봉', unitPriceWon: 30_000, quantity: 1, amountWon: 30_000 }],
  totalWon: 67_500,
  currency: 'KRW',
  paymentEvidenceSha256: 'ab'.repeat(32),
};

describe('receipt content', () => {
  it('reads back what it encodes, canonically (sorted keys, no blanks)', () => {
    const bytes = receiptContentBytes(CONTENT);
    expect(readReceiptContent(bytes)).toEqual(CONTENT);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{"currency":"KRW","lines":[{"amountWon":37500,')).toBe(true);
    expect(text).not.toMatch(/\s"/);
  });

  it('refuses content that says two things at once or is not a receipt', () => {
    const variants: unknown[] = [
      { ...CONTENT, totalWon: 67_501 },
      { ...CONTENT, lines: [{ ...CONTENT.lines[0]!, amountWon: 37_501 }, CONTENT.lines[1]] },
      { ...CONTENT, lines: [] },
      { ...CONTENT, lines: [{ ...CONTENT.lines[0]!, quantity: 0, amountWon: 0 }], totalWon: 0 },
      { ...CONTENT, receiptNumber: 'CP-20261207-W6FP5C' },
      { ...CONTENT, replaces: 'R1' },
      { ...CONTENT, type: 'coconutpay-payment-authorization' },
      { ...CONTENT, totalWon: 67_500.5 },
      { ...CONTENT, paymentEvidenceSha256: 'AB'.repeat(32) },
      { ...CONTENT, store: { ...CONTENT.store, storeName: 7 } },
    ];
    for (const variant of variants) expect(readReceiptContent(utf8(JSON.stringify(variant))), JSON.stringify(variant)).toBeUndefined();
    expect(readReceiptContent(utf8('not json'))).toBeUndefined();
    expect(readReceiptContent(new Uint8Array([0xff, 0xfe]))).toBeUndefined();
  });

  it('numbers receipts per order', () => {
    expect(receiptNumberOf('CP-20261207-W6FP5C', 1)).toBe('CP-20261207-W6FP5C-R1');
    expect(() => receiptNumberOf('CP-20261207-W6FP5C', 0)).toThrow(RangeError);
    expect(() => receiptNumberOf('CP-20261207-W6FP5C', 1000)).toThrow(RangeError);
  });
});

describe('business registration number and phone', () => {
  it('holds the check digit', () => {
    for (const valid of ['220-81-62517', '2208162517', '124-81-00998']) expect(businessNumberValid(valid), valid).toBe(true);
    for (const invalid of ['220-81-62518', '123-45-67890', '214-86-12345', '220-81-6251', '22-081-62517', '220 81 62517', '']) expect(businessNumberValid(invalid), invalid).toBe(false);
  });

  it('every tenth digit but one fails for the same first nine', () => {
    const accepted = [...'0123456789'].filter((d) => businessNumberValid(`220-81-6251${d}`));
    expect(accepted).toEqual(['7']);
  });

  it('takes Korean phone numbers only', () => {
    for (const valid of ['02-123-4567', '010-1234-5678', '051-700-1234', '0212345678', '1588-1234']) expect(storePhoneValid(valid), valid).toBe(true);
    for (const invalid of ['12-34', '+82 2 123 4567', '02-12-34567x', '010-12345-678', '']) expect(storePhoneValid(invalid), invalid).toBe(false);
  });
});

describe('verifyReceipt on input that is not a receipt', () => {
  it('fails the format check and nothing else runs', async () => {
    const verdict = await verifyReceipt(utf8('not a CMS file'), []);
    expect(verdict.valid).toBe(false);
    expect(verdict.checks.find((c) => c.name === 'format')).toMatchObject({ outcome: 'failed', codes: ['RECEIPT_INVALID'] });
    expect(verdict.checks.filter((c) => c.outcome !== 'skipped').map((c) => c.name)).toEqual(['format']);
  });
});
