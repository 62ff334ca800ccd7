import { describe, expect, it } from 'vitest';
import { PutQueue } from './put-queue.ts';
import type { WalSegmentWrite } from './types.ts';

function write(segNo: number, complete: boolean, length = 10): WalSegmentWrite {
  return {
    timeline: 1,
    segNo: BigInt(segNo),
    name: `seg${segNo}`,
    data: Buffer.alloc(length),
    complete,
    endLsn: BigInt(segNo * 100 + length),
  };
}

/** A sink whose puts wait until released, recording what ran and how many at once. */
function gatedSink() {
  const started: WalSegmentWrite[] = [];
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    started,
    get maxInFlight() {
      return maxInFlight;
    },
    releaseOne(): void {
      waiting.shift()?.();
    },
    async put(w: WalSegmentWrite): Promise<void> {
      started.push(w);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('PutQueue', () => {
  it('puts one at a time in order, partial after the complete segments, and reports room', async () => {
    const sink = gatedSink();
    const stored: string[] = [];
    let rooms = 0;
    const q = new PutQueue({ sink, maxQueued: 2, onStored: (w) => stored.push(w.name), onRoom: () => rooms++, onError: () => {} });
    q.requestPartial(() => write(0, false, 5));
    q.pushComplete(write(0, true));
    q.pushComplete(write(1, true));
    q.requestPartial(() => write(2, false, 7));
    expect(q.full).toBe(true);
    for (let i = 0; i < 4; i++) {
      await tick();
      sink.releaseOne();
    }
    await q.drained();
    // The first partial was already taken before the complete ones arrived.
    expect(sink.started.map((w) => `${w.name}:${w.complete}`)).toEqual(['seg0:false', 'seg0:true', 'seg1:true', 'seg2:false']);
    expect(stored).toEqual(['seg0', 'seg0', 'seg1', 'seg2']);
    expect(sink.maxInFlight).toBe(1);
    expect(rooms).toBe(1);
    expect(q.full).toBe(false);
  });

  it('collapses partial requests and skips a source with nothing new', async () => {
    const sink = gatedSink();
    let asked = 0;
    const q = new PutQueue({ sink, maxQueued: 4, onStored: () => {}, onRoom: () => {}, onError: () => {} });
    q.pushComplete(write(0, true));
    q.requestPartial(() => (asked++, write(1, false)));
    q.requestPartial(() => (asked++, write(1, false)));
    q.requestPartial(() => (asked++, undefined));
    await tick();
    sink.releaseOne();
    await q.drained();
    expect(asked).toBe(1);
    expect(sink.started).toHaveLength(1);
  });

  it('stops on the first failure and after stop() waits for the put in flight', async () => {
    const errors: unknown[] = [];
    const q = new PutQueue({
      sink: { put: () => Promise.reject(new Error('disk full')) },
      maxQueued: 4,
      onStored: () => {},
      onRoom: () => {},
      onError: (e) => errors.push(e),
    });
    q.pushComplete(write(0, true));
    q.pushComplete(write(1, true));
    await q.drained();
    expect(errors).toHaveLength(1);

    const sink = gatedSink();
    const stored: string[] = [];
    const q2 = new PutQueue({ sink, maxQueued: 4, onStored: (w) => stored.push(w.name), onRoom: () => {}, onError: () => {} });
    q2.pushComplete(write(0, true));
    q2.pushComplete(write(1, true));
    await tick();
    let stoppedYet = false;
    const stopping = q2.stop().then(() => (stoppedYet = true));
    await tick();
    expect(stoppedYet).toBe(false);
    sink.releaseOne();
    await stopping;
    // Nothing reported after stop, nothing more put.
    expect(stored).toEqual([]);
    expect(sink.started).toHaveLength(1);
  });
});
