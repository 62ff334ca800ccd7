/**
 * Writing taosAdapter's success bodies (contract §1.4), streamed: the JSON text is built
 * in ~16 KB pieces as rows come out of the cursor and written with chunked transfer
 * encoding, honouring back-pressure, so a large result never exists as one string.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGzip, type Gzip } from 'node:zlib';
import type { RowsResult } from '../engine/result.ts';
import type { TimeZone } from '../engine/time.ts';
import { metaLength, metaTypeName, type Value } from '../engine/types.ts';
import { encoderFor, jsonString } from './encode.ts';

/** taosAdapter's tryFlush threshold. */
const FLUSH_BYTES = 16352;

export function acceptsGzip(req: IncomingMessage): boolean {
  const ae = req.headers['accept-encoding'];
  return typeof ae === 'string' && ae.includes('gzip');
}

/** The response body stream: the HTTP response itself, or a gzip stream in front of it. */
export class BodySink {
  private readonly out: ServerResponse | Gzip;
  private readonly gzip: Gzip | undefined;
  closed = false;
  bytes = 0;

  constructor(
    private readonly res: ServerResponse,
    useGzip: boolean,
  ) {
    if (useGzip) {
      this.gzip = createGzip();
      this.gzip.pipe(res);
      this.out = this.gzip;
    } else this.out = res;
    res.once('close', () => {
      this.closed = true;
    });
  }

  /** Response headers for a body of this sink (content type and encoding). */
  static headers(useGzip: boolean, chunked: boolean): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8' };
    if (chunked) h['Transfer-Encoding'] = 'chunked';
    if (useGzip) {
      h['Content-Encoding'] = 'gzip';
      h.Vary = 'Accept-Encoding';
    }
    return h;
  }

  /** Writes a piece; resolves once the stream can take more. */
  async write(s: string): Promise<void> {
    if (this.closed) return;
    this.bytes += s.length;
    if (this.out.write(s)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.out.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.out.once('drain', done);
      this.res.once('close', done);
    });
  }

  end(s?: string): void {
    if (s !== undefined) this.bytes += s.length;
    if (s === undefined) this.out.end();
    else this.out.end(s);
  }

  /** Pushes out what is buffered (gzip included) and then destroys the socket. */
  async dropConnection(): Promise<void> {
    if (this.gzip) await new Promise<void>((resolve) => this.gzip!.flush(() => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.res.socket?.destroy();
    this.closed = true;
  }
}

export interface SuccessOptions {
  readonly rowWithMeta: boolean;
  readonly timing: boolean;
  readonly startNs: bigint;
  /** Time zone for formatting timestamps (`tz` / `conn_tz`). */
  readonly tz: TimeZone;
}

/** Stream-time faults, already resolved for this request. */
export interface StreamFaults {
  /** restfulRowLimit: stop after this many rows, still ending with code 0. */
  readonly rowLimit: number | undefined;
  /** A fetch error after this many rows: the JSON is closed normally with code 0. */
  readonly fetchErrorAfter: number | undefined;
  /** Destroy the socket after this many rows. */
  readonly dropAfter: number | undefined;
  /** Pause between streamed pieces. */
  readonly perChunkMs: number;
}

function elapsed(startNs: bigint): bigint {
  return process.hrtime.bigint() - startNs;
}

export function affectedRowsBody(n: number, o: Pick<SuccessOptions, 'rowWithMeta' | 'timing' | 'startNs'>): string {
  const head = o.rowWithMeta
    ? `{"code":0,"column_meta":[["affected_rows","INT",4]],"data":[{"affected_rows":${n}}],"rows":1`
    : `{"code":0,"column_meta":[["affected_rows","INT",4]],"data":[[${n}]],"rows":1`;
  return o.timing ? `${head},"timing":${elapsed(o.startNs)}}` : `${head}}`;
}

export type StreamOutcome = 'complete' | 'truncated' | 'dropped' | 'client-gone';

/**
 * Streams a row result. Returns how many rows were sent and how the stream ended.
 * The status line and headers must already be written.
 */
export async function streamRows(
  sink: BodySink,
  result: RowsResult,
  o: SuccessOptions,
  faults: StreamFaults,
): Promise<{ rows: number; outcome: StreamOutcome }> {
  const cols = result.columns;
  const enc = cols.map((c) => encoderFor(c.type, result.precision, o.tz));
  const keys = o.rowWithMeta ? cols.map((c) => `${jsonString(c.name)}:`) : [];
  const meta = cols.map((c) => `[${jsonString(c.name)},${jsonString(metaTypeName(c.type))},${metaLength(c.type)}]`).join(',');
  let buf = `{"code":0,"column_meta":[${meta}],"data":[`;
  let n = 0;
  let outcome: StreamOutcome = 'complete';
  const stopAt = Math.min(faults.rowLimit ?? Infinity, faults.fetchErrorAfter ?? Infinity);
  const nCols = cols.length;
  const flush = async (): Promise<void> => {
    await sink.write(buf);
    buf = '';
    if (faults.perChunkMs > 0) await new Promise((r) => setTimeout(r, faults.perChunkMs));
  };
  for (;;) {
    if (sink.closed) return { rows: n, outcome: 'client-gone' };
    if (faults.dropAfter !== undefined && n >= faults.dropAfter) {
      await sink.write(buf);
      await sink.dropConnection();
      return { rows: n, outcome: 'dropped' };
    }
    if (n >= stopAt) {
      outcome = 'truncated';
      break;
    }
    const row: Value[] | undefined = result.cursor.next();
    if (row === undefined) {
      if (faults.dropAfter !== undefined) {
        // fewer rows than asked for: still cut the response before its end
        await sink.write(buf);
        await sink.dropConnection();
        return { rows: n, outcome: 'dropped' };
      }
      break;
    }
    let s = n === 0 ? '' : ',';
    if (o.rowWithMeta) {
      s += '{';
      for (let i = 0; i < nCols; i++) s += (i === 0 ? '' : ',') + keys[i]! + enc[i]!(row[i]!);
      s += '}';
    } else {
      s += '[';
      for (let i = 0; i < nCols; i++) s += (i === 0 ? '' : ',') + enc[i]!(row[i]!);
      s += ']';
    }
    buf += s;
    n++;
    if (buf.length > FLUSH_BYTES) await flush();
  }
  buf += `],"rows":${n}`;
  buf += o.timing ? `,"timing":${elapsed(o.startNs)}}` : '}';
  sink.end(buf);
  return { rows: n, outcome };
}
