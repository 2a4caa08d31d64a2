/**
 * The policy editor's settings as the operator types them (docs/admin.md, "Authorization
 * policies"): the daily limit in won (empty for none), attempts before lock, the lock in
 * minutes and the code's validity in seconds, turned into the API's settings — or into one
 * message per field that is out of core's ranges, before anything is sent. The server
 * checks the same ranges again.
 */
import { POLICY_SETTINGS_RANGES } from '@coconutpay/core/payment';
import type { PolicySettings } from '../api/admin.js';
import type { MessageRef } from './use-message.js';

/** The fields of the editor; an empty field is `''` (what a cleared number input gives). */
export interface SettingsForm {
  dailyLimitWon: number | '';
  failedAttemptsMax: number | '';
  lockMinutes: number | '';
  codeValiditySeconds: number | '';
}

export type SettingsField = keyof SettingsForm;

const MINUTE_MS = 60_000;
const SECOND_MS = 1_000;

/** The ranges in the units of the fields. */
export const FIELD_RANGES: Record<SettingsField, { min: number; max: number }> = {
  dailyLimitWon: POLICY_SETTINGS_RANGES.dailyLimitWon,
  failedAttemptsMax: POLICY_SETTINGS_RANGES.failedAttemptsMax,
  lockMinutes: { min: POLICY_SETTINGS_RANGES.lockDurationMs.min / MINUTE_MS, max: POLICY_SETTINGS_RANGES.lockDurationMs.max / MINUTE_MS },
  codeValiditySeconds: { min: POLICY_SETTINGS_RANGES.codeValidityMs.min / SECOND_MS, max: POLICY_SETTINGS_RANGES.codeValidityMs.max / SECOND_MS },
};

/** The fields showing `settings`. */
export function settingsForm(settings: PolicySettings): SettingsForm {
  return {
    dailyLimitWon: settings.dailyLimitWon ?? '',
    failedAttemptsMax: settings.failedAttemptsMax,
    lockMinutes: settings.lockDurationMs / MINUTE_MS,
    codeValiditySeconds: settings.codeValidityMs / SECOND_MS,
  };
}

function wholeIn(value: number | '', field: SettingsField): boolean {
  const { min, max } = FIELD_RANGES[field];
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

const grouped = new Intl.NumberFormat('en-US');

/** The message for a field outside its range, its limits written with digit grouping (the same in Korean). */
function problemOf(field: SettingsField | 'certificateIssuedWithinDays', range: { min: number; max: number }): MessageRef {
  return { key: `admin.policies.settings.invalid.${field}`, params: { min: grouped.format(range.min), max: grouped.format(range.max) } };
}

/**
 * The settings the fields describe, or a message per invalid field. Only the daily limit
 * may be empty (no limit).
 *
 * @example
 * settingsFromForm({ dailyLimitWon: '', failedAttemptsMax: 5, lockMinutes: 15, codeValiditySeconds: 120 })
 * // { ok: true, settings: { dailyLimitWon: null, failedAttemptsMax: 5, lockDurationMs: 900000, codeValidityMs: 120000 } }
 */
export function settingsFromForm(form: SettingsForm): { ok: true; settings: PolicySettings } | { ok: false; problems: Partial<Record<SettingsField, MessageRef>> } {
  const problems: Partial<Record<SettingsField, MessageRef>> = {};
  if (form.dailyLimitWon !== '' && !wholeIn(form.dailyLimitWon, 'dailyLimitWon')) problems.dailyLimitWon = problemOf('dailyLimitWon', FIELD_RANGES.dailyLimitWon);
  for (const field of ['failedAttemptsMax', 'lockMinutes', 'codeValiditySeconds'] as const) {
    if (!wholeIn(form[field], field)) problems[field] = problemOf(field, FIELD_RANGES[field]);
  }
  if (Object.keys(problems).length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      dailyLimitWon: form.dailyLimitWon === '' ? null : form.dailyLimitWon,
      failedAttemptsMax: form.failedAttemptsMax as number,
      lockDurationMs: (form.lockMinutes as number) * MINUTE_MS,
      codeValidityMs: (form.codeValiditySeconds as number) * SECOND_MS,
    },
  };
}

/**
 * A rule's "certificate issued less than N days ago" as typed: empty is any age (null),
 * otherwise whole days in range, or a message.
 */
export function certificateAgeOf(value: number | '' | null): { ok: true; days: number | null } | { ok: false; problem: MessageRef } {
  if (value === '' || value === null) return { ok: true, days: null };
  const range = POLICY_SETTINGS_RANGES.certificateIssuedWithinDays;
  if (Number.isSafeInteger(value) && value >= range.min && value <= range.max) return { ok: true, days: value };
  return { ok: false, problem: problemOf('certificateIssuedWithinDays', range) };
}
