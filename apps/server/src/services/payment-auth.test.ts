import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, type PolicyRule } from '../db/payment-auth-repository.js';
import { decidePolicy } from './payment-auth.js';

const rules: PolicyRule[] = DEFAULT_POLICY.map((r, i) => ({ ...r, id: `r${i}` }));
const DAY_MS = 86_400_000;
const facts = (amountWon: bigint, firstPayment = false, certificateKind: 'master' | 'additional' = 'master', certificateAgeMs = 365 * DAY_MS) => ({ amountWon, firstPayment, certificateKind, certificateAgeMs });

describe('authorization policy', () => {
  it('ships: code on a certificate’s first payment and from 50,000 won, none below', () => {
    expect(decidePolicy(rules, facts(12_000n, true))).toMatchObject({ rule: 'first-payment-of-certificate', requireCode: true });
    expect(decidePolicy(rules, facts(50_000n))).toMatchObject({ rule: 'amount-at-least-50000', requireCode: true });
    expect(decidePolicy(rules, facts(49_999n))).toMatchObject({ rule: 'default', requireCode: false });
    expect(decidePolicy(rules, facts(49_999n)).reason).toMatch(/without a code/);
  });

  it('takes the first enabled rule whose conditions all hold; a disabled rule is skipped', () => {
    const additional: PolicyRule = { id: 'x', priority: 5, rule: 'additional-always', description: 'devices always', certificateKind: 'additional', minAmountWon: null, firstPaymentOfCertificate: null, certificateIssuedWithinDays: null, requireCode: true, enabled: true };
    const withDevices = [additional, ...rules];
    expect(decidePolicy(withDevices, facts(1_000n, false, 'additional')).rule).toBe('additional-always');
    expect(decidePolicy(withDevices, facts(1_000n, false, 'master')).rule).toBe('default');
    expect(decidePolicy([{ ...additional, enabled: false }, ...rules], facts(1_000n, false, 'additional')).rule).toBe('default');
  });

  it('asks for the code when no rule matches (the safe side)', () => {
    expect(decidePolicy([], facts(1n))).toMatchObject({ requireCode: true, rule: '(none)' });
    expect(decidePolicy(rules.filter((r) => r.rule !== 'default'), facts(1n))).toMatchObject({ requireCode: true });
  });

  it('a certificate-age rule holds for a certificate issued less than N days ago, and not from the N-th day on', () => {
    const newDevice: PolicyRule = { id: 'n', priority: 5, rule: 'new-device', description: 'new devices', certificateKind: null, minAmountWon: null, firstPaymentOfCertificate: null, certificateIssuedWithinDays: 7, requireCode: true, enabled: true };
    const withAge = [newDevice, ...rules];
    expect(decidePolicy(withAge, facts(1_000n, false, 'master', 0)).rule).toBe('new-device');
    expect(decidePolicy(withAge, facts(1_000n, false, 'master', 7 * DAY_MS - 1)).rule).toBe('new-device');
    expect(decidePolicy(withAge, facts(1_000n, false, 'master', 7 * DAY_MS)).rule).toBe('default');
  });
});

describe('the sealed command', () => {
  it('holds exactly the canonical JSON of { jws } for a JWS made by A\'s signer, and core-compatible openers read it', async () => {
    const { generateKeyPairSync, randomBytes } = await import('node:crypto');
    const { canonicalJsonBytes } = await import('@coconutpay/core/encoding/canonical-json');
    const { JsonSigner } = await import('./pki/json-signer.js');
    const { openDirectJwe } = await import('./pki/compact-jwe.js');
    const { sealCommand } = await import('./payment-auth.js');
    const signer = new JsonSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, [randomBytes(700), randomBytes(600)], 'coconutpay-com+jws');
    const reply = randomBytes(32);
    for (const command of [{ v: 1, storeName: '코코넛 마트', note: 'quote " and \\ and \n' }, { v: 1 }]) {
      const jws = signer.sign(command);
      const opened = openDirectJwe(sealCommand(jws, reply), reply, 'coconutpay-payment-command');
      expect(opened.equals(Buffer.from(canonicalJsonBytes({ jws })))).toBe(true);
    }
  });
});
