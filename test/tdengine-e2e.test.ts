import { Readable } from 'node:stream';
import { parseManifest } from '@bk/core';
import {
  type TdClient,
  TdClient as Client,
  childTables,
  databaseOptions,
  describe as describeTable,
  listNormalTables,
  listSuperTables,
} from '@bk/tdengine';
import { type TdengineTestServer, startTdengineTestServer } from '@bk/tdengine-test-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../packages/tdengine/test/fixture.ts';
import { type Stack, isFinal, startStack, waitFor } from './support/stack.ts';

/**
 * TDengine through the platform (issue 4): API -> Redis -> workers -> REST (the project's
 * TDengine REST *test server*, see packages/tdengine-test-server) -> storage -> catalog, and
 * back. Every type at its extremes in ms, us and ns databases must read back identical.
 */

interface BackupView {
  id: string;
  status: string;
  type: string;
  error?: string;
  rows: number;
  manifestKey: string | null;
  tables: { name: string; status: string; rows: number | null }[];
}
interface RestoreView {
  id: string;
  status: string;
  error?: string;
  rows: number;
  replaced: Record<string, unknown> | null;
  plan: Record<string, unknown> | null;
  tables: { name: string; status: string; rows: number | null; expectedRows: number }[];
}

let server: TdengineTestServer;
let client: TdClient;
let stack: Stack;

beforeAll(async () => {
  server = await startTdengineTestServer({ port: 0 });
  client = new Client({ url: server.url });
  for (const p of ['ms', 'us', 'ns'] as const) await createSource(client, `fid_${p}`, p);
  // Two child tables per job: the super table with five children is exported by three jobs.
  stack = await startStack({
    label: 'tde2e',
    storage: 'file',
    sources: { td: { kind: 'tdengine', url: server.url } },
    // No cut delay: the chain test writes rows and backs them up milliseconds later.
    extra: { tdengine: { childTablesPerJob: 2, pageSize: 3, lookbackMinutes: 60, cutDelaySeconds: 0 } },
  });
});
afterAll(async () => {
  await stack?.close();
  client?.close();
  await server?.close();
});

const post = async (url: string, payload: Record<string, unknown>, expected = 202) => {
  const res = await stack.app.inject({ method: 'POST', url, payload, headers: stack.auth });
  expect(res.statusCode, res.body).toBe(expected);
  return res.json() as { id: string; status: string; error?: { code: string; message: string } };
};
const backup = async (payload: Record<string, unknown>) => {
  const { id } = await post('/v1/backups', { source: 'td', ...payload });
  return waitFor<BackupView>(stack, `/v1/backups/${id}`, isFinal);
};
const restore = async (payload: Record<string, unknown>) => {
  const { id } = await post('/v1/restores', payload);
  return waitFor<RestoreView>(stack, `/v1/restores/${id}`, isFinal);
};

/** Everything a user reads back: options, structure, tags, and every row as REST returns it. */
async function snapshot(db: string): Promise<unknown> {
  const opts = await databaseOptions(client, db);
  const out: Record<string, unknown> = { precision: opts.precision };
  for (const st of await listSuperTables(client, db)) {
    const schema = await describeTable(client, db, st);
    const children = await childTables(client, db, st, { precision: opts.precision, tags: schema.tags });
    const rows: Record<string, unknown> = {};
    for (const c of children) rows[c.name] = (await client.queryAll(`SELECT * FROM \`${db}\`.\`${c.name}\` ORDER BY ts`)).rows;
    out[`stable ${st}`] = { schema, children, rows };
  }
  for (const t of await listNormalTables(client, db))
    out[`table ${t}`] = {
      schema: await describeTable(client, db, t),
      rows: (await client.queryAll(`SELECT * FROM \`${db}\`.\`${t}\` ORDER BY ts`)).rows,
    };
  return out;
}

async function count(db: string, table: string): Promise<number> {
  const { rows } = await client.queryAll(`SELECT COUNT(*) FROM \`${db}\`.\`${table}\``);
  return Number(rows[0]?.[0]);
}

describe('TDengine full backup and restore: exact for every type and precision', () => {
  let full: BackupView;

  it('backs up every user database at one cut, with typed tags and per-table rows in the manifest', async () => {
    // The fixture holds timestamps up to the year 2969 (and int64's last ns): cut after them.
    full = await backup({ type: 'full', asOf: '9999-12-31T00:00:00Z' });
    expect(full.status, full.error).toBe('succeeded');
    const manifest = parseManifest(
      (await stack.platform.store.get(full.manifestKey!).then(async (s) => Buffer.concat(await s.toArray()))).toString('utf8'),
      'test',
    );
    expect(manifest.source.kind).toBe('tdengine');
    expect(manifest.consistency.asOf).toBe('9999-12-31T00:00:00.000Z');
    expect(manifest.databases.map((d) => d.name).sort()).toEqual(['fid_ms', 'fid_ns', 'fid_us']);
    expect(manifest.databases.find((d) => d.name === 'fid_ns')?.options?.precision).toBe('ns');
    const batches = manifest.objects.filter((o) => o.database === 'fid_ms' && o.tableName === 'st_all');
    expect(batches).toHaveLength(2); // 4 children, 2 per job
    const members = batches.flatMap((o) => o.members ?? []);
    expect(members.map((m) => m.table).sort()).toEqual(['child_0', 'child_1', 'child_2', 'empty child']);
    expect(members.find((m) => m.table === 'empty child')?.rows).toBe(0);
    expect(members.find((m) => m.table === 'child_0')?.rows).toBe(await count('fid_ms', 'child_0'));
    expect(manifest.objects.filter((o) => o.kind === 'ddl')).toHaveLength(3);
    let sourceRows = 0;
    for (const db of ['fid_ms', 'fid_us', 'fid_ns'])
      for (const t of ['st_all', 'st_json', 'Normal Table']) sourceRows += await count(db, t);
    expect(full.rows).toBe(sourceRows);
  });

  for (const p of ['ms', 'us', 'ns'] as const) {
    it(`restores the ${p} database into a new database that reads back identical`, async () => {
      const r = await restore({ backupId: full.id, databases: [`fid_${p}`], targetDatabase: `fid_${p}_back` });
      expect(r.status, r.error).toBe('succeeded');
      expect(r.tables.every((t) => t.status === 'succeeded' && t.rows === t.expectedRows)).toBe(true);
      expect(await snapshot(`fid_${p}_back`)).toEqual(await snapshot(`fid_${p}`));
    });
  }

  it('restores chosen tables only, and refuses a target that has rows unless replace is confirmed', async () => {
    const r = await restore({ backupId: full.id, tables: ['fid_us.st_json'], targetDatabase: 'pick_us' });
    expect(r.status, r.error).toBe('succeeded');
    expect(await listSuperTables(client, 'pick_us')).toEqual(['st_json']);
    expect(await listNormalTables(client, 'pick_us')).toEqual([]);
    expect(await count('pick_us', 'st_json')).toBe(await count('fid_us', 'st_json'));

    const again = await restore({ backupId: full.id, tables: ['fid_us.st_json'], targetDatabase: 'pick_us' });
    expect(again.status).toBe('failed');
    expect(again.error).toMatch(/already has rows in st_json/);
    expect(await count('pick_us', 'st_json')).toBe(await count('fid_us', 'st_json'));

    await client.exec('INSERT INTO `pick_us`.`j_0` VALUES (5, 99)');
    const replaced = await restore({
      backupId: full.id,
      tables: ['fid_us.st_json'],
      targetDatabase: 'pick_us',
      mode: 'replace',
      confirm: true,
    });
    expect(replaced.status, replaced.error).toBe('succeeded');
    expect(replaced.replaced).toEqual({
      tables: [{ database: 'pick_us', table: 'st_json', rowsBefore: (await count('fid_us', 'st_json')) + 1 }],
    });
    expect(await count('pick_us', 'st_json')).toBe(await count('fid_us', 'st_json'));
  });

  it('verifies a backup (every object re-read: size, SHA-256, lines = rows + table headers); a modified object is found', async () => {
    await post(`/v1/backups/${full.id}/verify`, {});
    const verified = await waitFor<{ verification?: { status: string; objects: number } }>(
      stack,
      `/v1/backups/${full.id}`,
      (b) => b.verification?.status === 'verified' || b.verification?.status === 'corrupted',
    );
    expect(verified.verification?.status).toBe('verified');

    const small = await backup({ type: 'table', tables: ['fid_ms.st_json'], asOf: '9999-12-31T00:00:00Z', compression: { codec: 'none' } });
    expect(small.status, small.error).toBe('succeeded');
    const m = parseManifest(
      (await stack.platform.store.get(small.manifestKey!).then(async (s) => Buffer.concat(await s.toArray()))).toString('utf8'),
      'small',
    );
    const data = m.objects.find((o) => o.kind === 'data')!;
    const text = (await stack.platform.store.get(data.key).then(async (s) => Buffer.concat(await s.toArray()))).toString('utf8');
    expect(text.startsWith('{"table":"j_0","columns":[["ts","TIMESTAMP"],["v","INT"]]}\n')).toBe(true);
    // one row gone from the object (as a bad disk or a bug would do): verification must notice
    const lines = text.split('\n');
    const cut = lines.filter((l, i) => !(l.startsWith('[') && i === lines.findIndex((x) => x.startsWith('[')))).join('\n');
    await stack.platform.store.put(data.key, Readable.from([Buffer.from(cut)]));
    await post(`/v1/backups/${small.id}/verify`, {});
    const bad = await waitFor<{ verification?: { status: string; problems?: { key: string }[] } }>(
      stack,
      `/v1/backups/${small.id}`,
      (b) => b.verification?.status === 'verified' || b.verification?.status === 'corrupted',
    );
    expect(bad.verification?.status).toBe('corrupted');
    expect(bad.verification?.problems?.map((p) => p.key)).toEqual([data.key]);
  });

  it('refuses an existing empty table of another structure in fail-if-exists mode', async () => {
    await client.exec("CREATE DATABASE pick_bad PRECISION 'us'");
    await client.exec('CREATE STABLE pick_bad.st_json (ts TIMESTAMP, v INT) TAGS (info INT)');
    const r = await restore({ backupId: full.id, tables: ['fid_us.st_json'], targetDatabase: 'pick_bad' });
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/st_json with other columns or tags than the backup's; nothing was changed/);
    expect(await count('pick_bad', 'st_json')).toBe(0);
  });

  it('a dry run reads every object of the plan and changes nothing', async () => {
    const r = await restore({ backupId: full.id, databases: ['fid_ms'], targetDatabase: 'never_made', dryRun: true });
    expect(r.status, r.error).toBe('succeeded');
    expect((r.plan as { checked: { ok: boolean }[] }).checked.every((c) => c.ok)).toBe(true);
    const { rows } = await client.queryAll(`SELECT name FROM information_schema.ins_databases WHERE name = 'never_made'`);
    expect(rows).toEqual([]);
  });

  it('answers bad requests with 4xx and records nothing', async () => {
    const before = (await stack.app.inject({ method: 'GET', url: '/v1/backups?limit=100', headers: stack.auth })).json() as {
      items: unknown[];
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ source: 'td', type: 'table', tables: ['no_dot'] }, 'invalid_table_name'],
      [{ source: 'td', type: 'database' }, 'missing_databases'],
      [{ source: 'td', type: 'full', databases: ['fid_ms'] }, 'unexpected_field'],
      [{ source: 'td', type: 'incremental', databases: ['fid_ms'] }, 'no_base_backup'],
    ];
    for (const [payload, code] of cases) {
      const res = await stack.app.inject({ method: 'POST', url: '/v1/backups', payload, headers: stack.auth });
      expect(res.statusCode, res.body).toBe(400);
      expect((res.json() as { error: { code: string } }).error.code).toBe(code);
    }
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/restores',
      payload: { backupId: full.id, tables: ['fid_ms.nope'] },
      headers: stack.auth,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/tables not in this backup: fid_ms.nope/);
    const after = (await stack.app.inject({ method: 'GET', url: '/v1/backups?limit=100', headers: stack.auth })).json() as {
      items: unknown[];
    };
    expect(after.items.length).toBe(before.items.length);
  });

  it('discovers databases, super tables, child tables with tags and normal tables', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/sources/td', headers: stack.auth });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      reachable: boolean;
      catalog: {
        name: string;
        precision: string;
        tables: { name: string; kind: string; parent: string | null; tags?: Record<string, unknown> }[];
      }[];
    };
    expect(body.reachable).toBe(true);
    const ns = body.catalog.find((d) => d.name === 'fid_ns');
    expect(ns?.precision).toBe('ns');
    const child = ns?.tables.find((t) => t.name === 'child_0');
    expect(child).toMatchObject({ kind: 'child table', parent: 'st_all' });
    expect(child?.tags?.t_i64).toBe('9223372036854775807');
    expect(ns?.tables.find((t) => t.name === 'Normal Table')?.kind).toBe('normal table');
  });
});

describe('TDengine incremental chains and point-in-time restore', () => {
  const db = 'live';
  const cols = '(`ts` TIMESTAMP, `v` BIGINT, `s` NCHAR(8))';
  const rowsOf = async (name: string) => (await client.queryAll(`SELECT * FROM \`${name}\`.\`m\` ORDER BY ts`)).rows;
  const insert = async (tsList: number[], tag = 1) => {
    const values = tsList.map((t) => `(${t}, ${9223372036854775000n + BigInt(t % 700)}, 'r${t % 1000}')`).join(' ');
    await client.exec(`INSERT INTO \`${db}\`.\`d${tag}\` USING \`${db}\`.\`m\` TAGS (${tag}) VALUES ${values}`);
  };

  it('takes a full, then incrementals covering [previous cut - look-back, cut), and restores any point in time', async () => {
    await client.exec(`CREATE DATABASE ${db} PRECISION 'ms'`);
    await client.exec(`CREATE STABLE ${db}.m ${cols} TAGS (\`dev\` INT)`);
    const t0 = Date.now();
    await insert(
      Array.from({ length: 50 }, (_, i) => t0 - 7_200_000 + i * 1000),
      1,
    );
    await insert(
      Array.from({ length: 20 }, (_, i) => t0 - 3_600_000 + i * 1000),
      2,
    );

    // PITR before any full: 4xx naming what is covered (nothing).
    const early = await post('/v1/restores', { source: 'td', targetTime: new Date(t0).toISOString() }, 400);
    expect(early.error?.code).toBe('time_not_covered');

    const full = await backup({ type: 'database', databases: [db] });
    expect(full.status, full.error).toBe('succeeded');
    expect(full.rows).toBe(70);

    // A late row (inside the look-back window, before the full's cut) and new rows after the cut.
    await insert([t0 - 600_000], 1);
    const afterFull = Date.now();
    await insert([afterFull, afterFull + 1, afterFull + 2], 1);
    await new Promise((r) => setTimeout(r, 20));
    const inc1 = await backup({ type: 'incremental', databases: [db] });
    expect(inc1.status, inc1.error).toBe('succeeded');
    expect(inc1.type).toBe('incremental');
    const m1 = parseManifest(
      (await stack.platform.store.get(inc1.manifestKey!).then(async (s) => Buffer.concat(await s.toArray()))).toString('utf8'),
      'inc1',
    );
    expect(m1.chain?.baseBackupId).toBe(full.id);
    expect(m1.chain?.parentBackupId).toBe(full.id);
    // the window reaches back an hour before the full's cut: the late row and the rows of d2 inside it come again
    expect(inc1.rows).toBeGreaterThanOrEqual(4);
    const betweenCuts = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    const afterInc1 = Date.now();
    await insert([afterInc1, afterInc1 + 5], 2);
    await new Promise((r) => setTimeout(r, 20));
    const inc2 = await backup({ type: 'incremental', databases: [db] });
    expect(inc2.status, inc2.error).toBe('succeeded');

    // Restoring the newest incremental applies the whole chain: everything.
    const whole = await restore({ backupId: inc2.id, targetDatabase: 'live_all' });
    expect(whole.status, whole.error).toBe('succeeded');
    expect(await rowsOf('live_all')).toEqual(await rowsOf(db));
    expect(await count('live_all', 'm')).toBe(76);

    // A point between the first incremental's cut and the rows written after it. The chain
    // holds database "live" only: a request for the whole source is not covered by it.
    const wholeSource = await post(
      '/v1/restores',
      { source: 'td', targetTime: new Date(betweenCuts).toISOString(), targetDatabase: 'x' },
      400,
    );
    expect(wholeSource.error?.code).toBe('time_not_covered');
    const pit = await restore({
      source: 'td',
      targetTime: new Date(betweenCuts).toISOString(),
      databases: [db],
      targetDatabase: 'live_pit',
    });
    expect(pit.status, pit.error).toBe('succeeded');
    expect((pit.plan as { backups: { id: string }[] }).backups.map((b) => b.id)).toEqual([full.id, inc1.id, inc2.id]);
    const expected = (await rowsOf(db)).filter((r) => Number(new Date(r[0] as string)) <= betweenCuts);
    expect(expected).toHaveLength(74);
    expect(await rowsOf('live_pit')).toEqual(expected);

    // A time after the newest cut is not covered: the answer says what is.
    const late = await post(
      '/v1/restores',
      { source: 'td', targetTime: new Date(Date.now() + 3_600_000).toISOString(), databases: [db] },
      400,
    );
    expect(late.error?.code).toBe('time_not_covered');
    expect(late.error?.message).toContain(full.id);

    // A super table created after the full, with rows backfilled from long before: the next
    // incremental takes it whole, not just its window.
    await client.exec(`CREATE STABLE ${db}.late ${cols} TAGS (\`dev\` INT)`);
    await client.exec(`INSERT INTO ${db}.l1 USING ${db}.late TAGS (7) VALUES (${t0 - 86_400_000}, 1, 'old') (${t0 - 5_000}, 2, 'new')`);
    const inc3 = await backup({ type: 'incremental', databases: [db] });
    expect(inc3.status, inc3.error).toBe('succeeded');
    const chainAll = await restore({ backupId: inc3.id, targetDatabase: 'live_all3' });
    expect(chainAll.status, chainAll.error).toBe('succeeded');
    expect(await count('live_all3', 'late')).toBe(2);
    expect(await rowsOf('live_all3')).toEqual(await rowsOf(db));

    // The middle of a chain cannot be deleted by accident: a gap would lose its rows.
    const refused = await stack.app.inject({ method: 'DELETE', url: `/v1/backups/${inc1.id}`, headers: stack.auth });
    expect(refused.statusCode).toBe(409);
    expect((refused.json() as { error: { code: string } }).error.code).toBe('backup_has_dependents');
    const forced = await stack.app.inject({ method: 'DELETE', url: `/v1/backups/${inc1.id}?force=true`, headers: stack.auth });
    expect(forced.statusCode, forced.body).toBe(200);
    // ... and once it is gone, neither the chain nor a point in time inside it restores silently short.
    const broken = await post('/v1/restores', { backupId: inc2.id, targetDatabase: 'never' }, 400);
    expect(broken.error?.code).toBe('chain_broken');
    const gap = await post('/v1/restores', { source: 'td', targetTime: new Date(betweenCuts).toISOString(), databases: [db] }, 400);
    expect(gap.error?.code).toBe('time_not_covered');
  });
});

describe('TDengine restore drills', () => {
  it('restores the newest full backup into a scratch database, compares every table, drops it, records the time', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/drills', payload: { source: 'td' }, headers: stack.auth });
    expect(res.statusCode, res.body).toBe(202);
    const drill = await waitFor<
      RestoreView & {
        targetDatabase: string;
        durationMs: number;
        plan: { drill?: { status: string; tablesCompared: number; differences: string[] } };
      }
    >(stack, `/v1/restores/${(res.json() as { id: string }).id}`, (r) => isFinal(r) && Boolean(r.plan?.drill));
    expect(drill.status, drill.error).toBe('succeeded');
    expect(drill.plan.drill?.status).toBe('passed');
    expect(drill.plan.drill?.tablesCompared).toBeGreaterThan(0);
    expect(drill.durationMs).toBeGreaterThan(0);
    const { rows } = await client.queryAll(`SELECT name FROM information_schema.ins_databases WHERE name = '${drill.targetDatabase}'`);
    expect(rows).toEqual([]);
  });
});

describe('TDengine schedules', () => {
  it('an incremental schedule with no full yet takes the full first, then incrementals on it', async () => {
    await client.exec("CREATE DATABASE sched PRECISION 'ns'");
    await client.exec('CREATE STABLE sched.m (ts TIMESTAMP, v INT) TAGS (dev INT)');
    await client.exec('INSERT INTO sched.d1 USING sched.m TAGS (1) VALUES (1700000000000000001, 1)');
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/schedules',
      headers: stack.auth,
      payload: { name: 'td hourly', source: 'td', type: 'incremental', databases: ['sched'], cron: '0 * * * *', timezone: 'UTC' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const sid = (res.json() as { id: string }).id;
    const run = async () => {
      const { id } = await post(`/v1/schedules/${sid}/run`, {});
      return waitFor<BackupView>(stack, `/v1/backups/${id}`, isFinal);
    };
    const first = await run();
    expect(first.status, first.error).toBe('succeeded');
    expect(first.type).toBe('database');
    expect(first.rows).toBe(1);
    const second = await run();
    expect(second.status, second.error).toBe('succeeded');
    expect(second.type).toBe('incremental');
  });
});

describe('TDengine faults: never a short backup marked good', () => {
  it('a silently truncated page (restfulRowLimit) fails the backup; a dropped connection is retried', async () => {
    server.faults.rowLimit(1, { match: 'FROM `fid_ms`.`child_0`' });
    const short = await backup({ type: 'table', tables: ['fid_ms.st_all'] });
    server.faults.clear();
    expect(short.status).toBe('failed');
    expect(short.error).toMatch(/COUNT\(\*\)|truncat/);

    // A truncated child-table listing would drop whole tables unnoticed: the count in
    // information_schema catches it.
    server.faults.rowLimit(2, { match: 'SELECT TAGS' });
    const listing = await backup({ type: 'table', tables: ['fid_ms.st_all'] });
    server.faults.clear();
    expect(listing.status).toBe('failed');
    expect(listing.error).toMatch(/child tables of fid_ms\.st_all: the listing returned 2 but information_schema counts 4/);

    server.faults.dropConnection({ afterRows: 1 }, { match: 'FROM `fid_ms`.`child_1`', times: 1 });
    const ok = await backup({ type: 'table', tables: ['fid_ms.st_all'], asOf: '9999-12-31T00:00:00Z' });
    expect(server.faults.isEmpty()).toBe(true);
    server.faults.clear();
    expect(ok.status, ok.error).toBe('succeeded');
    expect(ok.rows).toBe(await count('fid_ms', 'st_all'));
  });
});
