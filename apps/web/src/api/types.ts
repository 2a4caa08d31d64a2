/**
 * Shapes of the JSON the API answers with. Amounts are JSON integers in won;
 * times are milliseconds since the Unix epoch.
 */
import type { Category } from '@coconutpay/core/catalogue';

/** Who an account belongs to. */
export type Role = 'buyer' | 'seller' | 'admin';

/** The store profile of a seller. */
export interface Store {
  storeName: string;
  businessNumber: string;
  storeAddress: string;
  representative: string;
  storePhone: string;
}

/** An account as the API shows it to its owner. */
export interface User {
  id: string;
  loginId: string;
  role: Role;
  name: string;
  phone: string;
  address: string;
  email: string;
  store: Store | null;
  createdAtMs: number;
}

/** One product in a list. */
export interface ProductSummary {
  id: string;
  name: string;
  category: Category;
  priceWon: number;
  stock: number;
  imageUrl: string | null;
  sellerId: string;
  storeName: string;
}

/** A product with everything its page shows. */
export interface Product extends ProductSummary {
  description: string;
  hidden: boolean;
  createdAtMs: number;
  updatedAtMs: number;
}

/** One page of a list. */
export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

/** One line of the cart; `lineTotalWon` is computed by the server. */
export interface CartLine {
  productId: string;
  name: string;
  /** The product's seller: an order holds one store's products only. */
  sellerId: string;
  storeName: string;
  unitPriceWon: number;
  quantity: number;
  lineTotalWon: number;
  stock: number;
  available: boolean;
  imageUrl: string | null;
}

/** The cart with the server's total. */
export interface Cart {
  items: CartLine[];
  totalWon: number;
}

/** What a successful login answers. `secretToken` must be imported and dropped at once. */
export interface LoginResponse {
  publicToken: string;
  secretToken: string;
  sessionId: string;
  expiresAtMs: number;
  idleTimeoutMs: number;
  user: User;
  /** S's signed answer to our nonce (mutual authentication, docs/protocol.md). */
  serverAssertion: string;
}

/** The account page's data. `walletBalanceWon` is null where the account has no wallet. */
export interface MeResponse {
  user: User;
  walletBalanceWon: number | null;
}
