import { bytes, when } from './format.ts';
import type { RecoveryWindow, UsageRow } from './types.ts';

const DAY = 86_400_000;

/** Bytes still stored of the backups taken each day, over the last `days` days (empty days drawn as 0). */
export function UsageChart({ byDay, days }: { byDay: UsageRow[]; days: number }) {
  const today = Math.floor(Date.now() / DAY);
  const byKey = new Map(byDay.map((r) => [r.key, r.bytes]));
  const series = Array.from({ length: days }, (_, i) => {
    const key = new Date((today - days + 1 + i) * DAY).toISOString().slice(0, 10);
    return { key, bytes: byKey.get(key) ?? 0 };
  });
  const max = Math.max(1, ...series.map((d) => d.bytes));
  const W = 600;
  const H = 140;
  const pad = { left: 64, bottom: 20, top: 8 };
  const barW = (W - pad.left) / days;
  const y = (b: number) => pad.top + (H - pad.top - pad.bottom) * (1 - b / max);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`stored bytes by day, last ${days} days`}>
      <text x={pad.left - 6} y={pad.top + 8} textAnchor="end" className="axis">
        {bytes(max)}
      </text>
      <text x={pad.left - 6} y={H - pad.bottom} textAnchor="end" className="axis">
        0
      </text>
      <line x1={pad.left} x2={W} y1={H - pad.bottom} y2={H - pad.bottom} className="baseline" />
      {series.map((d, i) => (
        <rect
          key={d.key}
          x={pad.left + i * barW + 1}
          width={Math.max(1, barW - 2)}
          y={y(d.bytes)}
          height={H - pad.bottom - y(d.bytes)}
          className="bar"
        >
          <title>{`${d.key}: ${bytes(d.bytes)}`}</title>
        </rect>
      ))}
      <text x={pad.left} y={H - 4} className="axis">
        {series[0]?.key}
      </text>
      <text x={W} y={H - 4} textAnchor="end" className="axis">
        {series.at(-1)?.key}
      </text>
    </svg>
  );
}

/**
 * The moments a point-in-time restore can reach (green), the holes in the WAL archive
 * (red), base backups (ticks) and the chosen moment (a line), on one time axis.
 */
export function WindowTimeline({ window: w, selected }: { window: RecoveryWindow; selected?: string | undefined }) {
  const times = [...w.windows.flatMap((x) => [x.from, x.to]), ...w.gaps.flatMap((g) => [g.from, g.to])].map((t) => Date.parse(t));
  if (times.length === 0) return <p className="muted">No restorable moments yet: take a base backup (type “base”).</p>;
  const lo = Math.min(...times);
  const hi = Math.max(...times, lo + 60_000);
  const W = 600;
  const H = 46;
  const x = (t: string) => ((Date.parse(t) - lo) / (hi - lo)) * W;
  return (
    <svg className="chart timeline" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="recovery window">
      <rect x={0} y={8} width={W} height={16} className="track" />
      {w.windows.map((win) => (
        <rect
          key={`${win.from}-${win.timeline}`}
          x={x(win.from)}
          y={8}
          width={Math.max(2, x(win.to) - x(win.from))}
          height={16}
          className="window"
        >
          <title>{`timeline ${win.timeline}: ${when(win.from)} – ${when(win.to)}`}</title>
        </rect>
      ))}
      {w.gaps.map((g) => (
        <rect key={g.from} x={x(g.from)} y={8} width={Math.max(2, x(g.to) - x(g.from))} height={16} className="gap">
          <title>{`gap ${when(g.from)} – ${when(g.to)}: ${g.reason}`}</title>
        </rect>
      ))}
      {w.baseBackups.map((b) => (
        <line key={b.id} x1={x(b.consistentAt)} x2={x(b.consistentAt)} y1={4} y2={28} className="base">
          <title>{`base backup ${b.id}, consistent at ${when(b.consistentAt)}`}</title>
        </line>
      ))}
      {selected && Date.parse(selected) >= lo && Date.parse(selected) <= hi ? (
        <line x1={x(selected)} x2={x(selected)} y1={2} y2={30} className="selected" />
      ) : null}
      <text x={0} y={42} className="axis">
        {when(new Date(lo).toISOString())}
      </text>
      <text x={W} y={42} textAnchor="end" className="axis">
        {when(new Date(hi).toISOString())}
      </text>
    </svg>
  );
}
