import { createRequire } from 'node:module';

/** The native binding (src/binding.c), built by node-gyp at `npm install` against the system libdeflate. */
export interface LibdeflateBinding {
  /** A compressor at `level` (0..12; 1-9 match gzip's levels in meaning). One stream owns it. */
  createCompressor(level: number): LibdeflateCompressor;
  /** One whole gzip member of `input`, compressed on the libuv thread pool. */
  gzipCompress(compressor: LibdeflateCompressor, input: Buffer, done: (err: Error | undefined, out: Buffer | undefined) => void): void;
  createDecompressor(): LibdeflateDecompressor;
  /**
   * Whole gzip members of `input` into `output`, on the thread pool, while `output` has room
   * for one more member of `memberBytes` and (unless `final`) at least `maxMemberIn` input
   * bytes are left. With `final`, the input must end exactly after a member.
   */
  gunzipMembers(
    decompressor: LibdeflateDecompressor,
    input: Buffer,
    output: Buffer,
    memberBytes: number,
    maxMemberIn: number,
    final: boolean,
    done: (err: Error | undefined, consumed: number | undefined, produced: number | undefined) => void,
  ): void;
}

/** Opaque handle (a N-API external). */
export type LibdeflateDecompressor = { readonly __brand: 'LibdeflateDecompressor' };

/** Opaque handle (a N-API external). */
export type LibdeflateCompressor = { readonly __brand: 'LibdeflateCompressor' };

let loaded: { binding: LibdeflateBinding | undefined; reason?: string } | undefined;

/**
 * The binding, or undefined with the reason when it was not built (no libdeflate-dev when
 * `npm install` ran): callers fall back to Node's zlib, which writes the same format slower.
 * `BK_LIBDEFLATE=off` forces the fallback (to compare the two, or to rule the addon out).
 */
export function loadLibdeflate(): { binding: LibdeflateBinding | undefined; reason?: string } {
  if (loaded) return loaded;
  if (process.env.BK_LIBDEFLATE === 'off') {
    loaded = { binding: undefined, reason: 'BK_LIBDEFLATE=off' };
    return loaded;
  }
  try {
    const require = createRequire(import.meta.url);
    loaded = { binding: require('../build/Release/gzip_binding.node') as LibdeflateBinding };
  } catch (err) {
    loaded = { binding: undefined, reason: `native module not built (${(err as Error).message.split('\n')[0]})` };
  }
  return loaded;
}
