import type { RpcError } from '../errors';
import { FRAME_HEADER_BYTES, readFrameLength } from './frame-header';
import type { SlabLease, SlabPool } from './slab-pool';

/** What a {@link FrameReader} reads from: `@proj/tcp`'s `Connection` or `Client`. @internal */
export interface FrameSource {
  recv(buf: Uint8Array, n: number): Promise<number>;
  recvn(buf: Uint8Array, n: number): Promise<number>;
}

/** Bytes per slab of incoming frames. @internal */
export const SLAB_BYTES = 64 * 1024;
/** A read into a slab has room for at least this many bytes: a slab with less left is not leased. */
const MIN_READ_BYTES = 16 * 1024;
/** A frame larger than this is gathered in a buffer of its own, which grows as its bytes arrive. */
const LARGE_FRAME_BYTES = SLAB_BYTES / 2;
/** First size of such a buffer. */
const FIRST_LARGE_BYTES = 64 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * What a {@link FrameReader} reads into when it holds nothing (no partial frame):
 * - `'header'`: the next header, with `recvn` into 4 bytes of its own, so that
 *   an idle connection holds no slab (a server, with many connections mostly idle);
 * - `'slab'`: the rest of its slab, as it does mid-frame, so that the bytes
 *   that come are copied once, straight into it (a client, with few connections).
 * @internal
 */
export type IdleRead = 'header' | 'slab';

/**
 * The frame reader of both sides, client and server: a synchronous state
 * machine over the bytes received ({@link FrameReader.next}), with no promise per frame, and
 * the read that brings more ({@link FrameReader.fill}).
 *
 * Bytes are read into a slab leased from a {@link SlabPool}, as many as are
 * waiting, so that one `await` brings every frame that has come. A frame that
 * lies inside what was read is handed out as a view, with no copy; a frame cut
 * by the end of a slab is moved, once, to a slab with room for all of it.
 * Slab bytes are never written twice, so the views (and the binary values
 * msgpackr decodes as views of them) stay valid.
 *
 * Memory against a hostile peer: the length is checked before anything is
 * allocated for the frame; a frame over half a slab is gathered in a buffer
 * that grows (doubling) as its bytes arrive, so announcing a large frame and
 * sending little holds little. With nothing received, a reader in `'header'`
 * mode waits for the next header in 4 bytes of its own, holding no slab: an
 * idle connection costs nothing (see {@link IdleRead}).
 *
 * `FrameDecoder` feeds the same state machine from chunks it is given
 * ({@link FrameReader.view}, {@link FrameReader.append}, {@link FrameReader.keep}).
 * @internal
 */
export class FrameReader {
  /** After {@link FrameReader.next} returned `true`: the frame's body is `bytes[start..end)`. */
  bytes: Uint8Array = EMPTY;
  /** See {@link FrameReader.bytes}. */
  start = 0;
  /** See {@link FrameReader.bytes}. */
  end = 0;
  /** Bound on a frame's body; a larger length header is an error. */
  readonly maxFrameBytes: number;
  private readonly _slabs: SlabPool;
  private readonly _header = new Uint8Array(FRAME_HEADER_BYTES);
  /** Bytes received and not handed out yet are `_buf[_pos.._end)`; more may be written up to `_cap`. */
  private _buf: Uint8Array = EMPTY;
  private _pos = 0;
  private _end = 0;
  private _cap = 0;
  /** The slab `_buf` is, while this reader holds it. */
  private _lease: SlabLease | null = null;
  /** `_buf` is a large frame's own buffer (it grows) rather than a slab or a caller's chunk. */
  private _growable = false;
  /** Body length of the frame whose header has been read (its body starts at `_pos`), or -1. */
  private _bodyLength = -1;
  /** Set once a bad length was seen: the stream cannot be resynchronised. */
  private _failed: RpcError | null = null;
  private readonly _idleHeader: boolean;

  /**
   * @param maxFrameBytes - bound on a frame's body, checked before any allocation.
   * @param slabs - where frames are read to; shared by the readers of a server or a client.
   * @param idle - what {@link FrameReader.fill} reads into when nothing is held; see {@link IdleRead}.
   */
  constructor(maxFrameBytes: number, slabs: SlabPool, idle: IdleRead) {
    this.maxFrameBytes = maxFrameBytes;
    this._slabs = slabs;
    this._idleHeader = idle === 'header';
  }

  /** Bytes held of a frame not yet complete (header and body). */
  get buffered(): number {
    const have = this._end - this._pos;
    return this._bodyLength < 0 ? have : FRAME_HEADER_BYTES + have;
  }

  /**
   * Takes the next complete frame out of what has been received, setting
   * {@link FrameReader.bytes}, `start` and `end`; `false` when more bytes are needed.
   *
   * @throws RpcError `FRAME_TOO_LARGE` or `BAD_MESSAGE` for a length header out
   *   of range; the reader then refuses further input, since the stream has lost its framing.
   */
  next(): boolean {
    let length = this._bodyLength;
    let pos = this._pos;
    if (length < 0) {
      if (this._end - pos < FRAME_HEADER_BYTES) return false;
      length = this._bodyLength = this._checkedLength(this._buf, pos);
      this._pos = pos += FRAME_HEADER_BYTES;
    }
    if (this._end - pos < length) return false;
    this.bytes = this._buf;
    this.start = pos;
    this.end = this._pos = pos + length;
    this._bodyLength = -1;
    return true;
  }

  /**
   * Reads more bytes from `source`; call it once {@link FrameReader.next} has
   * returned `false`. Resolves with what `recv` returned: `> 0` bytes came,
   * `0` the peer closed, `< 0` a failure (see the source's `lastError`).
   *
   * @throws RpcError (as a rejection) for a bad length header, as `next`.
   */
  async fill(source: FrameSource): Promise<number> {
    this.throwIfFailed();
    if (this._idleHeader && this._end === this._pos && this._bodyLength < 0) {
      // Nothing held: the next header goes into 4 bytes of our own, so an idle
      // connection holds no slab, and the length is checked before anything else.
      this._drop();
      const n = await source.recvn(this._header, FRAME_HEADER_BYTES);
      if (n !== FRAME_HEADER_BYTES) return n;
      this._bodyLength = this._checkedLength(this._header, 0);
    }
    this._makeRoom();
    const buf = this._buf;
    const at = this._end;
    const room = this._cap - at;
    const n = await source.recv(new Uint8Array(buf.buffer, buf.byteOffset + at, room), room);
    if (n > 0) this._end = at + n;
    return n;
  }

  /**
   * Makes `chunk[start..end)` the bytes to read frames from, without a copy:
   * frames inside it are handed out as views of it. Only when nothing is held
   * ({@link FrameReader.buffered} is 0). Call {@link FrameReader.keep} before
   * the caller reuses `chunk`.
   */
  view(chunk: Uint8Array, start: number, end: number): void {
    this.throwIfFailed();
    this._drop();
    this._buf = chunk;
    this._pos = start;
    this._end = this._cap = end;
  }

  /** After {@link FrameReader.view}: copies what is left of a frame into the reader's own memory, and lets go of the chunk. */
  keep(): void {
    if (this._end > this._pos) this._makeRoom();
    else this._drop();
  }

  /**
   * Copies from `chunk[start..end)` the bytes that the frame being gathered
   * still lacks (no more), into the reader's own memory. Returns how many it took.
   */
  append(chunk: Uint8Array, start: number, end: number): number {
    this.throwIfFailed();
    this._makeRoom();
    const missing = (this._bodyLength < 0 ? FRAME_HEADER_BYTES : this._bodyLength) - (this._end - this._pos);
    const take = Math.min(missing, end - start, this._cap - this._end);
    this._buf.set(chunk.subarray(start, start + take), this._end);
    this._end += take;
    return take;
  }

  /** Gives back the slab held, if any: the reader is done with. */
  close(): void {
    this._drop();
  }

  /** @throws RpcError the bad length seen earlier, if any. */
  throwIfFailed(): void {
    if (this._failed !== null) throw this._failed;
  }

  /**
   * Makes sure that the bytes still to come of the frame being gathered (or of
   * its header) have room after `_end`, moving what is held of it elsewhere
   * when they do not: to a slab with room for the whole frame, or, for a large
   * frame, to a buffer of its own twice as large as what has come (or the
   * frame's size, if less). Between frames, a slab with less than
   * `MIN_READ_BYTES` left is swapped for one with more.
   */
  private _makeRoom(): void {
    const need = this._bodyLength < 0 ? FRAME_HEADER_BYTES : this._bodyLength;
    const have = this._end - this._pos;
    const room = this._cap - this._end;
    if (
      this._growable
        ? room > 0
        : this._pos + need <= this._cap && (have > 0 || this._bodyLength >= 0 || room >= MIN_READ_BYTES)
    )
      return;
    let lease: SlabLease | null = null;
    let buf: Uint8Array;
    let at = 0;
    if (need <= LARGE_FRAME_BYTES) {
      lease = this._slabs.lease(Math.max(need, MIN_READ_BYTES));
      buf = lease.buf;
      at = lease.used;
    } else {
      buf = Buffer.allocUnsafeSlow(Math.min(need, Math.max(FIRST_LARGE_BYTES, 2 * have)));
    }
    if (have > 0) buf.set(this._buf.subarray(this._pos, this._end), at);
    this._giveBack();
    this._lease = lease;
    this._growable = lease === null;
    this._buf = buf;
    this._pos = at;
    this._end = at + have;
    this._cap = buf.length;
  }

  /** Lets go of the bytes held (all handed out or copied): the slab goes back, the chunk or buffer is dropped. */
  private _drop(): void {
    this._giveBack();
    this._growable = false;
    this._buf = EMPTY;
    this._pos = this._end = this._cap = 0;
  }

  private _giveBack(): void {
    if (this._lease !== null) {
      // What lies before _pos was handed out as views; what follows was copied away or is unused.
      this._slabs.release(this._lease, this._pos, MIN_READ_BYTES);
      this._lease = null;
    }
  }

  private _checkedLength(bytes: Uint8Array, offset: number): number {
    try {
      return readFrameLength(bytes, offset, this.maxFrameBytes);
    } catch (err) {
      this._failed = err as RpcError;
      this._bodyLength = -1;
      this._drop();
      throw err;
    }
  }
}
