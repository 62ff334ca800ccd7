/**
 * WKT → WKB (little endian, 2D) for GEOMETRY values, and a plain WKB → WKT for the lossy
 * text views (`ins_tags.tag_value`). TDengine takes WKT in SQL and stores/returns WKB.
 * Supported: POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON,
 * GEOMETRYCOLLECTION, and EMPTY forms. Z/M coordinates are not supported.
 */

const TYPES = ['POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION'];

class WktReader {
  private pos = 0;
  constructor(private readonly s: string) {}

  private ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }

  peek(ch: string): boolean {
    this.ws();
    return this.s[this.pos] === ch;
  }

  eat(ch: string): boolean {
    if (this.peek(ch)) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(ch: string): void {
    if (!this.eat(ch)) throw new Error(`expected '${ch}'`);
  }

  word(): string {
    this.ws();
    const m = /^[A-Za-z]+/.exec(this.s.slice(this.pos));
    if (!m) throw new Error('expected a word');
    this.pos += m[0].length;
    return m[0].toUpperCase();
  }

  isEmpty(): boolean {
    this.ws();
    if (/^EMPTY\b/i.test(this.s.slice(this.pos))) {
      this.pos += 5;
      return true;
    }
    return false;
  }

  num(): number {
    this.ws();
    const m = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(this.s.slice(this.pos));
    if (!m) throw new Error('expected a number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  done(): boolean {
    this.ws();
    return this.pos >= this.s.length;
  }
}

class WkbWriter {
  private readonly parts: Buffer[] = [];
  header(type: number): void {
    const b = Buffer.alloc(5);
    b[0] = 1;
    b.writeUInt32LE(type, 1);
    this.parts.push(b);
  }
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    this.parts.push(b);
  }
  point(x: number, y: number): void {
    const b = Buffer.alloc(16);
    b.writeDoubleLE(x, 0);
    b.writeDoubleLE(y, 8);
    this.parts.push(b);
  }
  raw(b: Buffer): void {
    this.parts.push(b);
  }
  result(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function readCoords(r: WktReader): [number, number][] {
  const out: [number, number][] = [];
  r.expect('(');
  do {
    // MULTIPOINT allows both ((1 2), (3 4)) and (1 2, 3 4)
    const paren = r.eat('(');
    out.push([r.num(), r.num()]);
    if (paren) r.expect(')');
  } while (r.eat(','));
  r.expect(')');
  return out;
}

function readGeometry(r: WktReader, w: WkbWriter): void {
  const type = r.word();
  const code = TYPES.indexOf(type) + 1;
  if (code === 0) throw new Error(`unknown geometry type ${type}`);
  w.header(code);
  const empty = r.isEmpty();
  switch (type) {
    case 'POINT':
      if (empty) w.point(NaN, NaN);
      else {
        r.expect('(');
        const x = r.num();
        const y = r.num();
        r.expect(')');
        w.point(x, y);
      }
      return;
    case 'LINESTRING': {
      const pts = empty ? [] : readCoords(r);
      w.u32(pts.length);
      for (const [x, y] of pts) w.point(x, y);
      return;
    }
    case 'POLYGON': {
      const rings = empty ? [] : readList(r, () => readCoords(r));
      w.u32(rings.length);
      for (const ring of rings) {
        w.u32(ring.length);
        for (const [x, y] of ring) w.point(x, y);
      }
      return;
    }
    case 'MULTIPOINT': {
      const pts = empty ? [] : readCoords(r);
      w.u32(pts.length);
      for (const [x, y] of pts) {
        w.header(1);
        w.point(x, y);
      }
      return;
    }
    case 'MULTILINESTRING': {
      const lines = empty ? [] : readList(r, () => readCoords(r));
      w.u32(lines.length);
      for (const line of lines) {
        w.header(2);
        w.u32(line.length);
        for (const [x, y] of line) w.point(x, y);
      }
      return;
    }
    case 'MULTIPOLYGON': {
      const polys = empty ? [] : readList(r, () => readList(r, () => readCoords(r)));
      w.u32(polys.length);
      for (const rings of polys) {
        w.header(3);
        w.u32(rings.length);
        for (const ring of rings) {
          w.u32(ring.length);
          for (const [x, y] of ring) w.point(x, y);
        }
      }
      return;
    }
    default: {
      // GEOMETRYCOLLECTION
      if (empty) {
        w.u32(0);
        return;
      }
      const sub: Buffer[] = [];
      r.expect('(');
      do {
        const sw = new WkbWriter();
        readGeometry(r, sw);
        sub.push(sw.result());
      } while (r.eat(','));
      r.expect(')');
      w.u32(sub.length);
      for (const s of sub) w.raw(s);
    }
  }
}

function readList<T>(r: WktReader, item: () => T): T[] {
  const out: T[] = [];
  r.expect('(');
  do out.push(item());
  while (r.eat(','));
  r.expect(')');
  return out;
}

/** WKT text → WKB bytes; throws Error with a reason on invalid input. */
export function wktToWkb(wkt: string): Buffer {
  const r = new WktReader(wkt);
  const w = new WkbWriter();
  readGeometry(r, w);
  if (!r.done()) throw new Error('trailing text');
  return w.result();
}

/** WKB bytes → WKT text (`POINT (1 2)` style). Best effort, for lossy text views only. */
export function wkbToWkt(wkb: Buffer): string {
  let pos = 0;
  const geom = (): string => {
    const le = wkb[pos] === 1;
    pos += 1;
    const u32 = (): number => {
      const v = le ? wkb.readUInt32LE(pos) : wkb.readUInt32BE(pos);
      pos += 4;
      return v;
    };
    const f64 = (): number => {
      const v = le ? wkb.readDoubleLE(pos) : wkb.readDoubleBE(pos);
      pos += 8;
      return v;
    };
    const pt = (): string => `${f64()} ${f64()}`;
    const pts = (): string => {
      const n = u32();
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(pt());
      return `(${out.join(', ')})`;
    };
    const type = u32();
    const name = TYPES[type - 1] ?? 'GEOMETRY';
    const many = (f: () => string): string => {
      const n = u32();
      if (n === 0) return `${name} EMPTY`;
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(f());
      return `${name} (${out.join(', ')})`;
    };
    switch (type) {
      case 1: {
        const s = pt();
        return s === 'NaN NaN' ? 'POINT EMPTY' : `POINT (${s})`;
      }
      case 2:
        return `LINESTRING ${pts()}`;
      case 3:
        return many(pts);
      case 7:
        return many(geom);
      default:
        return many(() => geom().replace(/^[A-Z]+ /, ''));
    }
  };
  try {
    return geom();
  } catch {
    return wkb.toString('hex');
  }
}
