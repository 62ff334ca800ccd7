/**
 * Reading and filtering the table of contents of a pg_dump custom-format archive, as
 * printed by `pg_restore -l -v`, for selective restores. Pure functions, no I/O.
 *
 * Entry lines look like `222; 1259 16408 TABLE My Schema a b postgres` (dump id; catalog
 * oid, object oid, then description, namespace, tag and owner separated by single spaces,
 * none of them quoted), and with -v each is followed by `;\tdepends on: 6 221`. Since names
 * may contain spaces, names are never parsed out of these lines: tables are identified by
 * asking pg_restore itself (`-l -n schema -t name`), and everything else is decided from
 * the dependency graph.
 */

export interface TocEntry {
  readonly id: number;
  /** OID of the catalog holding the object (1259 = pg_class), 0 for entries with none. */
  readonly catalogOid: number;
  readonly objectOid: number;
  /** Entry type: TABLE, INDEX, FK CONSTRAINT, SEQUENCE OWNED BY, ... */
  readonly desc: string;
  /** The text after the two OIDs: "<desc> <namespace> <tag> <owner>". */
  readonly text: string;
  /** Dump ids this entry depends on. */
  readonly deps: readonly number[];
}

export interface TocListing {
  readonly entries: readonly TocEntry[];
  /** Major version of the pg_dump that wrote the archive, when the header says. */
  readonly dumpedByMajor: number | undefined;
}

/** Entry descriptions written by pg_dump 10-18, longest first so prefixes resolve correctly. */
const KNOWN_DESCS = [
  'ACCESS METHOD',
  'ACL',
  'AGGREGATE',
  'BLOB METADATA',
  'BLOBS',
  'BLOB',
  'CAST',
  'CHECK CONSTRAINT',
  'COLLATION',
  'COMMENT',
  'CONSTRAINT',
  'CONVERSION',
  'DATABASE PROPERTIES',
  'DATABASE',
  'DEFAULT ACL',
  'DEFAULT',
  'DOMAIN',
  'ENCODING',
  'EVENT TRIGGER',
  'EXTENSION',
  'FK CONSTRAINT',
  'FOREIGN DATA WRAPPER',
  'FOREIGN TABLE',
  'FUNCTION',
  'INDEX ATTACH',
  'INDEX',
  'LARGE OBJECT',
  'MATERIALIZED VIEW DATA',
  'MATERIALIZED VIEW',
  'OPERATOR CLASS',
  'OPERATOR FAMILY',
  'OPERATOR',
  'POLICY',
  'PROCEDURAL LANGUAGE',
  'PROCEDURE',
  'PUBLICATION TABLES IN SCHEMA',
  'PUBLICATION TABLE',
  'PUBLICATION',
  'ROW SECURITY',
  'RULE',
  'SCHEMA',
  'SEARCHPATH',
  'SECURITY LABEL',
  'SEQUENCE OWNED BY',
  'SEQUENCE SET',
  'SEQUENCE',
  'SERVER',
  'SHELL TYPE',
  'STATISTICS DATA',
  'STATISTICS',
  'STDSTRINGS',
  'SUBSCRIPTION TABLE',
  'SUBSCRIPTION',
  'TABLE ATTACH',
  'TABLE DATA',
  'TABLE',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH PARSER',
  'TEXT SEARCH TEMPLATE',
  'TRANSFORM',
  'TRIGGER',
  'TYPE',
  'USER MAPPING',
  'VIEW',
].sort((a, b) => b.length - a.length);

const PG_CLASS_OID = 1259;
/** Descriptions of pg_class entries that are relations in their own right (not indexes). */
const RELATION_DESCS = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE']);
const PG_ATTRDEF_OID = 2604;

function descOf(text: string, catalogOid: number): string {
  // A pg_class entry can only be one of these; checking them first keeps a table in a schema
  // called "ATTACH" from reading as TABLE ATTACH.
  if (catalogOid === PG_CLASS_OID) {
    for (const d of ['MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE', 'TABLE', 'VIEW', 'INDEX']) {
      if (text.startsWith(`${d} `)) return d;
    }
  }
  for (const d of KNOWN_DESCS) if (text === d || text.startsWith(`${d} `)) return d;
  return text.split(' ')[0] ?? '';
}

/** Parses `pg_restore -l [-v]` output. */
export function parseTocListing(listing: string): TocListing {
  const entries: TocEntry[] = [];
  let dumpedByMajor: number | undefined;
  let current: { id: number; catalogOid: number; objectOid: number; desc: string; text: string; deps: number[] } | undefined;
  for (const raw of listing.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const header = /^;\s+Dumped by pg_dump version: (\d+)/.exec(line);
    if (header?.[1]) {
      dumpedByMajor = Number(header[1]);
      continue;
    }
    const deps = /^;\s*depends on:((?:\s+\d+)*)\s*$/.exec(line);
    if (deps) {
      if (current) current.deps.push(...(deps[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number));
      continue;
    }
    const m = /^(\d+); (\d+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const catalogOid = Number(m[2]);
    const text = m[4] ?? '';
    current = { id: Number(m[1]), catalogOid, objectOid: Number(m[3]), desc: descOf(text, catalogOid), text, deps: [] };
    entries.push(current);
  }
  return { entries, dumpedByMajor };
}

export function isRelationEntry(e: TocEntry): boolean {
  return e.catalogOid === PG_CLASS_OID && RELATION_DESCS.has(e.desc);
}

export interface TocSelection {
  /** Entries to restore, in archive order. */
  readonly keep: readonly TocEntry[];
  /** Entries left out (for reporting). */
  readonly dropped: readonly TocEntry[];
  /** Ids of the relation entries restored (selected tables, their parents, partitions and sequences). */
  readonly relations: ReadonlySet<number>;
}

/**
 * Chooses the archive entries a selective restore of `selected` (dump ids of TABLE / VIEW /
 * ... entries) needs:
 * 1. relations: the selected ones; the partitions of a selected partitioned table (through
 *    TABLE ATTACH entries), recursively; every relation a chosen relation depends on
 *    (inheritance and partition parents, sequences named in an inline default, the tables
 *    under a view); sequences that depend on a chosen table (serial / identity sequences);
 *    sequences named by the DEFAULT entries of chosen tables;
 * 2. every other entry is kept unless it depends, directly or through other entries, on a
 *    relation that was not chosen. So schemas, types, domains, functions, extensions,
 *    collations... are kept, while an index, constraint, trigger, default, comment, ACL,
 *    policy, foreign key (on either end), view or sequence attached to a table outside the
 *    selection goes.
 */
export function selectTocEntries(entries: readonly TocEntry[], selected: Iterable<number>): TocSelection {
  const byId = new Map(entries.map((e) => [e.id, e] as const));
  const dependents = new Map<number, TocEntry[]>();
  for (const e of entries) {
    for (const d of e.deps) {
      let list = dependents.get(d);
      if (!list) dependents.set(d, (list = []));
      list.push(e);
    }
  }
  const relations = new Set<number>();
  const queue: number[] = [];
  const add = (id: number): void => {
    const e = byId.get(id);
    if (!e || !isRelationEntry(e) || relations.has(id)) return;
    relations.add(id);
    queue.push(id);
  };

  // Partitions of selected partitioned tables, recursively (downwards only from selections).
  const down: number[] = [];
  for (const id of selected) {
    if (!byId.has(id)) throw new RangeError(`dump id ${id} is not in the archive`);
    down.push(id);
  }
  const downSeen = new Set<number>();
  while (down.length) {
    const id = down.pop()!;
    if (downSeen.has(id)) continue;
    downSeen.add(id);
    add(id);
    for (const att of dependents.get(id) ?? []) {
      if (att.desc !== 'TABLE ATTACH') continue;
      // ATTACH depends on parent and child; the child is the one whose TABLE depends on the parent.
      for (const other of att.deps) if (other !== id && byId.get(other)?.deps.includes(id)) down.push(other);
    }
  }

  // Upwards closure.
  while (queue.length) {
    const id = queue.pop()!;
    const e = byId.get(id)!;
    for (const d of e.deps) add(d);
    if (e.desc === 'TABLE' || e.desc === 'FOREIGN TABLE' || e.desc === 'MATERIALIZED VIEW') {
      for (const dep of dependents.get(id) ?? []) {
        if (isRelationEntry(dep) && dep.desc === 'SEQUENCE') add(dep.id);
        if (dep.desc === 'DEFAULT' || dep.catalogOid === PG_ATTRDEF_OID) for (const d of dep.deps) add(d);
      }
    }
  }

  // Keep everything that does not depend on a relation left out.
  const state = new Map<number, boolean>();
  const kept = (id: number, path: Set<number>): boolean => {
    const known = state.get(id);
    if (known !== undefined) return known;
    const e = byId.get(id);
    if (!e) return true; // a dependency outside the archive (another section)
    if (isRelationEntry(e) && !relations.has(id)) {
      state.set(id, false);
      return false;
    }
    if (path.has(id)) return true; // cycle: decided by its other members
    path.add(id);
    let ok = true;
    for (const d of e.deps) {
      if (!kept(d, path)) {
        ok = false;
        break;
      }
    }
    path.delete(id);
    state.set(id, ok);
    return ok;
  };
  const keep: TocEntry[] = [];
  const dropped: TocEntry[] = [];
  for (const e of entries) (kept(e.id, new Set()) ? keep : dropped).push(e);
  return { keep, dropped, relations };
}

/** A `pg_restore -L` list file restoring exactly `entries`, in this order. */
export function formatTocList(entries: readonly TocEntry[]): string {
  return entries.map((e) => `${e.id}; ${e.catalogOid} ${e.objectOid} ${e.text.replace(/[\r\n]/g, ' ')}\n`).join('');
}
