import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Counts bytes and line feeds of the stream passing through. Our data objects are line
 * oriented (one row per line: PostgreSQL COPY text escapes newlines inside values, and the
 * TDengine format is one JSON array per line), so line feeds are rows.
 */
export class RowCounter extends Transform {
  rows = 0;
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    let i = chunk.indexOf(10);
    while (i !== -1) {
      this.rows++;
      i = chunk.indexOf(10, i + 1);
    }
    done(null, chunk);
  }
}

/** Counts bytes only; `rows` stays 0 (for {@link encodeForStorage} without row counting). */
export class ByteCounter extends Transform {
  readonly rows = 0;
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Hashes (SHA-256) and counts the bytes passing through. */
export class HashCounter extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private digestHex?: string;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    done(null, chunk);
  }
  /** The hex digest; valid once the stream has ended. */
  sha256(): string {
    this.digestHex ??= this.hash.digest('hex');
    return this.digestHex;
  }
}

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
  /** The stored bytes are wrong: reading them again gives the same answer. */
  readonly permanent = true;
}

/**
 * Hashes what passes and, before letting the end of the stream through, compares size and
 * SHA-256 with what the manifest recorded. A mismatch errors the stream, so a consumer that
 * commits only at the end (a COPY inside a transaction) commits nothing.
 */
export class VerifyingHashStream extends HashCounter {
  constructor(
    private readonly expected: { sha256: string; bytes: number },
    private readonly label: string,
  ) {
    super();
  }
  override _flush(done: TransformCallback): void {
    const got = this.sha256();
    if (this.bytes !== this.expected.bytes) {
      done(new IntegrityError(`${this.label}: size mismatch: stored ${this.bytes} bytes, manifest says ${this.expected.bytes}`));
      return;
    }
    if (got !== this.expected.sha256) {
      done(new IntegrityError(`${this.label}: SHA-256 mismatch: stored ${got}, manifest says ${this.expected.sha256}`));
      return;
    }
    done();
  }
}
