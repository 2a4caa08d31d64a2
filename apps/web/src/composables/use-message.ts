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
    // A code newer than this build's translations falls back to the server's title.
    return { key: `errors.${error.code}`, fallback: error.title };
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
  return (message) => {
    if (!message) return '';
    if (te(message.key)) return message.params ? t(message.key, message.params) : t(message.key);
    if (message.fallback) return message.fallback;
    return message.key.startsWith('validation.') ? t('validation.invalid') : t('common.unexpectedError');
  };
}
