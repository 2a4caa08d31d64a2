/** Dates and times on screen, in the current language. */
import { computed } from 'vue';
import { useI18n } from 'vue-i18n';

/**
 * Returns a formatter of epoch milliseconds as a medium date with a short time
 * (with seconds when asked: a payment's time), following the language switch.
 *
 * @example
 * const dateTime = useDateTime();
 * dateTime(certificate.notAfterMs) // '2027. 1. 5. 오후 3:04'
 */
export function useDateTime(options: { seconds?: boolean } = {}): (ms: number) => string {
  const { locale } = useI18n();
  const timeStyle = options.seconds ? 'medium' : 'short';
  const format = computed(() => new Intl.DateTimeFormat(locale.value === 'en' ? 'en' : 'ko', { dateStyle: 'medium', timeStyle }));
  return (ms) => format.value.format(new Date(ms));
}
