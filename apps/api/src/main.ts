import { createLogger } from '@bk/core';
import { createPlatform, loadConfigOrExit, startScheduleSync } from '@bk/platform';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';

/** The API process: config, platform, app, listen, and a graceful stop on signals. */
async function main(): Promise<void> {
  const log = createLogger({ name: 'bk-api' });
  const config = loadConfigOrExit(log);
  if (config.auth.apiKeys.length === 0) log.warn('no API keys configured (API_KEYS): every /v1 request will be refused');
  const platform = await createPlatform(config, log);
  const app = await buildApp({ platform });
  // The catalog's schedules are the truth; the job schedulers in Redis follow them.
  const sync = await startScheduleSync(platform);
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) log.error({ err }, 'stopping after error');
    sync.stop();
    await app.close();
    await platform.close();
  });
  await app.listen({ host: config.server.host, port: config.server.port });
}

main().catch((e: unknown) => {
  process.stderr.write(`bk-api: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
