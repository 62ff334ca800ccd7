/**
 * Errors of WAL streaming. `permanent` follows the connector's rule (errors.ts): true when
 * retrying the same call cannot help until someone changes the server, the role or the slot.
 * Messages name the server as `host:port` and the slot, never a URL.
 */

import { DatabaseError } from 'pg';
import { pgErrorToDomain, type ErrorContext } from '../errors.ts';

export type WalStreamErrorCode =
  | 'INVALID_SLOT_NAME'
  | 'SLOT_MISSING'
  | 'SLOT_IN_USE'
  | 'SLOT_INVALIDATED'
  | 'WAL_REMOVED'
  | 'NOT_CONFIGURED'
  | 'NO_REPLICATION_PRIVILEGE'
  | 'UNSUPPORTED_SERVER'
  | 'SENDERS_EXHAUSTED'
  | 'SLOTS_EXHAUSTED'
  | 'CONNECTION_LOST'
  | 'PROTOCOL'
  | 'SERVER_ERROR';

/** One table, checked complete by the compiler, instead of a flag at every throw site. */
const PERMANENT = {
  INVALID_SLOT_NAME: true,
  SLOT_MISSING: true,
  // Another streamer (or a standby) holds the slot: it may stop, so retrying can help.
  SLOT_IN_USE: false,
  SLOT_INVALIDATED: true,
  // WAL the archive needs is gone from the server: only a new base backup closes the gap.
  WAL_REMOVED: true,
  NOT_CONFIGURED: true,
  NO_REPLICATION_PRIVILEGE: true,
  UNSUPPORTED_SERVER: true,
  SENDERS_EXHAUSTED: false,
  // Slots live until someone drops one: waiting does not free them.
  SLOTS_EXHAUSTED: true,
  CONNECTION_LOST: false,
  PROTOCOL: false,
  SERVER_ERROR: false,
} as const satisfies Record<WalStreamErrorCode, boolean>;

export class WalStreamError extends Error {
  readonly permanent: boolean;
  constructor(
    readonly code: WalStreamErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WalStreamError';
    this.permanent = PERMANENT[code];
  }
}

export interface WalErrorContext extends ErrorContext {
  readonly slot: string;
  readonly hostPort: string;
}

function isDatabaseError(err: unknown): err is DatabaseError {
  if (err instanceof DatabaseError) return true;
  const e = err as { code?: unknown; severity?: unknown } | null;
  return typeof e === 'object' && e !== null && typeof e.code === 'string' && typeof e.severity === 'string';
}

/**
 * Maps what the server or the driver reported on a replication or probe connection to a
 * {@link WalStreamError}; connection-level failures (unreachable, authentication) become the
 * connector's own typed errors through pgErrorToDomain.
 */
export function walErrorFrom(err: unknown, ctx: WalErrorContext): Error {
  if (err instanceof WalStreamError) return err;
  const where = ctx.hostPort;
  const slot = `replication slot "${ctx.slot}"`;
  if (isDatabaseError(err)) {
    const said = `(server said: ${err.message})`;
    const opts = { cause: err };
    switch (err.code ?? '') {
      case '42704':
        return new WalStreamError('SLOT_MISSING', `${slot} does not exist on ${where}; create it with ensurePhysicalSlot ${said}`, opts);
      case '55006':
        return new WalStreamError(
          'SLOT_IN_USE',
          `${slot} on ${where} is in use by another process (another WAL streamer or a standby) ${said}`,
          opts,
        );
      case '58P01':
        return new WalStreamError(
          'WAL_REMOVED',
          `the WAL requested through ${slot} is no longer on ${where}: the archive has a gap, take a new base backup ${said}`,
          opts,
        );
      case '42501':
        return new WalStreamError(
          'NO_REPLICATION_PRIVILEGE',
          `role "${ctx.user ?? '?'}" may not stream WAL from ${where}: it needs the REPLICATION attribute ${said}`,
          opts,
        );
      case '57P01':
      case '57P02':
        return new WalStreamError('CONNECTION_LOST', `the server ${where} closed the WAL streaming connection ${said}`, opts);
      case '53300':
        if (/wal_senders|standby connections|replication slots/i.test(err.message)) {
          return new WalStreamError('SENDERS_EXHAUSTED', `no free WAL sender on ${where} ${said}`, opts);
        }
        break;
      case '53400':
        if (/replication slots/i.test(err.message)) {
          return new WalStreamError(
            'SLOTS_EXHAUSTED',
            `${where} has no free replication slot for ${slot}: drop an unused slot or raise max_replication_slots ${said}`,
            opts,
          );
        }
        break;
      case '28000':
        if (/replication/i.test(err.message)) {
          return new WalStreamError(
            'NOT_CONFIGURED',
            `pg_hba.conf on ${where} does not allow replication connections for role "${ctx.user ?? '?'}" ${said}`,
            opts,
          );
        }
        break;
      case '55000':
        if (/invalidated|can no longer/i.test(err.message)) {
          return new WalStreamError(
            'SLOT_INVALIDATED',
            `${slot} on ${where} was invalidated (it lost WAL it should have kept): drop it, recreate it and take a new base backup ${said}`,
            opts,
          );
        }
        return new WalStreamError('NOT_CONFIGURED', `${where} is not set up for WAL streaming ${said}`, opts);
      default:
        break;
    }
    const mapped = pgErrorToDomain(err, ctx);
    if (mapped !== err) return mapped;
    return new WalStreamError('SERVER_ERROR', `WAL streaming from ${where} failed: ${err.message} (SQLSTATE ${err.code ?? '?'})`, {
      cause: err,
    });
  }
  // An established connection that drops (the socket closes before, or instead of, the
  // server's FATAL message) is a lost connection, not an unreachable server.
  if (/Connection terminated|ECONNRESET|socket hang up|EPIPE/i.test((err as Error | null)?.message ?? ''))
    return new WalStreamError('CONNECTION_LOST', `the connection to ${where} was lost (${(err as Error).message})`, { cause: err });
  const mapped = pgErrorToDomain(err, ctx);
  if (mapped !== err) return mapped;
  if (err instanceof Error && /Connection terminated|ECONNRESET|EPIPE|socket/i.test(err.message)) {
    return new WalStreamError('CONNECTION_LOST', `the connection to ${where} was lost while streaming WAL: ${err.message}`, {
      cause: err,
    });
  }
  return mapped;
}
