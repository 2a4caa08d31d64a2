/**
 * The app's i18n instance. Korean is the default; the choice is kept in
 * localStorage (a preference, not a secret) and mirrored to `<html lang>`.
 */
import { createI18n } from 'vue-i18n';
import type { MoneyLocale } from '@coconutpay/core/money';
import { en } from './en.js';
import { ko, type Messages } from './ko.js';

/** The languages the app speaks. */
export const LOCALES = ['ko', 'en'] as const;
export type Locale = (typeof LOCALES)[number] & MoneyLocale;

const STORAGE_KEY = 'coconutpay.locale';

function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

function storedLocale(): Locale {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    if (isLocale(value)) return value;
  } catch {
    // Storage may be blocked; Korean is the default then.
  }
  return 'ko';
}

/** The i18n plugin, Composition API mode. */
export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: storedLocale(),
  fallbackLocale: 'ko',
  messages: { ko, en },
  missingWarn: import.meta.env.DEV,
  fallbackWarn: false,
});

/** The current language. */
export function currentLocale(): Locale {
  return i18n.global.locale.value;
}

/** Switches the language, remembers it and updates `<html lang>`. */
export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  document.documentElement.lang = locale;
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // The choice then lasts for this page load only.
  }
}

/** Applies the remembered language to the document at start-up. */
export function applyInitialLocale(): void {
  document.documentElement.lang = currentLocale();
}
