import type { JobName } from '@bk/core';
import { coordinateBackup } from './backup-coordinate.ts';
import { finalizeBackup } from './backup-finalize.ts';
import { verifyBackup } from './backup-verify.ts';
import { exportPgTable } from './export-pg-table.ts';
import { coordinateRestore } from './restore-coordinate.ts';
import { finalizeRestore } from './restore-finalize.ts';
import { restorePgIndexes } from './restore-pg-indexes.ts';
import { restorePgTable } from './restore-pg-table.ts';
import { cleanupRun } from './cleanup-run.ts';
import { notifyWebhook } from './notify-webhook.ts';
import { checkSchedules } from './schedule-check.ts';
import { runSchedule } from './schedule-run.ts';
import { exportTdBatch } from './export-td-batch.ts';
import { restoreStage } from './restore-stage.ts';
import { restoreTdBatch } from './restore-td-batch.ts';
import type { Handler } from './types.ts';

/** Every job name has exactly one handler; the type check fails when one is missing. */
export const handlers = {
  'backup.coordinate': coordinateBackup,
  'export.pg-table': exportPgTable,
  'export.td-batch': exportTdBatch,
  'backup.finalize': finalizeBackup,
  'restore.coordinate': coordinateRestore,
  'restore.pg-table': restorePgTable,
  'restore.pg-indexes': restorePgIndexes,
  'restore.td-batch': restoreTdBatch,
  'restore.stage': restoreStage,
  'restore.finalize': finalizeRestore,
  'backup.verify': verifyBackup,
  'schedule.run': runSchedule,
  'schedule.check': checkSchedules,
  'cleanup.run': cleanupRun,
  'notify.webhook': notifyWebhook,
} satisfies { [N in JobName]: Handler<N> };
