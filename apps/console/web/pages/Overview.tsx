import { UsageChart, WindowTimeline } from '../charts.tsx';
import { ErrorBox, type Level, Loading, Rag, Section, Status } from '../components.tsx';
import { ago, bytes, count, minutes, when } from '../format.ts';
import { href } from '../router.ts';
import { useApi } from '../session.tsx';
import type { Objective, RecoveryWindow, Schedule, Source, SourceDetail, StorageUsage } from '../types.ts';

const USAGE_DAYS = 30;

/**
 * Against a target: red when missed, amber when within it but past 80 % of it (or nothing
 * measured yet), green otherwise; no colour without a target.
 */
export function levelOf(target: number | null, measured: number | null): Level {
  if (target === null) return 'none';
  if (measured === null) return 'amber';
  if (measured > target) return 'red';
  return measured > 0.8 * target ? 'amber' : 'green';
}

function Target({ minutes: m }: { minutes: number | null }) {
  return <div className="muted">{m === null ? 'no target' : `target ${minutes(m)}`}</div>;
}

function Rpo({ o }: { o: Objective | undefined }) {
  if (!o) return <span className="muted">–</span>;
  const { rpo } = o;
  const measured = rpo.measuredMinutes === null ? 'no good backup' : `${minutes(rpo.measuredMinutes)} behind`;
  return (
    <>
      <Rag
        level={levelOf(rpo.targetMinutes, rpo.measuredMinutes)}
        title={rpo.basis === 'wal' ? 'from the newest restorable moment (WAL)' : 'from the newest good backup'}
      >
        {measured}
      </Rag>
      <Target minutes={rpo.targetMinutes} />
    </>
  );
}

function Rto({ o }: { o: Objective | undefined }) {
  if (!o) return <span className="muted">–</span>;
  const { rto } = o;
  const measured =
    rto.samples === 0 ? 'no restore measured' : `max ${minutes(rto.maxMinutes)}, median ${minutes(rto.medianMinutes)} (${rto.samples})`;
  return (
    <>
      <Rag level={levelOf(rto.targetMinutes, rto.maxMinutes)}>{measured}</Rag>
      <Target minutes={rto.targetMinutes} />
    </>
  );
}

/** PostgreSQL sources with point-in-time recovery: the window, the streamer, the server's problems. */
function Pitr({ source }: { source: Source }) {
  const detail = useApi<SourceDetail>(source.kind === 'postgres' ? `/v1/sources/${encodeURIComponent(source.name)}` : null, {
    staleTime: 60_000,
  });
  const pitr = detail.data?.pitr;
  const win = useApi<RecoveryWindow>(pitr ? `/v1/sources/${encodeURIComponent(source.name)}/recovery-window` : null, {
    refetchInterval: 30_000,
  });
  if (source.kind !== 'postgres' || (detail.data && !pitr)) return <span className="muted">–</span>;
  if (detail.error) return <ErrorBox error={detail.error} />;
  if (!pitr || !win.data) return <Loading />;
  const last = win.data.windows.at(-1);
  const s = win.data.streaming;
  return (
    <div className="pitr">
      <div>
        {last ? (
          <>
            {when(win.data.windows[0]?.from)} → {when(last.to)}
          </>
        ) : (
          <Rag level="red">no restorable moment</Rag>
        )}
      </div>
      <div>
        WAL <Status status={s.state} />
        {s.lagSeconds !== null ? <span className="muted"> lag {s.lagSeconds} s</span> : null}
        {win.data.gaps.length ? <Rag level="red">{` ${win.data.gaps.length} gap(s)`}</Rag> : null}
      </div>
      {[...pitr.problems, ...(s.lastError ? [s.lastError] : [])].map((p) => (
        <div key={p} className="error">
          {p}
        </div>
      ))}
      <WindowTimeline window={win.data} />
    </div>
  );
}

function scheduleTrouble(s: Schedule): string | null {
  if (s.problem) return s.problem;
  if (s.lastRun?.status === 'failed') return `the last run (${s.lastRun.id}) failed`;
  if (s.missedRunAt) return `missed its run at ${when(s.missedRunAt)}`;
  return null;
}

export function Overview() {
  const sources = useApi<{ items: Source[] }>('/v1/sources', { refetchInterval: 30_000 });
  const objectives = useApi<{ items: Objective[] }>('/v1/recovery-objectives', { refetchInterval: 30_000 });
  const usage = useApi<StorageUsage>(`/v1/storage/usage?days=${USAGE_DAYS}`, { refetchInterval: 60_000 });
  const schedules = useApi<{ items: Schedule[] }>('/v1/schedules', { refetchInterval: 30_000 });
  const objectiveOf = (name: string) => objectives.data?.items.find((o) => o.source === name);
  const troubled = (schedules.data?.items ?? []).flatMap((s) => {
    const t = s.enabled ? scheduleTrouble(s) : null;
    return t ? [{ s, t }] : [];
  });

  return (
    <>
      <Section title="Sources">
        <ErrorBox error={sources.error ?? objectives.error} />
        {!sources.data ? (
          <Loading what="sources" />
        ) : (
          <table>
            <thead>
              <tr>
                <th>Source</th>
                <th>Newest good backup</th>
                <th>Recovery point (RPO)</th>
                <th>Restore time (RTO)</th>
                <th>Schedules</th>
                <th>Point-in-time window</th>
              </tr>
            </thead>
            <tbody>
              {sources.data.items.map((src) => {
                const o = objectiveOf(src.name);
                const last = o?.rpo.lastSuccessAt ?? src.health?.lastSuccessAt ?? null;
                const attention = src.health?.schedulesNeedingAttention ?? [];
                return (
                  <tr key={src.name} data-source={src.name}>
                    <td>
                      <a href={href(['backups'], { source: src.name })}>
                        <strong>{src.name}</strong>
                      </a>{' '}
                      <span className="muted">
                        {src.kind} · {src.target}
                      </span>
                      {!src.reachable ? (
                        <div>
                          <Rag level="red">unreachable</Rag> <span className="muted">{src.error}</span>
                        </div>
                      ) : null}
                    </td>
                    <td>
                      {last ? (
                        <>
                          {when(last)}
                          <div className="muted">{ago(last)}</div>
                        </>
                      ) : (
                        <Rag level="amber">none yet</Rag>
                      )}
                    </td>
                    <td>
                      <Rpo o={o} />
                    </td>
                    <td>
                      <Rto o={o} />
                    </td>
                    <td>
                      {attention.length > 0 ? null : !schedules.data ? (
                        <span className="muted">–</span>
                      ) : schedules.data.items.some((s) => s.source === src.name && s.enabled) ? (
                        <Rag level="green">on schedule</Rag>
                      ) : (
                        <Rag level="amber" title="backups of this source run only when someone starts them">
                          no enabled schedule
                        </Rag>
                      )}
                      {attention.length === 0
                        ? null
                        : attention.map((a) => (
                            <div key={a.id}>
                              <Rag level="red">{a.name}</Rag> <span className="muted">{a.problem}</span>
                            </div>
                          ))}
                    </td>
                    <td>
                      <Pitr source={src} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Section>

      <Section title="Schedules needing attention" actions={<a href={href(['schedules'])}>All schedules</a>}>
        <ErrorBox error={schedules.error} />
        {!schedules.data ? (
          <Loading />
        ) : schedules.data.items.length === 0 ? (
          <p>
            <Rag level="amber">no schedules</Rag> <span className="muted">backups run only when someone starts them</span>
          </p>
        ) : troubled.length === 0 ? (
          <p>
            <Rag level="green">none</Rag> <span className="muted">{schedules.data.items.length} schedule(s), none failing or missed</span>
          </p>
        ) : (
          <ul>
            {troubled.map(({ s, t }) => (
              <li key={s.id}>
                <Rag level="red">{s.name}</Rag> {s.source ? <span className="muted">({s.source})</span> : null} {t}
              </li>
            ))}
          </ul>
        )}
      </Section>

      <Section title="Storage">
        <ErrorBox error={usage.error} />
        {!usage.data ? (
          <Loading />
        ) : (
          <>
            <p>
              <strong>{bytes(usage.data.totals.bytes)}</strong> in {count(usage.data.totals.backups)} backups (
              {count(usage.data.totals.objects)} objects). Trend over {usage.data.trend.days} days: {bytes(usage.data.trend.bytesPerDay)}{' '}
              per day, about {bytes(usage.data.trend.projectedBytesIn30Days)} in 30 days.
            </p>
            <UsageChart byDay={usage.data.byDay} days={USAGE_DAYS} />
            <p className="muted">Bars: bytes still stored of the backups taken each day.</p>
            <table className="compact">
              <thead>
                <tr>
                  <th>Source</th>
                  <th>Backups</th>
                  <th>Stored</th>
                </tr>
              </thead>
              <tbody>
                {usage.data.bySource.map((r) => (
                  <tr key={r.key}>
                    <td>{r.key}</td>
                    <td>{count(r.backups)}</td>
                    <td>{bytes(r.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Section>
    </>
  );
}
