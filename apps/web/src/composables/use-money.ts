/** Money on screen, always through core's one formatter. */
import { useI18n } from 'vue-i18n';
import { formatWon } from '@coconutpay/core/money';

/**
 * Returns a formatter of won amounts in the current language:
 * `800,000원` in Korean, `₩800,000` in English.
 */
export function useMoney(): (amountWon: number) => string {
  const { locale } = useI18n();
  return (amountWon) => formatWon(amountWon, locale.value === 'en' ? 'en' : 'ko');
}
