/**
 * The coordinator's session: one REPEATABLE READ transaction whose snapshot every export
 * imports, held open (with ACCESS SHARE locks on the exported tables, as pg_dump does) until
 * the backup is finished.
 */

import type { Client } from 'pg';
import { NOT_EXTENSION_MEMBER_SQL, PARENT_SQL, USER_SCHEMA_SQL, copiedColumnSql, copyColumnsSql } from './catalog-sql.ts';
import { binaryCopySafeSql } from './copy-format.ts';
import { abortConnectionOn, closeClient, connect, errorContext, NO_TIMEOUTS_SQL } from './connection.ts';
import { abortReason, pgErrorToDomain, SnapshotGoneError } from './errors.ts';
import { quoteQualified } from './quote.ts';
import { parseTarget, type PgTarget } from './target.ts';
import { serverVersionFromNum, type BlockRange, type SequenceValue, type ServerVersion, type TableRef, type TableSpec } from './types.ts';

/** A relation that holds rows and is exported with COPY. */
export interface ExportableTable extends TableSpec {
  /** Column names in attnum order, without dropped and generated (stored) columns. */
  readonly columns: string[];
  /** 'partition' and 'inheritance-child' tables hold their own rows and are exported on their own. */
  readonly kind: 'table' | 'partition' | 'inheritance-child';
  readonly parent: TableRef | null;
  /** pg_class.relpages (estimate as of the last VACUUM / ANALYZE). */
  readonly relpages: number;
  /** Heap size in bytes (pg_relation_size) when listed; drives chunking. */
  readonly sizeBytes: number;
  /** pg_class.reltuples: -1 when unknown. */
  readonly estimatedRows: number;
  /** Every copied column has a type that binary COPY carries exactly (see copy-format.ts). */
  readonly binaryCopySafe: boolean;
}

/** Which tables to list: everything (default), these tables, or these schemas. */
export type TableFilter = readonly TableRef[] | { readonly tables: readonly TableRef[] } | { readonly schemas: readonly string[] };

export interface SnapshotOpenOptions {
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * Splits a table of `sizeBytes` into block ranges of about `chunkBytes`, contiguous from
 * block 0, the last one open-ended (`toBlock: null`) so rows in blocks beyond the size
 * measured here are never missed. A table not larger than `chunkBytes` is the single range
 * `{fromBlock: 0, toBlock: null}`: export it whole (without a chunk).
 */
export function planChunks(sizeBytes: number, blockSize: number, chunkBytes: number): BlockRange[] {
  if (!(chunkBytes > 0) || !(blockSize > 0) || sizeBytes <= chunkBytes) return [{ fromBlock: 0, toBlock: null }];
  const blocks = Math.ceil(sizeBytes / blockSize);
  const blocksPerChunk = Math.max(1, Math.floor(chunkBytes / blockSize));
  const chunks: BlockRange[] = [];
  for (let from = 0; from < blocks; from += blocksPerChunk) {
    const to = from + blocksPerChunk;
    chunks.push({ fromBlock: from, toBlock: to >= blocks ? null : to });
  }
  return chunks;
}

function isRefList(f: TableFilter): f is readonly TableRef[] {
  return Array.isArray(f);
}

export class SnapshotSession {
  /** Resolves (never rejects) with the reason when the connection is lost while open. */
  readonly lost: Promise<SnapshotGoneError>;
  readonly #client: Client;
  readonly #target: PgTarget;
  readonly #blockSize: number;
  #alive = true;
  #closing = false;
  #resolveLost!: (e: SnapshotGoneError) => void;

  private constructor(
    client: Client,
    target: PgTarget,
    /** Id to pass to SET TRANSACTION SNAPSHOT / pg_dump --snapshot. */
    readonly snapshotId: string,
    readonly serverVersion: ServerVersion,
    readonly databaseName: string,
    /** Server encoding of the database (COPY text is in it; importTable needs it). */
    readonly encoding: string,
    blockSize: number,
  ) {
    this.#client = client;
    this.#target = target;
    this.#blockSize = blockSize;
    this.lost = new Promise((resolve) => {
      this.#resolveLost = resolve;
    });
    const onGone = (err?: Error): void => {
      if (!this.#alive) return;
      this.#alive = false;
      if (!this.#closing) {
        this.#resolveLost(
          new SnapshotGoneError(snapshotId, `the coordinator's connection was lost${err ? `: ${err.message}` : ''}`, { cause: err }),
        );
      }
    };
    client.on('error', onGone);
    client.on('end', () => onGone());
  }

  /**
   * Opens a dedicated connection to the URL's database, starts `BEGIN ISOLATION LEVEL
   * REPEATABLE READ, READ ONLY` and exports its snapshot. Keep the session open until every
   * export has imported the snapshot and finished; `close()` it afterwards.
   */
  static async open(url: string, opts: SnapshotOpenOptions = {}): Promise<SnapshotSession> {
    const target = parseTarget(url);
    const client = await connect(target, { ...opts, applicationName: 'bk-snapshot' });
    const unhook = abortConnectionOn(opts.signal, target, client);
    try {
      await client.query(NO_TIMEOUTS_SQL);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const r = await client.query<{ id: string; v: string; db: string; enc: string; bs: string }>(
        `SELECT pg_catalog.pg_export_snapshot() AS id, pg_catalog.current_setting('server_version_num') AS v,
                pg_catalog.current_database() AS db, pg_catalog.pg_encoding_to_char(d.encoding) AS enc,
                pg_catalog.current_setting('block_size') AS bs
           FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`,
      );
      const row = r.rows[0];
      if (!row) throw new Error('pg_export_snapshot() returned no row');
      return new SnapshotSession(client, target, row.id, serverVersionFromNum(Number(row.v)), row.db, row.enc, Number(row.bs));
    } catch (err) {
      await closeClient(client);
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      throw pgErrorToDomain(err, errorContext(target));
    } finally {
      unhook();
    }
  }

  /**
   * False once the connection has been lost, a statement of the session failed (its
   * transaction is then aborted) or the session was closed.
   */
  isAlive(): boolean {
    return this.#alive;
  }

  async #query<R extends object>(sql: string, params: unknown[], signal: AbortSignal | undefined): Promise<R[]> {
    if (!this.#alive) throw new SnapshotGoneError(this.snapshotId, 'the coordinator session is closed');
    // Aborting a query on the coordinator means losing the snapshot: it is a fatal step.
    const unhook = abortConnectionOn(signal, this.#target, this.#client);
    try {
      return (await this.#client.query<R & Record<string, unknown>>(sql, params)).rows;
    } catch (err) {
      // Any failure aborts the snapshot's transaction: the session cannot serve further.
      const wasAlive = this.#alive;
      this.#alive = false;
      if (signal?.aborted) throw abortReason(signal);
      if (!wasAlive) throw new SnapshotGoneError(this.snapshotId, 'the coordinator session was lost', { cause: err });
      throw pgErrorToDomain(err, { ...errorContext(this.#target), snapshotId: this.snapshotId });
    } finally {
      unhook();
    }
  }

  /**
   * The relations that hold rows, as seen by the snapshot: ordinary tables, partitions and
   * inheritance children (relkind 'r'); not partitioned parents, views, materialized views
   * (refreshed by the post-data schema), foreign tables, extension members nor system
   * schemas. Each comes with its COPY column list (see {@link TableSpec.columns}).
   * Every listed table is locked ACCESS SHARE until the session closes, so a TRUNCATE or
   * table rewrite cannot make the exports read it empty; `lockTimeoutMs` bounds the wait.
   * Tables named in a filter but not found are simply absent from the result.
   */
  async listTables(
    filter?: TableFilter,
    opts: { signal?: AbortSignal | undefined; lockTimeoutMs?: number | undefined } = {},
  ): Promise<ExportableTable[]> {
    const params: unknown[] = [];
    let where = '';
    const refs = filter === undefined ? undefined : isRefList(filter) ? filter : 'tables' in filter ? filter.tables : undefined;
    if (filter && !isRefList(filter) && 'schemas' in filter) {
      params.push([...filter.schemas]);
      where = ' AND n.nspname = ANY($1::text[])';
    } else if (refs) {
      params.push(
        refs.map((t) => t.schema),
        refs.map((t) => t.name),
      );
      where =
        ' AND (n.nspname, c.relname) IN (SELECT s, t FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS u(s, t))';
    }
    const rows = await this.#query<{
      oid: number;
      schema: string;
      name: string;
      relispartition: boolean;
      relpages: number;
      reltuples: number;
      size_bytes: string;
      columns: string[];
      binary_safe: boolean;
      parent_schema: string | null;
      parent_name: string | null;
    }>(
      `SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relispartition, c.relpages, c.reltuples,
              pg_catalog.pg_relation_size(c.oid) AS size_bytes, ${copyColumnsSql(this.serverVersion.num)} AS columns,
              ${binaryCopySafeSql(copiedColumnSql(this.serverVersion.num))} AS binary_safe, ${PARENT_SQL}
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}${where}
        ORDER BY n.nspname, c.relname`,
      params,
      opts.signal,
    );
    if (rows.length > 0) {
      await this.#query(`SET LOCAL lock_timeout = ${Math.max(0, Math.floor(opts.lockTimeoutMs ?? 0))}`, [], opts.signal);
      // Batches keep each statement reasonably short on databases with many tables.
      for (let i = 0; i < rows.length; i += 500) {
        const batch = rows.slice(i, i + 500).map((r) => quoteQualified(r.schema, r.name));
        await this.#query(`LOCK TABLE ${batch.join(', ')} IN ACCESS SHARE MODE`, [], opts.signal);
      }
    }
    return rows.map((r) => {
      const parent = r.parent_schema !== null && r.parent_name !== null ? { schema: r.parent_schema, name: r.parent_name } : null;
      return {
        schema: r.schema,
        name: r.name,
        columns: r.columns,
        kind: r.relispartition ? 'partition' : parent ? 'inheritance-child' : 'table',
        parent,
        relpages: r.relpages,
        sizeBytes: Number(r.size_bytes),
        estimatedRows: r.reltuples < 0 ? -1 : r.reltuples,
        binaryCopySafe: r.binary_safe,
      };
    });
  }

  /**
   * Every user sequence (including serial and identity ones, excluding extension members)
   * with `last_value` and `is_called`. Sequences are not transactional: the values are read
   * now, after the snapshot was taken, so they are >= any value used by a row the snapshot
   * sees (pg_dump reads them the same way).
   */
  async sequences(opts: { signal?: AbortSignal | undefined } = {}): Promise<SequenceValue[]> {
    const seqs = await this.#query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' AND ${USER_SCHEMA_SQL} AND ${NOT_EXTENSION_MEMBER_SQL}
        ORDER BY n.nspname, c.relname`,
      [],
      opts.signal,
    );
    const out: SequenceValue[] = [];
    for (const s of seqs) {
      const [v] = await this.#query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${quoteQualified(s)}`,
        [],
        opts.signal,
      );
      if (v) out.push({ schema: s.schema, name: s.name, lastValue: v.last_value, isCalled: v.is_called });
    }
    return out;
  }

  /**
   * Block ranges splitting `table` into chunks of about `chunkBytes` of heap (see
   * {@link planChunks}). Before PostgreSQL 14 a ctid range is not an index-like scan (every
   * chunk would read the whole table), so older servers always get one chunk.
   */
  tableChunks(table: Pick<ExportableTable, 'sizeBytes'>, chunkBytes: number): BlockRange[] {
    if (this.serverVersion.num < 140000) return [{ fromBlock: 0, toBlock: null }];
    return planChunks(table.sizeBytes, this.#blockSize, chunkBytes);
  }

  /**
   * Ends the transaction (COMMIT: it was read-only) and the connection. After this the
   * snapshot can no longer be imported. Idempotent; never throws.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const wasAlive = this.#alive;
    this.#alive = false;
    if (wasAlive) await this.#client.query('COMMIT').catch(() => undefined);
    await closeClient(this.#client);
  }
}
