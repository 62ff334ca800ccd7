import { describe, expect, it } from 'vitest';
import { MANIFEST_FORMAT, MANIFEST_VERSION, ManifestError, parseManifest } from './manifest.ts';

function manifestWith(compression: unknown): string {
  return JSON.stringify({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    backupId: 'b1',
    source: { name: 'pg', kind: 'postgres', serverVersion: '15.20' },
    type: 'database',
    scope: {},
    startedAt: '2026-11-22T00:00:00Z',
    completedAt: '2026-11-22T00:01:00Z',
    consistency: {},
    databases: [{ name: 'app' }],
    objects: [
      {
        key: 'backups/pg/b1/app/data/public/t.copy.gz',
        kind: 'data',
        database: 'app',
        format: 'pg-copy-text',
        rows: 1,
        rawBytes: 2,
        bytes: 22,
        sha256: 'a'.repeat(64),
        compression,
        encrypted: false,
      },
    ],
    totals: { objects: 1, rows: 1, rawBytes: 2, bytes: 22 },
  });
}

describe('manifest compression', () => {
  it('reads memberBytes when present and manifests without it', () => {
    expect(parseManifest(manifestWith({ codec: 'gzip', level: 6, memberBytes: 262144 }), 'm').objects[0]?.compression).toEqual({
      codec: 'gzip',
      level: 6,
      memberBytes: 262144,
    });
    expect(parseManifest(manifestWith({ codec: 'gzip', level: 6 }), 'm').objects[0]?.compression).toEqual({ codec: 'gzip', level: 6 });
  });

  it('refuses a memberBytes no reader would accept as a bad manifest', () => {
    for (const memberBytes of [0, -1, 1.5, 2 ** 30 + 1]) {
      expect(() => parseManifest(manifestWith({ codec: 'gzip', level: 6, memberBytes }), 'm')).toThrow(ManifestError);
    }
  });
});
