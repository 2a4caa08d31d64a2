/**
 * A fresh database of one engine, migrated to the latest schema, for the tests of one
 * describe block: created before them, closed and dropped after them. Kept apart from
 * helpers.ts, which the benchmark imports outside Vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import { openDatabase, type DatabaseHandle, type OpenDatabaseOptions } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { EngineUnderTest } from './helpers.js';

/** Registers the hooks and answers the open handle; asking before `beforeAll` ran is a mistake. */
export function migratedDatabase(engine: EngineUnderTest, options: OpenDatabaseOptions = {}): () => DatabaseHandle {
  let handle: DatabaseHandle | undefined;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const created = await engine.create();
    drop = created.drop;
    handle = openDatabase(created.url, options);
    await migrateToLatest(handle.db, handle.engine);
  });
  afterAll(async () => {
    await handle?.close();
    await drop?.();
  });
  return () => {
    if (!handle) throw new Error('the test database is opened in beforeAll');
    return handle;
  };
}
