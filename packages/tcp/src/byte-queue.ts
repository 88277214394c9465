/**
 * Bytes received but not yet asked for, kept as the chunks they arrived in.
 *
 * A ring of chunk references plus a read offset into the head chunk: pushing
 * never copies, reading copies straight into the caller's buffer, and nothing
 * shifts an array on the hot path. Empty until the first chunk arrives, so an idle
 * connection holds no buffer at all.
 * @internal
 */
export class ByteQueue {
  /** Bytes held. */
  length = 0;
  /**
   * Bytes consumed or dropped since the queue was made: while it stays the
   * same, the bytes held are the ones held before, with more perhaps pushed
   * after them, so a search of them need not be done again.
   */
  taken = 0;
  private ring: Buffer[] = [];
  private head = 0;
  private count = 0;
  private offset = 0;
  /** A DataView of the head chunk, for takeThrough's word-at-a-time scan; made when first needed. */
  private view: DataView | null = null;
  private viewOf: Buffer | null = null;

  push(chunk: Buffer): void {
    let ring = this.ring;
    if (this.count === ring.length) {
      ring = this.grow();
    }
    ring[(this.head + this.count) & (ring.length - 1)] = chunk;
    this.count++;
    this.length += chunk.length;
  }

  /**
   * Moves `n` bytes (`n <= length`) into `dst[0..n)`, consuming them.
   * Returns `n`.
   */
  read(dst: Uint8Array, n: number): number {
    const head = this.ring[this.head];
    const offset = this.offset;
    if (this.count > 0 && n < head.length - offset) {
      // Within the head chunk, which stays: the common case of short messages.
      copyBytes(head, offset, dst, 0, n);
      this.offset = offset + n;
      this.length -= n;
      this.taken += n;
      return n;
    }
    let copied = 0;
    while (copied < n) {
      const chunk = this.ring[this.head];
      const available = chunk.length - this.offset;
      const take = Math.min(available, n - copied);
      copyBytes(chunk, this.offset, dst, copied, take);
      copied += take;
      if (take === available) {
        this.dropHead();
      } else {
        this.offset += take;
      }
    }
    this.length -= n;
    this.taken += n;
    return n;
  }

  /**
   * recvUntil's path for short lines: copies the first bytes of the head
   * chunk into `dst` while looking for `delim`, one pass over at most `limit`
   * bytes, and consumes them if it ends there. Returns the count through the
   * delimiter, or `-k` when no delimiter ends within the first `k` bytes held
   * (they stay, and a search can go on from where this one stopped).
   * For a short line this is one loop instead of a search and then a copy.
   */
  takeThrough(dst: Uint8Array, delim: Uint8Array, limit: number): number {
    if (this.count === 0) return 0;
    const head = this.ring[this.head];
    const offset = this.offset;
    const inHead = head.length - offset;
    const stop = inHead < limit ? inHead : limit;
    const dlen = delim.length;
    const last = delim[dlen - 1];
    if (dlen === 1) {
      // A one-byte delimiter, such as a line's `\n`. Four bytes at a time
      // while none of them is the delimiter (one load and one test instead of
      // four), then byte by byte up to it.
      let j = 0;
      if (stop >= 8) {
        const view = this.headView(head);
        const pattern = Math.imul(last, 0x01010101);
        for (const stop4 = stop - 4; j <= stop4; j += 4) {
          const w = view.getInt32(offset + j, true);
          const x = w ^ pattern;
          // Whether a byte of x is zero, that is, a byte of w is the delimiter.
          if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
          dst[j] = w;
          dst[j + 1] = w >> 8;
          dst[j + 2] = w >> 16;
          dst[j + 3] = w >> 24;
        }
      }
      while (j < stop) {
        const b = head[offset + j];
        dst[j++] = b;
        if (b === last) return this.consumeHead(j, inHead);
      }
      return -stop;
    }
    for (let j = 0; j < stop;) {
      const b = head[offset + j];
      dst[j++] = b;
      if (b === last && j >= dlen && endsWith(dst, j, delim)) return this.consumeHead(j, inHead);
    }
    return -stop;
  }

  /** A DataView of `head`, the head chunk: made once per chunk. */
  private headView(head: Buffer): DataView {
    if (this.viewOf !== head) {
      this.viewOf = head;
      this.view = new DataView(head.buffer, head.byteOffset, head.length);
    }
    return this.view!;
  }

  /** Consumes the first `n` bytes of the head chunk, which holds `inHead` unread; returns `n`. */
  private consumeHead(n: number, inHead: number): number {
    this.length -= n;
    this.taken += n;
    if (n < inHead) this.offset += n;
    else this.dropHead();
    return n;
  }

  /**
   * Where `delim` first starts at or after `from` and ends by `end` (both
   * offsets into what is held, `end <= length`), or `-1`. Callers that search
   * again after more bytes came pass the first start not yet ruled out, so no
   * byte is searched twice.
   */
  indexOf(delim: Uint8Array, from: number, end: number): number {
    const dlen = delim.length;
    const lastStart = end - dlen;
    if (from > lastStart) return -1;
    const first = delim[0];
    if (dlen === 1) {
      // A single byte found in the head chunk: the common case of line protocols.
      const head = this.ring[this.head];
      const inHead = head.length - this.offset;
      if (from < inHead) {
        const k = head.indexOf(first, this.offset + from);
        if (k !== -1 && k - this.offset <= lastStart) return k - this.offset;
        if (end <= inHead) return -1;
        // Not in the head chunk: the loop below goes on from the next one.
        from = inHead;
      }
    }
    const ring = this.ring;
    const mask = ring.length - 1;
    // `base`: the offset of the current chunk's byte 0 (the head chunk's bytes before `offset` are gone).
    let base = -this.offset;
    for (let i = 0; i < this.count && base <= lastStart; i++) {
      const chunk = ring[(this.head + i) & mask];
      const chunkEnd = base + chunk.length;
      let at = from > base ? from - base : i === 0 ? this.offset : 0;
      while (base + at <= lastStart && at < chunk.length) {
        const k = chunk.indexOf(first, at);
        if (k === -1 || base + k > lastStart) break;
        if (dlen === 1 || this._matches(delim, i, k)) return base + k;
        at = k + 1;
      }
      base = chunkEnd;
    }
    return -1;
  }

  /** Whether `delim` stands at byte `k` of the `i`-th chunk held, running on into the next chunks. */
  private _matches(delim: Uint8Array, i: number, k: number): boolean {
    const ring = this.ring;
    const mask = ring.length - 1;
    let chunk = ring[(this.head + i) & mask];
    let at = k;
    for (let j = 0; j < delim.length; j++, at++) {
      while (at >= chunk.length) {
        i++;
        if (i >= this.count) return false;
        chunk = ring[(this.head + i) & mask];
        at = 0;
      }
      if (chunk[at] !== delim[j]) return false;
    }
    return true;
  }

  /** Lets go of the head chunk, every byte of it read. */
  private dropHead(): void {
    this.ring[this.head] = EMPTY;
    this.view = this.viewOf = null;
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.count--;
    this.offset = 0;
  }

  /** Drops everything held (the connection is gone). */
  clear(): void {
    this.taken += this.length;
    this.view = this.viewOf = null;
    this.ring = [];
    this.head = this.count = this.offset = this.length = 0;
  }

  private grow(): Buffer[] {
    const old = this.ring;
    const size = old.length === 0 ? 4 : old.length * 2;
    const ring = new Array<Buffer>(size);
    for (let i = 0; i < this.count; i++) {
      ring[i] = old[(this.head + i) & (old.length - 1)];
    }
    for (let i = this.count; i < size; i++) ring[i] = EMPTY;
    this.ring = ring;
    this.head = 0;
    return ring;
  }
}

const EMPTY = Buffer.alloc(0);

/** Whether `buf[0..end)` ends with `delim` (`end >= delim.length`). */
function endsWith(buf: Uint8Array, end: number, delim: Uint8Array): boolean {
  const start = end - delim.length;
  for (let i = 0; i < delim.length - 1; i++) if (buf[start + i] !== delim[i]) return false;
  return true;
}

/**
 * `dst[dstStart..) = src[srcStart..srcStart+len)`. Small messages are the
 * common case of request/response protocols, and for them a plain loop beats
 * `Buffer#copy`/`set`, which first make a view object. @internal
 */
export function copyBytes(src: Uint8Array, srcStart: number, dst: Uint8Array, dstStart: number, len: number): void {
  if (len <= 48) {
    for (let i = 0; i < len; i++) dst[dstStart + i] = src[srcStart + i];
  } else if (srcStart === 0 && len === src.length) {
    dst.set(src, dstStart);
  } else {
    dst.set(src.subarray(srcStart, srcStart + len), dstStart);
  }
}
