/**
 * Messages kept as references (key + parameters) rather than finished text, so
 * that what is on screen follows a language switch.
 */
import { useI18n } from 'vue-i18n';
import { isErrorCode } from '@coconutpay/core/errors';
import { ApiError } from '../api/client.js';

/** A translatable message; `fallback` is shown when the key has no translation. */
export interface MessageRef {
  key: string;
  params?: Record<string, unknown>;
  fallback?: string;
}

/** The message describing any failure of an API call (or anything else thrown). */
export function errorMessage(error: unknown): MessageRef {
  if (error instanceof ApiError) {
    if (error.code === 'NETWORK_ERROR') return { key: 'common.networkError' };
    if (error.code === 'UNEXPECTED_RESPONSE') return { key: 'common.unexpectedError' };
    // Every registered code has a Korean and an English text (i18n.test.ts holds this); the
    // server's English title and detail are never shown, so a page stays in one language and
    // shows no internals. A missing text falls back to the generic message in useMessage.
    return { key: `errors.${error.code}` };
  }
  return { key: 'common.unexpectedError' };
}

/** The message for one invalid field, from its validation code. */
export function fieldErrorMessage(code: string): MessageRef {
  if (isErrorCode(code)) return { key: `errors.${code}` };
  return { key: `validation.${code}`, fallback: '' };
}

/**
 * Returns a function that turns a {@link MessageRef} into text in the current language.
 *
 * @example
 * const text = useMessage();
 * text({ key: 'errors.LOGIN_FAILED' })
 */
export function useMessage(): (message: MessageRef | null | undefined) => string {
  const { t, te } = useI18n();
  return (message) => resolveMessage(message, t, te);
}

/** The translator functions {@link resolveMessage} needs (vue-i18n's `t` and `te`). */
export interface Translator {
  t(key: string, params?: Record<string, unknown>): string;
  te(key: string): boolean;
}

/**
 * The text of a {@link MessageRef} in the translator's language: its translation, else its
 * fallback, else a generic translated message. Never the key itself.
 */
export function resolveMessage(message: MessageRef | null | undefined, t: Translator['t'], te: Translator['te']): string {
  if (!message) return '';
  if (te(message.key)) return message.params ? t(message.key, message.params) : t(message.key);
  if (message.fallback) return message.fallback;
  return message.key.startsWith('validation.') ? t('validation.invalid') : t('common.unexpectedError');
}
