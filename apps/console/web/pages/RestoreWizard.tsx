import { useState } from 'react';
import { WindowTimeline } from '../charts.tsx';
import { ConfirmDialog, ErrorBox, Loading, Section, Status } from '../components.tsx';
import { bytes, count, fromLocalInput, pgName, toLocalInput, when } from '../format.ts';
import { useRoute } from '../router.ts';
import { ACTION_SCOPES, useAction, useApi } from '../session.tsx';
import type {
  Backup,
  BackupDetail,
  Page,
  RecoveryWindow,
  RestoreDetail,
  RestoreMode,
  RestoreRequest,
  Source,
  SourceDetail,
} from '../types.ts';
import { RestoreProgress } from './Restores.tsx';

/** A table the operator can pick: its database, its name as the API takes it, what to show. */
interface Pickable {
  db: string;
  ref: string;
  label: string;
}

/** Tables of a backup (PostgreSQL; a TDengine backup is picked by database). */
function pickablesOfBackup(b: BackupDetail, kind: Source['kind']): { databases: string[]; tables: Pickable[] } {
  const databases = [...new Set(b.tables.map((t) => t.database))];
  const tables =
    kind === 'postgres' ? b.tables.map((t) => ({ db: t.database, ref: `${pgName(t.database)}.${t.name}`, label: t.name })) : [];
  return { databases, tables };
}

/** Tables of the source as it is now (a moment's tables are checked by the worker once recovered). */
function pickablesOfSource(d: SourceDetail): { databases: string[]; tables: Pickable[] } {
  const catalog = d.catalog ?? [];
  return {
    databases: catalog.map((c) => c.name),
    tables: catalog.flatMap((c) =>
      c.tables
        .filter((t) => t.parent === null)
        .map((t) => ({ db: c.name, ref: pgName(c.name, t.schema, t.name), label: pgName(t.schema, t.name) })),
    ),
  };
}

const inWindow = (w: RecoveryWindow, iso: string) =>
  w.windows.some((x) => iso >= new Date(x.from).toISOString() && iso <= new Date(x.to).toISOString());

/**
 * Source -> a backup (or, with point-in-time recovery, a moment) -> databases and tables ->
 * target -> a dry run, whose plan is shown -> the restore, followed to its end. Overwriting
 * (mode "replace") asks for the target's name to be typed before `confirm: true` is sent.
 */
export function RestoreWizard() {
  const { query } = useRoute();
  const [source, setSource] = useState(query.get('source') ?? '');
  const [backupId, setBackupId] = useState(query.get('backup') ?? '');
  const [point, setPoint] = useState<'backup' | 'moment'>('backup');
  const [moment, setMoment] = useState('');
  /** Databases and table refs left out (everything is picked until unticked). */
  const [excluded, setExcluded] = useState<ReadonlySet<string>>(new Set());
  const [target, setTarget] = useState<'same' | 'other'>('other');
  const [targetName, setTargetName] = useState('');
  const [mode, setMode] = useState<RestoreMode>('fail-if-exists');
  const [dryRun, setDryRun] = useState<{ id: string; key: string } | null>(null);
  const [realRun, setRealRun] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

  const sources = useApi<{ items: Source[] }>('/v1/sources', { staleTime: 60_000 });
  const detail = useApi<SourceDetail>(source ? `/v1/sources/${encodeURIComponent(source)}` : null, { staleTime: 60_000 });
  const pitr = Boolean(detail.data?.pitr);
  const win = useApi<RecoveryWindow>(pitr ? `/v1/sources/${encodeURIComponent(source)}/recovery-window` : null, {
    refetchInterval: 30_000,
  });
  const backups = useApi<Page<Backup>>(source ? `/v1/backups?source=${encodeURIComponent(source)}&status=succeeded&limit=30` : null);
  const backup = useApi<BackupDetail>(point === 'backup' && backupId ? `/v1/backups/${encodeURIComponent(backupId)}` : null);
  const dry = useApi<RestoreDetail>(dryRun ? `/v1/restores/${dryRun.id}` : null, {
    refetchInterval: (q) => (q.state.data && !['queued', 'running'].includes(q.state.data.status) ? false : 2_000),
  });
  const start = useAction(ACTION_SCOPES.restore, (api, body: RestoreRequest) => api.send<{ id: string }>('POST', '/v1/restores', body));

  const kind = detail.data?.kind ?? 'postgres';
  const pickables =
    point === 'moment' ? (detail.data ? pickablesOfSource(detail.data) : null) : backup.data ? pickablesOfBackup(backup.data, kind) : null;
  const restorable = (backups.data?.items ?? []).filter((b) => b.type !== 'base');
  const newest = win.data?.windows.at(-1)?.to;
  const momentValue = moment || (newest ? toLocalInput(newest) : '');
  const targetTime = momentValue ? fromLocalInput(momentValue) : undefined;

  // The request, and what is wrong with it (the API checks again).
  const problems: string[] = [];
  const body: RestoreRequest = { dryRun: false, mode, confirm: false };
  if (point === 'backup') {
    if (!backupId) problems.push('Pick a backup.');
    else body.backupId = backupId;
  } else {
    body.source = source;
    if (!targetTime) problems.push('Pick a moment.');
    else if (win.data && !inWindow(win.data, targetTime)) problems.push('That moment is outside the recovery window.');
    else body.targetTime = targetTime;
  }
  let pickedDbs: string[] = [];
  if (pickables) {
    pickedDbs = pickables.databases.filter((d) => !excluded.has(d));
    const pickedTables = pickables.tables.filter((t) => pickedDbs.includes(t.db) && !excluded.has(t.ref));
    const partial = pickables.tables.some((t) => pickedDbs.includes(t.db) && excluded.has(t.ref));
    if (pickedDbs.length === 0) problems.push('Pick at least one database.');
    else if (partial) {
      if (pickedTables.length === 0) problems.push('Pick at least one table.');
      body.tables = pickedTables.map((t) => t.ref);
    } else if (pickedDbs.length < pickables.databases.length) body.databases = pickedDbs;
  }
  if (target === 'other') {
    if (!targetName.trim()) problems.push('Name the target database.');
    else if (pickedDbs.length > 1) problems.push('Another name takes one database: pick one.');
    else body.targetDatabase = targetName.trim();
  }
  const key = JSON.stringify(body);
  const dryOk = dryRun?.key === key && dry.data?.status === 'succeeded';
  const targetNames = target === 'other' ? targetName.trim() : pickedDbs.join(', ');

  const reset = () => {
    setDryRun(null);
    setRealRun(null);
  };
  const run = (confirmed: boolean) => start.mutate({ ...body, confirm: confirmed }, { onSuccess: (r) => setRealRun(r.id) });

  return (
    <>
      <Section title="1. Source">
        <ErrorBox error={sources.error ?? detail.error} />
        <label className="field">
          Source
          <select
            value={source}
            onChange={(e) => {
              setSource(e.target.value);
              setBackupId('');
              setPoint('backup');
              setExcluded(new Set());
              reset();
            }}
          >
            <option value="">choose…</option>
            {(sources.data?.items ?? []).map((s) => (
              <option key={s.name} value={s.name}>
                {s.name} ({s.kind})
              </option>
            ))}
          </select>
        </label>
      </Section>

      {source ? (
        <Section title="2. What to restore from">
          {pitr ? (
            <div className="row">
              <label className="check">
                <input
                  type="radio"
                  name="point"
                  checked={point === 'backup'}
                  onChange={() => {
                    setPoint('backup');
                    reset();
                  }}
                />{' '}
                a backup
              </label>
              <label className="check">
                <input
                  type="radio"
                  name="point"
                  checked={point === 'moment'}
                  onChange={() => {
                    setPoint('moment');
                    setExcluded(new Set());
                    reset();
                  }}
                />{' '}
                a moment in time (point-in-time recovery)
              </label>
            </div>
          ) : null}
          {point === 'backup' ? (
            <>
              <ErrorBox error={backups.error} />
              {!backups.data ? (
                <Loading what="backups" />
              ) : restorable.length === 0 ? (
                <p className="muted">No succeeded backup of {source} to restore.</p>
              ) : (
                <table className="compact pick">
                  <tbody>
                    {restorable.map((b) => (
                      <tr key={b.id}>
                        <td>
                          <label className="check">
                            <input
                              type="radio"
                              name="backup"
                              value={b.id}
                              checked={backupId === b.id}
                              onChange={() => {
                                setBackupId(b.id);
                                setExcluded(new Set());
                                reset();
                              }}
                            />{' '}
                            {b.id}
                          </label>
                        </td>
                        <td>{b.type}</td>
                        <td>{when(b.finishedAt ?? b.createdAt)}</td>
                        <td>{count(b.rows)} rows</td>
                        <td>{bytes(b.bytes)}</td>
                        <td>{b.verification?.status ? <Status status={b.verification.status} /> : null}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          ) : (
            <>
              <ErrorBox error={win.error} />
              {win.data ? <WindowTimeline window={win.data} selected={targetTime} /> : <Loading what="the recovery window" />}
              <label className="field">
                Moment (your time zone)
                <input
                  type="datetime-local"
                  step={1}
                  value={momentValue}
                  min={win.data?.windows[0] ? toLocalInput(win.data.windows[0].from) : undefined}
                  max={newest ? toLocalInput(newest) : undefined}
                  onChange={(e) => {
                    setMoment(e.target.value);
                    reset();
                  }}
                />
              </label>
            </>
          )}
        </Section>
      ) : null}

      {pickables ? (
        <Section title="3. Databases and tables">
          {pickables.databases.map((db) => {
            const tables = pickables.tables.filter((t) => t.db === db);
            const toggle = (k: string) => {
              const next = new Set(excluded);
              if (next.has(k)) next.delete(k);
              else next.add(k);
              setExcluded(next);
              reset();
            };
            return (
              <fieldset key={db}>
                <legend>
                  <label className="check">
                    <input type="checkbox" checked={!excluded.has(db)} onChange={() => toggle(db)} /> database <strong>{db}</strong>
                  </label>
                </legend>
                {!excluded.has(db)
                  ? tables.map((t) => (
                      <label key={t.ref} className="check">
                        <input type="checkbox" checked={!excluded.has(t.ref)} onChange={() => toggle(t.ref)} /> {t.label}
                      </label>
                    ))
                  : null}
              </fieldset>
            );
          })}
          {point === 'moment' ? (
            <p className="muted">Tables as the source has them now; the worker checks them against the recovered moment.</p>
          ) : null}
        </Section>
      ) : null}

      {pickables ? (
        <Section title="4. Into">
          <div className="row">
            <label className="check">
              <input
                type="radio"
                name="target"
                checked={target === 'other'}
                onChange={() => {
                  setTarget('other');
                  reset();
                }}
              />{' '}
              another database
            </label>
            <label className="check">
              <input
                type="radio"
                name="target"
                checked={target === 'same'}
                onChange={() => {
                  setTarget('same');
                  reset();
                }}
              />{' '}
              the same database(s)
              {pickedDbs.length ? <span className="muted"> ({pickedDbs.join(', ')})</span> : null}
            </label>
          </div>
          {target === 'other' ? (
            <label className="field">
              Target database (created if missing)
              <input
                name="target-database"
                value={targetName}
                onChange={(e) => {
                  setTargetName(e.target.value);
                  reset();
                }}
                autoComplete="off"
                spellCheck={false}
              />
            </label>
          ) : null}
          <div className="row">
            <label className="check">
              <input
                type="radio"
                name="mode"
                checked={mode === 'fail-if-exists'}
                onChange={() => {
                  setMode('fail-if-exists');
                  reset();
                }}
              />{' '}
              fail if the target tables have rows
            </label>
            <label className="check">
              <input
                type="radio"
                name="mode"
                checked={mode === 'replace'}
                onChange={() => {
                  setMode('replace');
                  reset();
                }}
              />{' '}
              replace the target tables (overwrite)
            </label>
          </div>
        </Section>
      ) : null}

      {pickables ? (
        <Section title="5. Dry run, then restore">
          {problems.map((p) => (
            <p key={p} className="notice">
              {p}
            </p>
          ))}
          <ErrorBox error={start.error} />
          <div className="actions">
            <button
              type="button"
              disabled={problems.length > 0 || start.isPending || realRun !== null}
              // A dry run reads and checks every object and changes nothing, whatever the mode:
              // it is sent without the overwrite, which is confirmed for the real run only.
              onClick={() =>
                start.mutate({ ...body, dryRun: true, mode: 'fail-if-exists' }, { onSuccess: (r) => setDryRun({ id: r.id, key }) })
              }
            >
              Dry run
            </button>
            <button
              type="button"
              className={mode === 'replace' ? 'danger' : 'primary'}
              disabled={!dryOk || start.isPending || realRun !== null}
              title={dryOk ? undefined : 'Run a dry run of exactly this restore first'}
              onClick={() => (mode === 'replace' ? setConfirming(true) : run(false))}
            >
              {mode === 'replace' ? 'Restore, replacing…' : 'Restore'}
            </button>
          </div>
          {dryRun ? (
            <>
              <h3>Dry run</h3>
              <RestoreProgress id={dryRun.id} />
            </>
          ) : null}
          {realRun ? (
            <>
              <h3>Restore</h3>
              <RestoreProgress id={realRun} />
            </>
          ) : null}
        </Section>
      ) : null}

      {confirming ? (
        <ConfirmDialog
          title="Overwrite the target tables?"
          confirmLabel="Replace and restore"
          danger
          typeToConfirm={targetNames}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            run(true);
          }}
        >
          <p>
            Mode “replace” drops and reloads the restored tables in <strong>{targetNames}</strong>; rows they hold now are lost.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
