import { createLogger } from '@bk/core';
import { createPlatform, loadConfigOrExit } from '@bk/platform';
import closeWithGrace from 'close-with-grace';
import { startWorkers } from './runtime.ts';

/** A worker process: any number of them may run against the same Redis, catalog and storage. */
async function main(): Promise<void> {
  const log = createLogger({ name: 'bk-worker' });
  const config = loadConfigOrExit(log);
  const platform = await createPlatform(config, log);
  const runtime = startWorkers(platform);
  // Jobs get shutdownGraceSeconds to hand themselves back; the rest (forced close, Redis,
  // storage and catalog connections) gets 15 s more before a hard exit, which a busy
  // machine can need.
  closeWithGrace({ delay: (config.workers.shutdownGraceSeconds + 15) * 1000 }, async ({ signal, err }) => {
    log.info({ signal, err: err?.message }, 'stopping: handing active jobs back to the queue');
    await runtime.close();
    await platform.close();
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`bk-worker: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
