/**
 * The bank test's auditor (Jepsen's bank test, TigerBeetle's auditor): pure functions from
 * what the database holds after the last restart, and what the clients saw during the run,
 * to a list of violations. No I/O here, so that a unit test can hand them a tampered dataset
 * and see each invariant fail (checker.test.ts).
 */

/** One ledger account as stored. */
export interface AccountRow {
  id: string;
  kind: string;
  ownerUserId: string | null;
  balanceWon: bigint;
}

/** One journal entry as stored. */
export interface EntryRow {
  id: string;
  kind: string;
  orderId: string | null;
}

/** One posting as stored. */
export interface PostingRow {
  entryId: string;
  accountId: string;
  amountWon: bigint;
}

/** One order as stored. */
export interface OrderRow {
  id: string;
  buyerId: string;
  status: string;
  totalWon: bigint;
}

/** One idempotency key as stored. */
export interface IdempotencyRow {
  userId: string;
  key: string;
  state: string;
  responseStatus: number | null;
  responseBody: string | null;
}

/** One payment command as stored (who asked for it). */
export interface CommandRow {
  comId: string;
  userId: string;
  orderId: string;
}

/** What the database holds, read in one go after the last restart. */
export interface LedgerSnapshot {
  accounts: AccountRow[];
  entries: EntryRow[];
  postings: PostingRow[];
  orders: OrderRow[];
  idempotencyKeys: IdempotencyRow[];
  commands: CommandRow[];
}

/** What the route of a key does; the key's prefix in the bank test says which. */
export type KeyKind = 'order' | 'payment-request' | 'authorization';

/** What the clients know of one idempotency key by the end of the run. */
export interface KeyHistory {
  userId: string;
  key: string;
  kind: KeyKind;
  /**
   * The final answer the client received (status and exact body), or null when it never
   * got one (every try failed in flight, or the key stayed "in progress" after a crash).
   */
  answer: { status: number; body: string } | null;
}

/** What the clients did and saw, for the final check. */
export interface ClientHistory {
  /** Money in the wallets: the sum of the top-ups made before the run. */
  knownTotalWon: bigint;
  /** The order ids of acknowledged payments (authorization answered 200) and their amounts. */
  acknowledged: { orderId: string; buyerId: string; amountWon: bigint }[];
  /** Orders whose payment was refused (a final 4xx at the request or the authorization). */
  refused: { orderId: string; code: string }[];
  /** Orders for which an authorization was sent at least once (whatever became of it). */
  authorizationSent: string[];
  keys: KeyHistory[];
  /** Violations the clients saw during the run (reads, replays, snapshots). */
  duringRun: string[];
}

/** The journal entry kind of a payment (services/payments.ts). */
export const PAYMENT_ENTRY_KIND = 'payment';

/**
 * Every invariant of the bank test, over the stored data and the clients' history.
 * Returns the violations found; an empty list means the run kept every promise.
 */
export function checkBank(snapshot: LedgerSnapshot, history: ClientHistory): string[] {
  const violations: string[] = [...history.duringRun];
  const v = (message: string) => violations.push(message);

  // Balances: no wallet below zero, and the wallets hold exactly the money put in.
  const wallets = snapshot.accounts.filter((a) => a.kind === 'wallet');
  for (const w of wallets) if (w.balanceWon < 0n) v(`wallet ${w.id} is negative: ${w.balanceWon}`);
  const walletSum = wallets.reduce((s, w) => s + w.balanceWon, 0n);
  if (walletSum !== history.knownTotalWon) v(`wallets sum to ${walletSum}, the known total is ${history.knownTotalWon}`);
  const accountSum = snapshot.accounts.reduce((s, a) => s + a.balanceWon, 0n);
  if (accountSum !== 0n) v(`all accounts (funding included) sum to ${accountSum}, not 0`);

  // The journal: every entry balances, and replaying the postings gives the stored balances.
  const postingsOf = new Map<string, PostingRow[]>();
  for (const p of snapshot.postings) postingsOf.set(p.entryId, [...(postingsOf.get(p.entryId) ?? []), p]);
  const entryIds = new Set(snapshot.entries.map((e) => e.id));
  for (const e of snapshot.entries) {
    const ps = postingsOf.get(e.id) ?? [];
    if (ps.length < 2) v(`journal entry ${e.id} has ${ps.length} posting(s)`);
    const sum = ps.reduce((s, p) => s + p.amountWon, 0n);
    if (sum !== 0n) v(`journal entry ${e.id} sums to ${sum}`);
  }
  for (const p of snapshot.postings) if (!entryIds.has(p.entryId)) v(`posting to account ${p.accountId} belongs to no journal entry (${p.entryId})`);
  const replayed = new Map<string, bigint>();
  for (const p of snapshot.postings) replayed.set(p.accountId, (replayed.get(p.accountId) ?? 0n) + p.amountWon);
  const accountIds = new Set(snapshot.accounts.map((a) => a.id));
  for (const a of snapshot.accounts) {
    const fromJournal = replayed.get(a.id) ?? 0n;
    if (fromJournal !== a.balanceWon) v(`account ${a.id}: stored balance ${a.balanceWon}, the journal gives ${fromJournal}`);
  }
  for (const id of replayed.keys()) if (!accountIds.has(id)) v(`postings name an account that does not exist: ${id}`);

  // Payments: each acknowledged one is there exactly once; each refused one is not.
  const orders = new Map(snapshot.orders.map((o) => [o.id, o]));
  const paymentEntries = new Map<string, EntryRow[]>();
  for (const e of snapshot.entries) {
    if (e.kind !== PAYMENT_ENTRY_KIND) continue;
    if (e.orderId === null) {
      v(`payment entry ${e.id} names no order`);
      continue;
    }
    paymentEntries.set(e.orderId, [...(paymentEntries.get(e.orderId) ?? []), e]);
  }
  const walletOf = new Map(wallets.map((w) => [w.ownerUserId, w.id]));
  for (const a of history.acknowledged) {
    const order = orders.get(a.orderId);
    if (!order) v(`acknowledged payment of order ${a.orderId}: the order is missing`);
    else if (order.status !== 'paid') v(`acknowledged payment of order ${a.orderId}: the order is ${order.status}`);
    const entries = paymentEntries.get(a.orderId) ?? [];
    if (entries.length !== 1) {
      v(`acknowledged payment of order ${a.orderId}: ${entries.length} payment entries, not 1`);
      continue;
    }
    const buyerPosting = (postingsOf.get(entries[0]!.id) ?? []).find((p) => p.accountId === walletOf.get(a.buyerId));
    if (buyerPosting?.amountWon !== -a.amountWon) v(`acknowledged payment of order ${a.orderId}: the buyer's posting is ${buyerPosting?.amountWon}, not ${-a.amountWon}`);
  }
  for (const r of history.refused) {
    const order = orders.get(r.orderId);
    if (order?.status === 'paid') v(`refused payment (${r.code}) of order ${r.orderId}: the order is paid`);
    if ((paymentEntries.get(r.orderId) ?? []).length > 0) v(`refused payment (${r.code}) of order ${r.orderId}: a payment entry exists`);
  }
  const sent = new Set(history.authorizationSent);
  for (const [orderId, entries] of paymentEntries) {
    if (!sent.has(orderId)) v(`order ${orderId} was paid (${entries.length} entries) but no authorization was ever sent for it`);
  }
  for (const o of snapshot.orders) {
    const paid = (paymentEntries.get(o.id) ?? []).length;
    if ((o.status === 'paid') !== (paid === 1)) v(`order ${o.id} is ${o.status} with ${paid} payment entries`);
  }

  // Idempotency keys: what the client received is what is stored, and no key had a second effect.
  const stored = new Map(snapshot.idempotencyKeys.map((k) => [`${k.userId} ${k.key}`, k]));
  for (const h of history.keys) {
    const row = stored.get(`${h.userId} ${h.key}`);
    if (h.answer === null) {
      // No answer reached the client: if the key completed, some effect (or refusal) is
      // stored for it and is checked by the counts below; nothing to compare here.
      continue;
    }
    if (!row) {
      if (h.answer.status < 500) v(`key ${h.key}: answered ${h.answer.status} but not stored`);
      continue;
    }
    if (row.state !== 'completed') v(`key ${h.key}: answered ${h.answer.status} but stored as ${row.state}`);
    else if (row.responseStatus !== h.answer.status || row.responseBody !== h.answer.body) v(`key ${h.key}: the stored answer (${row.responseStatus}) differs from the one the client received (${h.answer.status})`);
  }
  const byUser = <T extends { userId: string }>(rows: T[]) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(r.userId, (m.get(r.userId) ?? 0) + 1);
    return m;
  };
  const kindOf = new Map(history.keys.map((k) => [`${k.userId} ${k.key}`, k.kind]));
  const completedWith = (kind: KeyKind, status: number) => byUser(snapshot.idempotencyKeys.filter((k) => kindOf.get(`${k.userId} ${k.key}`) === kind && k.state === 'completed' && k.responseStatus === status));
  const users = new Set(history.keys.map((k) => k.userId));
  const compare = (what: string, effects: Map<string, number>, keys: Map<string, number>) => {
    for (const u of users) {
      if ((effects.get(u) ?? 0) !== (keys.get(u) ?? 0)) v(`user ${u}: ${effects.get(u) ?? 0} ${what}, ${keys.get(u) ?? 0} keys completed with that effect`);
    }
  };
  compare('orders', byUser(snapshot.orders.map((o) => ({ userId: o.buyerId }))), completedWith('order', 201));
  compare('payment commands', byUser(snapshot.commands), completedWith('payment-request', 201));
  const paidBy = new Map<string, number>();
  for (const o of snapshot.orders) if ((paymentEntries.get(o.id) ?? []).length > 0) paidBy.set(o.buyerId, (paidBy.get(o.buyerId) ?? 0) + (paymentEntries.get(o.id) ?? []).length);
  compare('payments', paidBy, completedWith('authorization', 200));
  // A completed authorization names its order: that order is paid.
  for (const k of snapshot.idempotencyKeys) {
    if (kindOf.get(`${k.userId} ${k.key}`) !== 'authorization' || k.responseStatus !== 200 || k.responseBody === null) continue;
    const orderId = (JSON.parse(k.responseBody) as { orderId?: string }).orderId;
    if (!orderId || orders.get(orderId)?.status !== 'paid') v(`key ${k.key} stored a payment of order ${orderId} that is not paid`);
  }
  return violations;
}

/** One balance read during the run, with what the clients knew around it. */
export interface BalanceRead {
  userId: string;
  /** What the wallet held before the run: a buyer's top-up, 0 for a seller. */
  initialWon: bigint;
  balanceWon: bigint;
  /** Sum of this user's acknowledged payments (or sales) before the read was sent. */
  acknowledgedBeforeWon: bigint;
  /** Sum of this user's payments (or sales) sent, acknowledged or not, when the read answered. */
  sentAfterWon: bigint;
}

/**
 * A buyer's wallet only falls (by payments) and a seller's only rises (by sales) during the
 * run, so the money a read shows as moved must lie between what was acknowledged before the
 * read was sent and what had been sent by the time it answered. Below: an acknowledged
 * payment was lost (a crash ate a commit). Above: money from nowhere. Returns the violation,
 * or null.
 */
export function balanceReadViolation(read: BalanceRead): string | null {
  if (read.balanceWon < 0n) return `user ${read.userId}: a read showed ${read.balanceWon}`;
  const movedWon = read.initialWon > 0n ? read.initialWon - read.balanceWon : read.balanceWon;
  if (movedWon < read.acknowledgedBeforeWon || movedWon > read.sentAfterWon) {
    return `user ${read.userId}: a read showed ${read.balanceWon} (moved ${movedWon}), acknowledged before ${read.acknowledgedBeforeWon}, sent by then ${read.sentAfterWon}`;
  }
  return null;
}
