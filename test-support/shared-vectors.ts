/**
 * Test vectors written by others (x509-limbo, Wycheproof, RFC 8785) that our tests must
 * agree with. They are not part of this repository: they sit in `../shared/vectors` beside
 * the checkout, or wherever COCONUTPAY_SHARED_VECTORS points. A test never skips for want of
 * them; it fails saying where it looked.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BESIDE_CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'vectors');

/** The path of `relative` (a file or folder) in the shared vectors; throws when it is not there. */
export function sharedVectorPath(relative: string): string {
  const root = process.env.COCONUTPAY_SHARED_VECTORS ?? BESIDE_CHECKOUT;
  const full = path.join(root, relative);
  if (!existsSync(full)) {
    throw new Error(`shared test vectors missing: ${full} — put them at ../shared/vectors beside the checkout, or set COCONUTPAY_SHARED_VECTORS`);
  }
  return full;
}
