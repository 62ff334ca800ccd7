/** The data half of a restore: COPY FROM STDIN, exactly once per object thanks to a ledger. */

import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { LEDGER_SCHEMA } from './catalog-sql.ts';
import { copyWithClause, type CopyFormat } from './copy-format.ts';
import { copyFromStdin } from './copy-in.ts';
import { CANONICAL_SESSION_SQL, withClient } from './connection.ts';
import { quoteColumnList, quoteIdent, quoteLiteral, quoteQualified } from './quote.ts';
import type { TableSpec } from './types.ts';

const LEDGER = `${quoteIdent(LEDGER_SCHEMA)}.${quoteIdent('ledger')}`;

export interface ImportLedgerKey {
  /** The restore this load belongs to. */
  readonly restoreId: string;
  /** The object (COPY file) loaded. */
  readonly objectKey: string;
}

export interface ImportTableOptions {
  readonly url: string;
  readonly table: TableSpec;
  /**
   * Raw COPY data in `format`, as exportTable produced it: one stream, or `parts`, streams
   * loaded one after another by a COPY each, in the same transaction (the chunks of one
   * table; binary COPY data has a header and a trailer per stream, so chunks cannot be
   * concatenated into one COPY). Each stream is consumed to its end, or destroyed when the
   * import fails or is skipped; `parts` is iterated only as far as the load gets. An error a
   * stream emits, or the iterator throws (e.g. a checksum or row-count mismatch found by the
   * caller), aborts the COPY: nothing of this load remains.
   */
  readonly source: Readable | { readonly parts: AsyncIterable<Readable> };
  /** COPY format of the data (the object's: text unless it was exported as binary). */
  readonly format?: CopyFormat | undefined;
  /**
   * Called inside the transaction after each stream's COPY with its index and the rows COPY
   * reported; throwing rolls the whole load back (a row count that is not the expected one).
   */
  readonly checkPart?: ((index: number, rows: number) => void) | undefined;
  /**
   * Called with each chunk of the source once it has been sent to the server and nothing
   * here refers to it any more (a restore returns pooled buffers with it: @bk/core's
   * releaseBuffer). Not called for chunks whose write failed.
   */
  readonly sent?: ((chunk: Buffer) => void) | undefined;
  /** Makes the load idempotent across retries; see {@link importTable}. */
  readonly ledger?: ImportLedgerKey | undefined;
  /** Encoding of the COPY bytes (the source database's, SnapshotSession.encoding); default UTF8. */
  readonly encoding?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
  /**
   * Try to load without writing the rows to WAL (see {@link importTable}). Default: true,
   * except for an object whose ledger key names a chunk (`.part-NNNN.`): several chunks of
   * one table load in parallel, and the exclusive lock this takes would serialise them.
   */
  readonly skipWal?: boolean | undefined;
}

export interface ImportResult {
  /** Rows COPY loaded (or, when skipped, recorded by the attempt that loaded them). */
  readonly rows: number;
  /** Rows of each stream as COPY counted them (source order); empty when skipped. */
  readonly partRows: readonly number[];
  /** True when the ledger showed this object already loaded and nothing was done. */
  readonly skipped: boolean;
}

/** `COPY "s"."t" ("c1", ...) FROM STDIN [WITH (FORMAT binary)]` (no column list for a table without columns). */
export function importCopySql(table: TableSpec, format: CopyFormat = 'text'): string {
  const rel = quoteQualified(table);
  const into = table.columns.length ? `${rel} (${quoteColumnList(table.columns)})` : rel;
  return `COPY ${into} FROM STDIN${copyWithClause(format)}`;
}

/**
 * Loads COPY text into a table in one transaction, under the canonical session settings
 * (the same as the export's, so every value parses back to itself) and client_encoding =
 * `encoding`.
 *
 * With a `ledger` key:
 * 1. `"_bk_restore"."ledger"(restore_id, object_key, rows)` is created if missing, in its
 *    own short transaction (serialised by an advisory lock, so parallel first loads do not
 *    collide);
 * 2. the load's transaction takes an advisory lock on the key, and if the ledger already
 *    has the key, the earlier attempt committed: nothing is loaded, its row count is
 *    returned with `skipped: true`;
 * 3. otherwise COPY runs, the ledger row is inserted, and both commit together, so a retry
 *    after a crash either finds the row (done) or finds nothing of the load (redo).
 *
 * If the source errors, the load is aborted (CopyFail), the transaction rolled back and the
 * source's error rethrown as is. Returns COPY's own row count.
 *
 * Skipping WAL (`skipWal`, on by default): on a server with `wal_level = minimal`, rows
 * COPied into a table whose storage was created in the same transaction are not written to
 * WAL (the table is synced at commit instead), which is what pg_restore -j does by
 * truncating each table before its COPY. So when the target is a plain table, with no
 * triggers, that this transaction can lock at once (ACCESS EXCLUSIVE, NOWAIT) and that is
 * then empty, it is TRUNCATEd (a no-op for its contents) in the load's transaction before
 * the COPY. Anything else (another load holding the table, rows present, a foreign key
 * pointing at it, another wal_level) leaves the load as it was: plain COPY, written to WAL.
 * A failed or retried load rolls the TRUNCATE back with everything else.
 */
export async function importTable(opts: ImportTableOptions): Promise<ImportResult> {
  const { source, ledger } = opts;
  const streams: Iterable<Readable> | AsyncIterable<Readable> = 'parts' in source ? source.parts : [source];
  // Until the loop below takes them over, the streams are ours to release on any exit.
  let release = (): void => {
    if (!('parts' in source)) {
      if (!source.destroyed && !source.readableEnded) source.destroy();
    } else void source.parts[Symbol.asyncIterator]().return?.();
  };
  const encoding = opts.encoding ?? 'UTF8';
  if (!/^[A-Za-z0-9_]+$/.test(encoding)) throw new RangeError(`invalid encoding name ${JSON.stringify(encoding)}`);
  const conn = { signal: opts.signal, connectTimeoutMs: opts.connectTimeoutMs, applicationName: 'bk-import' };
  try {
    if (ledger) await ensureLedger(opts.url, conn);
    return await withClient(opts.url, conn, async (client) => {
      await client.query(`BEGIN; ${CANONICAL_SESSION_SQL}; SET client_encoding = ${quoteLiteral(encoding)}`);
      try {
        if (ledger) {
          await client.query('SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))', [
            `${ledger.restoreId}\n${ledger.objectKey}`,
          ]);
          const seen = await client.query<{ rows: string }>(
            `SELECT rows::text AS rows FROM ${LEDGER} WHERE restore_id = $1 AND object_key = $2`,
            [ledger.restoreId, ledger.objectKey],
          );
          const row = seen.rows[0];
          if (row) {
            await client.query('ROLLBACK');
            return { rows: Number(row.rows), partRows: [], skipped: true };
          }
        }
        if (opts.skipWal ?? !isChunkKey(ledger?.objectKey)) await truncateIfEmptyForWalSkip(client, opts.table);
        const sql = importCopySql(opts.table, opts.format);
        const partRows: number[] = [];
        // From here on, pipeline() destroys a failed stream and for-await closes the iterator.
        release = () => undefined;
        for await (const part of streams) {
          const copy = client.query(copyFromStdin(sql, opts.sent));
          await pipeline(part, copy);
          opts.checkPart?.(partRows.length, copy.rowCount);
          partRows.push(copy.rowCount);
        }
        const rows = partRows.reduce((a, b) => a + b, 0);
        if (ledger) {
          await client.query(`INSERT INTO ${LEDGER} (restore_id, object_key, rows) VALUES ($1, $2, $3)`, [
            ledger.restoreId,
            ledger.objectKey,
            rows,
          ]);
        }
        await client.query('COMMIT');
        return { rows, partRows, skipped: false };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  } finally {
    release();
  }
}

/** A chunk of a table (keys.ts: `<table>.part-NNNN.copy...`; dots in names are encoded). */
function isChunkKey(objectKey: string | undefined): boolean {
  return objectKey !== undefined && /\.part-\d{4,}\.[^/]*$/.test(objectKey);
}

/**
 * Inside the load's transaction: with wal_level = minimal, TRUNCATE the target when it is a
 * plain trigger-free table we can lock exclusively right now and that holds no row, so the
 * COPY that follows skips WAL. Returns whether it did. Never waits for a lock and never
 * fails the load: anything unexpected rolls back to the savepoint and the COPY runs as is.
 */
async function truncateIfEmptyForWalSkip(client: Client, table: { schema: string; name: string }): Promise<boolean> {
  const rel = quoteQualified(table);
  const info = await client.query<{ minimal: boolean; eligible: boolean }>(
    `SELECT pg_catalog.current_setting('wal_level') = 'minimal' AS minimal,
            (c.relkind = 'r' AND NOT c.relhastriggers AND c.relpersistence = 'p') AS eligible
       FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`,
    [rel],
  );
  const row = info.rows[0];
  if (!row?.minimal || !row.eligible) return false;
  await client.query('SAVEPOINT bk_skip_wal');
  try {
    await client.query(`LOCK TABLE ONLY ${rel} IN ACCESS EXCLUSIVE MODE NOWAIT`);
    // Under the lock no other transaction can add rows. Empty means: no page at all (a
    // table just created or truncated; not a matter of snapshots), or, in READ COMMITTED,
    // no row visible to this statement's snapshot, taken after the lock, so it sees every
    // row committed before. (In REPEATABLE READ the snapshot may predate the lock.)
    const empty = await client.query<{ empty: boolean }>(
      `SELECT pg_catalog.pg_relation_size($1::regclass) = 0
              OR (pg_catalog.current_setting('transaction_isolation') = 'read committed'
                  AND NOT EXISTS (SELECT 1 FROM ONLY ${rel})) AS empty`,
      [rel],
    );
    if (!empty.rows[0]?.empty) {
      // Not ours to empty: give the lock back and load as usual.
      await client.query('ROLLBACK TO SAVEPOINT bk_skip_wal; RELEASE SAVEPOINT bk_skip_wal');
      return false;
    }
    await client.query(`TRUNCATE ONLY ${rel}`);
    await client.query('RELEASE SAVEPOINT bk_skip_wal');
    return true;
  } catch {
    // Locked by another load (55P03), referenced by a foreign key, no TRUNCATE privilege...
    await client.query('ROLLBACK TO SAVEPOINT bk_skip_wal; RELEASE SAVEPOINT bk_skip_wal');
    return false;
  }
}

async function ensureLedger(
  url: string,
  conn: { signal: AbortSignal | undefined; connectTimeoutMs: number | undefined; applicationName: string },
): Promise<void> {
  await withClient(url, conn, async (client) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))', [`${LEDGER_SCHEMA}.ledger`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(LEDGER_SCHEMA)}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${LEDGER} (restore_id text NOT NULL, object_key text NOT NULL, rows bigint NOT NULL,
           loaded_at timestamptz NOT NULL DEFAULT pg_catalog.now(), PRIMARY KEY (restore_id, object_key))`,
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Removes a restore's ledger rows once it is finished; the ledger schema goes only when no
 * other restore into this database still has rows there (two restores may run at once).
 * Without `restoreId`, drops the whole ledger.
 */
export async function dropLedger(url: string, opts: { restoreId?: string; signal?: AbortSignal | undefined } = {}): Promise<void> {
  await withClient(url, { ...opts, applicationName: 'bk-import' }, async (client) => {
    if (opts.restoreId) {
      const exists = await client.query('SELECT to_regclass($1) AS t', [LEDGER]);
      if (!exists.rows[0]?.t) return;
      await client.query(`DELETE FROM ${LEDGER} WHERE restore_id = $1`, [opts.restoreId]);
      const left = await client.query(`SELECT 1 FROM ${LEDGER} LIMIT 1`);
      if (left.rowCount) return;
    }
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(LEDGER_SCHEMA)} CASCADE`);
  });
}
