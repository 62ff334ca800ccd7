import { Transform } from 'node:stream';

/**
 * A Transform whose asynchronous work waits for its reader: `pushPaced` pushes a chunk and,
 * when the readable side already holds enough, resolves only once the reader asks for more
 * (or the stream is destroyed; the work then stops at its next `destroyed` check).
 *
 * Why: a decompressor can turn a small input into gigabytes (a run of zeros), and a
 * Transform's `push` never refuses data: without waiting, everything decompressed from one
 * input chunk would pile up unread.
 */
export abstract class PacedTransform extends Transform {
  /** Set while work waits for the reader to take what was pushed. */
  private onDemand: (() => void) | undefined;

  protected async pushPaced(chunk: Buffer): Promise<void> {
    if (!this.push(chunk)) await new Promise<void>((r) => (this.onDemand = r));
  }

  /** Lets work waiting for the reader go on. */
  private wake(): void {
    const onDemand = this.onDemand;
    this.onDemand = undefined;
    onDemand?.();
  }

  override _read(size: number): void {
    this.wake();
    super._read(size);
  }

  override _destroy(err: Error | null, done: (error?: Error | null) => void): void {
    this.wake();
    super._destroy(err, done);
  }
}
