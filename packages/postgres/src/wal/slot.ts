/**
 * The physical replication slot a WAL streamer uses, and the server settings WAL streaming
 * needs. All of it over ordinary (non-replication) connections; identifiers travel as query
 * parameters, never spliced into SQL.
 */

import type { Client } from 'pg';
import { withClient } from '../connection.ts';
import { hostPort, parseTarget } from '../target.ts';
import { walErrorFrom, WalStreamError } from './errors.ts';
import { parseLsn } from './lsn.ts';

/** PostgreSQL's own rule (ReplicationSlotValidateName): [a-z0-9_], at most NAMEDATALEN - 1. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

/** Throws a permanent {@link WalStreamError} unless `slot` is a valid slot name. */
export function validateSlotName(slot: string): void {
  if (!SLOT_NAME.test(slot)) {
    throw new WalStreamError(
      'INVALID_SLOT_NAME',
      `invalid replication slot name ${JSON.stringify(slot)}: use 1 to 63 characters of a-z, 0-9 and _`,
    );
  }
}

export interface PhysicalSlot {
  /** The oldest WAL the server keeps for the slot; null when it reserves none (or was invalidated). */
  restartLsn: bigint | null;
  /** pg_replication_slots.wal_status (reserved, extended, unreserved, lost); null before PostgreSQL 13. */
  walStatus: string | null;
  /** A walsender is using it now. */
  active: boolean;
  /** This call created it. */
  created: boolean;
}

interface SlotRow {
  slot_type: string;
  restart_lsn: string | null;
  wal_status: string | null;
  active: boolean;
}

// to_jsonb: wal_status is new in PostgreSQL 13, and reading it this way works before too.
const SLOT_SQL = `SELECT s.slot_type, s.restart_lsn::text AS restart_lsn, to_jsonb(s) ->> 'wal_status' AS wal_status, s.active
  FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1`;

/** The slot's state, or undefined when there is no slot of that name. Throws if it is not physical. */
export async function readPhysicalSlot(client: Client, slot: string): Promise<Omit<PhysicalSlot, 'created'> | undefined> {
  const { rows } = await client.query<SlotRow>(SLOT_SQL, [slot]);
  const row = rows[0];
  if (row === undefined) return undefined;
  if (row.slot_type !== 'physical') {
    throw new WalStreamError('NOT_CONFIGURED', `replication slot "${slot}" exists but is a ${row.slot_type} slot, not a physical one`);
  }
  return { restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn), walStatus: row.wal_status, active: row.active };
}

/**
 * Creates the physical slot `slot` if it does not exist, reserving WAL at once (so the
 * server keeps everything from now on, before any streamer connects), and returns its state.
 */
export async function ensurePhysicalSlot(url: string, slot: string, signal?: AbortSignal): Promise<PhysicalSlot> {
  validateSlotName(slot);
  const target = parseTarget(url);
  return withClient(target, { signal, applicationName: 'bk-wal' }, async (client) => {
    try {
      const existing = await readPhysicalSlot(client, slot);
      if (existing !== undefined) return { ...existing, created: false };
      try {
        await client.query('SELECT 1 FROM pg_catalog.pg_create_physical_replication_slot($1, true)', [slot]);
      } catch (err) {
        // Someone else created it between our look and our create: theirs is as good.
        if ((err as { code?: unknown }).code !== '42710') throw err;
      }
      const made = await readPhysicalSlot(client, slot);
      if (made === undefined) throw new WalStreamError('SLOT_MISSING', `replication slot "${slot}" vanished right after it was created`);
      return { ...made, created: true };
    } catch (err) {
      throw walErrorFrom(err, { slot, hostPort: hostPort(target), user: target.user, database: target.database });
    }
  });
}

/** Drops the slot if it exists; true when it did. Fails with SLOT_IN_USE while a streamer holds it. */
export async function dropPhysicalSlot(url: string, slot: string, signal?: AbortSignal): Promise<boolean> {
  validateSlotName(slot);
  const target = parseTarget(url);
  return withClient(target, { signal, applicationName: 'bk-wal' }, async (client) => {
    try {
      const { rowCount } = await client.query(
        `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots
          WHERE slot_name = $1 AND slot_type = 'physical'`,
        [slot],
      );
      return (rowCount ?? 0) > 0;
    } catch (err) {
      throw walErrorFrom(err, { slot, hostPort: hostPort(target), user: target.user, database: target.database });
    }
  });
}

export interface WalSettings {
  walLevel: string;
  maxWalSenders: number;
  maxReplicationSlots: number;
  /** Bytes. */
  walSegmentSize: number;
  serverVersionNum: number;
  /** Bytes; -1 means unlimited (the default); null before PostgreSQL 13, which has no such limit. */
  maxSlotWalKeepSize: number | null;
  /** The connecting role (current_user). */
  role: string;
  /** The role has REPLICATION or is a superuser. */
  canReplicate: boolean;
  /** The server is a standby. */
  inRecovery: boolean;
}

const UNIT_BYTES: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** A pg_settings value in bytes: `setting` counts units such as 'B', '8kB' or 'MB'. */
export function settingBytes(setting: string, unit: string | null): number {
  const value = Number(setting);
  if (!Number.isFinite(value)) throw new RangeError(`not a number: ${setting}`);
  if (unit === null || value < 0) return value;
  const m = /^(\d*)(B|kB|MB|GB|TB)$/.exec(unit);
  if (m === null) throw new RangeError(`unknown unit ${unit}`);
  return value * (m[1] === '' ? 1 : Number(m[1])) * UNIT_BYTES[m[2]!]!;
}

interface SettingsRow {
  name: string;
  setting: string;
  unit: string | null;
}

const SETTING_NAMES = [
  'wal_level',
  'max_wal_senders',
  'max_replication_slots',
  'wal_segment_size',
  'server_version_num',
  'max_slot_wal_keep_size',
];

/** {@link readWalSettings} on an open connection. */
export async function readWalSettingsWith(client: Client): Promise<WalSettings> {
  const [settings, role] = await Promise.all([
    client.query<SettingsRow>('SELECT name, setting, unit FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])', [SETTING_NAMES]),
    client.query<{ role: string; can_replicate: boolean; in_recovery: boolean }>(
      `SELECT current_user AS role, (r.rolreplication OR r.rolsuper) AS can_replicate, pg_catalog.pg_is_in_recovery() AS in_recovery
         FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    ),
  ]);
  const byName = new Map(settings.rows.map((r) => [r.name, r]));
  const get = (name: string): SettingsRow => {
    const row = byName.get(name);
    if (row === undefined) throw new Error(`the server does not report the setting ${name}`);
    return row;
  };
  const keep = byName.get('max_slot_wal_keep_size');
  const who = role.rows[0];
  return {
    walLevel: get('wal_level').setting,
    maxWalSenders: Number(get('max_wal_senders').setting),
    maxReplicationSlots: Number(get('max_replication_slots').setting),
    walSegmentSize: settingBytes(get('wal_segment_size').setting, get('wal_segment_size').unit),
    serverVersionNum: Number(get('server_version_num').setting),
    maxSlotWalKeepSize: keep === undefined ? null : settingBytes(keep.setting, keep.unit),
    role: who?.role ?? '?',
    canReplicate: who?.can_replicate ?? false,
    inRecovery: who?.in_recovery ?? false,
  };
}

/** The settings that decide whether this server and role can stream WAL for point-in-time recovery. */
export async function readWalSettings(url: string, signal?: AbortSignal): Promise<WalSettings> {
  return withClient(url, { signal, applicationName: 'bk-wal' }, readWalSettingsWith);
}

/** What stops WAL streaming, one human sentence each; empty when nothing does. */
export function pitrProblems(s: WalSettings): string[] {
  const problems: string[] = [];
  if (s.serverVersionNum < 100000) {
    problems.push(`PostgreSQL 10 or newer is needed for WAL streaming; this server is version ${s.serverVersionNum}`);
  }
  if (s.walLevel !== 'replica' && s.walLevel !== 'logical') {
    problems.push(
      `wal_level is '${s.walLevel}': WAL streaming needs 'replica' (or 'logical'); set wal_level = replica in postgresql.conf and restart the server`,
    );
  }
  if (s.maxWalSenders < 1) {
    problems.push(
      `max_wal_senders is ${s.maxWalSenders}: the WAL streamer needs one WAL sender; set max_wal_senders = 4 (or more) and restart the server`,
    );
  }
  if (s.maxReplicationSlots < 1) {
    problems.push(
      `max_replication_slots is ${s.maxReplicationSlots}: the WAL streamer needs one replication slot; set max_replication_slots = 4 (or more) and restart the server`,
    );
  }
  if (!s.canReplicate) {
    problems.push(`role "${s.role}" has neither REPLICATION nor SUPERUSER: run ALTER ROLE "${s.role}" WITH REPLICATION as a superuser`);
  }
  if (s.inRecovery) {
    problems.push('the server is a standby (in recovery): stream WAL from the primary');
  }
  return problems;
}

/** Advice that does not stop WAL streaming. */
export function pitrNotes(s: WalSettings): string[] {
  const notes: string[] = [];
  if (s.maxSlotWalKeepSize === -1) {
    notes.push(
      'max_slot_wal_keep_size is -1 (unlimited): while the WAL streamer is stopped, its slot keeps all WAL written since and ' +
        'pg_wal can fill the disk; a limit bounds that, but a slot that passes it is invalidated and a new base backup is needed',
    );
  }
  return notes;
}

/**
 * How much WAL the server keeps for the slot (bytes from its restart_lsn to the current WAL
 * position): the disk the slot costs the server while the archive lags or the fleet is down.
 * Undefined when the slot does not exist or reserves nothing.
 */
export async function slotRetainedBytes(url: string, slot: string, signal?: AbortSignal): Promise<number | undefined> {
  validateSlotName(slot);
  return withClient(url, { signal, applicationName: 'bk-wal' }, async (client) => {
    const { rows } = await client.query<{ bytes: string | null }>(
      `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::text AS bytes
         FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const v = rows[0]?.bytes;
    return v === null || v === undefined ? undefined : Number(v);
  });
}
