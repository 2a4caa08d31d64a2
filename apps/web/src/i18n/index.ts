/**
 * The app's i18n instance. On a first visit the language follows the browser's
 * (Korean for any `ko*` tag, English otherwise); once the user picks one, the choice
 * is kept in localStorage (a preference, not a secret) and wins from then on. The
 * language is mirrored to `<html lang>`.
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

/**
 * The language for a visitor who has not chosen one: the first of the browser's
 * preferred languages that the app speaks, else English (a visitor whose browser
 * asks for neither Korean nor English more likely reads English).
 *
 * @example
 * browserLocale(['ko-KR', 'en-US']) // 'ko'
 * browserLocale(['fr-FR']) // 'en'
 */
export function browserLocale(languages: readonly string[]): Locale {
  for (const tag of languages) {
    const primary = tag.toLowerCase().split('-')[0];
    if (primary === 'ko') return 'ko';
    if (primary === 'en') return 'en';
  }
  return 'en';
}

function navigatorLanguages(): readonly string[] {
  if (typeof navigator === 'undefined') return [];
  if (navigator.languages?.length) return navigator.languages;
  return navigator.language ? [navigator.language] : [];
}

/** The remembered choice, else the browser's language. */
export function initialLocale(stored: string | null, languages: readonly string[]): Locale {
  return isLocale(stored) ? stored : browserLocale(languages);
}

function storedLocale(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage may be blocked; the browser's language decides then.
    return null;
  }
}

/** The i18n plugin, Composition API mode. */
export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: initialLocale(storedLocale(), navigatorLanguages()),
  fallbackLocale: 'ko',
  messages: { ko, en },
  missingWarn: import.meta.env.DEV,
  fallbackWarn: false,
});

/** The current language. */
export function currentLocale(): Locale {
  return i18n.global.locale.value;
}

/** Switches the language, remembers it (so the browser's language no longer decides) and updates `<html lang>`. */
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
