import { describe, expect, it } from 'vitest';
import { pitrNotes, pitrProblems, settingBytes, validateSlotName, type WalSettings } from './slot.ts';

const GOOD: WalSettings = {
  walLevel: 'replica',
  maxWalSenders: 10,
  maxReplicationSlots: 10,
  walSegmentSize: 16 * 1024 * 1024,
  serverVersionNum: 150004,
  maxSlotWalKeepSize: 10 * 1024 ** 3,
  role: 'backup',
  canReplicate: true,
  inRecovery: false,
};

describe('validateSlotName', () => {
  it('allows what PostgreSQL allows', () => {
    expect(() => validateSlotName('bk_wal_1')).not.toThrow();
    expect(() => validateSlotName('a'.repeat(63))).not.toThrow();
    for (const bad of ['', 'A', 'a-b', 'a b', 'a"b', 'ä', 'a'.repeat(64), 'x; DROP']) {
      expect(() => validateSlotName(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_SLOT_NAME', permanent: true }));
    }
  });
});

describe('settingBytes', () => {
  it('multiplies pg_settings units', () => {
    expect(settingBytes('16777216', 'B')).toBe(16777216);
    expect(settingBytes('2048', '8kB')).toBe(16777216);
    expect(settingBytes('1024', 'MB')).toBe(1024 ** 3);
    expect(settingBytes('-1', 'MB')).toBe(-1);
    expect(settingBytes('10', null)).toBe(10);
    expect(() => settingBytes('1', 'furlongs')).toThrow(RangeError);
  });
});

describe('pitrProblems', () => {
  it('has nothing to say about a ready server', () => {
    expect(pitrProblems(GOOD)).toEqual([]);
    expect(pitrNotes(GOOD)).toEqual([]);
  });

  it('names every missing piece with what to do', () => {
    const problems = pitrProblems({ ...GOOD, walLevel: 'minimal', maxWalSenders: 0, maxReplicationSlots: 0, canReplicate: false });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/wal_level is 'minimal'.*replica/);
    expect(problems[1]).toMatch(/max_wal_senders is 0/);
    expect(problems[2]).toMatch(/max_replication_slots is 0/);
    expect(problems[3]).toMatch(/role "backup".*ALTER ROLE "backup" WITH REPLICATION/);
    expect(pitrProblems({ ...GOOD, walLevel: 'logical' })).toEqual([]);
    expect(pitrProblems({ ...GOOD, inRecovery: true })[0]).toMatch(/standby/);
    expect(pitrProblems({ ...GOOD, serverVersionNum: 90600 })[0]).toMatch(/PostgreSQL 10/);
  });

  it('notes an unlimited max_slot_wal_keep_size without calling it a problem', () => {
    const s = { ...GOOD, maxSlotWalKeepSize: -1 };
    expect(pitrProblems(s)).toEqual([]);
    expect(pitrNotes(s)[0]).toMatch(/max_slot_wal_keep_size is -1/);
  });
});
