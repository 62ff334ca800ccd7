import type { SourceKind } from '@bk/core';
import type { Platform } from '@bk/platform';
import { dropScratchDatabase } from './postgres/drill.ts';
import { dropTdScratch } from './tdengine/drill.ts';
import type { ScratchDropper } from './types.ts';

const droppers = {
  postgres: (_platform, source, database) => dropScratchDatabase(source.url, database),
  tdengine: dropTdScratch,
} satisfies { [K in SourceKind]: ScratchDropper };

/**
 * A drill's scratch database is dropped however the drill ends (it holds production data).
 * Never throws: a failure to drop is logged, and the drill's own outcome stands.
 */
export async function dropDrillDatabase(platform: Platform, restore: { source: string; request: Record<string, unknown> }): Promise<void> {
  const req = restore.request as { drill?: boolean; targetDatabase?: string };
  if (!req.drill || !req.targetDatabase) return;
  const source = platform.sources.find(restore.source);
  if (!source) return;
  await droppers[source.kind](platform, source, req.targetDatabase).catch((e: unknown) =>
    platform.log.error({ err: (e as Error).message, database: req.targetDatabase }, 'could not drop a drill scratch database'),
  );
}
