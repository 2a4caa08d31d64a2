import { describe, expect, it } from 'vitest';
import { certificateAgeOf, settingsForm, settingsFromForm, type SettingsForm } from './use-policy-settings.js';

const shipped = { dailyLimitWon: null, failedAttemptsMax: 5, lockDurationMs: 900_000, codeValidityMs: 120_000 };

describe('policy settings in the editor', () => {
  it('shows a version’s settings in the fields’ units and reads them back', () => {
    const form = settingsForm(shipped);
    expect(form).toEqual({ dailyLimitWon: '', failedAttemptsMax: 5, lockMinutes: 15, codeValiditySeconds: 120 });
    expect(settingsFromForm(form)).toEqual({ ok: true, settings: shipped });
    expect(settingsFromForm({ ...form, dailyLimitWon: 300_000, lockMinutes: 1440, codeValiditySeconds: 30 })).toEqual({
      ok: true, settings: { dailyLimitWon: 300_000, failedAttemptsMax: 5, lockDurationMs: 86_400_000, codeValidityMs: 30_000 },
    });
  });

  it('names every field out of range with its limits, and sends nothing', () => {
    const bad: SettingsForm = { dailyLimitWon: 999, failedAttemptsMax: 21, lockMinutes: 0, codeValiditySeconds: 121 };
    const answer = settingsFromForm(bad);
    expect(answer.ok).toBe(false);
    if (answer.ok) return;
    expect(answer.problems).toEqual({
      dailyLimitWon: { key: 'admin.policies.settings.invalid.dailyLimitWon', params: { min: '1,000', max: '1,000,000,000,000' } },
      failedAttemptsMax: { key: 'admin.policies.settings.invalid.failedAttemptsMax', params: { min: '3', max: '20' } },
      lockMinutes: { key: 'admin.policies.settings.invalid.lockMinutes', params: { min: '1', max: '1,440' } },
      codeValiditySeconds: { key: 'admin.policies.settings.invalid.codeValiditySeconds', params: { min: '30', max: '120' } },
    });
    expect(settingsFromForm({ ...settingsForm(shipped), failedAttemptsMax: '' }).ok).toBe(false);
    expect(settingsFromForm({ ...settingsForm(shipped), failedAttemptsMax: 4.5 }).ok).toBe(false);
    expect(settingsFromForm({ ...settingsForm(shipped), failedAttemptsMax: 3 }).ok).toBe(true);
  });

  it('takes a certificate age of 1 to 3650 days, or none', () => {
    expect(certificateAgeOf('')).toEqual({ ok: true, days: null });
    expect(certificateAgeOf(7)).toEqual({ ok: true, days: 7 });
    expect(certificateAgeOf(0).ok).toBe(false);
    expect(certificateAgeOf(3651).ok).toBe(false);
    expect(certificateAgeOf(1.5).ok).toBe(false);
  });
});
