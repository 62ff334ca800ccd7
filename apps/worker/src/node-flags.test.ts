import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WORKER_ENV, WORKER_NODE_FLAGS } from './node-flags.ts';

// The flags and malloc settings live in places that cannot import each other; keep them in step.
describe('worker node flags', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  const compose = readFileSync('docker-compose.yml', 'utf8');
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const composeWorker = /\n {2}worker:\n((?: {4,}.*\n|\n)*)/.exec(compose)?.[1] ?? '';

  it('are on every way a worker process is started', () => {
    const composeCommand = /\s+command: (\[.*\])/.exec(composeWorker)?.[1] ?? '';
    for (const flag of WORKER_NODE_FLAGS) {
      expect(pkg.scripts['start:worker']).toContain(flag);
      expect(pkg.scripts.start).toContain(flag);
      expect(JSON.parse(composeCommand)).toContain(flag);
    }
  });

  it('come with the malloc settings wherever a worker process is started', () => {
    expect(Object.keys(WORKER_ENV).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(WORKER_ENV)) {
      // npm scripts keep a value already in the environment, as the spawned workers do.
      expect(pkg.scripts['start:worker']).toContain(`${name}=\${${name}:-${value}}`);
      expect(pkg.scripts.start).toContain(`${name}=\${${name}:-${value}}`);
      expect(composeWorker).toContain(`${name}: "${value}"`);
      expect(dockerfile).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
    }
  });
});
