import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from './counting.ts';

/**
 * Segmented AES-256-GCM (a STREAM construction). An object is
 *
 *   header = "BKE1" | u32 segmentSize | 16-byte salt
 *   then segments: ciphertext(<= segmentSize) | 16-byte tag
 *
 * The object key is HKDF-SHA256(dataKey, salt). Segment i uses the nonce
 * u64(i) | u32(final ? 1 : 0), and the header is authenticated data of every segment.
 * So a flipped bit fails that segment's tag, swapping two segments fails their counters,
 * and cutting the object at a segment boundary fails because the new last segment was not
 * sealed as final. Every segment is authenticated before its plaintext is released, so
 * tampered bytes never reach a database.
 */
const MAGIC = Buffer.from('BKE1');
const HEADER_BYTES = 4 + 4 + 16;
const TAG_BYTES = 16;
export const DEFAULT_SEGMENT_BYTES = 64 * 1024;

function objectKey(dataKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, salt, 'bk object v1', 32));
}

function nonce(counter: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(counter), 0);
  n.writeUInt32BE(final ? 1 : 0, 8);
  return n;
}

export class EncryptStream extends Transform {
  private readonly key: Buffer;
  private readonly header: Buffer;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private counter = 0;

  constructor(
    dataKey: Buffer,
    private readonly segmentBytes = DEFAULT_SEGMENT_BYTES,
  ) {
    super();
    if (dataKey.length !== 32) throw new RangeError('data key must be 32 bytes');
    const salt = randomBytes(16);
    this.key = objectKey(dataKey, salt);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(segmentBytes);
    this.header = Buffer.concat([MAGIC, size, salt]);
    this.push(this.header);
  }

  private seal(plain: Buffer, final: boolean): Buffer {
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.counter++, final));
    c.setAAD(this.header);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([body, c.getAuthTag()]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Keep at least one byte back: the final segment must be sealed as final at flush,
    // and we only know a segment is not the last once more data follows it.
    if (this.pendingBytes > this.segmentBytes) {
      let buf = Buffer.concat(this.pending);
      while (buf.length > this.segmentBytes) {
        this.push(this.seal(buf.subarray(0, this.segmentBytes), false));
        buf = buf.subarray(this.segmentBytes);
      }
      this.pending = [buf];
      this.pendingBytes = buf.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.push(this.seal(Buffer.concat(this.pending), true));
    this.pending = [];
    done();
  }
}

export class DecryptStream extends Transform {
  private header?: Buffer;
  private key?: Buffer;
  private segmentBytes = 0;
  private buf: Buffer = Buffer.alloc(0);
  private counter = 0;

  constructor(
    private readonly dataKey: Buffer,
    private readonly label: string,
  ) {
    super();
  }

  private open(sealed: Buffer, final: boolean): Buffer {
    const d = createDecipheriv('aes-256-gcm', this.key as Buffer, nonce(this.counter, final));
    d.setAAD(this.header as Buffer);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      const out = Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()]);
      this.counter++;
      return out;
    } catch {
      throw new IntegrityError(
        `${this.label}: encrypted segment ${this.counter} failed authentication (tampered, truncated, reordered or wrong key)`,
      );
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      if (!this.header) {
        if (this.buf.length < HEADER_BYTES) return done();
        const header = this.buf.subarray(0, HEADER_BYTES);
        if (!header.subarray(0, 4).equals(MAGIC)) throw new IntegrityError(`${this.label}: not an encrypted object (bad magic)`);
        this.header = Buffer.from(header);
        this.segmentBytes = header.readUInt32BE(4);
        if (this.segmentBytes < 1 || this.segmentBytes > 64 * 1024 * 1024)
          throw new IntegrityError(`${this.label}: implausible segment size ${this.segmentBytes}`);
        this.key = objectKey(this.dataKey, header.subarray(8, 24));
        this.buf = this.buf.subarray(HEADER_BYTES);
      }
      const sealedBytes = this.segmentBytes + TAG_BYTES;
      // A full segment followed by more bytes is certainly not the final one.
      while (this.buf.length > sealedBytes) {
        this.push(this.open(this.buf.subarray(0, sealedBytes), false));
        this.buf = this.buf.subarray(sealedBytes);
      }
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.header || this.buf.length < TAG_BYTES) throw new IntegrityError(`${this.label}: encrypted object is truncated`);
      this.push(this.open(this.buf, true));
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

/** A data key wrapped by a master key: iv(12) | ciphertext(32) | tag(16), base64. */
export function wrapDataKey(dataKey: Buffer, masterKey: Buffer, keyId: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', masterKey, iv);
  c.setAAD(Buffer.from(keyId));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
}

export function unwrapDataKey(wrapped: string, masterKey: Buffer, keyId: string): Buffer {
  const raw = Buffer.from(wrapped, 'base64');
  const d = createDecipheriv('aes-256-gcm', masterKey, raw.subarray(0, 12));
  d.setAAD(Buffer.from(keyId));
  d.setAuthTag(raw.subarray(raw.length - 16));
  try {
    return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
  } catch {
    throw new IntegrityError(`data key could not be unwrapped with master key "${keyId}" (wrong key?)`);
  }
}

export function newDataKey(): Buffer {
  return randomBytes(32);
}
