/**
 * Money is integer won. Arithmetic uses `bigint`; the wire carries JSON integers,
 * which is exact because every amount is bounded far below 2^53.
 */

/** The highest price of one product, in won (one billion won). */
export const PRICE_MAX_WON = 1_000_000_000n;

/** The highest amount any single figure (a cart total, a balance) may reach, in won. */
export const AMOUNT_MAX_WON = 1_000_000_000_000n;

/** Supported display locales. */
export type MoneyLocale = 'ko' | 'en';

/**
 * Converts a JSON number or decimal string to won, refusing fractions, NaN and
 * anything beyond `AMOUNT_MAX_WON`.
 */
export function toWon(value: number | bigint | string): bigint {
  let won: bigint;
  if (typeof value === 'bigint') won = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError('won must be a safe integer');
    won = BigInt(value);
  } else {
    if (!/^-?[0-9]{1,16}$/.test(value)) throw new RangeError('won must be an integer');
    won = BigInt(value);
  }
  if (won > AMOUNT_MAX_WON || won < -AMOUNT_MAX_WON) throw new RangeError('won out of range');
  return won;
}

/** Converts won to a JSON-safe number; the bound check makes this exact. */
export function wonToNumber(won: bigint): number {
  if (won > AMOUNT_MAX_WON || won < -AMOUNT_MAX_WON) throw new RangeError('won out of range');
  return Number(won);
}

function groupThousands(won: bigint): string {
  const negative = won < 0n;
  const digits = (negative ? -won : won).toString();
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return negative ? `-${grouped}` : grouped;
}

/**
 * Formats won for people: `800,000원` in Korean, `₩800,000` in English.
 *
 * @example
 * formatWon(800000n, 'ko') // '800,000원'
 */
export function formatWon(amountWon: bigint | number, locale: MoneyLocale = 'ko'): string {
  const won = toWon(amountWon);
  const grouped = groupThousands(won);
  if (locale === 'en') return grouped.startsWith('-') ? `-₩${grouped.slice(1)}` : `₩${grouped}`;
  return `${grouped}원`;
}

/** Sum of line amounts (unit price × quantity), bounded. */
export function lineTotalWon(unitPriceWon: bigint, quantity: number): bigint {
  if (!Number.isSafeInteger(quantity) || quantity < 0) throw new RangeError('quantity must be a non-negative integer');
  if (unitPriceWon < 0n || unitPriceWon > PRICE_MAX_WON) throw new RangeError('unit price out of range');
  const total = unitPriceWon * BigInt(quantity);
  if (total > AMOUNT_MAX_WON) throw new RangeError('line total out of range');
  return total;
}
