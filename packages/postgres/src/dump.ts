/** The schema half of a backup: pg_dump inside the coordinator's snapshot. */

import { PassThrough, type Readable } from 'node:stream';
import { LEDGER_SCHEMA } from './catalog-sql.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './connection.ts';
import { conninfoValue } from './quote.ts';
import { parseTarget, toolEnv } from './target.ts';
import { findPgTool, toolOutputStream, type ToolSearchOptions } from './tools.ts';
import type { SchemaSection } from './types.ts';

export interface DumpSchemaOptions extends ToolSearchOptions {
  readonly url: string;
  /** From {@link SnapshotSession.snapshotId}; the session must stay open while this runs. */
  readonly snapshotId: string;
  /** Server major version ({@link SnapshotSession.serverVersion}.major): picks the pg_dump. */
  readonly serverMajor: number;
  /**
   * The section the archive is for; default both. An archive for 'post-data' also carries
   * the pre-data entries (restoreSchema applies only the section it is asked for): without
   * them pg_dump drops the links saying which index, constraint or trigger belongs to which
   * table, and a selective restore could not pick them.
   */
  readonly section?: SchemaSection | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * Streams a custom-format (`-Fc`) schema archive of the URL's database as of the snapshot:
 * `pg_dump --format=custom --section=pre-data [--section=post-data] --snapshot=ID
 * --no-password`, with the pg_dump of the lowest installed major version >= `serverMajor`.
 *
 * Sections are pg_dump's own: pre-data is everything needed before loading data (schemas,
 * types, functions, tables with their defaults and CHECK constraints, sequences, views),
 * post-data the rest (indexes, primary keys, unique and foreign keys, triggers, rules,
 * policies, and the REFRESH of materialized views). `--schema-only` is not used because it
 * would also drop the materialized view refreshes; the data section (table data, sequence
 * values, large objects) is never included: table data and sequence values travel through
 * exportTable / SnapshotSession.sequences. The restore ledger schema is excluded.
 *
 * The password reaches pg_dump only through PGPASSWORD. The stream ends only when pg_dump
 * exited 0; otherwise it errors with ToolMissingError, SnapshotGoneError, SourceAuthError,
 * SourceUnreachableError or ToolFailedError (stderr included, passwords scrubbed). Aborting
 * kills pg_dump; destroying the stream early kills it too.
 */
export function dumpSchema(opts: DumpSchemaOptions): Readable {
  const out = new PassThrough();
  void (async () => {
    const target = parseTarget(opts.url);
    const tool = await findPgTool('pg_dump', opts.serverMajor, { ...opts, prefer: 'closest' });
    const sections = opts.section === 'pre-data' ? ['pre-data'] : ['pre-data', 'post-data'];
    const args = [
      '--format=custom',
      ...sections.map((s) => `--section=${s}`),
      `--snapshot=${opts.snapshotId}`,
      '--no-password',
      `--exclude-schema=${LEDGER_SCHEMA}`,
      `--dbname=dbname=${conninfoValue(target.database)}`,
    ];
    const dump = toolOutputStream({
      tool: 'pg_dump',
      path: tool.path,
      args,
      env: toolEnv(target, opts.env ?? process.env, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
      target,
      snapshotId: opts.snapshotId,
      signal: opts.signal,
    });
    dump.on('error', (err) => out.destroy(err));
    out.on('close', () => dump.destroy());
    dump.pipe(out);
  })().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}
