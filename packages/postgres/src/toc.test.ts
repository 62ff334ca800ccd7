import { describe, expect, it } from 'vitest';
import { formatTocList, isRelationEntry, parseTocListing, selectTocEntries } from './toc.ts';

// `pg_restore -l -v` of a small schema-only archive (pre-data and post-data), PostgreSQL 15.
const LISTING = `;
; Archive created at 2026-11-21 20:58:54 UTC
;     dbname: exp1
;     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)
;     Dumped by pg_dump version: 15.20 (Debian 15.20-0+deb12u1)
;
; Selected TOC Entries:
;
3441; 0 0 ENCODING - ENCODING 
3442; 0 0 STDSTRINGS - STDSTRINGS 
3443; 0 0 SEARCHPATH - SEARCHPATH 
3444; 1262 16387 DATABASE - exp1 postgres
6; 2615 16511 SCHEMA - My Schema postgres
7; 2615 16600 SCHEMA - ATTACH postgres
215; 1259 16512 TABLE My Schema a b postgres
;\tdepends on: 6
216; 1259 16518 SEQUENCE My Schema a b_id_seq postgres
;\tdepends on: 6 215
3445; 0 0 SEQUENCE OWNED BY My Schema a b_id_seq postgres
;\tdepends on: 216
233; 1259 16585 TABLE public aaa postgres
217; 1259 16519 SEQUENCE public free_seq postgres
218; 1259 16520 TABLE public idt postgres
221; 1259 16531 SEQUENCE public idt_id_seq postgres
;\tdepends on: 218
222; 1259 16532 TABLE public inh_p postgres
223; 1259 16535 TABLE public inh_c postgres
;\tdepends on: 222
232; 1259 16580 TABLE public zzz postgres
234; 1259 16593 MATERIALIZED VIEW public mv postgres
;\tdepends on: 232
224; 1259 16538 TABLE public other postgres
225; 1259 16541 TABLE public parent postgres
226; 1259 16544 TABLE public part1 postgres
;\tdepends on: 225
227; 1259 16547 TABLE public partd postgres
;\tdepends on: 225
228; 1259 16550 TABLE public usesfree postgres
;\tdepends on: 217
229; 1259 16554 VIEW public v postgres
;\tdepends on: 224 224
240; 1259 16601 TABLE ATTACH x postgres
;\tdepends on: 7
300; 1255 16700 FUNCTION public f() postgres
301; 1247 16701 TYPE public mood postgres
3261; 0 0 TABLE ATTACH public part1 postgres
;\tdepends on: 226 225
3262; 0 0 TABLE ATTACH public partd postgres
;\tdepends on: 227 225
3263; 2604 16564 DEFAULT My Schema a b id postgres
;\tdepends on: 216 215
3267; 2606 16566 CONSTRAINT My Schema a b a b_pkey postgres
;\tdepends on: 215
3270; 2606 16568 CONSTRAINT public other other_pkey postgres
;\tdepends on: 224
3272; 2606 16584 CONSTRAINT public zzz zzz_pkey postgres
;\tdepends on: 232
3268; 1259 16569 INDEX My Schema a b_x y_idx postgres
;\tdepends on: 215
3273; 1259 16597 INDEX public mv_id_idx postgres
;\tdepends on: 234
3274; 2606 16570 FK CONSTRAINT My Schema a b a b_p_fkey postgres
;\tdepends on: 215 3267 215
3276; 2606 16588 FK CONSTRAINT public aaa aaa_z_fkey postgres
;\tdepends on: 3272 233 232
3275; 2606 16575 FK CONSTRAINT public other other_ab_fkey postgres
;\tdepends on: 215 3267 224
3500; 0 0 COMMENT public TABLE other postgres
;\tdepends on: 224
3501; 0 0 ACL My Schema TABLE a b postgres
;\tdepends on: 215
3438; 0 16593 MATERIALIZED VIEW DATA public mv postgres
;\tdepends on: 234 3440
`;

const { entries, dumpedByMajor } = parseTocListing(LISTING);
const byId = new Map(entries.map((e) => [e.id, e]));
const keptIds = (selected: number[]): number[] =>
  selectTocEntries(entries, selected)
    .keep.map((e) => e.id)
    .sort((a, b) => a - b);

describe('parseTocListing', () => {
  it('reads ids, oids, descriptions and dependencies', () => {
    expect(dumpedByMajor).toBe(15);
    expect(byId.get(215)).toEqual({
      id: 215,
      catalogOid: 1259,
      objectOid: 16512,
      desc: 'TABLE',
      text: 'TABLE My Schema a b postgres',
      deps: [6],
    });
    expect(byId.get(3445)?.desc).toBe('SEQUENCE OWNED BY');
    expect(byId.get(3274)?.desc).toBe('FK CONSTRAINT');
    expect(byId.get(3274)?.deps).toEqual([215, 3267, 215]);
    expect(byId.get(3438)?.desc).toBe('MATERIALIZED VIEW DATA');
    expect(byId.get(3261)?.desc).toBe('TABLE ATTACH');
    expect(byId.get(3441)?.desc).toBe('ENCODING');
  });

  it('tells a table in a schema called ATTACH from a TABLE ATTACH entry by its catalog', () => {
    expect(byId.get(240)?.desc).toBe('TABLE');
    expect(isRelationEntry(byId.get(240)!)).toBe(true);
    expect(isRelationEntry(byId.get(3261)!)).toBe(false);
    expect(isRelationEntry(byId.get(3268)!)).toBe(false); // an index
  });
});

describe('selectTocEntries', () => {
  const GLOBAL = [6, 7, 300, 301, 3441, 3442, 3443, 3444];

  it('keeps a table with its serial sequence, default, keys, index, self FK, ACL and everything global', () => {
    // "My Schema"."a b": sequence 216 (depends on the table), OWNED BY, DEFAULT, PK, index,
    // self-referencing FK, ACL. Not: the FK of "other" to it, nor the free sequence's table.
    expect(keptIds([215])).toEqual([...GLOBAL, 215, 216, 3263, 3267, 3268, 3274, 3445, 3501].sort((a, b) => a - b));
  });

  it('drops a foreign key whose other end is not restored, keeps one between restored tables', () => {
    expect(keptIds([224])).not.toContain(3275);
    expect(keptIds([224])).toContain(3270);
    expect(keptIds([224])).toContain(3500); // its comment
    expect(keptIds([224, 215])).toContain(3275);
    expect(keptIds([233])).not.toContain(3276);
    expect(keptIds([233, 232])).toContain(3276);
  });

  it('brings the parent of a partition or inheritance child, not its siblings', () => {
    const kept = keptIds([226]);
    expect(kept).toContain(225);
    expect(kept).toContain(3261);
    expect(kept).not.toContain(227);
    expect(kept).not.toContain(3262);
    expect(keptIds([223])).toContain(222);
  });

  it('brings every partition of a selected partitioned table', () => {
    const kept = keptIds([225]);
    expect(kept).toEqual(expect.arrayContaining([225, 226, 227, 3261, 3262]));
  });

  it('brings a sequence named by an inline default', () => {
    expect(keptIds([228])).toContain(217);
  });

  it('drops views, materialized views and their data unless selected; a selected view brings its tables', () => {
    expect(keptIds([232])).not.toEqual(expect.arrayContaining([234]));
    expect(keptIds([232])).not.toContain(3438);
    expect(keptIds([234])).toEqual(expect.arrayContaining([232, 234, 3273, 3438]));
    expect(keptIds([229])).toEqual(expect.arrayContaining([224, 229]));
  });

  it('keeps identity sequences of selected tables only', () => {
    expect(keptIds([218])).toContain(221);
    expect(keptIds([215])).not.toContain(221);
  });

  it('rejects ids that are not in the archive', () => {
    expect(() => selectTocEntries(entries, [999])).toThrow(RangeError);
  });

  it('reports what it left out', () => {
    const sel = selectTocEntries(entries, [215]);
    expect(sel.dropped.map((e) => e.id)).toContain(3275);
    expect(sel.relations).toEqual(new Set([215, 216]));
  });
});

describe('formatTocList', () => {
  it('writes one "id; ..." line per entry, in the given order', () => {
    const list = formatTocList([byId.get(3268)!, byId.get(215)!]);
    expect(list).toBe('3268; 1259 16569 INDEX My Schema a b_x y_idx postgres\n215; 1259 16512 TABLE My Schema a b postgres\n');
  });
});
