/**
 * The `/v1` answers the console reads: the fields it uses, as the route schemas in
 * apps/api/src (schemas.ts, routes/*.ts) declare them. Written out here because the browser
 * bundle must not pull in the server's zod schemas; the browser test runs them against the
 * real API.
 */

export type Scope = 'read' | 'backup' | 'restore' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'backup', 'restore', 'admin'];

export type SourceKind = 'postgres' | 'tdengine';
export const BACKUP_TYPES = ['full', 'database', 'table', 'incremental', 'base'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];
export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Source {
  name: string;
  kind: SourceKind;
  target: string;
  reachable: boolean;
  error?: string;
  databases?: string[];
  health?: {
    lastSuccessAt: string | null;
    schedulesNeedingAttention: { id: string; name: string; problem: string }[];
  };
}

export interface Streaming {
  state: 'starting' | 'streaming' | 'error' | 'stopped' | 'never-started';
  lagSeconds: number | null;
  coveredAt: string | null;
  holder: string | null;
  slot: string | null;
  lastError: string | null;
}

export interface TableInfo {
  schema: string;
  name: string;
  kind: string;
  estimatedRows: number;
  sizeBytes: number;
  parent: string | null;
}

export interface SourceDetail extends Source {
  serverVersion?: string;
  pitr?: { enabled: true; slot: string; problems: string[]; notes: string[]; streaming: Streaming };
  catalog?: { name: string; schemas: string[]; tables: TableInfo[] }[];
}

export interface RecoveryWindow {
  windows: { from: string; to: string; timeline: number }[];
  gaps: { from: string; to: string; reason: string }[];
  streaming: Streaming;
  baseBackups: { id: string; consistentAt: string; timeline: number }[];
}

type ObjectiveStatus = 'ok' | 'breached' | 'unknown';
export interface Objective {
  source: string;
  rpo: {
    targetMinutes: number | null;
    status: ObjectiveStatus;
    lastSuccessAt: string | null;
    measuredMinutes: number | null;
    basis: 'wal' | 'backup';
  };
  rto: {
    targetMinutes: number | null;
    status: ObjectiveStatus;
    samples: number;
    lastMinutes: number | null;
    medianMinutes: number | null;
    maxMinutes: number | null;
  };
}

export interface UsageRow {
  key: string;
  backups: number;
  objects: number;
  bytes: number;
}
export interface StorageUsage {
  totals: { backups: number; objects: number; bytes: number };
  bySource: UsageRow[];
  byType: UsageRow[];
  byDay: UsageRow[];
  trend: { days: number; bytesPerDay: number; projectedBytesIn30Days: number };
}

export type ScheduleKind = 'backup' | 'cleanup' | 'verify' | 'drill';
export interface Schedule {
  id: string;
  name: string;
  kind: ScheduleKind;
  source: string | null;
  type: string | null;
  cron: string;
  timezone: string;
  enabled: boolean;
  nextRunAt: string | null;
  nextRuns: string[];
  lastRun?: { id: string; status: string; at: string };
  missedRunAt: string | null;
  problem: string | null;
}

export interface BackupTable {
  name: string;
  database: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  rows: number | null;
  bytes: number | null;
  sha256: string | null;
  error?: string;
  objects: { key: string; status: string; rows: number | null; bytes: number | null; sha256: string | null }[];
}

export interface Verification {
  status?: 'running' | 'verified' | 'corrupted';
  checkedAt?: string;
  problems?: unknown[];
}

export interface Backup {
  id: string;
  status: RunStatus;
  source: string;
  type: BackupType;
  scope: { databases?: string[]; tables?: string[] };
  compression: { codec: string; level: number };
  encryption: { keyId: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  rows: number;
  bytes: number;
  rawBytes: number;
  error?: string;
  pinned: boolean;
  verification?: Verification;
}
export interface BackupDetail extends Backup {
  tables: BackupTable[];
}

export type RestoreMode = 'fail-if-exists' | 'replace';
export interface Restore {
  id: string;
  backupId: string;
  source: string;
  status: RunStatus;
  dryRun: boolean;
  mode: RestoreMode;
  targetDatabase: string | null;
  requestedBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  rows: number;
  error?: string;
  plan: Record<string, unknown> | null;
  replaced: Record<string, unknown> | null;
}
export interface RestoreDetail extends Restore {
  tables: {
    name: string;
    database: string;
    status: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
    rows: number | null;
    expectedRows: number;
    error?: string;
  }[];
}

export interface RestoreRequest {
  backupId?: string;
  source?: string;
  targetTime?: string;
  databases?: string[];
  tables?: string[];
  targetDatabase?: string;
  dryRun: boolean;
  mode: RestoreMode;
  confirm: boolean;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  address: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

export interface ApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  prefix: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export const isActive = (status: RunStatus) => status === 'queued' || status === 'running';
