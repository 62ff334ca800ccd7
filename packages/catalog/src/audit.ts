import type { Db } from './db.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  address?: string | null;
  outcome: 'ok' | 'denied' | 'failed' | 'succeeded' | 'cancelled';
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'target' | 'address'>> {
  id: number;
  at: Date;
  target: string | null;
  address: string | null;
}

export async function audit(db: Db, e: AuditEntry): Promise<void> {
  await db.query('INSERT INTO audit_log (actor, action, target, address, outcome, details) VALUES ($1, $2, $3, $4, $5, $6)', [
    e.actor,
    e.action,
    e.target ?? null,
    e.address ?? null,
    e.outcome,
    JSON.stringify(e.details ?? {}),
  ]);
}

export async function listAudit(
  db: Db,
  f: { actor?: string; action?: string; target?: string; since?: Date; limit: number; cursor?: string },
): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.actor) where.push(`actor = $${args.push(f.actor)}`);
  if (f.action) where.push(`action = $${args.push(f.action)}`);
  if (f.target) where.push(`target = $${args.push(f.target)}`);
  if (f.since) where.push(`at >= $${args.push(f.since)}`);
  if (f.cursor) where.push(`id < $${args.push(Number(f.cursor))}`);
  const { rows } = await db.query(
    `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.push(f.limit + 1)}`,
    args,
  );
  const items = rows.slice(0, f.limit).map((r) => ({
    id: Number(r.id),
    at: r.at as Date,
    actor: r.actor as string,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    address: (r.address as string | null) ?? null,
    outcome: r.outcome as AuditRecord['outcome'],
    details: r.details as Record<string, unknown>,
  }));
  return { items, nextCursor: rows.length > f.limit ? String(items[items.length - 1]?.id) : null };
}
