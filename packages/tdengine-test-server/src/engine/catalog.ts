/**
 * The TDengine REST test server's catalog: databases, super tables, child and normal tables.
 * Names are stored already case-folded by the parser; tables and super tables of a database
 * share one namespace, as in TDengine.
 */
import { TaosCode, TaosError } from '../protocol/errors.ts';
import type { DbOptions } from './dboptions.ts';
import { TableData } from './storage.ts';
import type { ColumnDef, Value } from './types.ts';

export const SYSTEM_DATABASES = ['information_schema', 'performance_schema'] as const;

export class SuperTable {
  readonly children = new Map<string, Table>();
  lastUpdate: bigint;
  constructor(
    readonly db: Database,
    readonly name: string,
    readonly columns: readonly ColumnDef[],
    readonly tags: readonly ColumnDef[],
    readonly createdAt: bigint,
    readonly comment: string | undefined,
    readonly uid: bigint,
  ) {
    this.lastUpdate = createdAt;
  }
}

export class Table {
  readonly data: TableData;
  constructor(
    readonly db: Database,
    readonly name: string,
    readonly stable: SuperTable | undefined,
    /** Tag values in the super table's tag order (child tables only). */
    readonly tags: readonly Value[] | undefined,
    readonly columns: readonly ColumnDef[],
    readonly createdAt: bigint,
    readonly uid: bigint,
    readonly vgroupId: number,
    readonly ttl: number,
    readonly comment: string | undefined,
  ) {
    this.data = new TableData(columns.slice(1).map((c) => c.type));
  }

  get isChild(): boolean {
    return this.stable !== undefined;
  }
}

export class Database {
  readonly stables = new Map<string, SuperTable>();
  /** Child and normal tables, in creation order. */
  readonly tables = new Map<string, Table>();
  constructor(
    readonly name: string,
    readonly options: DbOptions,
    readonly createdAt: bigint,
  ) {}

  get precision(): DbOptions['precision'] {
    return this.options.precision;
  }

  nameTaken(name: string): boolean {
    return this.stables.has(name) || this.tables.has(name);
  }
}

export class Catalog {
  readonly databases = new Map<string, Database>();
  private nextUid = 1000n;

  uid(): bigint {
    this.nextUid += 1n;
    return this.nextUid;
  }

  /** Resolves a database name (explicit, or the request's default database). */
  database(name: string | undefined, defaultDb: string | undefined): Database {
    const n = name ?? defaultDb;
    if (n === undefined) throw new TaosError(TaosCode.PAR_DB_NOT_SPECIFIED);
    const db = this.databases.get(n);
    if (!db) throw new TaosError(TaosCode.MND_DB_NOT_EXIST);
    return db;
  }

  clear(): void {
    this.databases.clear();
  }
}
