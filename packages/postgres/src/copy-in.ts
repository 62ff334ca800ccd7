/**
 * `COPY ... FROM STDIN` as a writable stream that says when each chunk has been sent.
 *
 * pg-copy-streams (`from`) writes every chunk to the client's socket after a 5-byte
 * CopyData header and forgets it. This subclass keeps all of its protocol plumbing and
 * replaces only `flushChunk`, passing a callback with the chunk's write: once the socket
 * has taken the bytes (handed them to the kernel, or to TLS, which copies them), `sent`
 * is called with the chunk, so that a producer can reuse the buffer (a restore's
 * decompressors fill pooled buffers: see @bk/core's buffer-pool.ts). A chunk whose write
 * fails is not passed on: the connection is broken and the load fails anyway.
 *
 * Contract kept from pg-copy-streams 7 (copy-from.js): `flushChunk(chunk)` writes one
 * chunk to `this.connection.stream` and returns the socket's write() result, which
 * `flush` uses for backpressure.
 */
import { from as copyFrom } from 'pg-copy-streams';

const COPY_DATA = 0x64; // 'd'

type CopyFromStream = ReturnType<typeof copyFrom>;
const CopyStreamQuery = Object.getPrototypeOf(copyFrom('')).constructor as new (text: string) => CopyFromStream;

/** The part of pg-copy-streams' CopyStreamQuery this subclass touches. */
interface CopyFromInternals {
  connection: { stream: NodeJS.WritableStream & { write(chunk: Uint8Array, cb?: (err?: Error | null) => void): boolean } };
}

class SentCopyFromStream extends CopyStreamQuery {
  constructor(
    text: string,
    private readonly sent: (chunk: Buffer) => void,
  ) {
    super(text);
  }

  flushChunk(chunk: Buffer): boolean {
    const socket = (this as unknown as CopyFromInternals).connection.stream;
    const header = Buffer.allocUnsafe(5);
    header[0] = COPY_DATA;
    header.writeUInt32BE(chunk.length + 4, 1);
    socket.write(header);
    return socket.write(chunk, (err) => {
      if (!err) this.sent(chunk);
    });
  }
}

/**
 * Like pg-copy-streams' `from(sql)`; with `sent`, each chunk written is passed to it once
 * the socket no longer needs it (then nothing here refers to it any more).
 */
export function copyFromStdin(sql: string, sent?: (chunk: Buffer) => void): CopyFromStream {
  return sent ? new SentCopyFromStream(sql, sent) : copyFrom(sql);
}
