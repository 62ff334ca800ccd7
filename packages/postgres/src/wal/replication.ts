/**
 * The replication connection and its commands (protocol-replication.html): IDENTIFY_SYSTEM,
 * TIMELINE_HISTORY and START_REPLICATION ... PHYSICAL, the last as a pg-copy-streams `both`
 * duplex (CopyBoth mode: WAL in, status updates out).
 *
 * Contract relied on from pg-copy-streams 7 (copy-both.js): with `alignOnCopyDataFrame`, each
 * pushed chunk is one CopyData payload; CopyDone from the server ends the readable side and
 * hands the rest of the socket back to pg; `end()` sends our CopyDone and 'finish' follows
 * the server's ReadyForQuery; an ErrorResponse becomes an 'error' event.
 */

import type { Duplex, DuplexOptions } from 'node:stream';
import pg, { type ClientConfig, type Submittable } from 'pg';
import * as copyStreams from 'pg-copy-streams';
import { abortReason } from '../errors.ts';
import { closeClient, DEFAULT_CONNECT_TIMEOUT_MS, destroyClient } from '../connection.ts';
import { quoteIdent } from '../quote.ts';
import { clientConfig, hostPort, type PgTarget } from '../target.ts';
import { walErrorFrom, WalStreamError } from './errors.ts';
import { formatLsn, historyFileName, parseLsn } from './lsn.ts';
import { validateSlotName } from './slot.ts';

/**
 * Opens a physical replication connection (startup parameter replication=true). Failures
 * come back mapped by {@link walErrorFrom}: no REPLICATION privilege and pg_hba refusals are
 * permanent, a full set of WAL senders is not.
 */
export async function connectReplication(
  target: PgTarget,
  opts: { slot: string; signal: AbortSignal; applicationName: string },
): Promise<pg.Client> {
  opts.signal.throwIfAborted();
  const config: ClientConfig & { replication: string } = {
    ...clientConfig(target, { applicationName: opts.applicationName, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS }),
    replication: 'true',
  };
  const client = new pg.Client(config);
  client.on('error', () => {
    // Reported through the failing command or the owner's own listener.
  });
  const onAbort = (): void => destroyClient(client);
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await closeClient(client);
    if (opts.signal.aborted) throw abortReason(opts.signal);
    throw walErrorFrom(err, { slot: opts.slot, hostPort: hostPort(target), user: target.user, database: target.database });
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
  }
}

export interface SystemIdentity {
  systemId: string;
  /** The server's current timeline. */
  timeline: number;
  /** The server's current WAL flush position. */
  xlogPos: bigint;
}

export async function identifySystem(client: pg.Client): Promise<SystemIdentity> {
  const { rows } = await client.query<{ systemid: string; timeline: number | string; xlogpos: string }>('IDENTIFY_SYSTEM');
  const row = rows[0];
  if (row === undefined) throw new WalStreamError('PROTOCOL', 'IDENTIFY_SYSTEM returned no row');
  return { systemId: row.systemid, timeline: Number(row.timeline), xlogPos: parseLsn(row.xlogpos) };
}

/** Every column as the server's text, unparsed (TIMELINE_HISTORY declares its content bytea but sends raw bytes). */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/**
 * The history file of `timeline` (> 1). Its content is ASCII in practice (LSNs and a reason
 * such as "no recovery target specified"); the driver decodes it as UTF-8 on the way.
 */
export async function timelineHistory(client: pg.Client, timeline: number): Promise<{ name: string; content: Buffer }> {
  if (!Number.isInteger(timeline) || timeline < 2) throw new RangeError(`timeline ${timeline} has no history file`);
  const { rows } = await client.query<{ filename: string; content: string }>({ text: `TIMELINE_HISTORY ${timeline}`, types: RAW_TEXT });
  const row = rows[0];
  if (row === undefined) throw new WalStreamError('PROTOCOL', `TIMELINE_HISTORY ${timeline} returned no row`);
  const expected = historyFileName(timeline);
  if (row.filename !== expected) {
    throw new WalStreamError('PROTOCOL', `TIMELINE_HISTORY ${timeline} returned file ${row.filename}, expected ${expected}`);
  }
  return { name: row.filename, content: Buffer.from(row.content, 'utf8') };
}

/** Where the server says streaming continues after the timeline it was sending ended. */
export interface TimelineEnd {
  timeline: number;
  startLsn: bigint;
}

type CopyBothOptions = DuplexOptions & { alignOnCopyDataFrame: boolean };
type CopyBothStream = Duplex & Submittable;
const { both } = copyStreams as unknown as { both(text: string, options: CopyBothOptions): CopyBothStream };
const CopyBothQuery = Object.getPrototypeOf(both('', { alignOnCopyDataFrame: true })).constructor as new (
  text: string,
  options: CopyBothOptions,
) => CopyBothStream;

/**
 * The CopyBoth stream of one START_REPLICATION. pg-copy-streams' own class has no handlers
 * for a result set, but when a timeline ends the server sends one after the CopyDone
 * exchange (next timeline, its start LSN); pg hands its rows to the active query, this one.
 */
export class ReplicationCopy extends CopyBothQuery {
  /** Set once the server has said where the next timeline starts. */
  timelineEnd: TimelineEnd | undefined;

  handleRowDescription(): void {
    // The columns are fixed: next_tli, next_tli_startpos.
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    const [tli, lsn] = msg.fields;
    if (typeof tli === 'string' && typeof lsn === 'string') this.timelineEnd = { timeline: Number(tli), startLsn: parseLsn(lsn) };
  }

  handleEmptyQuery(): void {}
}

/**
 * Sends START_REPLICATION on `client` and returns the stream: each chunk read is one CopyData
 * payload (object mode, so Node never merges two); each Buffer written goes out as one
 * CopyData message.
 */
export function startReplication(client: pg.Client, slot: string, timeline: number, startLsn: bigint): ReplicationCopy {
  validateSlotName(slot);
  if (!Number.isInteger(timeline) || timeline < 1) throw new RangeError(`not a timeline id: ${timeline}`);
  const sql = `START_REPLICATION SLOT ${quoteIdent(slot)} PHYSICAL ${formatLsn(startLsn)} TIMELINE ${timeline}`;
  return client.query(new ReplicationCopy(sql, { alignOnCopyDataFrame: true, readableObjectMode: true }));
}
