import { useState } from 'react';
import { ErrorBox, Loading, Pager, Section, Status } from '../components.tsx';
import { bytes, count, pgName, when } from '../format.ts';
import { href, navigate, useRoute } from '../router.ts';
import { ACTION_SCOPES, useAction, useApi, useCan } from '../session.tsx';
import { BACKUP_TYPES, type Backup, type BackupType, type Page, RUN_STATUSES, type Source, type SourceDetail } from '../types.ts';

const PAGE_SIZE = 25;

/** The backup types a source can take (platform/backups.ts checkScope says the same). */
function typesFor(detail: SourceDetail): BackupType[] {
  if (detail.kind === 'tdengine') return ['full', 'database', 'table', 'incremental'];
  return detail.pitr ? ['full', 'database', 'table', 'base'] : ['full', 'database', 'table'];
}

/** Table names as the API takes them: PostgreSQL `db.schema.table`, TDengine `db.table`. */
function tableRefs(detail: SourceDetail): { db: string; ref: string; label: string }[] {
  return (detail.catalog ?? []).flatMap((db) =>
    db.tables
      .filter((t) => t.parent === null)
      .map((t) =>
        detail.kind === 'postgres'
          ? { db: db.name, ref: pgName(db.name, t.schema, t.name), label: pgName(t.schema, t.name) }
          : { db: db.name, ref: `${db.name}.${t.name}`, label: t.name },
      ),
  );
}

function NewBackup({ sources, onDone }: { sources: Source[]; onDone(): void }) {
  const [source, setSource] = useState(sources[0]?.name ?? '');
  const [type, setType] = useState<BackupType>('full');
  const [databases, setDatabases] = useState<string[]>([]);
  const [tables, setTables] = useState<string[]>([]);
  const detail = useApi<SourceDetail>(source ? `/v1/sources/${encodeURIComponent(source)}` : null, { staleTime: 60_000 });
  const start = useAction(ACTION_SCOPES.startBackup, (api, body: Record<string, unknown>) =>
    api.send<{ id: string }>('POST', '/v1/backups', body),
  );
  const types = detail.data ? typesFor(detail.data) : [];
  const toggle = (list: string[], set: (l: string[]) => void, v: string) =>
    set(list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);
  const body = {
    source,
    type,
    ...(type === 'database' && databases.length ? { databases } : {}),
    ...((type === 'table' || type === 'incremental') && tables.length ? { tables } : {}),
  };

  return (
    <form
      className="card"
      aria-label="start a backup"
      onSubmit={(e) => {
        e.preventDefault();
        start.mutate(body, { onSuccess: (r) => navigate(href(['backups', r.id])) });
      }}
    >
      <h2>Start a backup</h2>
      <div className="row">
        <label className="field">
          Source
          <select
            value={source}
            onChange={(e) => {
              setSource(e.target.value);
              setType('full');
              setDatabases([]);
              setTables([]);
            }}
          >
            {sources.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name} ({s.kind})
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Type
          <select value={type} onChange={(e) => setType(e.target.value as BackupType)} disabled={!detail.data}>
            {types.map((t) => (
              <option key={t} value={t}>
                {t === 'base' ? 'base (physical, for point-in-time restores)' : t}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={detail.error} />
      {detail.isLoading ? <Loading what="the source's databases and tables" /> : null}
      {detail.data && type === 'database' ? (
        <fieldset>
          <legend>Databases</legend>
          {(detail.data.databases ?? []).map((d) => (
            <label key={d} className="check">
              <input type="checkbox" checked={databases.includes(d)} onChange={() => toggle(databases, setDatabases, d)} /> {d}
            </label>
          ))}
        </fieldset>
      ) : null}
      {detail.data && (type === 'table' || type === 'incremental') ? (
        <fieldset>
          <legend>Tables{type === 'incremental' ? ' (none: every table)' : ''}</legend>
          {tableRefs(detail.data).map((t) => (
            <label key={t.ref} className="check">
              <input type="checkbox" checked={tables.includes(t.ref)} onChange={() => toggle(tables, setTables, t.ref)} /> {t.label}{' '}
              <span className="muted">{t.db}</span>
            </label>
          ))}
        </fieldset>
      ) : null}
      <ErrorBox error={start.error} />
      <div className="actions">
        <button type="button" onClick={onDone}>
          Close
        </button>
        <button
          type="submit"
          className="primary"
          disabled={!detail.data || start.isPending || (type === 'database' && !databases.length) || (type === 'table' && !tables.length)}
        >
          Start backup
        </button>
      </div>
    </form>
  );
}

export function Backups() {
  const { query } = useRoute();
  const can = useCan();
  const [source, setSource] = useState(query.get('source') ?? '');
  const [type, setType] = useState('');
  const [status, setStatus] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const [creating, setCreating] = useState(false);
  const sources = useApi<{ items: Source[] }>('/v1/sources', { staleTime: 60_000 });
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (source) params.set('source', source);
  if (type) params.set('type', type);
  if (status) params.set('status', status);
  const cursor = cursors.at(-1);
  if (cursor) params.set('cursor', cursor);
  const page = useApi<Page<Backup>>(`/v1/backups?${params}`, { refetchInterval: 5_000 });
  const filter = (set: (v: string) => void) => (v: string) => {
    set(v);
    setCursors([]);
  };

  return (
    <>
      {creating && sources.data ? <NewBackup sources={sources.data.items} onDone={() => setCreating(false)} /> : null}
      <Section
        title="Backups"
        actions={
          can(ACTION_SCOPES.startBackup) && !creating ? (
            <button type="button" className="primary" onClick={() => setCreating(true)}>
              Start a backup…
            </button>
          ) : null
        }
      >
        <div className="row filters">
          <label className="field">
            Source
            <select value={source} onChange={(e) => filter(setSource)(e.target.value)}>
              <option value="">all</option>
              {(sources.data?.items ?? []).map((s) => (
                <option key={s.name}>{s.name}</option>
              ))}
            </select>
          </label>
          <label className="field">
            Type
            <select value={type} onChange={(e) => filter(setType)(e.target.value)}>
              <option value="">all</option>
              {BACKUP_TYPES.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </label>
          <label className="field">
            Status
            <select value={status} onChange={(e) => filter(setStatus)(e.target.value)}>
              <option value="">all</option>
              {RUN_STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        </div>
        <ErrorBox error={page.error} />
        {!page.data ? (
          <Loading what="backups" />
        ) : page.data.items.length === 0 ? (
          <p className="muted">No backups match.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Backup</th>
                <th>Source</th>
                <th>Type</th>
                <th>Status</th>
                <th>Taken</th>
                <th>Rows</th>
                <th>Stored</th>
                <th>Verified</th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.map((b) => (
                <tr key={b.id} data-backup={b.id}>
                  <td>
                    <a href={href(['backups', b.id])}>{b.id}</a>
                    {b.pinned ? <span className="tag">pinned</span> : null}
                  </td>
                  <td>{b.source}</td>
                  <td>{b.type}</td>
                  <td>
                    <Status status={b.status} />
                  </td>
                  <td>{when(b.startedAt ?? b.createdAt)}</td>
                  <td>{count(b.rows)}</td>
                  <td>{bytes(b.bytes)}</td>
                  <td>{b.verification?.status ? <Status status={b.verification.status} /> : <span className="muted">–</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager cursors={cursors} nextCursor={page.data?.nextCursor ?? null} onChange={setCursors} />
      </Section>
    </>
  );
}
