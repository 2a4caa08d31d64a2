/**
 * The bank test's auditor must be able to fail: a consistent dataset passes, and each
 * invariant, broken on purpose in a copy, is reported.
 */
import { describe, expect, it } from 'vitest';
import { balanceReadViolation, checkBank, type ClientHistory, type LedgerSnapshot } from './checker.js';

const FUNDING = 'funding';
const BUYER = 'buyer-user';
const SELLER = 'seller-user';

/** Two top-ups of 100,000 (one paid for before the run), one paid order of 30,000, one refused. */
function consistent(): { snapshot: LedgerSnapshot; history: ClientHistory } {
  const paidAnswer = JSON.stringify({ orderId: 'order-paid', amountWon: 30_000 });
  const snapshot: LedgerSnapshot = {
    accounts: [
      { id: FUNDING, kind: 'funding', ownerUserId: null, balanceWon: -100_000n },
      { id: 'w-buyer', kind: 'wallet', ownerUserId: BUYER, balanceWon: 70_000n },
      { id: 'w-seller', kind: 'wallet', ownerUserId: SELLER, balanceWon: 30_000n },
    ],
    entries: [
      { id: 'e-top-up', kind: 'top_up', orderId: null },
      { id: 'e-pay', kind: 'payment', orderId: 'order-paid' },
    ],
    postings: [
      { entryId: 'e-top-up', accountId: FUNDING, amountWon: -100_000n },
      { entryId: 'e-top-up', accountId: 'w-buyer', amountWon: 100_000n },
      { entryId: 'e-pay', accountId: 'w-buyer', amountWon: -30_000n },
      { entryId: 'e-pay', accountId: 'w-seller', amountWon: 30_000n },
    ],
    orders: [
      { id: 'order-paid', buyerId: BUYER, status: 'paid', totalWon: 30_000n },
      { id: 'order-refused', buyerId: BUYER, status: 'awaiting_payment', totalWon: 900_000n },
    ],
    idempotencyKeys: [
      { userId: BUYER, key: 'order-1', state: 'completed', responseStatus: 201, responseBody: '{"id":"order-paid"}' },
      { userId: BUYER, key: 'order-2', state: 'completed', responseStatus: 201, responseBody: '{"id":"order-refused"}' },
      { userId: BUYER, key: 'payment-request-1', state: 'completed', responseStatus: 201, responseBody: '{"comId":"c1"}' },
      { userId: BUYER, key: 'payment-request-2', state: 'completed', responseStatus: 201, responseBody: '{"comId":"c2"}' },
      { userId: BUYER, key: 'authorization-1', state: 'completed', responseStatus: 200, responseBody: paidAnswer },
      { userId: BUYER, key: 'authorization-2', state: 'completed', responseStatus: 422, responseBody: '{"code":"INSUFFICIENT_BALANCE"}' },
    ],
    commands: [
      { comId: 'c1', userId: BUYER, orderId: 'order-paid' },
      { comId: 'c2', userId: BUYER, orderId: 'order-refused' },
    ],
  };
  const history: ClientHistory = {
    knownTotalWon: 100_000n,
    acknowledged: [{ orderId: 'order-paid', buyerId: BUYER, amountWon: 30_000n }],
    refused: [{ orderId: 'order-refused', code: 'INSUFFICIENT_BALANCE' }],
    authorizationSent: ['order-paid', 'order-refused'],
    keys: [
      { userId: BUYER, key: 'order-1', kind: 'order', answer: { status: 201, body: '{"id":"order-paid"}' } },
      { userId: BUYER, key: 'order-2', kind: 'order', answer: { status: 201, body: '{"id":"order-refused"}' } },
      { userId: BUYER, key: 'payment-request-1', kind: 'payment-request', answer: { status: 201, body: '{"comId":"c1"}' } },
      { userId: BUYER, key: 'payment-request-2', kind: 'payment-request', answer: null },
      { userId: BUYER, key: 'authorization-1', kind: 'authorization', answer: { status: 200, body: paidAnswer } },
      { userId: BUYER, key: 'authorization-2', kind: 'authorization', answer: { status: 422, body: '{"code":"INSUFFICIENT_BALANCE"}' } },
    ],
    duringRun: [],
  };
  return { snapshot, history };
}

describe('bank test auditor', () => {
  it('finds nothing wrong in a consistent ledger', () => {
    const { snapshot, history } = consistent();
    expect(checkBank(snapshot, history)).toEqual([]);
  });

  const tampered: [string, (d: { snapshot: LedgerSnapshot; history: ClientHistory }) => void, RegExp][] = [
    ['money created in a wallet (balance and its posting both raised)', ({ snapshot }) => {
      snapshot.accounts[2]!.balanceWon += 1n;
      snapshot.postings[3]!.amountWon += 1n;
    }, /wallets sum to 100001|sums to 1/],
    ['a stored balance that the journal does not give', ({ snapshot }) => {
      snapshot.accounts[1]!.balanceWon -= 5n;
      snapshot.accounts[2]!.balanceWon += 5n;
    }, /stored balance 69995, the journal gives 70000/],
    ['a negative wallet', ({ snapshot }) => {
      snapshot.accounts[1]!.balanceWon = -1n;
    }, /is negative/],
    ['an unbalanced journal entry', ({ snapshot }) => {
      snapshot.postings[3]!.amountWon = 29_999n;
    }, /journal entry e-pay sums to -1/],
    ['an entry with one posting', ({ snapshot }) => {
      snapshot.postings.splice(3, 1);
      snapshot.postings[2]!.amountWon = 0n;
    }, /e-pay has 1 posting/],
    ['an acknowledged payment lost (order back to awaiting payment, entry gone)', ({ snapshot }) => {
      snapshot.orders[0]!.status = 'awaiting_payment';
      snapshot.entries.splice(1, 1);
      snapshot.postings.splice(2, 2);
      snapshot.accounts[1]!.balanceWon = 100_000n;
      snapshot.accounts[2]!.balanceWon = 0n;
    }, /acknowledged payment of order order-paid: the order is awaiting_payment/],
    ['an acknowledged payment taken twice', ({ snapshot }) => {
      snapshot.entries.push({ id: 'e-pay-2', kind: 'payment', orderId: 'order-paid' });
      snapshot.postings.push({ entryId: 'e-pay-2', accountId: 'w-buyer', amountWon: -30_000n }, { entryId: 'e-pay-2', accountId: 'w-seller', amountWon: 30_000n });
      snapshot.accounts[1]!.balanceWon = 40_000n;
      snapshot.accounts[2]!.balanceWon = 60_000n;
    }, /order-paid: 2 payment entries, not 1/],
    ['a refused payment that went through', ({ snapshot }) => {
      snapshot.orders[1]!.status = 'paid';
      snapshot.entries.push({ id: 'e-pay-r', kind: 'payment', orderId: 'order-refused' });
      snapshot.postings.push({ entryId: 'e-pay-r', accountId: 'w-buyer', amountWon: -1n }, { entryId: 'e-pay-r', accountId: 'w-seller', amountWon: 1n });
      snapshot.accounts[1]!.balanceWon -= 1n;
      snapshot.accounts[2]!.balanceWon += 1n;
    }, /refused payment \(INSUFFICIENT_BALANCE\) of order order-refused: the order is paid/],
    ['a payment nobody authorized', ({ snapshot, history }) => {
      history.authorizationSent = ['order-refused'];
      void snapshot;
    }, /order order-paid was paid \(1 entries\) but no authorization was ever sent/],
    ['an order key that made two orders', ({ snapshot }) => {
      snapshot.orders.push({ id: 'order-extra', buyerId: BUYER, status: 'awaiting_payment', totalWon: 1n });
    }, /3 orders, 2 keys completed/],
    ['a payment-request key that issued two commands', ({ snapshot }) => {
      snapshot.commands.push({ comId: 'c3', userId: BUYER, orderId: 'order-paid' });
    }, /3 payment commands, 2 keys completed/],
    ['a stored answer that differs from the one the client got', ({ snapshot }) => {
      snapshot.idempotencyKeys[4]!.responseBody = JSON.stringify({ orderId: 'order-paid', amountWon: 31_000 });
    }, /key authorization-1: the stored answer \(200\) differs/],
    ['an answered key that was never stored', ({ snapshot }) => {
      snapshot.idempotencyKeys.splice(0, 1);
    }, /key order-1: answered 201 but not stored/],
    ['a violation the clients saw during the run', ({ history }) => {
      history.duringRun.push('a snapshot read of all wallets summed to 99999, not 100000');
    }, /summed to 99999/],
  ];
  for (const [name, tamper, expected] of tampered) {
    it(`reports ${name}`, () => {
      const data = consistent();
      tamper(data);
      const violations = checkBank(data.snapshot, data.history);
      expect(violations.join('\n')).toMatch(expected);
    });
  }
});

describe('balance reads during the run', () => {
  const read = { userId: BUYER, initialWon: 100_000n, balanceWon: 70_000n, acknowledgedBeforeWon: 30_000n, sentAfterWon: 60_000n };
  it('accepts a read between what was acknowledged and what was sent', () => {
    expect(balanceReadViolation(read)).toBeNull();
    expect(balanceReadViolation({ ...read, balanceWon: 40_000n })).toBeNull();
    expect(balanceReadViolation({ ...read, userId: SELLER, initialWon: 0n, balanceWon: 30_000n })).toBeNull();
  });
  it('reports a lost acknowledged payment, money from nowhere, and a negative balance', () => {
    expect(balanceReadViolation({ ...read, balanceWon: 80_000n })).toMatch(/moved 20000\), acknowledged before 30000/);
    expect(balanceReadViolation({ ...read, balanceWon: 30_000n })).toMatch(/moved 70000.*sent by then 60000/);
    expect(balanceReadViolation({ ...read, userId: SELLER, initialWon: 0n, balanceWon: 20_000n })).toMatch(/moved 20000\), acknowledged before 30000/);
    expect(balanceReadViolation({ ...read, balanceWon: -1n })).toMatch(/showed -1/);
  });
});
