import type { Transform } from 'node:stream';
import { createGunzip, createGzip, constants as zlibConstants } from 'node:zlib';
import { type Codec, DEFAULT_LEVEL, LEVEL_RANGES } from '../config/schema.ts';
import { LibdeflateGzipStream, libdeflateGunzip, libdeflateGzip } from './gzip.ts';
import { ZstdCompressStream, ZstdDecompressStream } from './zstd.ts';

export interface CompressionSpec {
  codec: Codec;
  level: number;
  /**
   * gzip only, recorded by the writer: every gzip member holds at most this many bytes
   * (LibdeflateGzipStream). Lets a reader use libdeflate; absent, any gzip is read by zlib.
   */
  memberBytes?: number;
}

/** The spec as a stream actually wrote it: with `memberBytes` when libdeflate wrote the gzip. */
export function effectiveCompression(spec: CompressionSpec, stage: Transform | undefined): CompressionSpec {
  const { memberBytes: _ignored, ...plain } = spec;
  return stage instanceof LibdeflateGzipStream ? { ...plain, memberBytes: stage.blockBytes } : plain;
}

/** The file-name suffix that tells a person (and `zstd -d`/`gunzip`) how to read an object. */
export function codecExtension(codec: Codec): string {
  switch (codec) {
    case 'zstd':
      return '.zst';
    case 'gzip':
      return '.gz';
    case 'none':
      return '';
  }
}

export function resolveCompression(codec: Codec, level?: number): CompressionSpec {
  const lvl = level ?? DEFAULT_LEVEL[codec];
  const [min, max] = LEVEL_RANGES[codec];
  if (lvl < min || lvl > max) throw new RangeError(`${codec} level must be ${min}..${max}, got ${lvl}`);
  return { codec, level: lvl };
}

/**
 * A compressing Transform, or undefined for `none` (no stage at all, no copy).
 * `gzipWith: 'zlib'` forces Node's zlib for gzip (the benchmark compares the two).
 */
export function compressor(spec: CompressionSpec, opts: { gzipWith?: 'zlib' } = {}): Transform | undefined {
  switch (spec.codec) {
    case 'zstd':
      // The frame checksum makes `zstd -d` and our reader detect corruption on their own,
      // independently of the SHA-256 we record. Output comes in full 256 KiB buffers (see
      // ZstdCompressStream): zstd-napi's CompressStream holds 4x its output in memory.
      return new ZstdCompressStream({ level: spec.level, checksum: true });
    case 'gzip':
      // libdeflate where its addon is built (faster, smaller, see gzip.ts); zlib otherwise.
      return (opts.gzipWith === 'zlib' ? undefined : libdeflateGzip(spec.level)) ?? createGzip({ level: spec.level, chunkSize: 64 * 1024 });
    case 'none':
      return undefined;
  }
}

/** `memberBytes`: the object's recorded gzip member size, if any (libdeflate reads it then). */
export function decompressor(codec: Codec, opts: { memberBytes?: number | undefined } = {}): Transform | undefined {
  switch (codec) {
    case 'zstd':
      return new ZstdDecompressStream();
    case 'gzip':
      if (opts.memberBytes !== undefined) {
        const fast = libdeflateGunzip(opts.memberBytes);
        if (fast) return fast;
      }
      // Concatenated gzip members are valid gzip (gunzip reads them all); accept them too.
      return createGunzip({ chunkSize: 64 * 1024, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    case 'none':
      return undefined;
  }
}
