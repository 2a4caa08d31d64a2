/**
 * The seller's my page: the store profile (read and edited, with the business
 * registration number's check digit and a Korean phone number checked), the wallet
 * ledger with the balance after each entry, the sales history (paid orders with their
 * lines and the buyer's shipping details, for the seller's own store only) and the
 * daily sales totals of the last 30 days.
 */
import { AppError } from '@coconutpay/core/errors';
import { koreanDayStartMs, KST_OFFSET_MS } from '@coconutpay/core/orders';
import { businessNumberValid, storePhoneValid } from '@coconutpay/core/receipt';
import type { OrderItemRecord } from '../db/orders-repository.js';
import type { ReceiptsRepository, SaleRecord } from '../db/receipts-repository.js';
import type { StoreProfile, UsersRepository } from '../db/users-repository.js';
import type { WalletEntryRecord } from '../db/ledger-repository.js';
import { requireRole, type Actor } from './actor.js';
import type { WalletService } from './wallet.js';

/** Days in the daily sales chart, today included. */
export const DAILY_SALES_DAYS = 30;
/** Longest date range the sales history accepts, in days. */
export const SALES_RANGE_DAYS_MAX = 366;
const DAY_MS = 86_400_000;

/** One paid order in the sales history. */
export interface Sale extends SaleRecord {
  items: OrderItemRecord[];
  /** The current receipt's number, or null when none was issued. */
  receiptNumber: string | null;
}

/** A page of the sales history with the totals of the whole range. */
export interface SalesPage {
  items: Sale[];
  page: number;
  pageSize: number;
  total: number;
  totalWon: bigint;
  fromDate: string;
  toDate: string;
}

/** One day of the daily totals (Korean calendar day). */
export interface DailySales {
  date: string;
  count: number;
  totalWon: bigint;
}

/** `YYYY-MM-DD` of the Korean day that contains `ms`. */
export function koreanDate(ms: number): string {
  return new Date(koreanDayStartMs(ms) + KST_OFFSET_MS).toISOString().slice(0, 10);
}

/** The start (ms) of a Korean day given as `YYYY-MM-DD`; undefined when it is no date. */
export function koreanDayStartOf(date: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  if (!Number.isFinite(utcMidnight) || new Date(utcMidnight).toISOString().slice(0, 10) !== date) return undefined;
  return utcMidnight - KST_OFFSET_MS;
}

export class StoresService {
  constructor(
    private readonly deps: {
      users: UsersRepository;
      receipts: ReceiptsRepository;
      wallet: WalletService;
      clock: () => number;
    },
  ) {}

  /** The seller's store profile. */
  async profile(actor: Actor): Promise<StoreProfile> {
    requireRole(actor, 'seller');
    const user = await this.deps.users.findById(actor.userId);
    if (!user?.store) throw new AppError('ROLE_FORBIDDEN');
    return user.store;
  }

  /**
   * Replaces the store profile. The schema has checked lengths and shapes; the check
   * digit and the phone number's form are checked here, each with its own code, so the
   * form can point at the field. Receipts issued before keep what they said; a re-issue
   * carries the corrected profile.
   */
  async updateProfile(actor: Actor, input: StoreProfile): Promise<StoreProfile> {
    requireRole(actor, 'seller');
    const profile: StoreProfile = {
      storeName: input.storeName.trim(),
      businessNumber: input.businessNumber.replace(/^(\d{3})-?(\d{2})-?(\d{5})$/, '$1-$2-$3'),
      storeAddress: input.storeAddress.trim(),
      representative: input.representative.trim(),
      storePhone: input.storePhone.trim(),
    };
    if (!profile.storeName || !profile.storeAddress || !profile.representative) throw new AppError('VALIDATION_FAILED', { detail: 'Store name, address and representative may not be blank.' });
    if (!businessNumberValid(profile.businessNumber)) throw new AppError('STORE_BUSINESS_NUMBER_INVALID');
    if (!storePhoneValid(profile.storePhone)) throw new AppError('STORE_PHONE_INVALID');
    if (!(await this.deps.receipts.updateStore(actor.userId, profile, this.deps.clock()))) throw new AppError('ROLE_FORBIDDEN');
    return profile;
  }

  /** The seller's wallet ledger, newest first, with the balance after each entry. */
  async ledger(actor: Actor, page: number, pageSize: number): Promise<{ items: (WalletEntryRecord & { balanceAfterWon: bigint })[]; page: number; pageSize: number; total: number }> {
    requireRole(actor, 'seller');
    return this.deps.wallet.entriesWithBalance(actor, page, pageSize);
  }

  /**
   * The store's paid orders between two Korean calendar days (both included), newest
   * first. Without dates: the last 30 days.
   */
  async sales(actor: Actor, query: { page: number; pageSize: number; fromDate?: string; toDate?: string }): Promise<SalesPage> {
    requireRole(actor, 'seller');
    const today = koreanDate(this.deps.clock());
    const toDate = query.toDate ?? today;
    const toStart = koreanDayStartOf(toDate);
    const fromDate = query.fromDate ?? (toStart === undefined ? today : koreanDate(toStart - (DAILY_SALES_DAYS - 1) * DAY_MS));
    const fromMs = koreanDayStartOf(fromDate);
    if (fromMs === undefined || toStart === undefined) throw new AppError('SALES_DATE_RANGE_INVALID', { detail: 'Dates are YYYY-MM-DD.' });
    const toMs = toStart + DAY_MS;
    if (fromMs >= toMs) throw new AppError('SALES_DATE_RANGE_INVALID', { detail: 'The start date is after the end date.' });
    if (toMs - fromMs > SALES_RANGE_DAYS_MAX * DAY_MS) throw new AppError('SALES_DATE_RANGE_INVALID', { detail: `A range spans at most ${SALES_RANGE_DAYS_MAX} days.` });
    const { items, total, totalWon } = await this.deps.receipts.sales(actor.userId, { fromMs, toMs }, (query.page - 1) * query.pageSize, query.pageSize);
    const ids = items.map((i) => i.orderId);
    const [receiptNumbers, lines] = await Promise.all([this.deps.receipts.currentNumbers(ids), this.deps.receipts.itemsOf(ids)]);
    const sales: Sale[] = items.map((sale) => ({ ...sale, items: lines.get(sale.orderId) ?? [], receiptNumber: receiptNumbers.get(sale.orderId) ?? null }));
    return { items: sales, page: query.page, pageSize: query.pageSize, total, totalWon, fromDate, toDate };
  }

  /** The last {@link DAILY_SALES_DAYS} Korean days, oldest first, each with its count and total (zero days included). */
  async dailySales(actor: Actor): Promise<DailySales[]> {
    requireRole(actor, 'seller');
    const nowMs = this.deps.clock();
    const fromMs = koreanDayStartMs(nowMs) - (DAILY_SALES_DAYS - 1) * DAY_MS;
    const sums = new Map((await this.deps.receipts.dailyTotals(actor.userId, fromMs, fromMs + DAILY_SALES_DAYS * DAY_MS)).map((d) => [d.dayIndex, d]));
    return Array.from({ length: DAILY_SALES_DAYS }, (_, i) => {
      const day = sums.get(i);
      return { date: koreanDate(fromMs + i * DAY_MS), count: day?.count ?? 0, totalWon: day?.totalWon ?? 0n };
    });
  }
}
