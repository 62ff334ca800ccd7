/**
 * Physical base backups with pg_basebackup, streamed: `-D - -Ft` writes the cluster as one
 * tar stream to stdout, which goes straight into the storage pipeline (never staged on disk).
 */

import { PassThrough, type Readable } from 'node:stream';
import { DEFAULT_CONNECT_TIMEOUT_MS, withClient } from '../connection.ts';
import { parseTarget, toolEnv } from '../target.ts';
import { findPgTool, toolOutputStream, type ToolSearchOptions } from '../tools.ts';

export interface BaseBackupOptions extends ToolSearchOptions {
  readonly url: string;
  /** Server major version: picks the pg_basebackup (the lowest installed major >= it). */
  readonly serverMajor: number;
  /** The backup's label (shows in backup_label and pg_stat_progress_basebackup). */
  readonly label: string;
  readonly signal?: AbortSignal | undefined;
}

/** Where the backup starts and ends in the WAL (from pg_basebackup -v). */
export interface BaseBackupPositions {
  startLsn: string;
  stopLsn: string;
  timeline: number;
}

/**
 * Streams `pg_basebackup -D - -Ft -X fetch -c fast -v`. With `-X fetch` the WAL written
 * during the backup travels inside the tar (pg_wal/), so a base backup restores on its own,
 * without the WAL archive; WAL streaming (`-X stream`) cannot go to stdout. The WAL it needs
 * is held by the source's replication slot until the streamer has stored it, so the fetch at
 * the end finds it. `positions` resolves once pg_basebackup exited 0; the stream ends only
 * then (a truncated tar never passes for a complete one).
 */
export function streamBaseBackup(opts: BaseBackupOptions): { stream: Readable; positions: Promise<BaseBackupPositions> } {
  let stderr = '';
  let resolvePositions!: (p: BaseBackupPositions) => void;
  let rejectPositions!: (e: Error) => void;
  const positions = new Promise<BaseBackupPositions>((resolve, reject) => {
    resolvePositions = resolve;
    rejectPositions = reject;
  });
  // The caller may never await it when the stream fails first.
  positions.catch(() => undefined);
  const out = new PassThrough();
  void (async () => {
    const target = parseTarget(opts.url);
    const tool = await findPgTool('pg_basebackup', opts.serverMajor, { ...opts, prefer: 'closest' });
    const tar = toolOutputStream({
      tool: 'pg_basebackup',
      path: tool.path,
      args: ['-D', '-', '-Ft', '-X', 'fetch', '-c', 'fast', '-v', '--no-password', '-l', opts.label],
      env: toolEnv(target, process.env, DEFAULT_CONNECT_TIMEOUT_MS),
      target,
      signal: opts.signal,
      onStderr: (d) => {
        stderr = (stderr + d).slice(-16384);
      },
    });
    tar.on('error', (e: Error) => {
      rejectPositions(e);
      out.destroy(e);
    });
    tar.on('end', () => {
      try {
        resolvePositions(parsePositions(stderr));
        out.end();
      } catch (e) {
        rejectPositions(e as Error);
        out.destroy(e as Error);
      }
    });
    tar.pipe(out, { end: false });
  })().catch((e: unknown) => {
    rejectPositions(e as Error);
    out.destroy(e as Error);
  });
  return { stream: out, positions };
}

/** Reads "write-ahead log start point: 0/2000028 on timeline 1" and "... end point: 0/2000100". */
export function parsePositions(stderr: string): BaseBackupPositions {
  const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/i.exec(stderr);
  const stop = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/i.exec(stderr);
  if (!start?.[1] || !start[2] || !stop?.[1])
    throw new Error(`pg_basebackup did not report its WAL start and end points (expected with -v); it printed: ${stderr.slice(-500)}`);
  return { startLsn: start[1], stopLsn: stop[1], timeline: Number(start[2]) };
}

/** What a base backup records of its server, read over a normal connection. */
export interface ServerFacts {
  versionNum: number;
  major: number;
  version: string;
  /** pg_control's system identifier (empty when the role may not read it). */
  systemIdentifier: string;
  walSegmentSize: number;
  /** The server's clock: moments of recovery are the server's commit timestamps. */
  now: Date;
}

export async function serverFacts(url: string, signal?: AbortSignal): Promise<ServerFacts> {
  return withClient(url, { ...(signal ? { signal } : {}) }, async (c) => {
    const r = await c.query<{ num: string; version: string; seg: string; now: Date }>(
      `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
              pg_size_bytes(current_setting('wal_segment_size'))::text AS seg, clock_timestamp() AS now`,
    );
    const row = r.rows[0]!;
    let systemIdentifier = '';
    try {
      const s = await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      systemIdentifier = s.rows[0]?.id ?? '';
    } catch {
      // pg_control_system() is for superusers and pg_monitor only
    }
    const versionNum = Number(row.num);
    return {
      versionNum,
      major: Math.floor(versionNum / 10000),
      version: row.version,
      systemIdentifier,
      walSegmentSize: Number(row.seg),
      now: row.now,
    };
  });
}
