/**
 * The repositories against real databases: SQLite always, PostgreSQL and MariaDB when
 * POSTGRES_URL / MARIADB_URL are set. Each engine gets a fresh database, migrated
 * from empty and dropped at the end. Tests share that database, so each one works
 * on rows (users, categories, login ids) no other test touches.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMOUNT_MAX_WON, PRICE_MAX_WON } from '@coconutpay/core/money';
import { PRODUCT_SORTS } from '@coconutpay/core/catalogue';
import { check, refusal } from '../../test/constraint-violation.js';
import { enginesUnderTest, type EngineUnderTest } from '../../test/helpers.js';
import { CartRepository } from './cart-repository.js';
import { CertificatesRepository, type CertificateRecord } from './certificates-repository.js';
import { isUniqueViolation, openDatabase, type DatabaseHandle } from './database.js';
import { FUNDING_ACCOUNT_ID, LedgerRepository } from './ledger-repository.js';
import { LoginThrottlesRepository } from './login-throttles-repository.js';
import { migrateThrough, migrateToLatest, migrationNames } from './migrate.js';
import { ProductsRepository, type ProductRecord } from './products-repository.js';
import { SessionsRepository, type SessionRecord } from './sessions-repository.js';
import { UsersRepository, type NewUser, type StoreProfile } from './users-repository.js';

const T0_MS = 1_767_225_600_000;

/** A short token unique to this run, for ids and names that must not collide. */
function token(): string {
  return randomBytes(4).toString('hex');
}

/** A category (at most 20 characters) that only the calling test uses. */
function privateCategory(): string {
  return `t-${token()}${token()}`;
}

/** The error a promise rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the database to refuse this, but it was accepted');
}

function newUser(role: 'buyer' | 'seller', overrides: Partial<NewUser> = {}): NewUser {
  const loginId = `${role}-${token()}`;
  const store: StoreProfile | null =
    role === 'seller'
      ? { storeName: `코코넛 상점 ${loginId}`, businessNumber: '123-45-67890', storeAddress: '서울시 중구 2', representative: '김대표', storePhone: '02-123-4567' }
      : null;
  return {
    id: randomUUID(),
    loginId,
    passwordHash: `scrypt$test$${loginId}`,
    role,
    name: '홍길동',
    phone: '010-1111-2222',
    address: '서울시 중구 1',
    email: `${loginId}@example.test`,
    createdAtMs: T0_MS,
    store,
    ...overrides,
  };
}

describe.each(enginesUnderTest().map((e) => [e.engine, e] as [string, EngineUnderTest]))('repositories on %s', (_name, engine) => {
  let handle: DatabaseHandle | undefined;
  let drop: (() => Promise<void>) | undefined;
  let migratedFirst: string[] = [];

  const db = () => handle!.db;
  const users = () => new UsersRepository(db());
  const sessions = () => new SessionsRepository(db());
  const throttles = () => new LoginThrottlesRepository(db(), handle!.engine);
  const products = () => new ProductsRepository(db());
  const cart = () => new CartRepository(db());
  const ledger = () => new LedgerRepository(db(), handle!.engine);

  async function addUser(role: 'buyer' | 'seller', overrides: Partial<NewUser> = {}): Promise<NewUser> {
    const user = newUser(role, overrides);
    await db().transaction().execute((trx) => users().insert(trx, user));
    return user;
  }

  async function addProduct(sellerId: string, fields: { name?: string; category?: string; priceWon?: bigint; stock?: number; createdAtMs?: number; id?: string } = {}): Promise<string> {
    const id = fields.id ?? randomUUID();
    await products().insert({
      id,
      sellerId,
      name: fields.name ?? `상품 ${token()}`,
      category: fields.category ?? 'home',
      description: '설명',
      priceWon: fields.priceWon ?? 10_000n,
      stock: fields.stock ?? 5,
      createdAtMs: fields.createdAtMs ?? T0_MS,
    });
    return id;
  }

  async function publicNames(query: { category: string; nameContains?: string }): Promise<string[]> {
    // Sorted here, by code point: the engines' collations disagree on mixed case.
    const { items } = await products().list({ sort: 'newest', offset: 0, limit: 60, ...query });
    return items.map((p) => p.name).sort(byCodePoint);
  }

  beforeAll(async () => {
    const created = await engine.create();
    drop = created.drop;
    handle = openDatabase(created.url, { poolSize: 4 });
    migratedFirst = await migrateToLatest(handle.db, handle.engine);
  });

  afterAll(async () => {
    await handle?.close();
    await drop?.();
  });

  describe('migrations', () => {
    it('apply every migration once, and nothing on a second run', async () => {
      expect(handle!.engine).toBe(engine.engine);
      // Compared with migrate.ts's own list, so each new migration needs no edit here;
      // the first entries pin the start of that list.
      expect(migratedFirst).toEqual(migrationNames());
      expect(migratedFirst.slice(0, 2)).toEqual(['0001-foundation', '0002-certificates']);
      expect(migratedFirst).toContain('0004-orders');
      await expect(migrateToLatest(db(), handle!.engine)).resolves.toEqual([]);
    });

    it('0018 gives policy versions written before it the settings that were fixed in code, and refuses settings out of range', async () => {
      const earlier = await engine.create();
      const old = openDatabase(earlier.url, { poolSize: 2 });
      try {
        await migrateThrough(old.db, old.engine, '0017-session-certificates');
        await old.db.insertInto('paymentPolicyVersions').values({ version: 1, rulesJson: '[]', author: null, reason: 'before 0018', restoredFrom: null, createdAtMs: T0_MS }).execute();
        expect((await migrateToLatest(old.db, old.engine))[0]).toBe('0018-policy-settings');
        const row = await old.db.selectFrom('paymentPolicyVersions').select(['dailyLimitWon', 'failedAttemptsMax', 'lockDurationMs', 'codeValidityMs']).executeTakeFirstOrThrow();
        expect([row.dailyLimitWon, Number(row.failedAttemptsMax), Number(row.lockDurationMs), Number(row.codeValidityMs)]).toEqual([null, 5, 900_000, 120_000]);
        const version = (n: number, settings: Record<string, number | string>) =>
          old.db.insertInto('paymentPolicyVersions').values({ version: n, rulesJson: '[]', author: null, reason: 'range', restoredFrom: null, createdAtMs: T0_MS, ...settings }).execute();
        const outOfRange: Record<string, number | string>[] = [
          { failedAttemptsMax: 2 }, { failedAttemptsMax: 21 }, { lockDurationMs: 59_999 }, { lockDurationMs: 86_400_001 }, { codeValidityMs: 29_999 }, { codeValidityMs: 120_001 }, { dailyLimitWon: '999' },
        ];
        for (const [i, bad] of outOfRange.entries()) {
          expect((await refusal(version(10 + i, bad))).kind, JSON.stringify(bad)).toBe('check');
        }
        await version(20, { failedAttemptsMax: 3, lockDurationMs: 86_400_000, codeValidityMs: 30_000, dailyLimitWon: '1000' });
      } finally {
        await old.close();
        await earlier.drop();
      }
    });
  });

  describe('UsersRepository', () => {
    it('stores a buyer without a store and finds it by id and by login id', async () => {
      const buyer = await addUser('buyer');
      const { store: _store, ...row } = buyer;
      const byLogin = await users().findByLoginId(buyer.loginId);
      expect(byLogin).toEqual({ ...row, store: null });
      expect(await users().findById(buyer.id)).toEqual(byLogin);
    });

    it('stores a seller with its store profile', async () => {
      const seller = await addUser('seller');
      const found = await users().findById(seller.id);
      expect(found?.store).toEqual(seller.store);
      expect(found?.role).toBe('seller');
      expect(found?.createdAtMs).toBe(T0_MS);
    });

    it('finds nothing for an unknown id or login id', async () => {
      await expect(users().findById(randomUUID())).resolves.toBeUndefined();
      await expect(users().findByLoginId(`nobody-${token()}`)).resolves.toBeUndefined();
    });

    it('matches a login id exactly: another case is another id', async () => {
      const buyer = await addUser('buyer');
      await expect(users().findByLoginId(buyer.loginId.toUpperCase())).resolves.toBeUndefined();
    });

    it('matches a login id exactly: trailing blanks make another id', async () => {
      const buyer = await addUser('buyer');
      await expect(users().findByLoginId(`${buyer.loginId} `)).resolves.toBeUndefined();
    });

    it('refuses a second user with the same login id, as a unique violation', async () => {
      const first = await addUser('buyer');
      const error = await rejection(addUser('buyer', { loginId: first.loginId }));
      expect(isUniqueViolation(error)).toBe(true);
      expect(await refusal(addUser('buyer', { loginId: first.loginId }))).toEqual({ kind: 'unique' });
    });

    it('rolls the user back when its store profile fails', async () => {
      const seller = newUser('seller');
      // A store without a name breaks the second insert of the transaction.
      const broken: NewUser = { ...seller, store: { ...seller.store!, storeName: null as unknown as string } };
      expect(await refusal(db().transaction().execute((trx) => users().insert(trx, broken)))).toEqual({ kind: 'not_null' });
      await expect(users().findById(seller.id)).resolves.toBeUndefined();
      await expect(users().findByLoginId(seller.loginId)).resolves.toBeUndefined();
    });

    it('does not call other constraint failures unique violations', async () => {
      const error = await rejection(addUser('buyer', { role: 'king' as 'buyer' }));
      expect(isUniqueViolation(error)).toBe(false);
      expect(await refusal(addUser('buyer', { role: 'king' as 'buyer' }))).toEqual(check('users_role_check'));
      expect(isUniqueViolation(null)).toBe(false);
      expect(isUniqueViolation(new Error('boom'))).toBe(false);
    });

    it('counts users', async () => {
      const before = await users().count();
      await addUser('buyer');
      await expect(users().count()).resolves.toBe(before + 1);
    });
  });

  describe('SessionsRepository', () => {
    function session(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
      return { id: randomUUID(), userId, keyId: 'k1', createdAtMs: T0_MS, lastSeenAtMs: T0_MS, expiresAtMs: T0_MS + 3_600_000, revokedAtMs: null, revokedReason: null, ...overrides };
    }

    it('stores and finds a session with its times as numbers', async () => {
      const user = await addUser('buyer');
      const s = session(user.id);
      await sessions().insert(s);
      await expect(sessions().findById(s.id)).resolves.toEqual(s);
      await expect(sessions().findById(randomUUID())).resolves.toBeUndefined();
    });

    it('refuses a session of a user that does not exist', async () => {
      expect(await refusal(sessions().insert(session(randomUUID())))).toEqual({ kind: 'foreign_key' });
    });

    it('touch moves only the last-seen time', async () => {
      const user = await addUser('buyer');
      const s = session(user.id);
      await sessions().insert(s);
      await sessions().touch(s.id, T0_MS + 5_000);
      await expect(sessions().findById(s.id)).resolves.toEqual({ ...s, lastSeenAtMs: T0_MS + 5_000 });
    });

    it('revoke records time and reason once, and a second revoke keeps the first', async () => {
      const user = await addUser('buyer');
      const s = session(user.id);
      await sessions().insert(s);
      await sessions().revoke(s.id, 'logout', T0_MS + 1_000);
      await sessions().revoke(s.id, 'password_changed', T0_MS + 2_000);
      const found = await sessions().findById(s.id);
      expect(found?.revokedAtMs).toBe(T0_MS + 1_000);
      expect(found?.revokedReason).toBe('logout');
    });

    it('revokeOthers ends the live sessions of that user only and counts them', async () => {
      const user = await addUser('buyer');
      const other = await addUser('buyer');
      const keep = session(user.id);
      const live = [session(user.id), session(user.id)];
      const alreadyRevoked = session(user.id, { revokedAtMs: T0_MS, revokedReason: 'logout' });
      const othersSession = session(other.id);
      for (const s of [keep, ...live, alreadyRevoked, othersSession]) await sessions().insert(s);

      await expect(sessions().revokeOthers(user.id, keep.id, 'password_changed', T0_MS + 9_000)).resolves.toBe(2);
      await expect(sessions().revokeOthers(user.id, keep.id, 'password_changed', T0_MS + 9_500)).resolves.toBe(0);

      expect((await sessions().findById(keep.id))?.revokedAtMs).toBeNull();
      for (const s of live) expect(await sessions().findById(s.id)).toMatchObject({ revokedAtMs: T0_MS + 9_000, revokedReason: 'password_changed' });
      expect(await sessions().findById(alreadyRevoked.id)).toMatchObject({ revokedAtMs: T0_MS, revokedReason: 'logout' });
      expect((await sessions().findById(othersSession.id))?.revokedAtMs).toBeNull();
    });
  });

  describe('LoginThrottlesRepository', () => {
    const limits = { loginFailuresMax: 3, loginLockMs: 60_000, loginAddressFailuresMax: 100, loginAddressWindowMs: 60_000 };
    const address = () => `2001:db8::${token()}`;

    it('knows no lock for an id that never failed', async () => {
      await expect(throttles().lockedUntil(`fresh-${token()}`, T0_MS)).resolves.toBeNull();
    });

    it('allows the maximum of attempts, locks on the last of them, then refuses until the lock ends', async () => {
      const loginId = `victim-${token()}`;
      const from = address();
      for (let i = 0; i < 2; i++) await expect(throttles().reserveAttempt(loginId, from, T0_MS + i, limits)).resolves.toEqual({ allowed: true });
      await expect(throttles().lockedUntil(loginId, T0_MS + 2)).resolves.toBeNull();
      await expect(throttles().reserveAttempt(loginId, from, T0_MS + 2, limits)).resolves.toEqual({ allowed: true });
      await expect(throttles().lockedUntil(loginId, T0_MS + 2)).resolves.toBe(T0_MS + 2 + limits.loginLockMs);
      await expect(throttles().reserveAttempt(loginId, from, T0_MS + 3, limits)).resolves.toEqual({ allowed: false, limit: 'login_id', retryAtMs: T0_MS + 2 + limits.loginLockMs });
      // After the lock the count starts afresh.
      const afterMs = T0_MS + 2 + limits.loginLockMs;
      await expect(throttles().lockedUntil(loginId, afterMs)).resolves.toBeNull();
      for (let i = 0; i < 3; i++) await expect(throttles().reserveAttempt(loginId, from, afterMs + i, limits)).resolves.toEqual({ allowed: true });
      await expect(throttles().reserveAttempt(loginId, from, afterMs + 3, limits)).resolves.toMatchObject({ allowed: false, limit: 'login_id' });
    });

    it('keeps separate counts per login id', async () => {
      const a = `a-${token()}`;
      const b = `b-${token()}`;
      const from = address();
      for (let i = 0; i < 3; i++) await throttles().reserveAttempt(a, from, T0_MS, limits);
      await expect(throttles().reserveAttempt(a, from, T0_MS, limits)).resolves.toMatchObject({ allowed: false });
      await expect(throttles().reserveAttempt(b, from, T0_MS, limits)).resolves.toEqual({ allowed: true });
    });

    it('allows exactly the maximum of attempts arriving together', async () => {
      const loginId = `burst-${token()}`;
      const from = address();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => throttles().reserveAttempt(loginId, from, T0_MS + i, limits)));
      expect(answers.filter((a) => a.allowed)).toHaveLength(limits.loginFailuresMax);
    });

    it('limits attempts per address across ids within a window, then opens a new window', async () => {
      const from = address();
      const byAddress = { ...limits, loginAddressFailuresMax: 4 };
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => throttles().reserveAttempt(`spray-${i}-${token()}`, from, T0_MS, byAddress)));
      expect(answers.filter((a) => a.allowed)).toHaveLength(4);
      expect(answers.filter((a) => !a.allowed)).toEqual(Array.from({ length: 6 }, () => ({ allowed: false, limit: 'address', retryAtMs: T0_MS + byAddress.loginAddressWindowMs })));
      await expect(throttles().reserveAttempt(`other-${token()}`, address(), T0_MS, byAddress)).resolves.toEqual({ allowed: true });
      await expect(throttles().reserveAttempt(`later-${token()}`, from, T0_MS + byAddress.loginAddressWindowMs, byAddress)).resolves.toEqual({ allowed: true });
    });

    it('a success clears the id’s count and lock, and gives the address back only its own place', async () => {
      const loginId = `cleared-${token()}`;
      const from = address();
      const byAddress = { ...limits, loginAddressFailuresMax: 4 };
      for (let i = 0; i < 3; i++) await throttles().reserveAttempt(loginId, from, T0_MS, byAddress);
      await expect(throttles().lockedUntil(loginId, T0_MS)).resolves.toBe(T0_MS + limits.loginLockMs);
      await throttles().recordSuccess(loginId, from, T0_MS);
      await expect(throttles().lockedUntil(loginId, T0_MS)).resolves.toBeNull();
      // The address holds 2 of 4 places now: two more, then the limit.
      await expect(throttles().reserveAttempt(loginId, from, T0_MS, byAddress)).resolves.toEqual({ allowed: true });
      await expect(throttles().reserveAttempt(`x-${token()}`, from, T0_MS, byAddress)).resolves.toEqual({ allowed: true });
      await expect(throttles().reserveAttempt(`y-${token()}`, from, T0_MS, byAddress)).resolves.toMatchObject({ allowed: false, limit: 'address' });
    });

    it('refuses limits that are not positive', async () => {
      await expect(throttles().reserveAttempt(`z-${token()}`, address(), T0_MS, { ...limits, loginFailuresMax: 0 })).rejects.toThrow(RangeError);
    });

    it('refuses a negative failure count', async () => {
      const loginId = `negative-${token()}`;
      expect(await refusal(db().insertInto('loginThrottles').values({ loginId, failures: -1, lockedUntilMs: null, updatedAtMs: T0_MS }).execute())).toEqual(check('login_throttles_failures_check'));
      expect(await refusal(db().insertInto('loginAddressThrottles').values({ address: `negative-${token()}`, failures: -1, windowStartedAtMs: T0_MS, updatedAtMs: T0_MS }).execute())).toEqual(check('login_address_throttles_failures_check'));
    });
  });

  describe('ProductsRepository', () => {
    it('stores a product and reads it back with its store name', async () => {
      const seller = await addUser('seller');
      const category = privateCategory();
      const id = await addProduct(seller.id, { name: '코코넛 워터', category, priceWon: 3_500n, stock: 7, createdAtMs: T0_MS + 1 });
      const found = await products().findById(id);
      expect(found).toEqual<ProductRecord>({
        id, sellerId: seller.id, storeName: seller.store!.storeName, name: '코코넛 워터', category, description: '설명',
        priceWon: 3_500n, stock: 7, imageFile: null, imageType: null, imageVersion: 0, hidden: false, createdAtMs: T0_MS + 1, updatedAtMs: T0_MS + 1,
      });
      await expect(products().findById(randomUUID())).resolves.toBeUndefined();
    });

    it('keeps a price of 1,000,000,000 won exact, as a bigint', async () => {
      const seller = await addUser('seller');
      const id = await addProduct(seller.id, { priceWon: 1_000_000_000n });
      const found = await products().findById(id);
      expect(typeof found?.priceWon).toBe('bigint');
      expect(found?.priceWon).toBe(PRICE_MAX_WON);
      expect(found?.priceWon).toBe(1_000_000_000n);
    });

    it('pages through a listing in a stable order with the total on every page', async () => {
      const seller = await addUser('seller');
      const category = privateCategory();
      // Several products share a creation time, so only the id can order them.
      const times = [T0_MS, T0_MS, T0_MS, T0_MS + 1, T0_MS + 1, T0_MS + 2, T0_MS + 3];
      const ids: string[] = [];
      for (const createdAtMs of times) ids.push(await addProduct(seller.id, { category, createdAtMs }));
      const expected = ids
        .map((id, i) => ({ id, createdAtMs: times[i]! }))
        .sort((a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? -1 : 1))
        .map((p) => p.id);

      const seen: string[] = [];
      for (let offset = 0; offset < 9; offset += 3) {
        const page = await products().list({ category, sort: 'newest', offset, limit: 3 });
        expect(page.total).toBe(7);
        expect(page.items.length).toBe(Math.min(3, Math.max(0, 7 - offset)));
        seen.push(...page.items.map((p) => p.id));
      }
      expect(seen).toEqual(expected);
      const again = await products().list({ category, sort: 'newest', offset: 3, limit: 3 });
      expect(again.items.map((p) => p.id)).toEqual(expected.slice(3, 6));
      const beyond = await products().list({ category, sort: 'newest', offset: 50, limit: 3 });
      expect(beyond).toEqual({ items: [], total: 7 });
    });

    it('filters by category', async () => {
      const seller = await addUser('seller');
      const food = privateCategory();
      const books = privateCategory();
      await addProduct(seller.id, { category: food, name: 'kimchi' });
      await addProduct(seller.id, { category: food, name: 'rice' });
      await addProduct(seller.id, { category: books, name: 'novel' });
      await expect(publicNames({ category: food })).resolves.toEqual(['kimchi', 'rice']);
      await expect(publicNames({ category: books })).resolves.toEqual(['novel']);
      await expect(products().list({ category: privateCategory(), sort: 'newest', offset: 0, limit: 10 })).resolves.toEqual({ items: [], total: 0 });
      const all = await products().list({ sort: 'newest', offset: 0, limit: 60 });
      expect(all.total).toBeGreaterThanOrEqual(3);
    });

    it('searches names without regard to case', async () => {
      const seller = await addUser('seller');
      const category = privateCategory();
      await addProduct(seller.id, { category, name: 'Coconut Water' });
      await addProduct(seller.id, { category, name: 'coconut oil' });
      await addProduct(seller.id, { category, name: 'Mango Juice' });
      for (const term of ['coconut', 'COCONUT', 'cOcOnUt']) {
        await expect(publicNames({ category, nameContains: term }), term).resolves.toEqual(['Coconut Water', 'coconut oil']);
      }
      await expect(publicNames({ category, nameContains: 'WATER' })).resolves.toEqual(['Coconut Water']);
      await expect(publicNames({ category, nameContains: 'papaya' })).resolves.toEqual([]);
      const { total } = await products().list({ category, nameContains: 'oconu', sort: 'newest', offset: 0, limit: 1 });
      expect(total).toBe(2);
    });

    it('searches names with accented and non-Latin letters without regard to case', async () => {
      const seller = await addUser('seller');
      const category = privateCategory();
      await addProduct(seller.id, { category, name: 'CAFÉ AU LAIT' });
      await addProduct(seller.id, { category, name: 'ΑΛΦΑ tea' });
      await expect(publicNames({ category, nameContains: 'café' })).resolves.toEqual(['CAFÉ AU LAIT']);
      await expect(publicNames({ category, nameContains: 'αλφα' })).resolves.toEqual(['ΑΛΦΑ tea']);
    });

    it('searches Korean names', async () => {
      const seller = await addUser('seller');
      const category = privateCategory();
      await addProduct(seller.id, { category, name: '무선 이어폰' });
      await addProduct(seller.id, { category, name: '유선 이어폰 케이스' });
      await addProduct(seller.id, { category, name: '노트북 거치대' });
      await expect(publicNames({ category, nameContains: '이어폰' })).resolves.toEqual(['무선 이어폰', '유선 이어폰 케이스']);
      await expect(publicNames({ category, nameContains: '노트북' })).resolves.toEqual(['노트북 거치대']);
      await expect(publicNames({ category, nameContains: '마우스' })).resolves.toEqual([]);
    });

    it('treats % _ and ! in a search term as literal characters', async () => {
      const seller = await addUser('seller');
      const category = privateCategory();
      for (const name of ['100% cotton', '100 cotton', 'snake_case mug', 'snakeXcase mug', 'wow! deal', 'wow deal']) await addProduct(seller.id, { category, name });
      await expect(publicNames({ category, nameContains: '100%' })).resolves.toEqual(['100% cotton']);
      await expect(publicNames({ category, nameContains: '%' })).resolves.toEqual(['100% cotton']);
      await expect(publicNames({ category, nameContains: 'e_c' })).resolves.toEqual(['snake_case mug']);
      await expect(publicNames({ category, nameContains: '_' })).resolves.toEqual(['snake_case mug']);
      await expect(publicNames({ category, nameContains: 'wow!' })).resolves.toEqual(['wow! deal']);
      await expect(publicNames({ category, nameContains: '!%' })).resolves.toEqual([]);
    });

    it.each(PRODUCT_SORTS.map((s) => [s]))('sorts by %s, breaking ties by id', async (sort) => {
      const seller = await addUser('seller');
      const category = privateCategory();
      const rows = [
        { name: 'delta', priceWon: 3_000n, createdAtMs: T0_MS + 4 },
        { name: 'alpha', priceWon: 1_000n, createdAtMs: T0_MS + 2 },
        { name: 'charlie', priceWon: 2_000n, createdAtMs: T0_MS + 9 },
        { name: 'bravo', priceWon: 2_000n, createdAtMs: T0_MS + 2 },
        { name: 'echo', priceWon: 900_000_000n, createdAtMs: T0_MS + 1 },
      ];
      type Row = (typeof rows)[number] & { id: string };
      const withIds: Row[] = [];
      for (const row of rows) withIds.push({ ...row, id: await addProduct(seller.id, { category, ...row }) });
      const byId = (a: Row, b: Row) => byCodePoint(a.id, b.id);
      const compare = {
        newest: (a: Row, b: Row) => b.createdAtMs - a.createdAtMs || byId(a, b),
        price_asc: (a: Row, b: Row) => Number(a.priceWon - b.priceWon) || byId(a, b),
        price_desc: (a: Row, b: Row) => Number(b.priceWon - a.priceWon) || byId(a, b),
        name: (a: Row, b: Row) => byCodePoint(a.name, b.name) || byId(a, b),
      }[sort];
      const expected = [...withIds].sort(compare).map((p) => p.id);
      const { items } = await products().list({ category, sort, offset: 0, limit: 60 });
      expect(items.map((p) => p.id)).toEqual(expected);
    });

    it('leaves hidden products out of the public list but shows them to their seller', async () => {
      const seller = await addUser('seller');
      const otherSeller = await addUser('seller');
      const category = privateCategory();
      const shown = await addProduct(seller.id, { category, name: 'shown' });
      const hidden = await addProduct(seller.id, { category, name: 'hidden' });
      await addProduct(otherSeller.id, { category, name: 'elsewhere' });
      await products().update(hidden, { hidden: true }, T0_MS + 10);

      const publicList = await products().list({ category, sort: 'name', offset: 0, limit: 60 });
      expect(publicList.items.map((p) => p.id)).not.toContain(hidden);
      expect(publicList.total).toBe(2);

      const own = await products().list({ sellerId: seller.id, category, sort: 'name', offset: 0, limit: 60 });
      expect(own.total).toBe(2);
      expect(own.items.map((p) => [p.id, p.hidden])).toEqual([[hidden, true], [shown, false]]);
      const hiddenRecord = await products().findById(hidden);
      expect(hiddenRecord).toMatchObject({ hidden: true, updatedAtMs: T0_MS + 10 });

      await products().update(hidden, { hidden: false }, T0_MS + 20);
      await expect(products().list({ category, sort: 'name', offset: 0, limit: 60 })).resolves.toMatchObject({ total: 3 });
    });

    it('setImage stores the image and bumps its version each time', async () => {
      const seller = await addUser('seller');
      const id = await addProduct(seller.id);
      await products().setImage(id, `${id}.png`, 'image/png', T0_MS + 1);
      expect(await products().findById(id)).toMatchObject({ imageFile: `${id}.png`, imageType: 'image/png', imageVersion: 1, updatedAtMs: T0_MS + 1 });
      await products().setImage(id, `${id}.webp`, 'image/webp', T0_MS + 2);
      expect(await products().findById(id)).toMatchObject({ imageFile: `${id}.webp`, imageType: 'image/webp', imageVersion: 2 });
    });

    it('accepts the edge values of price and stock', async () => {
      const seller = await addUser('seller');
      for (const [priceWon, stock] of [[1n, 0], [PRICE_MAX_WON, 1_000_000]] as const) {
        const id = await addProduct(seller.id, { priceWon, stock });
        expect(await products().findById(id)).toMatchObject({ priceWon, stock });
      }
    });

    it.each([
      ['a price of 0', { priceWon: 0n }, 'products_price_check'],
      ['a negative price', { priceWon: -1n }, 'products_price_check'],
      ['a price above 1,000,000,000 won', { priceWon: PRICE_MAX_WON + 1n }, 'products_price_check'],
      ['a negative stock', { stock: -1 }, 'products_stock_check'],
      ['a stock above 1,000,000', { stock: 1_000_001 }, 'products_stock_check'],
    ])('the database refuses %s', async (_label, fields, constraint) => {
      const seller = await addUser('seller');
      const id = randomUUID();
      expect(await refusal(addProduct(seller.id, { id, ...fields }))).toEqual(check(constraint));
      await expect(products().findById(id)).resolves.toBeUndefined();
    });

    it('the database refuses an update to a price of 0 and a hidden flag other than 0 or 1', async () => {
      const seller = await addUser('seller');
      const id = await addProduct(seller.id, { priceWon: 500n });
      expect(await refusal(products().update(id, { priceWon: 0n }, T0_MS + 1))).toEqual(check('products_price_check'));
      expect(await refusal(db().updateTable('products').set({ hidden: 2 }).where('id', '=', id).execute())).toEqual(check('products_hidden_check'));
      expect(await products().findById(id)).toMatchObject({ priceWon: 500n, hidden: false });
    });

    it('the database refuses a product of a seller that does not exist', async () => {
      expect(await refusal(addProduct(randomUUID()))).toEqual({ kind: 'foreign_key' });
    });
  });

  describe('CartRepository', () => {
    it('adds, updates and removes lines', async () => {
      const seller = await addUser('seller');
      const buyer = await addUser('buyer');
      const first = await addProduct(seller.id, { name: '첫째', priceWon: 1_000n, stock: 10 });
      const second = await addProduct(seller.id, { name: '둘째', priceWon: 2_500n, stock: 3 });

      await cart().setQuantity(buyer.id, first, 2, T0_MS);
      await cart().setQuantity(buyer.id, second, 1, T0_MS + 1);
      expect(await cart().lines(buyer.id)).toEqual([
        { productId: first, name: '첫째', sellerId: seller.id, storeName: seller.store!.storeName, unitPriceWon: 1_000n, quantity: 2, stock: 10, hidden: false, imageFile: null, imageVersion: 0 },
        { productId: second, name: '둘째', sellerId: seller.id, storeName: seller.store!.storeName, unitPriceWon: 2_500n, quantity: 1, stock: 3, hidden: false, imageFile: null, imageVersion: 0 },
      ]);
      await expect(cart().lineCount(buyer.id)).resolves.toBe(2);

      await cart().setQuantity(buyer.id, first, 5, T0_MS + 2);
      const afterUpdate = await cart().lines(buyer.id);
      expect(afterUpdate.map((l) => [l.productId, l.quantity])).toEqual([[first, 5], [second, 1]]);

      await expect(cart().remove(buyer.id, first)).resolves.toBe(true);
      await expect(cart().remove(buyer.id, first)).resolves.toBe(false);
      expect((await cart().lines(buyer.id)).map((l) => l.productId)).toEqual([second]);
      await expect(cart().lineCount(buyer.id)).resolves.toBe(1);
    });

    it('keeps each buyer’s cart apart', async () => {
      const seller = await addUser('seller');
      const [a, b] = [await addUser('buyer'), await addUser('buyer')];
      const product = await addProduct(seller.id);
      await cart().setQuantity(a.id, product, 3, T0_MS);
      await expect(cart().lines(b.id)).resolves.toEqual([]);
      await expect(cart().remove(b.id, product)).resolves.toBe(false);
      expect((await cart().lines(a.id))[0]?.quantity).toBe(3);
    });

    it('shows the product’s current price, name and visibility', async () => {
      const seller = await addUser('seller');
      const buyer = await addUser('buyer');
      const product = await addProduct(seller.id, { name: 'before', priceWon: 1_000n });
      await cart().setQuantity(buyer.id, product, 2, T0_MS);
      await products().update(product, { priceWon: 1_500n, name: 'after', hidden: true }, T0_MS + 1);
      await products().setImage(product, 'x.png', 'image/png', T0_MS + 2);
      expect(await cart().lines(buyer.id)).toEqual([
        { productId: product, name: 'after', sellerId: seller.id, storeName: seller.store!.storeName, unitPriceWon: 1_500n, quantity: 2, stock: 5, hidden: true, imageFile: 'x.png', imageVersion: 1 },
      ]);
    });

    it('accepts quantities 1 and 99', async () => {
      const seller = await addUser('seller');
      const buyer = await addUser('buyer');
      const product = await addProduct(seller.id);
      await cart().setQuantity(buyer.id, product, 1, T0_MS);
      await cart().setQuantity(buyer.id, product, 99, T0_MS);
      expect((await cart().lines(buyer.id))[0]?.quantity).toBe(99);
    });

    it.each([0, 100, -1])('the database refuses a quantity of %i, new or changed', async (quantity) => {
      const seller = await addUser('seller');
      const buyer = await addUser('buyer');
      const fresh = await addProduct(seller.id);
      const existing = await addProduct(seller.id);
      expect(await refusal(cart().setQuantity(buyer.id, fresh, quantity, T0_MS))).toEqual(check('cart_items_quantity_check'));
      await cart().setQuantity(buyer.id, existing, 4, T0_MS);
      expect(await refusal(cart().setQuantity(buyer.id, existing, quantity, T0_MS + 1))).toEqual(check('cart_items_quantity_check'));
      expect((await cart().lines(buyer.id)).map((l) => [l.productId, l.quantity])).toEqual([[existing, 4]]);
    });

    it('the database refuses a line for a product that does not exist', async () => {
      const buyer = await addUser('buyer');
      expect(await refusal(cart().setQuantity(buyer.id, randomUUID(), 1, T0_MS))).toEqual({ kind: 'foreign_key' });
    });
  });

  describe('LedgerRepository', () => {
    async function buyerWithWallet(): Promise<NewUser> {
      const user = newUser('buyer');
      await db().transaction().execute(async (trx) => {
        await users().insert(trx, user);
        await ledger().createWallet(trx, user.id, T0_MS);
      });
      return user;
    }

    beforeAll(async () => {
      await ledger().ensureFundingAccount(T0_MS);
    });

    it('creates the funding account only once', async () => {
      await ledger().ensureFundingAccount(T0_MS + 1);
      const rows = await db().selectFrom('ledgerAccounts').select('id').where('kind', '=', 'funding').execute();
      expect(rows.map((r) => r.id)).toEqual([FUNDING_ACCOUNT_ID]);
    });

    it('starts a wallet at zero and knows no wallet for a user without one', async () => {
      const user = await buyerWithWallet();
      await expect(ledger().walletBalanceWon(user.id)).resolves.toBe(0n);
      await expect(ledger().walletBalanceWon(randomUUID())).resolves.toBeNull();
    });

    it('funds wallets with balanced entries: postings and balances both sum to zero', async () => {
      const a = await buyerWithWallet();
      const b = await buyerWithWallet();
      const entries = [
        await ledger().fund(a.id, 800_000n, 'top_up', 'first', T0_MS),
        await ledger().fund(a.id, 1n, 'top_up', 'second', T0_MS + 1),
        await ledger().fund(b.id, 123_456_789n, 'top_up', 'third', T0_MS + 2),
        await ledger().fund(b.id, 1_000_000_000n, 'demo', 'fourth', T0_MS + 3),
      ];
      expect(new Set(entries).size).toBe(4);
      await expect(ledger().walletBalanceWon(a.id)).resolves.toBe(800_001n);
      await expect(ledger().walletBalanceWon(b.id)).resolves.toBe(1_123_456_789n);
      await expect(ledger().checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });

      const postings = await db().selectFrom('postings').select(['accountId', 'amountWon']).where('entryId', '=', entries[0]!).execute();
      expect(postings.map((p) => [p.accountId, Number(p.amountWon)]).sort()).toEqual([[FUNDING_ACCOUNT_ID, -800_000], [(await walletId(a.id)), 800_000]].sort());
    });

    it('keeps the largest balance exact and refuses to go past it without writing anything', async () => {
      const user = await buyerWithWallet();
      await ledger().fund(user.id, AMOUNT_MAX_WON, 'top_up', 'max', T0_MS);
      await expect(ledger().walletBalanceWon(user.id)).resolves.toBe(1_000_000_000_000n);
      const entriesBefore = await countRows('journalEntries');
      await expect(ledger().fund(user.id, 1n, 'top_up', 'too much', T0_MS + 1)).rejects.toThrow(RangeError);
      await expect(ledger().walletBalanceWon(user.id)).resolves.toBe(AMOUNT_MAX_WON);
      await expect(countRows('journalEntries')).resolves.toBe(entriesBefore);
      await expect(ledger().checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });

    it.each([
      ['zero', 0n],
      ['a negative amount', -5n],
      ['more than the maximum', AMOUNT_MAX_WON + 1n],
    ])('refuses to fund %s', async (_label, amountWon) => {
      const user = await buyerWithWallet();
      await expect(ledger().fund(user.id, amountWon, 'top_up', 'bad', T0_MS)).rejects.toThrow(RangeError);
      await expect(ledger().walletBalanceWon(user.id)).resolves.toBe(0n);
    });

    it('refuses to fund a user without a wallet', async () => {
      await expect(ledger().fund(randomUUID(), 100n, 'top_up', 'nobody', T0_MS)).rejects.toMatchObject({ name: 'AppError', code: 'ROUTE_NOT_FOUND' });
      await expect(ledger().checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });

    it('the database refuses a second wallet for the same user', async () => {
      const user = await buyerWithWallet();
      expect(await refusal(ledger().createWallet(db(), user.id, T0_MS))).toEqual({ kind: 'unique' });
    });

    it('the database refuses a wallet balance below zero, but lets the funding account go negative', async () => {
      const user = await buyerWithWallet();
      expect(await refusal(db().updateTable('ledgerAccounts').set({ balanceWon: -1 }).where('ownerUserId', '=', user.id).execute())).toEqual(check('ledger_accounts_balance_check'));
      await expect(ledger().walletBalanceWon(user.id)).resolves.toBe(0n);
      const funding = await db().selectFrom('ledgerAccounts').select('balanceWon').where('id', '=', FUNDING_ACCOUNT_ID).executeTakeFirstOrThrow();
      expect(Number(funding.balanceWon)).toBeLessThan(0);
    });

    it('the database refuses an account of an unknown kind', async () => {
      expect(await refusal(db().insertInto('ledgerAccounts').values({ id: randomUUID(), kind: 'escrow' as 'wallet', ownerUserId: null, balanceWon: 0, createdAtMs: T0_MS }).execute())).toEqual(check('ledger_accounts_kind_check'));
    });

    it('the database refuses a posting of 0 won, and the invariant check notices an unbalanced one', async () => {
      const user = await buyerWithWallet();
      const account = await walletId(user.id);
      const entryId = randomUUID();
      await db().insertInto('journalEntries').values({ id: entryId, kind: 'test', memo: 'zero posting', createdAtMs: T0_MS }).execute();
      expect(await refusal(db().insertInto('postings').values({ id: randomUUID(), entryId, accountId: account, amountWon: 0 }).execute())).toEqual(check('postings_amount_check'));
      await expect(ledger().checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });

      // A lone posting of 7 won is allowed by the constraints but breaks the ledger; the check must say so.
      const stray = randomUUID();
      await db().insertInto('postings').values({ id: stray, entryId, accountId: account, amountWon: 7 }).execute();
      try {
        await expect(ledger().checkInvariant()).resolves.toEqual({ postingsSumWon: 7n, balancesSumWon: 0n });
      } finally {
        await db().deleteFrom('postings').where('id', '=', stray).execute();
      }
      await expect(ledger().checkInvariant()).resolves.toEqual({ postingsSumWon: 0n, balancesSumWon: 0n });
    });

    it('the database refuses a posting to an account that does not exist', async () => {
      const entryId = randomUUID();
      await db().insertInto('journalEntries').values({ id: entryId, kind: 'test', memo: 'ghost', createdAtMs: T0_MS }).execute();
      expect(await refusal(db().insertInto('postings').values({ id: randomUUID(), entryId, accountId: randomUUID(), amountWon: 5 }).execute())).toEqual({ kind: 'foreign_key' });
    });

    async function walletId(userId: string): Promise<string> {
      const row = await db().selectFrom('ledgerAccounts').select('id').where('ownerUserId', '=', userId).executeTakeFirstOrThrow();
      return row.id;
    }

    async function countRows(table: 'journalEntries'): Promise<number> {
      const row = await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    }
  });

  describe('CertificatesRepository', () => {
    const certificates = () => new CertificatesRepository(db());

    /** A certificate row of `issuerId` for a new user; only the fields a CRL reads matter. */
    async function addCertificate(issuerId: string, fields: { notAfterMs: number; revokedAtMs?: number; reason?: string }): Promise<CertificateRecord> {
      const user = await addUser('buyer');
      const record: CertificateRecord = {
        id: randomUUID(), userId: user.id, kind: 'master', serialHex: randomBytes(16).toString('hex'), issuerId, subject: `CN=${user.loginId}`,
        spkiSha256Hex: randomBytes(32).toString('hex'), derBase64: 'AA==', status: fields.revokedAtMs === undefined ? 'active' : 'revoked',
        activeMasterOf: null, notBeforeMs: T0_MS, notAfterMs: fields.notAfterMs, revokedAtMs: fields.revokedAtMs ?? null,
        revocationReason: fields.revokedAtMs === undefined ? null : (fields.reason ?? 'keyCompromise'), deviceNickname: null,
        approvedByCertificateId: null, lastUsedAtMs: null, createdAtMs: T0_MS,
      };
      await certificates().insert(db(), record);
      return record;
    }

    it('revokedOf lists every revoked certificate of the issuer, expired ones included, in revocation order', async () => {
      const issuerId = `issuer-${token()}`;
      const day = 86_400_000;
      // Expired long before any CRL made now: it must stay listed all the same.
      const expired = await addCertificate(issuerId, { notAfterMs: T0_MS + day, revokedAtMs: T0_MS + 2 * 3_600_000, reason: 'superseded' });
      const valid = await addCertificate(issuerId, { notAfterMs: Date.now() + 365 * day, revokedAtMs: T0_MS + 3_600_000 });
      await addCertificate(issuerId, { notAfterMs: Date.now() + 365 * day });
      await addCertificate(`other-${token()}`, { notAfterMs: Date.now() + 365 * day, revokedAtMs: T0_MS });
      expect(await certificates().revokedOf(issuerId)).toEqual([
        { serialHex: valid.serialHex, revokedAtMs: T0_MS + 3_600_000, revocationReason: 'keyCompromise' },
        { serialHex: expired.serialHex, revokedAtMs: T0_MS + 2 * 3_600_000, revocationReason: 'superseded' },
      ]);
      expect(await certificates().revokedOf(`unknown-${token()}`)).toEqual([]);
    });
  });
});

/** Orders strings by code point, the order every engine agrees on for the names used here. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
