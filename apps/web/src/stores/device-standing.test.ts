/**
 * What the pay page tells a device about its certificate: usable, revoked (its own
 * revocation or its master's), expired, or none at all.
 */
import { describe, expect, it } from 'vitest';
import type { CertificateInfo } from '../api/certificates.js';
import { deviceStanding } from './certificates.js';

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 10, 1, 9);

function certificate(info: Partial<CertificateInfo> & Pick<CertificateInfo, 'id' | 'kind'>): CertificateInfo {
  return {
    serialHex: '0a1b2c', subject: 'CN=buyer', status: 'active', notBeforeMs: T0, notAfterMs: T0 + 365 * DAY_MS, revokedAtMs: null, revocationReason: null,
    deviceNickname: null, approvedByCertificateId: null, spkiSha256Hex: '00', lastUsedAtMs: null, createdAtMs: T0, ...info,
  };
}

describe('deviceStanding', () => {
  it('is none on a device that holds no key of mine, even with keys of certificates not in my list', () => {
    const master = certificate({ id: 'm1', kind: 'master' });
    expect(deviceStanding([master], new Set())).toEqual({ kind: 'none' });
    expect(deviceStanding([master], new Set(['someone-elses']))).toEqual({ kind: 'none' });
    expect(deviceStanding([], new Set())).toEqual({ kind: 'none' });
  });

  it('is usable with an active certificate here, the master preferred over an additional one', () => {
    const master = certificate({ id: 'm1', kind: 'master' });
    const phone = certificate({ id: 'a1', kind: 'additional', deviceNickname: 'phone', approvedByCertificateId: 'm1', createdAtMs: T0 + DAY_MS });
    expect(deviceStanding([phone, master], new Set(['a1', 'm1']))).toEqual({ kind: 'usable', certificate: master });
    expect(deviceStanding([phone, master], new Set(['a1']))).toEqual({ kind: 'usable', certificate: phone });
  });

  it('an active certificate here wins over an older revoked one here', () => {
    const old = certificate({ id: 'm0', kind: 'master', status: 'revoked', revokedAtMs: T0 + DAY_MS, revocationReason: 'keyCompromise' });
    const current = certificate({ id: 'm1', kind: 'master', createdAtMs: T0 + DAY_MS });
    expect(deviceStanding([current, old], new Set(['m0', 'm1']))).toEqual({ kind: 'usable', certificate: current });
  });

  it('reports the newest revoked certificate here with its own time and reason', () => {
    const older = certificate({ id: 'm0', kind: 'master', status: 'revoked', revokedAtMs: T0 + DAY_MS, revocationReason: 'superseded' });
    const newer = certificate({ id: 'm1', kind: 'master', status: 'revoked', revokedAtMs: T0 + 3 * DAY_MS, revocationReason: 'keyCompromise', createdAtMs: T0 + 2 * DAY_MS });
    expect(deviceStanding([older, newer], new Set(['m0', 'm1']))).toEqual({
      kind: 'revoked', certificate: newer, revokedAtMs: T0 + 3 * DAY_MS, reason: 'keyCompromise', withMaster: null,
    });
  });

  it('says an additional certificate went with its master, with the master’s reason', () => {
    const master = certificate({ id: 'm1', kind: 'master', status: 'revoked', revokedAtMs: T0 + 5 * DAY_MS, revocationReason: 'superseded' });
    const phone = certificate({
      id: 'a1', kind: 'additional', deviceNickname: 'phone', approvedByCertificateId: 'm1', status: 'revoked',
      revokedAtMs: T0 + 5 * DAY_MS, revocationReason: 'superseded', createdAtMs: T0 + DAY_MS,
    });
    const replacement = certificate({ id: 'm2', kind: 'master', createdAtMs: T0 + 5 * DAY_MS });
    const standing = deviceStanding([replacement, phone, master], new Set(['a1']));
    expect(standing).toEqual({ kind: 'revoked', certificate: phone, revokedAtMs: T0 + 5 * DAY_MS, reason: 'superseded', withMaster: master });
  });

  it('does not blame the master when the device was revoked on its own before the master went', () => {
    const master = certificate({ id: 'm1', kind: 'master', status: 'revoked', revokedAtMs: T0 + 9 * DAY_MS, revocationReason: 'cessationOfOperation' });
    const phone = certificate({
      id: 'a1', kind: 'additional', deviceNickname: 'phone', approvedByCertificateId: 'm1', status: 'revoked',
      revokedAtMs: T0 + 2 * DAY_MS, revocationReason: 'keyCompromise', createdAtMs: T0 + DAY_MS,
    });
    expect(deviceStanding([phone, master], new Set(['a1']))).toMatchObject({ kind: 'revoked', reason: 'keyCompromise', withMaster: null });
    // And not when its master is still active (the device alone was revoked).
    const activeMaster = certificate({ id: 'm1', kind: 'master' });
    expect(deviceStanding([phone, activeMaster], new Set(['a1']))).toMatchObject({ kind: 'revoked', reason: 'keyCompromise', withMaster: null });
  });

  it('reports an expired certificate here with the end of its validity', () => {
    const expired = certificate({ id: 'm1', kind: 'master', status: 'expired', notAfterMs: T0 + 30 * DAY_MS });
    expect(deviceStanding([expired], new Set(['m1']))).toEqual({ kind: 'expired', certificate: expired, expiredAtMs: T0 + 30 * DAY_MS });
  });
});
