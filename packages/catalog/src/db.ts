import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';

/**
 * int8 as a JS number, for this pool only: catalog counts and byte sizes stay far below
 * 2^53. (Setting it on `pg.types` would change every pg client in the process, including
 * the ones reading source data, where 64-bit values must stay exact.)
 */
const catalogTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export type Db = pg.Pool;

export function createDb(url: string, max = 10): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 10_000,
    application_name: 'bk-catalog',
    types: catalogTypes,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * Applies pending migrations. node-pg-migrate takes an advisory lock and the others wait
 * for it, so several API and worker processes starting at once apply each migration
 * exactly once and all start.
 */
export async function migrate(url: string): Promise<string[]> {
  const ran = await runner({
    databaseUrl: url,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'bk_migrations',
    singleTransaction: true,
    // Processes starting together wait their turn instead of failing.
    advisoryLockMode: 'wait',
    log: () => {},
    verbose: false,
  });
  return ran.map((m) => m.name);
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
