import type { TestProject } from 'vitest/node';
// Direct module paths, not '@bk/test-utils': its index also loads the worker-side helpers
// that import 'vitest', which this main-process file must not.
import type { ProvidedServices } from '../packages/test-utils/src/namespace.ts';
import { startPostgres } from '../packages/test-utils/src/postgres.ts';
import { stopAllDaemons } from '../packages/test-utils/src/processes.ts';
import { startRedis } from '../packages/test-utils/src/redis.ts';
import { startSwift } from '../packages/test-utils/src/swift.ts';

/**
 * Starts Redis, PostgreSQL and Swift (S3) once for the whole integration run and provides
 * their coordinates under `services` (read them with `testServices()` from @bk/test-utils).
 * A missing binary fails the run with the Debian package to install: nothing is skipped.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = performance.now();
  const results = await Promise.allSettled([startRedis(), startPostgres(), startSwift()] as const);
  const [redis, postgres, swift] = results;
  const stopAll = async (): Promise<void> => {
    try {
      const stops = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value.stop()] : []));
      const failed = (await Promise.allSettled(stops)).filter((result) => result.status === 'rejected');
      if (failed.length > 0) {
        throw new AggregateError(
          failed.map((result) => result.reason),
          'stopping integration services failed',
        );
      }
    } finally {
      await stopAllDaemons();
    }
  };

  if (redis.status === 'rejected' || postgres.status === 'rejected' || swift.status === 'rejected') {
    await stopAll();
    const reasons = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason instanceof Error ? result.reason.message : String(result.reason)] : [],
    );
    throw new Error(`integration services did not start:\n\n${reasons.join('\n\n')}`);
  }

  const services: ProvidedServices = {
    redis: { url: redis.value.url },
    postgres: {
      host: postgres.value.host,
      port: postgres.value.port,
      user: postgres.value.user,
      url: postgres.value.url,
      binDir: postgres.value.binDir,
    },
    s3: {
      endpoint: swift.value.endpoint,
      region: swift.value.region,
      accessKeyId: swift.value.accessKeyId,
      secretAccessKey: swift.value.secretAccessKey,
    },
  };
  project.provide('services', services);
  process.stderr.write(
    `integration services ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s ` +
      `(redis ${redis.value.port}, postgres ${postgres.value.port}, s3 ${swift.value.endpoint})\n`,
  );
  return stopAll;
}
