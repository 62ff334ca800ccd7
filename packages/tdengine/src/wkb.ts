/**
 * WKB → WKT for GEOMETRY restores: REST returns GEOMETRY as WKB hex, INSERT takes WKT
 * (contract §3.10). Handles POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING,
 * MULTIPOLYGON and GEOMETRYCOLLECTION, EMPTY forms, either byte order, and Z / M / ZM
 * coordinates (ISO codes 1000+, 2000+, 3000+ and EWKB flags). Coordinates are printed with
 * the shortest text that reads back as the same double, never in exponent notation, so the
 * server rebuilds the same WKB. An EWKB SRID cannot be carried by WKT and is refused.
 */

import { TdInvalidInputError } from './errors.ts';

const NAMES = ['', 'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION'];
const MAX_DEPTH = 32;

class WkbReader {
  pos = 0;
  le = true;
  constructor(readonly b: Buffer) {}

  need(n: number): void {
    if (this.pos + n > this.b.length) throw invalid(`truncated at byte ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.le ? this.b.readUInt32LE(this.pos) : this.b.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.le ? this.b.readDoubleLE(this.pos) : this.b.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A count, bounded by what the remaining bytes could hold (`minBytes` per item). */
  count(minBytes: number): number {
    const n = this.u32();
    if (n * minBytes > this.b.length - this.pos) throw invalid(`count ${n} exceeds the remaining ${this.b.length - this.pos} bytes`);
    return n;
  }
}

function invalid(reason: string): TdInvalidInputError {
  return new TdInvalidInputError(`invalid WKB geometry: ${reason}`);
}

/**
 * A double as the shortest decimal that reads back exactly, without exponent notation
 * (`1e-7` → `0.0000001`, `1e+21` → `1000000000000000000000`).
 */
export function formatCoordinate(v: number): string {
  if (!Number.isFinite(v)) throw invalid(`coordinate ${v} cannot be written as WKT`);
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s.startsWith('-');
  const mant = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mant.indexOf('.');
  const digits = dot < 0 ? mant : mant.slice(0, dot) + mant.slice(dot + 1);
  const intLen = (dot < 0 ? mant.length : dot) + exp;
  let out: string;
  if (intLen <= 0) out = `0.${'0'.repeat(-intLen)}${digits}`;
  else if (intLen >= digits.length) out = digits + '0'.repeat(intLen - digits.length);
  else out = `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  return neg ? `-${out}` : out;
}

interface Dims {
  readonly n: number;
  /** ` Z`, ` M`, ` ZM` or '' */
  readonly tag: string;
}

function readGeometry(r: WkbReader, depth: number, parentDims: Dims | undefined): { type: number; dims: Dims; body: string } {
  if (depth > MAX_DEPTH) throw invalid('nested too deeply');
  const order = r.u8();
  if (order !== 0 && order !== 1) throw invalid(`byte order ${order} at byte ${r.pos - 1}`);
  r.le = order === 1;
  let code = r.u32();
  let hasZ = false;
  let hasM = false;
  if (code & 0x20000000) throw invalid('an EWKB SRID cannot be written as WKT');
  if (code & 0x80000000) hasZ = true;
  if (code & 0x40000000) hasM = true;
  code &= 0x0fffffff;
  const iso = Math.floor(code / 1000);
  const type = code % 1000;
  if (iso === 1 || iso === 3) hasZ = true;
  if (iso === 2 || iso === 3) hasM = true;
  if (iso > 3 || type < 1 || type > 7) throw invalid(`unsupported geometry type ${code}`);
  const dims: Dims = { n: 2 + (hasZ ? 1 : 0) + (hasM ? 1 : 0), tag: hasZ && hasM ? ' ZM' : hasZ ? ' Z' : hasM ? ' M' : '' };
  if (parentDims !== undefined && parentDims.n !== dims.n) throw invalid('mixed coordinate dimensions');
  const coordBytes = 8 * dims.n;
  const point = (): string | undefined => {
    const c: number[] = [];
    for (let k = 0; k < dims.n; k++) c.push(r.f64());
    if (c.every((x) => Number.isNaN(x))) return undefined;
    return c.map(formatCoordinate).join(' ');
  };
  const pointList = (): string => {
    const n = r.count(coordBytes);
    if (n === 0) return 'EMPTY';
    const pts: string[] = [];
    for (let k = 0; k < n; k++) {
      const p = point();
      if (p === undefined) throw invalid('an empty point inside a line');
      pts.push(p);
    }
    return `(${pts.join(', ')})`;
  };
  let body: string;
  switch (type) {
    case 1: {
      const p = point();
      body = p === undefined ? 'EMPTY' : `(${p})`;
      break;
    }
    case 2:
      body = pointList();
      break;
    case 3: {
      const n = r.count(4);
      const rings: string[] = [];
      for (let k = 0; k < n; k++) rings.push(pointList());
      body = n === 0 ? 'EMPTY' : `(${rings.join(', ')})`;
      break;
    }
    default: {
      // MULTI* and GEOMETRYCOLLECTION: a list of complete WKB geometries
      const n = r.count(5);
      const parts: string[] = [];
      for (let k = 0; k < n; k++) {
        const sub = readGeometry(r, depth + 1, dims);
        if (type !== 7 && sub.type !== type - 3) throw invalid(`a ${NAMES[sub.type]} inside a ${NAMES[type]}`);
        parts.push(type === 7 ? `${NAMES[sub.type]}${sub.dims.tag} ${sub.body}` : sub.body);
      }
      body = n === 0 ? 'EMPTY' : `(${parts.join(', ')})`;
    }
  }
  return { type, dims, body };
}

/** WKT of a WKB value given as hex (as REST returns GEOMETRY), e.g. `POINT (1 2)`. */
export function wkbHexToWkt(hex: string): string {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw invalid('not a hex string');
  return wkbToWkt(Buffer.from(hex, 'hex'));
}

export function wkbToWkt(wkb: Buffer): string {
  const r = new WkbReader(wkb);
  const g = readGeometry(r, 0, undefined);
  if (r.pos !== wkb.length) throw invalid(`${wkb.length - r.pos} bytes after the geometry`);
  return `${NAMES[g.type]}${g.dims.tag} ${g.body}`;
}
