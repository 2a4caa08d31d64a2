/**
 * Catalogue vocabulary shared by server and web: categories, limits, sort orders.
 */

/** Product categories. The web app translates each id. */
export const CATEGORIES = ['electronics', 'fashion', 'food', 'home', 'beauty', 'sports', 'books'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Sort orders of the product list. */
export const PRODUCT_SORTS = ['newest', 'price_asc', 'price_desc', 'name'] as const;
export type ProductSort = (typeof PRODUCT_SORTS)[number];

/** Page size bounds of every list. */
export const PAGE_SIZE_DEFAULT = 12;
export const PAGE_SIZE_MAX = 60;

/** Field limits of a product. */
export const PRODUCT_NAME_LENGTH_MAX = 100;
export const PRODUCT_DESCRIPTION_LENGTH_MAX = 4000;
export const PRODUCT_STOCK_MAX = 1_000_000;

/** Quantity bounds of one cart line. */
export const CART_QUANTITY_MAX = 99;
/** Distinct products in one cart. */
export const CART_LINES_MAX = 50;

/** Accepted image types and the largest image, in bytes. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];
export const IMAGE_SIZE_MAX_BYTES = 2 * 1024 * 1024;

/**
 * The image type that the file's first bytes prove, or `undefined`. The server
 * trusts these magic numbers, never the declared content type alone.
 */
export function sniffImageType(bytes: Uint8Array): ImageType | undefined {
  const starts = (sig: number[], offset = 0) => sig.every((b, i) => bytes[offset + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  return undefined;
}
