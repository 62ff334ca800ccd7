import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WORKER_NODE_FLAGS } from './node-flags.ts';

// The flags live in three places that cannot import each other; keep them in step.
describe('worker node flags', () => {
  it('are on every way a worker process is started', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    const compose = readFileSync('docker-compose.yml', 'utf8');
    const composeWorker = /worker:\n(?:.*\n)*?\s+command: (\[.*\])/.exec(compose)?.[1] ?? '';
    for (const flag of WORKER_NODE_FLAGS) {
      expect(pkg.scripts['start:worker']).toContain(flag);
      expect(pkg.scripts.start).toContain(flag);
      expect(JSON.parse(composeWorker)).toContain(flag);
    }
  });
});
