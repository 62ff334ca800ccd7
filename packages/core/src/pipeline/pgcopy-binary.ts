import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, Writable } from 'node:stream';

/**
 * PostgreSQL's binary COPY format (`COPY ... WITH (FORMAT binary)`), read incrementally:
 *
 *   header   11-byte signature "PGCOPY\n\377\r\n\0", int32 flags, int32 extension length, extension
 *   tuple    int16 field count, then per field int32 length (-1: NULL) and that many bytes
 *   trailer  int16 -1
 *
 * Rows are not lines here, so the line-oriented counters of this package do not apply:
 * verification counts tuples with this scanner, and drills hash them. It checks structure
 * only (values are the server's to check): the signature, no flag the format reserves
 * (bits 0-15) and no OID column (bit 16), the same field count in every tuple, no negative
 * length other than -1, a trailer, and nothing after it. Any byte split of the input gives
 * the same result.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags and extension length: the part of the header of known size. */
const HEADER_BYTES = 19;
/** Flags a reader must not ignore: bits 0-15 (reserved) and 16 (OIDs, which we never write). */
const CRITICAL_FLAGS = 0x0001_ffff;

export class BinaryCopyFormatError extends Error {
  override readonly name = 'BinaryCopyFormatError';
}

/** Receives each tuple's bytes (field count, lengths and values as they stand in the stream). */
export interface TupleSink {
  begin(): void;
  /** A piece of the current tuple; valid only during the call. */
  bytes(piece: Buffer): void;
  end(): void;
}

const State = { Header: 0, HeaderExtension: 1, TupleStart: 2, FieldLength: 3, FieldData: 4, Done: 5 } as const;
type State = (typeof State)[keyof typeof State];

export class BinaryCopyScanner {
  /** Complete tuples so far. */
  rows = 0;
  /** Bytes consumed so far (for error messages). */
  private offset = 0;
  private state: State = State.Header;
  /** Size of the fixed-size item being read (header, field count or length). */
  private need = HEADER_BYTES;
  /** A fixed-size item split across writes. */
  private readonly carry = Buffer.alloc(HEADER_BYTES);
  private carried = 0;
  /** Bytes left of the header extension or of a field's value. */
  private skip = 0;
  private fieldsLeft = 0;
  /** Field count of the first tuple; every tuple must have it. */
  private fields = -1;

  constructor(private readonly sink?: TupleSink) {}

  write(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (!this.sink && this.state === State.TupleStart && this.carried === 0) {
        i = this.wholeTuples(chunk, i);
        if (i >= n) break;
      }
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        if (this.state === State.FieldData) this.sink?.bytes(chunk.subarray(i, i + take));
        i += take;
        this.skip -= take;
        if (this.skip === 0) this.afterSkip();
        continue;
      }
      if (this.state === State.Done) this.fail(`${n - i} bytes after the trailer`, i);
      let item: Buffer;
      let at: number;
      if (this.carried === 0 && n - i >= this.need) {
        item = chunk;
        at = i;
        i += this.need;
      } else {
        const take = Math.min(this.need - this.carried, n - i);
        chunk.copy(this.carry, this.carried, i, i + take);
        this.carried += take;
        i += take;
        if (this.carried < this.need) break;
        item = this.carry;
        at = 0;
        this.carried = 0;
      }
      this.item(item, at, i);
    }
    this.offset += n;
  }

  /**
   * Counting only: walks the tuples that lie whole in `chunk` from `i` with plain byte
   * arithmetic (the general path below costs about 20 ns a field, this one a few) and
   * returns where the first incomplete one (or the trailer) starts, for the general path.
   */
  private wholeTuples(chunk: Buffer, i: number): number {
    const n = chunk.length;
    while (i + 2 <= n) {
      const count = ((chunk[i]! << 24) | (chunk[i + 1]! << 16)) >> 16;
      if (count < 0 || (count !== this.fields && this.fields !== -1)) return i; // trailer or an error: the general path says which
      let j = i + 2;
      let f = 0;
      for (; f < count && j + 4 <= n; f++) {
        const len = (chunk[j]! << 24) | (chunk[j + 1]! << 16) | (chunk[j + 2]! << 8) | chunk[j + 3]!;
        if (len < -1) return i;
        j += 4 + (len > 0 ? len : 0);
      }
      if (f < count || j > n) return i;
      this.fields = count;
      this.rows++;
      i = j;
    }
    return i;
  }

  /** The input is over: throws unless it ended right after the trailer. */
  end(): void {
    if (this.state !== State.Done || this.skip > 0 || this.carried > 0)
      throw new BinaryCopyFormatError(
        `binary COPY data truncated after ${this.offset} bytes (${this.rows} complete rows, no trailer)`,
      );
  }

  /** A fixed-size item of `this.need` bytes at `at` in `buf`; `next` is the read position after it. */
  private item(buf: Buffer, at: number, next: number): void {
    switch (this.state) {
      case State.Header: {
        if (buf.compare(SIGNATURE, 0, SIGNATURE.length, at, at + SIGNATURE.length) !== 0) this.fail('not binary COPY data (bad signature)', next);
        const flags = buf.readUInt32BE(at + 11);
        if ((flags & CRITICAL_FLAGS) !== 0) this.fail(`unsupported header flags 0x${flags.toString(16)}`, next);
        const ext = buf.readInt32BE(at + 15);
        if (ext < 0) this.fail(`negative header extension length ${ext}`, next);
        this.need = 2;
        this.state = State.HeaderExtension;
        this.skip = ext;
        if (ext === 0) this.afterSkip();
        return;
      }
      case State.TupleStart: {
        const count = buf.readInt16BE(at);
        if (count === -1) {
          this.state = State.Done;
          return;
        }
        if (count < 0) this.fail(`negative field count ${count}`, next);
        if (this.fields === -1) this.fields = count;
        else if (count !== this.fields) this.fail(`a tuple of ${count} fields after tuples of ${this.fields}`, next);
        this.sink?.begin();
        this.sink?.bytes(buf.subarray(at, at + 2));
        this.fieldsLeft = count;
        if (count === 0) this.endTuple();
        else {
          this.state = State.FieldLength;
          this.need = 4;
        }
        return;
      }
      case State.FieldLength: {
        const len = buf.readInt32BE(at);
        if (len < -1) this.fail(`negative field length ${len}`, next);
        this.sink?.bytes(buf.subarray(at, at + 4));
        this.fieldsLeft--;
        if (len > 0) {
          this.state = State.FieldData;
          this.skip = len;
        } else this.afterField();
        return;
      }
      case State.HeaderExtension:
      case State.FieldData:
      case State.Done:
        // These states skip bytes (write() handles them) or take none: a bug if reached.
        throw new Error(`BinaryCopyScanner: no fixed-size item in state ${this.state}`);
    }
  }

  private afterSkip(): void {
    if (this.state === State.HeaderExtension) this.state = State.TupleStart;
    else this.afterField();
  }

  private afterField(): void {
    if (this.fieldsLeft > 0) this.state = State.FieldLength;
    else this.endTuple();
  }

  private endTuple(): void {
    this.rows++;
    this.sink?.end();
    this.state = State.TupleStart;
    this.need = 2;
  }

  private fail(what: string, posInChunk: number): never {
    throw new BinaryCopyFormatError(`binary COPY data: ${what} (near byte ${this.offset + posInChunk}, after ${this.rows} rows)`);
  }
}

/** Counts the rows of binary COPY data passing through, unchanged; errors on bad structure or truncation. */
export class BinaryCopyRowCounter extends Transform {
  private readonly scanner = new BinaryCopyScanner();
  bytes = 0;

  get rows(): number {
    return this.scanner.rows;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      this.scanner.write(chunk);
    } catch (e) {
      done(e as Error);
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.scanner.end();
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

/**
 * The binary counterpart of LineHashSink (same `<rows>:<hex sum>` value, and sums add up
 * with addLineHashes): the sum mod 2^64 of the first 8 bytes of each tuple's SHA-256. The
 * same values give the same tuple bytes, so a table read back compares equal to its
 * backup whatever the row order.
 */
export class BinaryCopyRowHashSink extends Writable {
  sum = 0n;
  private readonly scanner: BinaryCopyScanner;

  constructor() {
    super();
    let hash: Hash | undefined;
    this.scanner = new BinaryCopyScanner({
      begin: () => {
        hash = createHash('sha256');
      },
      bytes: (piece) => hash?.update(piece),
      end: () => {
        if (hash) this.sum = (this.sum + hash.digest().readBigUInt64BE(0)) & 0xffff_ffff_ffff_ffffn;
        hash = undefined;
      },
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    try {
      this.scanner.write(chunk);
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _final(done: (e?: Error | null) => void): void {
    try {
      this.scanner.end();
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  value(): string {
    return `${this.scanner.rows}:${this.sum.toString(16)}`;
  }
}
