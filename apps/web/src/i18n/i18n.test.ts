import { afterEach, describe, expect, it, vi } from 'vitest';
import { createI18n } from 'vue-i18n';
import { ERROR_CODES } from '@coconutpay/core/errors';
import { CATEGORIES, PRODUCT_SORTS } from '@coconutpay/core/catalogue';
import { en } from './en.js';
import { ko } from './ko.js';

type Tree = { [key: string]: string | Tree };

/** Every leaf key of a message tree as a dotted path, with its text. */
function leaves(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.set(path, value);
    else for (const [p, v] of leaves(value, path)) out.set(p, v);
  }
  return out;
}

const locales = { ko: leaves(ko), en: leaves(en) };

describe('messages', () => {
  afterEach(() => vi.restoreAllMocks());

  it('has the same keys in Korean and English', () => {
    expect([...locales.en.keys()].sort()).toEqual([...locales.ko.keys()].sort());
  });

  it('has no empty text', () => {
    for (const [name, messages] of Object.entries(locales)) {
      for (const [key, value] of messages) expect(value.trim(), `${name}:${key}`).not.toBe('');
    }
  });

  it('translates every registered error code in both languages', () => {
    for (const code of ERROR_CODES) {
      expect(locales.ko.get(`errors.${code}`), `ko errors.${code}`).toBeTypeOf('string');
      expect(locales.en.get(`errors.${code}`), `en errors.${code}`).toBeTypeOf('string');
    }
  });

  it('translates every category and sort order', () => {
    for (const id of CATEGORIES) expect(locales.ko.has(`categories.${id}`) && locales.en.has(`categories.${id}`), id).toBe(true);
    for (const id of PRODUCT_SORTS) expect(locales.ko.has(`sorts.${id}`) && locales.en.has(`sorts.${id}`), id).toBe(true);
  });

  it('fails the check above when a code is missing', () => {
    // Guards the guard: a tree without one code must not pass the lookup used above.
    const { LOGIN_FAILED: _dropped, ...rest } = ko.errors;
    const partial = leaves({ errors: rest });
    expect(ERROR_CODES.every((code) => partial.has(`errors.${code}`))).toBe(false);
  });

  it('compiles every message without warnings and fills its placeholders', () => {
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    const i18n = createI18n({ legacy: false, locale: 'ko', fallbackLocale: 'ko', messages: { ko, en } });
    const params = { name: 'N', count: 3, total: 7, page: 1, pages: 2, min: 1, max: 99, percent: 50 };
    for (const locale of ['ko', 'en'] as const) {
      i18n.global.locale.value = locale;
      for (const [key, source] of locales[locale]) {
        const text = i18n.global.t(key, params);
        expect(text, `${locale}:${key}`).not.toBe(key);
        expect(text, `${locale}:${key} still holds a placeholder`).not.toMatch(/\{[a-z]+\}/);
        if (!source.includes('{')) expect(text, `${locale}:${key}`).toBe(source);
      }
    }
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });
});
