/** Users and their store profiles. */
import { sql, type Kysely, type Transaction } from 'kysely';
import { prepare } from './prepared.js';
import type { Database, Role } from './schema.js';

export interface StoreProfile {
  storeName: string;
  businessNumber: string;
  storeAddress: string;
  representative: string;
  storePhone: string;
}

export interface UserRecord {
  id: string;
  loginId: string;
  passwordHash: string;
  role: Role;
  name: string;
  phone: string;
  address: string;
  email: string;
  createdAtMs: number;
  store: StoreProfile | null;
}

/** One line of an operator's user list. */
export interface UserSummary {
  id: string;
  loginId: string;
  role: Role;
  name: string;
  email: string;
  createdAtMs: number;
  lockedAtMs: number | null;
  lockReason: string | null;
}

export interface NewUser extends Omit<UserRecord, 'store'> {
  store: StoreProfile | null;
}

type Db = Kysely<Database> | Transaction<Database>;

function userWhere(db: Kysely<Database>, column: 'id' | 'loginId', value: string) {
  return db
    .selectFrom('users')
    .leftJoin('stores', 'stores.userId', 'users.id')
    .select([
      'users.id', 'users.loginId', 'users.passwordHash', 'users.role', 'users.name', 'users.phone', 'users.address',
      'users.email', 'users.createdAtMs', 'stores.storeName', 'stores.businessNumber', 'stores.storeAddress',
      'stores.representative', 'stores.storePhone',
    ])
    .where(`users.${column}`, '=', value);
}

/** Orders and payments read the user by id: built once (prepared.ts). */
const userById = prepare((db, v: { id: string }) => userWhere(db, 'id', v.id));
const userByLoginId = prepare((db, v: { loginId: string }) => userWhere(db, 'loginId', v.loginId));

export class UsersRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts the user and, for a seller, the store profile. Run inside the caller's transaction. */
  async insert(trx: Db, user: NewUser): Promise<void> {
    const { store, ...row } = user;
    await trx.insertInto('users').values({ ...row, updatedAtMs: row.createdAtMs }).execute();
    if (store) await trx.insertInto('stores').values({ userId: user.id, ...store }).execute();
  }

  async findByLoginId(loginId: string): Promise<UserRecord | undefined> {
    return this.userOf(await userByLoginId.first(this.db, { loginId }));
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    return this.userOf(await userById.first(this.db, { id }));
  }

  private userOf(row: Awaited<ReturnType<typeof userById.first>>): UserRecord | undefined {
    if (!row) return undefined;
    const { storeName, businessNumber, storeAddress, representative, storePhone, ...user } = row;
    const store =
      storeName !== null && businessNumber !== null && storeAddress !== null && representative !== null && storePhone !== null
        ? { storeName, businessNumber, storeAddress, representative, storePhone }
        : null;
    return { ...user, createdAtMs: Number(user.createdAtMs), store };
  }

  async updatePasswordHash(id: string, passwordHash: string, nowMs: number): Promise<void> {
    await this.db.updateTable('users').set({ passwordHash, updatedAtMs: nowMs }).where('id', '=', id).execute();
  }

  /**
   * Users whose login id or name starts with `query` (any when absent), of `role` when
   * given, in login-id order after `afterLoginId`, with an operator's lock when there is one.
   */
  async search(filter: { query?: string; role?: Role; afterLoginId?: string; limit: number }): Promise<UserSummary[]> {
    let q = this.db
      .selectFrom('users')
      .leftJoin('accountControls', 'accountControls.userId', 'users.id')
      .select(['users.id', 'users.loginId', 'users.role', 'users.name', 'users.email', 'users.createdAtMs', 'accountControls.lockedAtMs', 'accountControls.lockReason'])
      .orderBy('users.loginId')
      .limit(filter.limit);
    if (filter.query !== undefined && filter.query !== '') {
      // LIKE wildcards in the query are taken literally. '!' escapes them: a backslash would
      // read differently in PostgreSQL's, MariaDB's and SQLite's string literals.
      const prefix = `${filter.query.replace(/[!%_]/g, (c) => `!${c}`)}%`;
      q = q.where((eb) => eb.or([sql<boolean>`${eb.ref('users.loginId')} like ${prefix} escape '!'`, sql<boolean>`${eb.ref('users.name')} like ${prefix} escape '!'`]));
    }
    if (filter.role !== undefined) q = q.where('users.role', '=', filter.role);
    if (filter.afterLoginId !== undefined) q = q.where('users.loginId', '>', filter.afterLoginId);
    return (await q.execute()).map((r) => ({
      id: r.id, loginId: r.loginId, role: r.role, name: r.name, email: r.email, createdAtMs: Number(r.createdAtMs),
      lockedAtMs: r.lockedAtMs === null ? null : Number(r.lockedAtMs), lockReason: r.lockReason,
    }));
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
