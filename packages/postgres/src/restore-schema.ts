/** The schema half of a restore: pg_restore of one section, whole or for chosen tables. */

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  /**
   * Post-data only: build with `pg_restore --jobs=N` (indexes and constraints of different
   * tables at once) instead of one transaction; each object then commits on its own, so a
   * retry passes `skipExisting`. Default 1: one transaction.
   */
  readonly jobs?: number | undefined;
  /**
   * Post-data only: leave out what the target already has (see existingPostDataEntries):
   * for a retry of a run that may have been interrupted, or after some tables' indexes were
   * built early (`only`). Only for targets whose restored tables this restore created.
   */
  readonly skipExisting?: boolean | undefined;
  /** Post-data only: restore just the entries of these kinds (e.g. `INDEX`, `CONSTRAINT`). */
  readonly only?: readonly string[] | undefined;
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
  /** Parallel post-data: entries left out because the target already had them (a retry). */
  readonly alreadyPresent?: readonly string[];
}

interface Ctx {
  readonly opts: RestoreSchemaOptions;
  /** The archive: the caller's source, or the private file a parallel run reads. */
  readonly archive: ArchiveSource;
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
    stdin: await ctx.archive(),
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
 * Post-data entries of `entries` whose object the target already has (`all`: the whole
 * listing, for dependencies), for a retried post-data run (an earlier one was interrupted
 * after building some of it) or one that follows early builds of some tables' indexes:
 * indexes, extended statistics, table constraints (primary/unique/exclusion, check, foreign
 * keys), triggers, rules and policies, i.e. what a second CREATE would refuse. The rest of
 * the section re-runs harmlessly (comments, grants, REFRESH MATERIALIZED VIEW, ALTER INDEX
 * ... ATTACH PARTITION of an attached index, ENABLE ROW LEVEL SECURITY); event triggers and
 * publications are not checked and make a retry fail loudly if present.
 *
 * Every restored table was created by this restore's pre-data step (existing ones are
 * dropped and recreated), so an object on it was built by this restore. Each match is
 * therefore tied to its table: constraints, triggers, rules and policies name it in their
 * tag; an index or statistics object must be on the table its entry depends on (one of the
 * same name on another table, outside the restore, is not a match).
 *
 * Names are never parsed out of the listing (they may hold spaces): each object of the
 * target is printed the way `pg_restore -l` prints its entry ("<desc> <schema> <tag> ")
 * and compared with the entry's text; only an entry whose printed form no other entry
 * shares is ever matched ("table a, constraint b c" is never taken for "table a b,
 * constraint c"). An entry left in by these rules fails loudly if it exists.
 */
async function existingPostDataEntries(ctx: Ctx, entries: readonly TocEntry[], all: readonly TocEntry[]): Promise<Set<number>> {
  const checked = new Set(['INDEX', 'STATISTICS', 'CONSTRAINT', 'CHECK CONSTRAINT', 'FK CONSTRAINT', 'TRIGGER', 'RULE', 'POLICY']);
  const candidates = entries.filter((e) => checked.has(e.desc));
  if (candidates.length === 0) return new Set();
  const byId = new Map(all.map((e) => [e.id, e] as const));
  const objects = await withClient(
    ctx.target,
    { signal: ctx.opts.signal, connectTimeoutMs: ctx.opts.connectTimeoutMs, applicationName: 'bk-restore' },
    async (client) => {
      const r = await client.query<{ d: string; ns: string; tag: string; on: string | null }>(
        `SELECT 'INDEX' AS d, n.nspname AS ns, c.relname AS tag,
                CASE t.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END || ' ' || tn.nspname || ' ' || t.relname AS on
           FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_catalog.pg_class t ON t.oid = i.indrelid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
         UNION ALL
         SELECT CASE co.contype WHEN 'f' THEN 'FK CONSTRAINT' WHEN 'c' THEN 'CHECK CONSTRAINT' ELSE 'CONSTRAINT' END,
                n.nspname, t.relname || ' ' || co.conname, NULL
           FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class t ON t.oid = co.conrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
         UNION ALL
         SELECT 'TRIGGER', n.nspname, t.relname || ' ' || tg.tgname, NULL
           FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class t ON t.oid = tg.tgrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE NOT tg.tgisinternal
         UNION ALL
         SELECT 'RULE', n.nspname, t.relname || ' ' || rw.rulename, NULL
           FROM pg_catalog.pg_rewrite rw JOIN pg_catalog.pg_class t ON t.oid = rw.ev_class
           JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE rw.rulename <> '_RETURN'
         UNION ALL
         SELECT 'STATISTICS', n.nspname, s.stxname,
                CASE t.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END || ' ' || tn.nspname || ' ' || t.relname
           FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
           JOIN pg_catalog.pg_class t ON t.oid = s.stxrelid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
         UNION ALL
         SELECT 'POLICY', n.nspname, t.relname || ' ' || p.polname, NULL
           FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class t ON t.oid = p.polrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace`,
      );
      return r.rows;
    },
  );
  // An entry's text is "<desc> <schema> <tag> <owner>": the printed form is all but the owner.
  const printedAs = (e: TocEntry, p: string): boolean => e.text.startsWith(p) && !e.text.slice(p.length).includes(' ');
  const found = new Set<number>();
  for (const o of objects) {
    const p = `${o.d} ${sanitize(o.ns) || '-'} ${sanitize(o.tag)} `;
    const matches = candidates.filter((e) => printedAs(e, p));
    if (matches.length !== 1) continue;
    const entry = matches[0]!;
    if (o.on !== null) {
      const on = `${sanitize(o.on)} `;
      const tables = [...new Set(entry.deps)]
        .map((d) => byId.get(d))
        .filter((d) => d && (d.desc === 'TABLE' || d.desc === 'MATERIALIZED VIEW'));
      if (tables.length !== 1 || !printedAs(tables[0]!, on)) continue;
    }
    found.add(entry.id);
  }
  // Two entries printed alike (names with spaces): neither is left out.
  const seen = new Map<string, number>();
  const key = (e: TocEntry): string => e.text.slice(0, e.text.lastIndexOf(' '));
  for (const e of candidates) seen.set(key(e), (seen.get(key(e)) ?? 0) + 1);
  for (const e of candidates) if ((seen.get(key(e)) ?? 0) > 1) found.delete(e.id);
  return found;
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
  const jobs = opts.section === 'post-data' ? Math.max(1, Math.floor(opts.jobs ?? 1)) : 1;
  const parallel = jobs > 1;
  const postData = opts.section === 'post-data';
  const filtered = postData && (opts.skipExisting || opts.only !== undefined);
  const tmp = opts.tables || parallel || filtered ? await mkdtemp(join(tmpdir(), 'bk-restore-')) : undefined;
  // pg_restore --jobs needs a seekable archive: a private copy (the schema archive is small).
  const archiveFile = parallel ? join(tmp!, 'schema.dump') : undefined;
  const ctx: Ctx = {
    opts,
    archive: archiveFile ? async () => createReadStream(archiveFile) : opts.archive,
    target,
    tool,
    env: toolEnv(target, opts.env ?? process.env, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
  };

  let listFile: string | undefined;
  let skippedEntries: string[] = [];
  let alreadyPresent: string[] = [];
  let relationIds: ReadonlySet<number> | undefined;
  try {
    if (archiveFile) await pipeline(await opts.archive(), createWriteStream(archiveFile, { mode: 0o600 }));
    let keep: readonly TocEntry[] | undefined;
    let listing: readonly TocEntry[] | undefined;
    if (opts.tables) {
      const all = (listing = await listArchive(ctx, ['-v']));
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
      keep = selection.keep;
    }
    if (filtered) {
      listing ??= await listArchive(ctx, ['-v']);
      keep ??= listing;
      if (opts.only) {
        const kinds = new Set(opts.only);
        keep = keep.filter((e) => kinds.has(e.desc));
      }
      if (opts.skipExisting) {
        // Dependencies are looked up in the whole listing, whatever `keep` holds by now.
        const present = await existingPostDataEntries(ctx, keep, listing);
        alreadyPresent = keep.filter((e) => present.has(e.id)).map((e) => e.text);
        keep = keep.filter((e) => !present.has(e.id));
      }
    }
    if (keep) {
      listFile = join(tmp!, 'restore.list');
      await writeFile(listFile, formatTocList(keep), { mode: 0o600 });
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
      ...(parallel ? [`--jobs=${jobs}`] : ['--single-transaction']),
      '--exit-on-error',
      '--no-password',
      ...(opts.clean && opts.section === 'pre-data' ? ['--clean', '--if-exists'] : []),
      ...(opts.noOwner ? ['--no-owner'] : []),
      ...(opts.noPrivileges ? ['--no-privileges'] : []),
      ...(listFile ? ['--use-list', listFile] : []),
      `--dbname=dbname=${conninfoValue(target.database)}`,
      ...(archiveFile ? [archiveFile] : []),
    ];
    await runTool({
      tool: 'pg_restore',
      path: tool.path,
      args,
      env: ctx.env,
      target,
      signal: opts.signal,
      stdin: archiveFile ? undefined : await opts.archive(),
    });
    return { skippedEntries, droppedForeignKeys, ...(opts.skipExisting && postData ? { alreadyPresent } : {}) };
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
