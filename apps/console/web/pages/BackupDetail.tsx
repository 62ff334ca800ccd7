import { useState } from 'react';
import { ConfirmDialog, ErrorBox, Loading, Section, Status } from '../components.tsx';
import { bytes, count, duration, when } from '../format.ts';
import { href, navigate } from '../router.ts';
import { ACTION_SCOPES, useAction, useApi, useCan } from '../session.tsx';
import { type BackupDetail as Detail, isActive } from '../types.ts';

/** Saves a blob as a file: an object URL on a temporary link (same origin, no key in it). */
function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function Verification({ b }: { b: Detail }) {
  const v = b.verification;
  if (!v?.status) return <span className="muted">not verified</span>;
  return (
    <>
      <Status status={v.status} /> {v.checkedAt ? <span className="muted">{when(v.checkedAt)}</span> : null}
      {v.problems?.length ? (
        <ul className="error">
          {v.problems.map((p, i) => (
            <li key={i}>{typeof p === 'string' ? p : JSON.stringify(p)}</li>
          ))}
        </ul>
      ) : null}
    </>
  );
}

export function BackupDetail({ id }: { id: string }) {
  const can = useCan();
  const path = `/v1/backups/${encodeURIComponent(id)}`;
  const backup = useApi<Detail>(path, {
    // Live progress while it runs (and while a verification runs): every 2 s.
    refetchInterval: (q) =>
      q.state.data && (isActive(q.state.data.status) || q.state.data.verification?.status === 'running') ? 2_000 : false,
  });
  const [confirmDelete, setConfirmDelete] = useState(false);
  const verify = useAction(ACTION_SCOPES.verifyBackup, (api) => api.send('POST', `${path}/verify`));
  const pin = useAction(ACTION_SCOPES.pinBackup, (api, pinned: boolean) => api.send(pinned ? 'POST' : 'DELETE', `${path}/pin`));
  const cancel = useAction(ACTION_SCOPES.cancelBackup, (api) => api.send('POST', `${path}/cancel`));
  const remove = useAction(ACTION_SCOPES.deleteBackup, (api) => api.send('DELETE', path));
  const download = useAction(ACTION_SCOPES.downloadBackup, async (api) => {
    const { blob, filename } = await api.blob(`${path}/download`);
    save(blob, filename ?? `${id}.zip`);
  });

  if (backup.error) return <ErrorBox error={backup.error} />;
  const b = backup.data;
  if (!b) return <Loading what="the backup" />;
  const done = b.tables.filter((t) => t.status === 'succeeded').length;
  const ended = b.status === 'succeeded';

  const actions = (
    <>
      {can(ACTION_SCOPES.restore) && ended && b.type !== 'base' ? (
        <a className="button primary" href={href(['restore'], { source: b.source, backup: b.id })}>
          Restore…
        </a>
      ) : null}
      {can(ACTION_SCOPES.verifyBackup) && ended ? (
        <button type="button" disabled={verify.isPending || b.verification?.status === 'running'} onClick={() => verify.mutate(undefined)}>
          Verify
        </button>
      ) : null}
      {can(ACTION_SCOPES.pinBackup) ? (
        <button type="button" disabled={pin.isPending} onClick={() => pin.mutate(!b.pinned)}>
          {b.pinned ? 'Unpin' : 'Pin'}
        </button>
      ) : null}
      {can(ACTION_SCOPES.downloadBackup) && ended ? (
        <button type="button" disabled={download.isPending} onClick={() => download.mutate(undefined)}>
          {download.isPending ? 'Downloading…' : 'Download zip'}
        </button>
      ) : null}
      {can(ACTION_SCOPES.cancelBackup) && isActive(b.status) ? (
        <button type="button" className="danger" disabled={cancel.isPending} onClick={() => cancel.mutate(undefined)}>
          Cancel backup
        </button>
      ) : null}
      {can(ACTION_SCOPES.deleteBackup) && !isActive(b.status) ? (
        <button type="button" className="danger" onClick={() => setConfirmDelete(true)}>
          Delete…
        </button>
      ) : null}
    </>
  );

  return (
    <>
      <p>
        <a href={href(['backups'])}>← Backups</a>
      </p>
      <Section title={`Backup ${b.id}`} actions={actions}>
        {[verify, pin, cancel, remove, download].map((m, i) => (
          <ErrorBox key={i} error={m.error} />
        ))}
        {verify.isSuccess ? <p className="notice">Verification queued: every object is read back and checked.</p> : null}
        <dl className="facts">
          <dt>Source</dt>
          <dd>{b.source}</dd>
          <dt>Type</dt>
          <dd>
            {b.type}
            {b.scope.databases ? ` · databases ${b.scope.databases.join(', ')}` : ''}
            {b.scope.tables ? ` · tables ${b.scope.tables.join(', ')}` : ''}
          </dd>
          <dt>Status</dt>
          <dd>
            <Status status={b.status} />
            {isActive(b.status) ? (
              <span className="muted">
                {' '}
                {done} of {b.tables.length} tables done
              </span>
            ) : null}
            {b.pinned ? <span className="tag">pinned</span> : null}
          </dd>
          {b.error ? (
            <>
              <dt>Error</dt>
              <dd className="error">{b.error}</dd>
            </>
          ) : null}
          <dt>Started</dt>
          <dd>
            {when(b.startedAt ?? b.createdAt)}
            {b.startedAt && b.finishedAt ? (
              <span className="muted"> · took {duration(Date.parse(b.finishedAt) - Date.parse(b.startedAt))}</span>
            ) : null}
          </dd>
          <dt>Rows</dt>
          <dd>{count(b.rows)}</dd>
          <dt>Stored</dt>
          <dd>
            {bytes(b.bytes)}{' '}
            <span className="muted">
              ({bytes(b.rawBytes)} before {b.compression.codec} compression)
            </span>
          </dd>
          <dt>Encryption</dt>
          <dd>{b.encryption ? `key ${b.encryption.keyId}` : 'none'}</dd>
          <dt>Verification</dt>
          <dd>
            <Verification b={b} />
          </dd>
        </dl>
        <h3>Tables</h3>
        {b.tables.length === 0 ? (
          <p className="muted">{b.type === 'base' ? 'A base backup is the whole cluster, stored as files.' : 'No tables yet.'}</p>
        ) : (
          <table className="tables">
            <thead>
              <tr>
                <th>Database</th>
                <th>Table</th>
                <th>Status</th>
                <th>Rows</th>
                <th>Stored</th>
                <th>SHA-256</th>
              </tr>
            </thead>
            <tbody>
              {b.tables.map((t) => (
                <tr key={`${t.database}.${t.name}`} data-table={t.name}>
                  <td>{t.database}</td>
                  <td>
                    {t.name}
                    {t.objects.length > 1 ? <span className="muted"> ({t.objects.length} parts)</span> : null}
                    {t.error ? <div className="error">{t.error}</div> : null}
                  </td>
                  <td>
                    <Status status={t.status} />
                  </td>
                  <td>{count(t.rows)}</td>
                  <td>{bytes(t.bytes)}</td>
                  <td>
                    <code className="hash" title={t.sha256 ?? 'one per part'}>
                      {t.sha256 ?? (t.objects.length > 1 ? 'per part' : '–')}
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {confirmDelete ? (
        <ConfirmDialog
          title="Delete this backup?"
          confirmLabel="Delete backup"
          danger
          onCancel={() => setConfirmDelete(false)}
          onConfirm={() => {
            setConfirmDelete(false);
            remove.mutate(undefined, { onSuccess: () => navigate(href(['backups'])) });
          }}
        >
          <p>
            This deletes backup <strong>{b.id}</strong> of <strong>{b.source}</strong> ({b.type}, taken {when(b.startedAt ?? b.createdAt)}):{' '}
            {b.tables.length} table(s), {count(b.rows)} rows, {bytes(b.bytes)} in storage. It cannot be undone
            {b.pinned ? ', and it is pinned' : ''}.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
