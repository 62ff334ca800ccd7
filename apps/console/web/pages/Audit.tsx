import { useState } from 'react';
import { ErrorBox, Loading, Pager, Section, Status } from '../components.tsx';
import { when } from '../format.ts';
import { useApi } from '../session.tsx';
import type { AuditEntry, Page } from '../types.ts';

/** `GET /v1/audit` (admin): who did what, newest first. */
export function Audit() {
  const [action, setAction] = useState('');
  const [cursors, setCursors] = useState<string[]>([]);
  const params = new URLSearchParams({ limit: '50' });
  if (action.trim()) params.set('action', action.trim());
  const cursor = cursors.at(-1);
  if (cursor) params.set('cursor', cursor);
  const page = useApi<Page<AuditEntry>>(`/v1/audit?${params}`);
  return (
    <Section title="Audit log">
      <label className="field">
        Action (e.g. backup.delete, restore.create)
        <input
          value={action}
          onChange={(e) => {
            setAction(e.target.value);
            setCursors([]);
          }}
        />
      </label>
      <ErrorBox error={page.error} />
      {!page.data ? (
        <Loading />
      ) : (
        <table className="compact">
          <thead>
            <tr>
              <th>When</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Target</th>
              <th>From</th>
              <th>Outcome</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((e) => (
              <tr key={e.id}>
                <td>{when(e.at)}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.target}</td>
                <td>{e.address}</td>
                <td>
                  <Status status={e.outcome} />
                </td>
                <td>
                  <code className="details">{Object.keys(e.details).length ? JSON.stringify(e.details) : ''}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursors={cursors} nextCursor={page.data?.nextCursor ?? null} onChange={setCursors} />
    </Section>
  );
}
