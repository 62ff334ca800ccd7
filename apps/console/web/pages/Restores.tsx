import { useState } from 'react';
import { ErrorBox, Loading, Pager, Section, Status } from '../components.tsx';
import { bytes, count, duration, when } from '../format.ts';
import { href } from '../router.ts';
import { ACTION_SCOPES, useAction, useApi, useCan } from '../session.tsx';
import { type Page, type Restore, type RestoreDetail, isActive } from '../types.ts';

interface PlannedDatabase {
  from: string;
  to: string;
  tables?: string[];
  rows?: number;
  bytes?: number;
}

/** What a restore will do (or, for a dry run, checked): the databases it maps, the objects it read. */
export function Plan({ plan }: { plan: Record<string, unknown> }) {
  const databases = Array.isArray(plan.databases) ? (plan.databases as PlannedDatabase[]) : [];
  const checked = Array.isArray(plan.checked) ? (plan.checked as { key: string; ok: boolean; problem?: string }[]) : null;
  return (
    <div className="plan">
      {databases.length ? (
        <table className="compact">
          <thead>
            <tr>
              <th>From database</th>
              <th>Into</th>
              <th>Tables</th>
              <th>Rows</th>
              <th>Bytes</th>
            </tr>
          </thead>
          <tbody>
            {databases.map((d) => (
              <tr key={`${d.from}>${d.to}`}>
                <td>{d.from}</td>
                <td>
                  <strong>{d.to}</strong>
                </td>
                <td>{d.tables?.join(', ')}</td>
                <td>{count(d.rows)}</td>
                <td>{bytes(d.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {Array.isArray(plan.order) ? <p className="muted">Steps: {(plan.order as string[]).join(' → ')}</p> : null}
      {checked ? (
        <p>
          {checked.filter((c) => c.ok).length} of {checked.length} stored objects read back and checked (size, SHA-256, decompression).
          {checked
            .filter((c) => !c.ok)
            .map((c) => (
              <span key={c.key} className="error">
                {' '}
                {c.key}: {c.problem}
              </span>
            ))}
        </p>
      ) : null}
      <details>
        <summary>Full plan</summary>
        <pre>{JSON.stringify(plan, null, 2)}</pre>
      </details>
    </div>
  );
}

/** One restore, followed live (every 2 s) until it ends. */
export function RestoreProgress({ id }: { id: string }) {
  const can = useCan();
  const path = `/v1/restores/${encodeURIComponent(id)}`;
  const r = useApi<RestoreDetail>(path, { refetchInterval: (q) => (!q.state.data || isActive(q.state.data.status) ? 2_000 : false) });
  const cancel = useAction(ACTION_SCOPES.cancelRestore, (api) => api.send('POST', `${path}/cancel`));
  if (r.error) return <ErrorBox error={r.error} />;
  if (!r.data) return <Loading what="the restore" />;
  const x = r.data;
  const loaded = x.tables.filter((t) => t.status === 'succeeded').length;
  return (
    <div className="restore" data-restore={x.id} data-status={x.status}>
      <p>
        {x.dryRun ? 'Dry run' : 'Restore'} <a href={href(['restores', x.id])}>{x.id}</a> of backup{' '}
        <a href={href(['backups', x.backupId])}>{x.backupId}</a>: <Status status={x.status} />
        {x.durationMs !== null ? <span className="muted"> in {duration(x.durationMs)}</span> : null}
        {!x.dryRun && x.tables.length ? (
          <span className="muted">
            {' '}
            · {loaded} of {x.tables.length} loaded, {count(x.rows)} rows
          </span>
        ) : null}{' '}
        {can(ACTION_SCOPES.cancelRestore) && isActive(x.status) ? (
          <button type="button" className="danger" disabled={cancel.isPending} onClick={() => cancel.mutate(undefined)}>
            Cancel restore
          </button>
        ) : null}
      </p>
      <ErrorBox error={cancel.error} />
      {x.error ? <p className="error">{x.error}</p> : null}
      {x.plan ? <Plan plan={x.plan} /> : null}
      {x.tables.length ? (
        <table className="compact">
          <thead>
            <tr>
              <th>Into database</th>
              <th>Table</th>
              <th>Status</th>
              <th>Rows</th>
            </tr>
          </thead>
          <tbody>
            {x.tables.map((t, i) => (
              <tr key={i}>
                <td>{t.database}</td>
                <td>
                  {t.name}
                  {t.error ? <div className="error">{t.error}</div> : null}
                </td>
                <td>
                  <Status status={t.status} />
                </td>
                <td>
                  {count(t.rows)} / {count(t.expectedRows)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {x.replaced ? (
        <details>
          <summary>Tables replaced</summary>
          <pre>{JSON.stringify(x.replaced, null, 2)}</pre>
        </details>
      ) : null}
    </div>
  );
}

export function RestoreDetailPage({ id }: { id: string }) {
  return (
    <>
      <p>
        <a href={href(['restores'])}>← Restores</a>
      </p>
      <Section title={`Restore ${id}`}>
        <RestoreProgress id={id} />
      </Section>
    </>
  );
}

export function Restores() {
  const can = useCan();
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = useApi<Page<Restore>>(`/v1/restores?limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
    refetchInterval: 5_000,
  });
  return (
    <Section
      title="Recent restores"
      actions={
        can(ACTION_SCOPES.restore) ? (
          <a className="button primary" href={href(['restore'])}>
            Restore…
          </a>
        ) : null
      }
    >
      <ErrorBox error={page.error} />
      {!page.data ? (
        <Loading what="restores" />
      ) : page.data.items.length === 0 ? (
        <p className="muted">No restores yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Restore</th>
              <th>Source</th>
              <th>Backup</th>
              <th>Into</th>
              <th>Status</th>
              <th>Requested</th>
              <th>Took</th>
              <th>Rows</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={href(['restores', r.id])}>{r.id}</a>
                  {r.dryRun ? <span className="tag">dry run</span> : null}
                  {r.mode === 'replace' ? <span className="tag">replace</span> : null}
                </td>
                <td>{r.source}</td>
                <td>
                  <a href={href(['backups', r.backupId])}>{r.backupId}</a>
                </td>
                <td>{r.targetDatabase ?? <span className="muted">same database</span>}</td>
                <td>
                  <Status status={r.status} />
                </td>
                <td>
                  {when(r.createdAt)}
                  <div className="muted">{r.requestedBy}</div>
                </td>
                <td>{duration(r.durationMs)}</td>
                <td>{count(r.rows)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursors={cursors} nextCursor={page.data?.nextCursor ?? null} onChange={setCursors} />
    </Section>
  );
}
