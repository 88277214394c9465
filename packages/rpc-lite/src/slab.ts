/**
 * Memory for incoming frames, handed out in consecutive pieces of a larger
 * buffer that is never written twice (Node's own Buffer pool, for frames).
 *
 * Binary values decoded from a frame are views of its bytes, so those bytes
 * must never be overwritten; giving each frame a fresh allocation would cost
 * an allocation per frame, and msgpackr would also build a new `DataView` for
 * every new buffer it decodes. Pieces of one slab share one buffer, hence one
 * `DataView`. A slab is replaced once full; the old one lives on as long as
 * some view of it does. A frame larger than half a slab gets a buffer of its own.
 * @internal
 */
export class Slab {
  /** After {@link Slab.reserve}: the buffer holding the piece. */
  buf: Buffer;
  /** After {@link Slab.reserve}: where the piece starts in {@link Slab.buf}. */
  offset = 0;
  private _current: Buffer | null = null;
  private _used = 0;

  /** @param size - bytes per slab. */
  constructor(private readonly _size: number) {
    this.buf = EMPTY;
  }

  /** Bytes left in the current slab. */
  get free(): number {
    return this._current === null ? 0 : this._current.length - this._used;
  }

  /** Sets {@link Slab.buf} and {@link Slab.offset} to a piece of `n` bytes that nobody else gets. */
  reserve(n: number): void {
    if (n > this._size >>> 1) {
      this.buf = Buffer.allocUnsafeSlow(n);
      this.offset = 0;
      return;
    }
    let slab = this._current;
    if (slab === null || slab.length - this._used < n) {
      slab = this._current = Buffer.allocUnsafeSlow(this._size);
      this._used = 0;
    }
    this.buf = slab;
    this.offset = this._used;
    // Pieces start on 8-byte boundaries, which keeps msgpackr's float reads aligned.
    this._used = Math.min(slab.length, (this._used + n + 7) & ~7);
  }

  /**
   * Sets {@link Slab.buf}/{@link Slab.offset} to what is left of the current
   * slab, starting a new one when less than `min` bytes are left; the piece
   * is `free` bytes long. Then {@link Slab.commit} says how much was used.
   */
  reserveRest(min: number): number {
    if (this.free < min) {
      this._current = Buffer.allocUnsafeSlow(this._size);
      this._used = 0;
    }
    this.buf = this._current!;
    this.offset = this._used;
    return this._current!.length - this._used;
  }

  /** After {@link Slab.reserveRest}: `n` bytes of the piece were used. */
  commit(n: number): void {
    this._used = Math.min(this._current!.length, (this._used + n + 7) & ~7);
  }
}

const EMPTY = Buffer.alloc(0);
