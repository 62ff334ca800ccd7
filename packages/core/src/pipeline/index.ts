import { PassThrough, type Readable, type Transform, pipeline } from 'node:stream';
import type { Codec } from '../config/schema.ts';
import { type CompressionSpec, compressor, decompressor, effectiveCompression } from './codec.ts';
import { ByteCounter, HashCounter, IntegrityError, RowCounter, VerifyingHashStream } from './counting.ts';
import { DecryptStream, EncryptStream } from './crypto.ts';
import { BinaryCopyFormatError, BinaryCopyRowCounter } from './pgcopy-binary.ts';

export { releaseBuffer } from './buffer-pool.ts';
export * from './codec.ts';
export { GZIP_BLOCK_BYTES, gzipImplementation, LibdeflateGzipStream } from './gzip.ts';
export * from './counting.ts';
export * from './crypto.ts';
export { BinaryCopyFormatError, BinaryCopyRowCounter, BinaryCopyRowHashSink, BinaryCopyScanner, type TupleSink } from './pgcopy-binary.ts';

/** What a stored object's manifest entry records about it. */
export interface EncodedStats {
  /** Lines (= rows) in the raw data. */
  rows: number;
  /** Raw (uncompressed, unencrypted) bytes. */
  rawBytes: number;
  /** Bytes stored. */
  bytes: number;
  /** SHA-256 of the stored bytes, so anyone can check an object without keys. */
  sha256: string;
  /** How the object was compressed, as the manifest must record it (gzip: with memberBytes when libdeflate wrote it). */
  compression: CompressionSpec;
}

export interface EncodeOptions {
  compression: CompressionSpec;
  /** Set to encrypt with this backup's data key. */
  dataKey?: Buffer;
  /**
   * Count line feeds as rows (default true). A caller with an authoritative count of its
   * own (COPY's command tag) turns it off to save a scan of every byte; `rows` is then 0.
   */
  countRows?: boolean;
  /** Forces Node's zlib for gzip instead of libdeflate (for the benchmark's comparison). */
  gzipWith?: 'zlib';
}

/**
 * The write path: raw -> count rows -> compress -> encrypt -> hash -> (storage).
 * Returns the stream to hand to `ObjectStore.put` and a function reading the stats once it
 * has ended. Errors anywhere (the source included) destroy the returned stream with that
 * error, which makes the store abort the upload.
 */
export function encodeForStorage(
  source: Readable,
  opts: EncodeOptions,
): { stream: Readable; stats: () => EncodedStats; rawBytesSoFar: () => number } {
  const rows = opts.countRows === false ? new ByteCounter() : new RowCounter();
  const hash = new HashCounter();
  const stages: Transform[] = [rows];
  const comp = compressor(opts.compression, opts.gzipWith ? { gzipWith: opts.gzipWith } : {});
  if (comp) stages.push(comp);
  if (opts.dataKey) stages.push(new EncryptStream(opts.dataKey));
  stages.push(hash);
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  pipeline([source, ...stages, out], (err) => {
    if (err) out.destroy(err);
  });
  let ended = false;
  out.on('end', () => {
    ended = true;
  });
  return {
    stream: out,
    /** Final figures: only once the stream has ended (the digest can be taken once). */
    stats: () => {
      if (!ended) throw new Error('encodeForStorage: stats() read before the stream ended');
      return { rows: rows.rows, rawBytes: rows.bytes, bytes: hash.bytes, sha256: hash.sha256(), compression: effectiveCompression(opts.compression, comp) };
    },
    /** Live progress, safe at any time. */
    rawBytesSoFar: () => rows.bytes,
  };
}

export interface DecodeOptions {
  codec: Codec;
  /** gzip: the object's recorded member size (CompressionSpec.memberBytes), if any. */
  memberBytes?: number | undefined;
  expected: { sha256: string; bytes: number };
  dataKey?: Buffer;
  /** For error messages: which object this is. */
  label: string;
  /**
   * How the raw data holds its rows: one per line (default: COPY text, TDengine JSON lines),
   * or as tuples of PostgreSQL's binary COPY format, which are counted by walking their
   * structure (a broken structure is then the object's corruption too).
   */
  rowFraming?: 'lines' | 'pg-copy-binary';
}

/**
 * The read path: (storage) -> verify size + SHA-256 -> decrypt -> decompress -> count rows.
 * The returned stream errors (IntegrityError) before its end if the stored bytes do not
 * match the manifest, so a consumer that commits at the end commits nothing.
 */
export function decodeFromStorage(stored: Readable, opts: DecodeOptions): { stream: Readable; rows: () => number } {
  const counter = opts.rowFraming === 'pg-copy-binary' ? new BinaryCopyRowCounter() : new RowCounter();
  const stages: Transform[] = [new VerifyingHashStream(opts.expected, opts.label)];
  if (opts.dataKey) stages.push(new DecryptStream(opts.dataKey, opts.label));
  const dec = decompressor(opts.codec, { memberBytes: opts.memberBytes });
  if (dec) stages.push(dec);
  stages.push(counter);
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  // A decompressor's own complaint (zstd's frame checksum, a broken deflate stream) is the
  // object's corruption too: say which object, as the SHA-256 check does. pipeline() hands
  // the first error to every stream, so the stream that emitted first is the one at fault;
  // `out` stays outside the pipeline so that the error it ends with is the one chosen here.
  let first: { stream: unknown; error: Error } | undefined;
  for (const st of [stored, ...stages]) {
    st.once('error', (error: Error) => {
      first ??= { stream: st, error };
    });
  }
  pipeline([stored, ...stages], (err) => {
    if (!err) return;
    const corrupt = dec !== undefined && first?.stream === dec && first.error === err;
    if (corrupt) out.destroy(new IntegrityError(`${opts.label}: corrupt ${opts.codec} data: ${err.message}`, { cause: err }));
    else if (err instanceof BinaryCopyFormatError) out.destroy(new IntegrityError(`${opts.label}: ${err.message}`, { cause: err }));
    else out.destroy(err);
  });
  counter.pipe(out);
  // A consumer that stops early (a failed COPY) must release the stored object's stream too.
  out.once('close', () => {
    if (!out.readableEnded) stored.destroy();
  });
  return { stream: out, rows: () => counter.rows };
}
export * from './line-hash.ts';
