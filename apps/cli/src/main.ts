import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { ApiClient, ApiError } from './client.ts';
import { printTable } from './format.ts';

/**
 * backupctl: the command-line client of the HTTP API. Readable tables by default,
 * `--json` for scripts; exit code 0 on success, 1 when the operation failed, 2 on bad
 * usage or an API error.
 */
const program = new Command('backupctl')
  .description('Back up and restore PostgreSQL and TDengine through the bk API')
  .option('--url <url>', 'API base URL (env BK_API_URL)', process.env.BK_API_URL ?? 'http://127.0.0.1:8080')
  // No default shown: help output ends up in terminals, screenshots and CI logs.
  .option('--key <key>', `API key (default: env BK_API_KEY, ${process.env.BK_API_KEY ? 'set' : 'not set'})`)
  .option('--json', 'print JSON instead of tables', false);

function client(): ApiClient {
  const o = program.opts<{ url: string; key?: string }>();
  const key = o.key ?? process.env.BK_API_KEY;
  if (!key) throw new ApiError(0, 'missing_key', 'no API key: pass --key or set BK_API_KEY');
  return new ApiClient(o.url, key);
}
const json = () => program.opts<{ json: boolean }>().json;

/**
 * Names given as repeated or space-separated values and/or comma-separated lists, under the
 * singular flag or the plural one the API uses (`--table a,b --tables c`): one list.
 */
const names = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];
const merged = (...lists: (string[] | undefined)[]): string[] | undefined => {
  const all = lists.flatMap((l) => l ?? []);
  return all.length ? all : undefined;
};
const out = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
};

interface Job {
  id: string;
  status: string;
  error?: string;
  tables?: { name: string; status: string; rows: number | null }[];
}

/** Polls until the job ends, printing progress to stderr; returns the final record. */
async function waitFor(path: string): Promise<Job> {
  let last = '';
  for (;;) {
    const j = await client().get<Job>(path);
    const done = j.tables?.filter((t) => t.status === 'succeeded').length ?? 0;
    const line = `${j.id}: ${j.status}${j.tables?.length ? ` (${done}/${j.tables.length} tables)` : ''}`;
    if (line !== last && process.stderr.isTTY) process.stderr.write(`${line}\n`);
    last = line;
    if (['succeeded', 'failed', 'cancelled'].includes(j.status)) return j;
    await sleep(1000);
  }
}

function finish(j: Job): void {
  if (json()) out(j);
  else {
    process.stdout.write(`${j.id} ${j.status}${j.error ? `: ${j.error}` : ''}\n`);
    if (j.tables?.length) printTable(j.tables, ['name', 'status', 'rows']);
  }
  if (j.status !== 'succeeded') process.exitCode = 1;
}

program
  .command('backup')
  .description('start a backup')
  .argument('<source>', 'source name from the configuration')
  .addOption(
    new Option('-t, --type <type>', 'backup type (base: a physical base backup of a PITR source)')
      .choices(['full', 'database', 'table', 'incremental', 'base'])
      .default('full'),
  )
  .option('-d, --database <name...>', 'databases (type database; comma-separated lists too)', names)
  .option('--databases <names...>', 'same as --database', names)
  .option(
    '--table <name...>',
    'tables: PostgreSQL schema.table or db.schema.table, TDengine db.table (type table; comma-separated lists too)',
    names,
  )
  .option('--tables <names...>', 'same as --table', names)
  .option('--full-if-missing', 'TDengine incremental: take the full backup when there is none to build on', false)
  .option('--as-of <time>', 'TDengine: cut at this ISO 8601 time instead of now')
  .addOption(new Option('--codec <codec>', 'compression codec').choices(['zstd', 'gzip', 'none']))
  .option('--level <n>', 'compression level', (v) => Number.parseInt(v, 10))
  .option('--no-encrypt', 'do not encrypt even when a key is configured')
  .option('-w, --wait', 'wait until it ends', false)
  .action(
    async (
      source: string,
      o: {
        type: string;
        database?: string[];
        databases?: string[];
        table?: string[];
        tables?: string[];
        codec?: string;
        level?: number;
        encrypt: boolean;
        wait: boolean;
        fullIfMissing: boolean;
        asOf?: string;
      },
    ) => {
      const body: Record<string, unknown> = { source, type: o.type };
      if (o.fullIfMissing) body.fullIfMissing = true;
      if (o.asOf) body.asOf = o.asOf;
      const databases = merged(o.database, o.databases);
      const tables = merged(o.table, o.tables);
      if (databases) body.databases = databases;
      if (tables) body.tables = tables;
      if (o.codec) body.compression = { codec: o.codec, ...(o.level !== undefined ? { level: o.level } : {}) };
      if (o.encrypt === false) body.encrypt = false;
      const r = await client().post<{ id: string; status: string }>('/v1/backups', body);
      if (!o.wait) {
        if (json()) out(r);
        else process.stdout.write(`${r.id} ${r.status}\n`);
        return;
      }
      finish(await waitFor(`/v1/backups/${r.id}`));
    },
  );

program
  .command('list')
  .description('list backups')
  .option('-s, --source <name>')
  .option('--type <type>')
  .option('--status <status>')
  .option('-n, --limit <n>', 'page size', '50')
  .option('--cursor <cursor>')
  .action(async (o: { source?: string; type?: string; status?: string; limit: string; cursor?: string }) => {
    const q = new URLSearchParams({ limit: o.limit });
    for (const k of ['source', 'type', 'status', 'cursor'] as const) if (o[k]) q.set(k, o[k] as string);
    const page = await client().get<{ items: Record<string, unknown>[]; nextCursor: string | null }>(`/v1/backups?${q}`);
    if (json()) return out(page);
    printTable(page.items, ['id', 'source', 'type', 'status', 'rows', 'bytes', 'finishedAt']);
    if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
  });

program
  .command('show')
  .description('show a backup with its tables')
  .argument('<id>')
  .action(async (id: string) => {
    const b = await client().get<Job & Record<string, unknown>>(`/v1/backups/${id}`);
    if (json()) return out(b);
    const { tables, ...rest } = b;
    for (const [k, v] of Object.entries(rest))
      process.stdout.write(`${k.padEnd(12)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
    if (tables?.length) printTable(tables, ['name', 'status', 'rows', 'bytes', 'sha256']);
  });

program
  .command('restore')
  .description('restore a backup (or --dry-run to check it)')
  .argument('[backupId]')
  .option('--table <name...>', 'restore only these tables (comma-separated lists too)', names)
  .option('--tables <names...>', 'same as --table', names)
  .option('-d, --database <name...>', 'restore only these databases (comma-separated lists too)', names)
  .option('--databases <names...>', 'same as --database', names)
  .option('--target-database <name>', 'restore into this database (created if missing)')
  .option('--source <name>', 'with --time: point-in-time restore of this source')
  .option('--time <iso>', 'point-in-time target (ISO 8601)')
  .option('--dry-run', 'verify and plan only; change nothing', false)
  .option('--replace', 'overwrite existing tables (asks for --yes)', false)
  .option('--yes', 'confirm --replace', false)
  .option('--force', 'restore even a backup that failed verification', false)
  .option('-w, --wait', 'wait until it ends', false)
  .action(async (backupId: string | undefined, o: Record<string, unknown>) => {
    const body: Record<string, unknown> = {
      dryRun: o.dryRun,
      mode: o.replace ? 'replace' : 'fail-if-exists',
      confirm: o.yes,
      force: o.force,
    };
    if (backupId) body.backupId = backupId;
    const list = (v: unknown) => v as string[] | undefined;
    const tables = merged(list(o.table), list(o.tables));
    const databases = merged(list(o.database), list(o.databases));
    if (tables) body.tables = tables;
    if (databases) body.databases = databases;
    if (o.targetDatabase) body.targetDatabase = o.targetDatabase;
    if (o.source) body.source = o.source;
    if (o.time) body.targetTime = o.time;
    const r = await client().post<{ id: string; status: string }>('/v1/restores', body);
    if (!o.wait) {
      if (json()) out(r);
      else process.stdout.write(`${r.id} ${r.status}\n`);
      return;
    }
    finish(await waitFor(`/v1/restores/${r.id}`));
  });

program
  .command('status')
  .description('show a backup or restore by id (bk_... or rs_...)')
  .argument('<id>')
  .option('-w, --wait', 'wait until it ends', false)
  .action(async (id: string, o: { wait: boolean }) => {
    const path = id.startsWith('rs_') ? `/v1/restores/${id}` : `/v1/backups/${id}`;
    finish(o.wait ? await waitFor(path) : await client().get<Job>(path));
  });

program
  .command('verify')
  .description('verify a backup: re-read every object (size, SHA-256, decryption, row counts)')
  .argument('<backupId>')
  .option('-w, --wait', 'wait for the result', false)
  .action(async (id: string, o: { wait: boolean }) => {
    await client().post(`/v1/backups/${id}/verify`, {});
    if (!o.wait) return void process.stdout.write(`${id} verification queued\n`);
    for (;;) {
      const b = await client().get<{ verification?: { status: string; problems?: { key: string; problem: string }[] } }>(
        `/v1/backups/${id}`,
      );
      const v = b.verification;
      if (v && v.status !== 'running') {
        if (json()) out(v);
        else {
          process.stdout.write(`${id} ${v.status}\n`);
          for (const p of v.problems ?? []) process.stdout.write(`  ${p.key}: ${p.problem}\n`);
        }
        if (v.status !== 'verified') process.exitCode = 1;
        return;
      }
      await sleep(1000);
    }
  });

program
  .command('cancel')
  .description('cancel a running backup (bk_...) or restore (rs_...)')
  .argument('<id>')
  .action(async (id: string) => {
    const kind = id.startsWith('rs_') ? 'restores' : 'backups';
    const r = await client().post<{ id: string; status: string }>(`/v1/${kind}/${id}/cancel`, {});
    if (json()) out(r);
    else process.stdout.write(`${r.id} ${r.status}\n`);
  });

program
  .command('download')
  .description('download a backup as one zip')
  .argument('<backupId>')
  .requiredOption('-o, --output <file>', 'where to write the zip')
  .option('--decrypt', 'decrypted, decompressed table files (needs the restore scope)', false)
  .action(async (id: string, o: { output: string; decrypt: boolean }) => {
    const bytes = await client().download(`/v1/backups/${id}/download${o.decrypt ? '?decrypt=true' : ''}`, o.output);
    if (json()) out({ id, file: o.output, bytes });
    else process.stdout.write(`${o.output}: ${bytes} bytes\n`);
  });

const schedules = program.command('schedules').description('list and manage schedules');
schedules
  .command('list', { isDefault: true })
  .description('schedules with next runs and problems')
  .action(async () => {
    const r = await client().get<{ items: Record<string, unknown>[] }>('/v1/schedules');
    if (json()) return out(r);
    printTable(r.items, ['id', 'name', 'source', 'type', 'cron', 'timezone', 'enabled', 'nextRunAt', 'problem']);
  });
schedules
  .command('create')
  .description('create a schedule')
  .requiredOption('--name <name>')
  .requiredOption('--cron <expr>', 'cron expression (5 fields, or 6 with seconds)')
  .option('--tz <zone>', 'IANA time zone', 'UTC')
  .option('--source <name>')
  .option('-t, --type <type>', 'full, database, table, incremental', 'full')
  .option('--cleanup', 'a cleanup schedule instead of a backup schedule', false)
  .option('--keep-last <n>', 'retention: keep the newest N', (v) => Number.parseInt(v, 10))
  .option('--max-age-days <n>', 'retention: keep D days', (v) => Number.parseInt(v, 10))
  .option('--disabled', 'create it disabled', false)
  .action(async (o: Record<string, unknown>) => {
    const retention: Record<string, number> = {};
    if (o.keepLast !== undefined) retention.keepLast = o.keepLast as number;
    if (o.maxAgeDays !== undefined) retention.maxAgeDays = o.maxAgeDays as number;
    const body: Record<string, unknown> = { name: o.name, cron: o.cron, timezone: o.tz, enabled: !o.disabled, retention };
    if (o.cleanup) body.kind = 'cleanup';
    else Object.assign(body, { source: o.source, type: o.type });
    const r = await client().post<Record<string, unknown>>('/v1/schedules', body);
    if (json()) return out(r);
    process.stdout.write(`${String(r.id)} created; next run ${String(r.nextRunAt)}\n`);
  });
for (const verb of ['enable', 'disable', 'run'] as const) {
  schedules
    .command(verb)
    .argument('<id>')
    .description(`${verb} a schedule`)
    .action(async (id: string) => {
      const r = await client().post<Record<string, unknown>>(`/v1/schedules/${id}/${verb}`, {});
      if (json()) return out(r);
      process.stdout.write(`${String(r.id)} ${verb === 'run' ? String(r.status) : verb + 'd'}\n`);
    });
}
schedules
  .command('delete')
  .argument('<id>')
  .action(async (id: string) => {
    const r = await client().request<Record<string, unknown>>('DELETE', `/v1/schedules/${id}`);
    if (json()) return out(r);
    process.stdout.write(`${id} deleted\n`);
  });

program
  .command('cleanup')
  .description('apply retention (use --dry-run to see what would be deleted and why)')
  .option('--dry-run', 'list only', false)
  .option('--source <name>')
  .action(async (o: { dryRun: boolean; source?: string }) => {
    const r = await client().post<{ items?: Record<string, unknown>[]; id?: string; status?: string }>('/v1/cleanup', {
      dryRun: o.dryRun,
      ...(o.source ? { source: o.source } : {}),
    });
    if (json()) return out(r);
    if (r.items)
      printTable(
        r.items.map((i) => ({ ...i, reasons: (i.reasons as string[]).join('; ') })),
        ['id', 'source', 'status', 'action', 'reasons'],
      );
    else process.stdout.write(`cleanup ${r.id} ${r.status}\n`);
  });

const keys = program.command('keys').description('API keys (admin)');
keys.command('list', { isDefault: true }).action(async () => {
  const r = await client().get<{ items: Record<string, unknown>[] }>('/v1/keys');
  if (json()) return out(r);
  printTable(r.items, ['id', 'name', 'scopes', 'prefix', 'createdAt', 'revokedAt', 'lastUsedAt']);
});
keys
  .command('create')
  .requiredOption('--name <name>')
  .requiredOption('--scope <scope...>', 'read, backup, restore, admin')
  .action(async (o: { name: string; scope: string[] }) => {
    const r = await client().post<Record<string, unknown>>('/v1/keys', { name: o.name, scopes: o.scope });
    if (json()) return out(r);
    process.stdout.write(`${String(r.id)} created. The key (shown only now): ${String(r.key)}\n`);
  });
keys
  .command('revoke')
  .argument('<id>')
  .action(async (id: string) => {
    const r = await client().request<Record<string, unknown>>('DELETE', `/v1/keys/${id}`);
    if (json()) return out(r);
    process.stdout.write(`${id} revoked\n`);
  });

program
  .command('sources')
  .description('list configured sources and whether they are reachable')
  .action(async () => {
    const r = await client().get<{ items: Record<string, unknown>[] }>('/v1/sources');
    if (json()) return out(r);
    printTable(r.items, ['name', 'kind', 'target', 'reachable', 'error']);
  });

// `backupctl list | head` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

program.parseAsync().catch((e: unknown) => {
  if (e instanceof ApiError) {
    process.stderr.write(`backupctl: ${e.message}${e.code ? ` (${e.code})` : ''}\n`);
    process.exit(2);
  }
  process.stderr.write(`backupctl: ${(e as Error).message}\n`);
  process.exit(2);
});
