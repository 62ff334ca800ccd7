import { type ReactNode, useEffect, useRef, useState } from 'react';
import { ApiError } from './api.ts';

export type Level = 'green' | 'amber' | 'red' | 'none';

/** A red/amber/green mark with its words (colour is never the only signal). */
export function Rag({ level, children, title }: { level: Level; children: ReactNode; title?: string }) {
  return (
    <span className={`rag rag-${level}`} title={title}>
      {children}
    </span>
  );
}

const STATUS_LEVEL: Record<string, Level> = {
  succeeded: 'green',
  verified: 'green',
  streaming: 'green',
  ok: 'green',
  queued: 'none',
  pending: 'none',
  running: 'amber',
  starting: 'amber',
  skipped: 'none',
  cancelled: 'amber',
  stopped: 'amber',
  'never-started': 'amber',
  failed: 'red',
  corrupted: 'red',
  error: 'red',
  breached: 'red',
};

export function Status({ status }: { status: string }) {
  return <Rag level={STATUS_LEVEL[status] ?? 'none'}>{status}</Rag>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <p className="error" role="alert">
      {message}
      {code ? <span className="muted"> ({code})</span> : null}
    </p>
  );
}

export function Loading({ what }: { what?: string }) {
  return <p className="muted">Loading{what ? ` ${what}` : ''}…</p>;
}

export function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions ? <div className="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/**
 * A modal confirmation naming what will happen. With `typeToConfirm`, the confirm button
 * stays disabled until exactly that text is typed (for overwrites and deletions).
 */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  typeToConfirm?: string;
  danger?: boolean;
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState('');
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  const ready = props.typeToConfirm === undefined || typed === props.typeToConfirm;
  return (
    <dialog ref={ref} className="dialog" onCancel={props.onCancel} aria-label={props.title}>
      <h2>{props.title}</h2>
      <div>{props.children}</div>
      {props.typeToConfirm !== undefined ? (
        <label className="field">
          Type <code>{props.typeToConfirm}</code> to confirm
          <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
        </label>
      ) : null}
      <div className="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" className={props.danger ? 'danger' : 'primary'} disabled={!ready} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/** Previous / next over a cursor-paged list (`{ items, nextCursor }`). */
export function Pager({ cursors, nextCursor, onChange }: { cursors: string[]; nextCursor: string | null; onChange(c: string[]): void }) {
  return (
    <div className="pager">
      <button type="button" disabled={cursors.length === 0} onClick={() => onChange(cursors.slice(0, -1))}>
        ← Newer
      </button>
      <span className="muted">page {cursors.length + 1}</span>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && onChange([...cursors, nextCursor])}>
        Older →
      </button>
    </div>
  );
}
