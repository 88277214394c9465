/** A slab lent to one reader: `buf[used..]` is free, and only that reader writes there until it gives it back. @internal */
export class SlabLease {
  /** Bytes of `buf` already handed out: never written again. */
  used = 0;
  constructor(readonly buf: Buffer) {}
}

/** Open slabs kept for the next lease; one more is dropped (its free tail is wasted, not lost). */
const MAX_OPEN_SLABS = 4;

/**
 * Memory for incoming frames: large buffers ("slabs") lent out one reader at a
 * time, filled in consecutive pieces, and never written twice (Node's own
 * Buffer pool, for frames).
 *
 * Binary values decoded from a frame are views of its bytes, so those bytes
 * must never be overwritten; giving each frame a fresh allocation would cost
 * an allocation per frame, and msgpackr would also build a new `DataView` for
 * every new buffer it decodes. Frames in one slab share one buffer, hence one
 * `DataView`. A reader leases a slab for one read (or while it holds a partial
 * frame in it), so that a read can take every byte that is waiting; readers
 * of different connections never share a lease. A full slab lives on as long
 * as some view of it does.
 * @internal
 */
export class SlabPool {
  /** Slabs with room that nobody holds, the last given back on top. */
  private readonly _open: SlabLease[] = [];

  /** @param size - bytes per slab. */
  constructor(readonly size: number) {}

  /** A slab with at least `min` free bytes (`min <= size`), lent to the caller alone until {@link SlabPool.release}. */
  lease(min: number): SlabLease {
    const open = this._open;
    for (let i = open.length - 1; i >= 0; i--) {
      const slab = open[i];
      if (slab.buf.length - slab.used >= min) {
        open[i] = open[open.length - 1];
        open.pop();
        return slab;
      }
    }
    return new SlabLease(Buffer.allocUnsafeSlow(this.size));
  }

  /**
   * Takes a lease back: `slab.buf[0..used)` stays as it is for good (views of
   * it live on); the rest may be lent again when it is worth it (`minFree` bytes or more).
   */
  release(slab: SlabLease, used: number, minFree: number): void {
    // Pieces start on 8-byte boundaries, which keeps msgpackr's float reads aligned.
    slab.used = Math.min(slab.buf.length, (used + 7) & ~7);
    if (slab.buf.length - slab.used >= minFree && this._open.length < MAX_OPEN_SLABS) this._open.push(slab);
  }
}
