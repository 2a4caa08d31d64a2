import { describe, expect, it } from 'vitest';
import { createI18n } from 'vue-i18n';
import { ERROR_CODES, ERRORS } from '@coconutpay/core/errors';
import { ApiError } from '../api/client.js';
import { en } from '../i18n/en.js';
import { ko } from '../i18n/ko.js';
import { errorMessage, resolveMessage } from './use-message.js';

const i18n = createI18n({ legacy: false, locale: 'ko', fallbackLocale: 'ko', messages: { ko, en }, missingWarn: false, fallbackWarn: false });
const t = (key: string, params?: Record<string, unknown>) => (params ? i18n.global.t(key, params) : i18n.global.t(key));
// `te` in the current locale only, so a text missing in English is not hidden by the Korean fallback.
const te = (key: string) => i18n.global.te(key, i18n.global.locale.value);
/** A detail of the kind the issue found on a page: internal, English, not for buyers. */
const DETAIL = 'bytes follow the end of the DER value';

describe('error text on screen', () => {
  for (const locale of ['ko', 'en'] as const) {
    it(`shows every registered error code as ${locale} text, never the code, title or detail`, () => {
      i18n.global.locale.value = locale;
      const messages = locale === 'ko' ? ko : en;
      for (const code of ERROR_CODES) {
        const error = new ApiError({ status: ERRORS[code].status, code, title: ERRORS[code].title, detail: DETAIL });
        const shown = resolveMessage(errorMessage(error), t, te);
        expect(shown, `${locale} ${code}`).toBe((messages.errors as Record<string, string>)[code]);
        expect(shown, `${locale} ${code}`).not.toContain(code);
        expect(shown, `${locale} ${code}`).not.toContain(DETAIL);
        if (locale === 'ko') expect(shown, `ko ${code} is not the English title`).not.toBe(ERRORS[code].title);
      }
    });
  }

  it('shows the generic translated message for a code without a text, not the code', () => {
    i18n.global.locale.value = 'ko';
    expect(resolveMessage({ key: 'errors.SOMETHING_NEW' }, t, te)).toBe(ko.common.unexpectedError);
    i18n.global.locale.value = 'en';
    expect(resolveMessage({ key: 'errors.SOMETHING_NEW' }, t, te)).toBe(en.common.unexpectedError);
  });

  it('shows network and unreadable responses as their own translated messages', () => {
    i18n.global.locale.value = 'ko';
    expect(resolveMessage(errorMessage(new ApiError({ status: 0, code: 'NETWORK_ERROR', title: 'Network error' })), t, te)).toBe(ko.common.networkError);
    expect(resolveMessage(errorMessage(new ApiError({ status: 502, code: 'UNEXPECTED_RESPONSE', title: 'Bad gateway' })), t, te)).toBe(ko.common.unexpectedError);
    expect(resolveMessage(errorMessage(new Error('TypeError: x is undefined')), t, te)).toBe(ko.common.unexpectedError);
  });
});
