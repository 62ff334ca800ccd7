/** The schema half of a restore: pg_restore of one section, whole or for chosen tables. */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Client } from 'pg';
import { DEFAULT_CONNECT_TIMEOUT_MS, withClient } from './connection.ts';
import { NotInArchiveError, RestoreConflictError } from './errors.ts';
import { conninfoValue, quoteIdent, quoteQualified } from './quote.ts';
import { parseTarget, toolEnv, type PgTarget } from './target.ts';
import { formatTocList, isRelationEntry, parseTocListing, selectTocEntries, type TocEntry } from './toc.ts';
import { findPgTool, runTool, type FoundTool, type ToolSearchOptions } from './tools.ts';
import { tableKey, type SchemaSection, type TableRef } from './types.ts';

/** Opens the archive (again): selective restores read it more than once. */
export type ArchiveSource = () => Promise<Readable>;

export interface RestoreSchemaOptions extends ToolSearchOptions {
  /** The target database. */
  readonly url: string;
  /** The custom-format archive dumpSchema produced. */
  readonly archive: ArchiveSource;
  readonly section: SchemaSection;
  /**
   * Restore only what these tables need (see selectTocEntries). Needs an archive holding
   * both sections (dumpSchema without `section`).
   */
  readonly tables?: readonly TableRef[] | undefined;
  /**
   * Replace mode, pre-data only: drop the archive's objects before recreating them
   * (`--clean --if-exists`). Foreign keys that would block dropping a replaced table are
   * dropped first when their table is replaced too (post-data recreates them); a foreign
   * key from a table outside the restore fails the call with RestoreConflictError before
   * anything changes.
   */
  readonly clean?: boolean | undefined;
  /** `--no-owner`: objects belong to the connecting user (when roles differ). */
  readonly noOwner?: boolean | undefined;
  /** `--no-privileges`: skip GRANT / REVOKE. */
  readonly noPrivileges?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

export interface RestoreSchemaResult {
  /** For selective restores: archive entries left out ("<desc> <schema> <name> <owner>"). */
  readonly skippedEntries: readonly string[];
  /** Replace mode: foreign keys dropped before the tables were replaced ("table constraint"). */
  readonly droppedForeignKeys: readonly string[];
}

interface Ctx {
  readonly opts: RestoreSchemaOptions;
  readonly target: PgTarget;
  readonly tool: FoundTool;
  readonly env: NodeJS.ProcessEnv;
}

async function listArchive(ctx: Ctx, extraArgs: readonly string[]): Promise<TocEntry[]> {
  const out = await runTool({
    tool: 'pg_restore',
    path: ctx.tool.path,
    args: ['--list', ...extraArgs],
    env: ctx.env,
    target: ctx.target,
    signal: ctx.opts.signal,
    stdin: await ctx.opts.archive(),
    collectStdout: true,
  });
  return [...parseTocListing(out).entries];
}

/** pg_restore -l prints names with CR / LF as spaces. */
function sanitize(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

/**
 * Dump ids of the relation entries for `refs`, found by asking pg_restore to list them
 * (`-n schema -t name`, exact matches), one run per schema; when two names of a schema could
 * print alike (names with spaces), those are asked for one by one. Refs not in the archive
 * are absent from the result.
 */
async function resolveRelations(ctx: Ctx, refs: readonly TableRef[]): Promise<Map<string, number>> {
  const bySchema = new Map<string, TableRef[]>();
  for (const r of refs) {
    const list = bySchema.get(r.schema) ?? [];
    if (!list.some((x) => x.name === r.name)) list.push(r);
    bySchema.set(r.schema, list);
  }
  const found = new Map<string, number>();
  for (const [schema, tables] of bySchema) {
    const entries = (await listArchive(ctx, ['-n', schema, ...tables.flatMap((t) => ['-t', t.name])])).filter(isRelationEntry);
    const unresolved: TableRef[] = [];
    for (const t of tables) {
      const prefixOf = (e: TocEntry): string => `${e.desc} ${sanitize(schema) || '-'} ${sanitize(t.name)} `;
      const matches = entries.filter((e) => e.text.startsWith(prefixOf(e)));
      const ambiguous = matches.some((e) =>
        tables.some((o) => o !== t && e.text.startsWith(`${e.desc} ${sanitize(schema) || '-'} ${sanitize(o.name)} `)),
      );
      if (matches.length === 1 && !ambiguous) found.set(tableKey(t), matches[0]!.id);
      else if (matches.length > 0) unresolved.push(t);
    }
    for (const t of unresolved) {
      const one = (await listArchive(ctx, ['-n', schema, '-t', t.name])).filter(isRelationEntry);
      if (one.length === 1) found.set(tableKey(t), one[0]!.id);
    }
  }
  return found;
}

interface ForeignKey {
  readonly name: string;
  readonly table: TableRef;
  readonly references: TableRef;
}

async function foreignKeysBetweenTables(client: Client): Promise<ForeignKey[]> {
  const r = await client.query<{ name: string; us: string; un: string; ts: string; tn: string }>(
    `SELECT co.conname AS name, un.nspname AS us, u.relname AS un, tn_.nspname AS ts, t.relname AS tn
       FROM pg_catalog.pg_constraint co
       JOIN pg_catalog.pg_class u ON u.oid = co.conrelid JOIN pg_catalog.pg_namespace un ON un.oid = u.relnamespace
       JOIN pg_catalog.pg_class t ON t.oid = co.confrelid JOIN pg_catalog.pg_namespace tn_ ON tn_.oid = t.relnamespace
      WHERE co.contype = 'f' AND co.conrelid <> co.confrelid AND co.conparentid = 0`,
  );
  return r.rows.map((x) => ({ name: x.name, table: { schema: x.us, name: x.un }, references: { schema: x.ts, name: x.tn } }));
}

/**
 * Replace mode: pg_restore --clean drops tables in reverse archive order, and a foreign key
 * (a post-data object, not in a pre-data restore) from a table dropped later blocks that.
 * Drops such keys when both ends are replaced; refuses when the referencing table is not.
 */
async function dropBlockingForeignKeys(ctx: Ctx, replaced: (refs: readonly TableRef[]) => Promise<Set<string>>): Promise<string[]> {
  return withClient(
    ctx.target,
    { signal: ctx.opts.signal, connectTimeoutMs: ctx.opts.connectTimeoutMs, applicationName: 'bk-restore' },
    async (client) => {
      const fks = await foreignKeysBetweenTables(client);
      if (fks.length === 0) return [];
      const inRestore = await replaced(fks.flatMap((fk) => [fk.table, fk.references]));
      const blocking = fks.filter((fk) => inRestore.has(tableKey(fk.references)));
      const outside = blocking.filter((fk) => !inRestore.has(tableKey(fk.table)));
      if (outside.length) {
        throw new RestoreConflictError(
          `cannot replace ${[...new Set(outside.map((fk) => quoteQualified(fk.references)))].join(', ')}: ` +
            `referenced by foreign keys of tables outside this restore (${outside.map((fk) => `${quoteQualified(fk.table)} ${quoteIdent(fk.name)}`).join(', ')}); ` +
            `restore those tables too, or drop the constraints first`,
        );
      }
      if (blocking.length === 0) return [];
      await client.query('BEGIN');
      try {
        for (const fk of blocking)
          await client.query(`ALTER TABLE ${quoteQualified(fk.table)} DROP CONSTRAINT IF EXISTS ${quoteIdent(fk.name)}`);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      return blocking.map((fk) => `${quoteQualified(fk.table)} ${quoteIdent(fk.name)}`);
    },
  );
}

/**
 * Restores one section of a schema archive into the URL's database:
 * `pg_restore --section=<section> --single-transaction --exit-on-error --no-password
 * [--clean --if-exists] [-L list] -d "dbname='<db>'"`, the archive on stdin, the password in
 * PGPASSWORD, the pg_restore of the highest installed major >= the target server's.
 *
 * With `tables`, the archive's table of contents (`pg_restore -l -v`, with dependencies) is
 * filtered by selectTocEntries: the chosen tables, what they depend on (schemas, types,
 * functions, parents, sequences), their partitions, and their own indexes, constraints,
 * foreign keys between chosen tables, triggers, defaults, comments and privileges; nothing
 * attached to another table. Asking for a table the archive lacks throws NotInArchiveError.
 *
 * All or nothing (one transaction). Fails with ToolMissingError, SourceAuthError,
 * SourceUnreachableError, RestoreConflictError or ToolFailedError (pg_restore's message);
 * an error of the archive stream itself is rethrown as is.
 */
export async function restoreSchema(opts: RestoreSchemaOptions): Promise<RestoreSchemaResult> {
  const target = parseTarget(opts.url);
  const serverMajor = await withClient(
    target,
    { signal: opts.signal, connectTimeoutMs: opts.connectTimeoutMs, applicationName: 'bk-restore' },
    async (c) => {
      const r = await c.query<{ v: string }>("SELECT pg_catalog.current_setting('server_version_num') AS v");
      return Math.floor(Number(r.rows[0]?.v) / 10000);
    },
  );
  const tool = await findPgTool('pg_restore', serverMajor, { ...opts, prefer: 'newest' });
  const ctx: Ctx = {
    opts,
    target,
    tool,
    env: toolEnv(target, opts.env ?? process.env, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
  };

  let listFile: string | undefined;
  let skippedEntries: string[] = [];
  let relationIds: ReadonlySet<number> | undefined;
  const tmp = opts.tables ? await mkdtemp(join(tmpdir(), 'bk-restore-')) : undefined;
  try {
    if (opts.tables) {
      const all = await listArchive(ctx, ['-v']);
      if (!all.some((e) => e.desc === 'TABLE')) {
        throw new NotInArchiveError(
          'the schema archive has no tables: a selective restore needs an archive of both sections (dumpSchema without `section`)',
        );
      }
      const ids = await resolveRelations(ctx, opts.tables);
      const missing = opts.tables.filter((t) => !ids.has(tableKey(t)));
      if (missing.length)
        throw new NotInArchiveError(`the schema archive has no table ${missing.map((t) => quoteQualified(t)).join(', ')}`);
      const selection = selectTocEntries(all, ids.values());
      relationIds = selection.relations;
      skippedEntries = selection.dropped.map((e) => e.text);
      listFile = join(tmp!, 'restore.list');
      await writeFile(listFile, formatTocList(selection.keep), { mode: 0o600 });
    }

    let droppedForeignKeys: string[] = [];
    if (opts.clean && opts.section === 'pre-data') {
      droppedForeignKeys = await dropBlockingForeignKeys(ctx, async (refs) => {
        const ids = await resolveRelations(ctx, refs);
        const keys = new Set<string>();
        for (const [key, id] of ids) if (!relationIds || relationIds.has(id)) keys.add(key);
        return keys;
      });
    }

    const args = [
      `--section=${opts.section}`,
      '--single-transaction',
      '--exit-on-error',
      '--no-password',
      ...(opts.clean && opts.section === 'pre-data' ? ['--clean', '--if-exists'] : []),
      ...(opts.noOwner ? ['--no-owner'] : []),
      ...(opts.noPrivileges ? ['--no-privileges'] : []),
      ...(listFile ? ['--use-list', listFile] : []),
      `--dbname=dbname=${conninfoValue(target.database)}`,
    ];
    await runTool({ tool: 'pg_restore', path: tool.path, args, env: ctx.env, target, signal: opts.signal, stdin: await opts.archive() });
    return { skippedEntries, droppedForeignKeys };
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
