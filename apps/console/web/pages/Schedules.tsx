import { ErrorBox, Loading, Rag, Section, Status } from '../components.tsx';
import { ago, when } from '../format.ts';
import { href } from '../router.ts';
import { ACTION_SCOPES, RUN_SCHEDULE_SCOPES, useAction, useApi, useCan } from '../session.tsx';
import type { Schedule } from '../types.ts';

/** A run's id names what it started: backups and restores (drills) have pages. */
function runLink(id: string) {
  if (id.startsWith('bk_')) return <a href={href(['backups', id])}>{id}</a>;
  if (id.startsWith('rs_')) return <a href={href(['restores', id])}>{id}</a>;
  return <code>{id}</code>;
}

function Row({ s }: { s: Schedule }) {
  const can = useCan();
  const base = `/v1/schedules/${encodeURIComponent(s.id)}`;
  const toggle = useAction(ACTION_SCOPES.toggleSchedule, (api, enable: boolean) =>
    api.send('POST', `${base}/${enable ? 'enable' : 'disable'}`),
  );
  const runNow = useAction(RUN_SCHEDULE_SCOPES[s.kind], (api) => api.send<{ id: string }>('POST', `${base}/run`));
  const trouble = s.problem ?? (s.lastRun?.status === 'failed' ? 'the last run failed' : null);
  return (
    <tr data-schedule={s.name}>
      <td>
        <strong>{s.name}</strong>
        <div className="muted">
          {s.kind}
          {s.source ? ` · ${s.source}` : ''}
          {s.type ? ` · ${s.type}` : ''}
        </div>
      </td>
      <td>
        <code>{s.cron}</code> <span className="muted">{s.timezone}</span>
      </td>
      <td>{s.enabled ? <Rag level={trouble ? 'red' : 'green'}>{trouble ?? 'enabled'}</Rag> : <Rag level="none">disabled</Rag>}</td>
      <td>
        {s.enabled && s.nextRuns.length ? (
          s.nextRuns.slice(0, 3).map((t) => <div key={t}>{when(t)}</div>)
        ) : (
          <span className="muted">–</span>
        )}
      </td>
      <td>
        {s.lastRun ? (
          <>
            <Status status={s.lastRun.status} /> {runLink(s.lastRun.id)}
            <div className="muted">{ago(s.lastRun.at)}</div>
          </>
        ) : (
          <span className="muted">never ran</span>
        )}
        {s.missedRunAt ? <div className="error">missed {when(s.missedRunAt)}</div> : null}
      </td>
      <td className="actions">
        {can(ACTION_SCOPES.toggleSchedule) ? (
          <button type="button" disabled={toggle.isPending} onClick={() => toggle.mutate(!s.enabled)}>
            {s.enabled ? 'Disable' : 'Enable'}
          </button>
        ) : null}
        {can(RUN_SCHEDULE_SCOPES[s.kind]) ? (
          <button type="button" disabled={runNow.isPending} onClick={() => runNow.mutate(undefined)}>
            Run now
          </button>
        ) : null}
        {runNow.data ? <div className="notice">started {runLink(runNow.data.id)}</div> : null}
        <ErrorBox error={toggle.error ?? runNow.error} />
      </td>
    </tr>
  );
}

export function Schedules() {
  const list = useApi<{ items: Schedule[] }>('/v1/schedules', { refetchInterval: 15_000 });
  return (
    <Section title="Schedules">
      <ErrorBox error={list.error} />
      {!list.data ? (
        <Loading what="schedules" />
      ) : list.data.items.length === 0 ? (
        <p className="muted">No schedules. Create them with POST /v1/schedules (see /docs).</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Schedule</th>
              <th>When</th>
              <th>State</th>
              <th>Next runs</th>
              <th>Last run</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((s) => (
              <Row key={s.id} s={s} />
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
