import { describe, expect, it } from 'vitest';
import { TdInvalidInputError } from './errors.ts';
import { formatCoordinate, wkbHexToWkt, wkbToWkt } from './wkb.ts';

/** Little-endian WKB builder for the tests. */
class W {
  private readonly parts: Buffer[] = [];
  constructor(private readonly le = true) {}
  head(type: number): this {
    const b = Buffer.alloc(5);
    b[0] = this.le ? 1 : 0;
    if (this.le) b.writeUInt32LE(type, 1);
    else b.writeUInt32BE(type, 1);
    this.parts.push(b);
    return this;
  }
  u32(n: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(n);
    else b.writeUInt32BE(n);
    this.parts.push(b);
    return this;
  }
  pt(...c: number[]): this {
    for (const x of c) {
      const b = Buffer.alloc(8);
      if (this.le) b.writeDoubleLE(x);
      else b.writeDoubleBE(x);
      this.parts.push(b);
    }
    return this;
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  get buf(): Buffer {
    return Buffer.concat(this.parts);
  }
}

describe('wkbToWkt', () => {
  it('converts the documented point (TestAllType: point(100 100))', () => {
    expect(wkbHexToWkt('010100000000000000000059400000000000005940')).toBe('POINT (100 100)');
  });

  it('converts points, lines and polygons in either byte order', () => {
    expect(wkbToWkt(new W().head(1).pt(1.5, -2).buf)).toBe('POINT (1.5 -2)');
    expect(wkbToWkt(new W(false).head(1).pt(1.5, -2).buf)).toBe('POINT (1.5 -2)');
    expect(wkbToWkt(new W().head(2).u32(2).pt(0, 0, 1, 1).buf)).toBe('LINESTRING (0 0, 1 1)');
    const square = new W().head(3).u32(2).u32(5).pt(0, 0, 4, 0, 4, 4, 0, 4, 0, 0).u32(4).pt(1, 1, 2, 1, 1, 2, 1, 1).buf;
    expect(wkbToWkt(square)).toBe('POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 1 2, 1 1))');
  });

  it('converts multi geometries and collections', () => {
    const p = (x: number, y: number): Buffer => new W().head(1).pt(x, y).buf;
    expect(wkbToWkt(new W().head(4).u32(2).raw(p(1, 2)).raw(p(3, 4)).buf)).toBe('MULTIPOINT ((1 2), (3 4))');
    const line = new W().head(2).u32(2).pt(0, 0, 1, 1).buf;
    expect(wkbToWkt(new W().head(5).u32(2).raw(line).raw(line).buf)).toBe('MULTILINESTRING ((0 0, 1 1), (0 0, 1 1))');
    const poly = new W().head(3).u32(1).u32(4).pt(0, 0, 1, 0, 0, 1, 0, 0).buf;
    expect(wkbToWkt(new W().head(6).u32(1).raw(poly).buf)).toBe('MULTIPOLYGON (((0 0, 1 0, 0 1, 0 0)))');
    // a member in big endian inside a little-endian collection
    const be = new W(false).head(1).pt(5, 6).buf;
    expect(wkbToWkt(new W().head(7).u32(2).raw(be).raw(line).buf)).toBe('GEOMETRYCOLLECTION (POINT (5 6), LINESTRING (0 0, 1 1))');
  });

  it('writes EMPTY forms (a point of NaNs is empty)', () => {
    expect(wkbHexToWkt('0101000000000000000000f87f000000000000f87f')).toBe('POINT EMPTY');
    expect(wkbToWkt(new W().head(2).u32(0).buf)).toBe('LINESTRING EMPTY');
    expect(wkbToWkt(new W().head(3).u32(0).buf)).toBe('POLYGON EMPTY');
    expect(wkbToWkt(new W().head(6).u32(0).buf)).toBe('MULTIPOLYGON EMPTY');
    expect(wkbToWkt(new W().head(7).u32(0).buf)).toBe('GEOMETRYCOLLECTION EMPTY');
  });

  it('writes Z, M and ZM coordinates (ISO and EWKB codes)', () => {
    expect(wkbToWkt(new W().head(1001).pt(1, 2, 3).buf)).toBe('POINT Z (1 2 3)');
    expect(wkbToWkt(new W().head(2001).pt(1, 2, 4).buf)).toBe('POINT M (1 2 4)');
    expect(wkbToWkt(new W().head(3002).u32(1).pt(1, 2, 3, 4).buf)).toBe('LINESTRING ZM (1 2 3 4)');
    expect(wkbToWkt(new W().head(0x80000001).pt(1, 2, 3).buf)).toBe('POINT Z (1 2 3)');
  });

  it('prints coordinates exactly, without exponents', () => {
    const xs = [0.1, -0.0000001, 1e21, 1.7976931348623157e308, 5e-324, 123456.789, -0];
    for (const x of xs) {
      const s = formatCoordinate(x);
      expect(s).not.toMatch(/e/i);
      expect(Object.is(Number(s), x)).toBe(true);
    }
    expect(formatCoordinate(1e-7)).toBe('0.0000001');
    expect(formatCoordinate(1.5e21)).toBe('1500000000000000000000');
  });

  it('refuses truncated, trailing, oversized or unsupported input', () => {
    const bad = [
      '01010000000000000000005940',
      '010100000000000000000059400000000000005940ff',
      '0102000000ffffffff',
      '0108000000',
      '02',
      'zz',
      '0101000020e6100000000000000000f03f0000000000000040',
    ];
    for (const hex of bad) expect(() => wkbHexToWkt(hex), hex).toThrow(TdInvalidInputError);
  });
});
