import { RpcError, RpcErrorCode } from './errors';

/** Bytes of the length header in front of every frame. */
export const FRAME_HEADER_BYTES = 4;

/** Default bound on a frame's body: 4 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Smallest `maxFrameBytes` accepted: room for any error response this package sends. @internal */
export const MIN_MAX_FRAME_BYTES = 64;

/** Largest `maxFrameBytes` the 32-bit length header can state. @internal */
export const MAX_MAX_FRAME_BYTES = 0xffff_ffff;

/**
 * Reads the 4-byte big-endian length at `header[offset..offset+4)` and checks
 * it against `1 <= L <= maxFrameBytes`, before anyone allocates `L` bytes.
 *
 * @returns the body length `L`.
 * @throws RpcError `BAD_MESSAGE` for `L = 0`, `FRAME_TOO_LARGE` for `L > maxFrameBytes`.
 */
export function readFrameLength(header: Uint8Array, offset: number, maxFrameBytes: number): number {
  const length =
    header[offset] * 0x100_0000 + ((header[offset + 1] << 16) | (header[offset + 2] << 8) | header[offset + 3]);
  if (length === 0 || length > maxFrameBytes) throw frameLengthError(length, maxFrameBytes);
  return length;
}

/** The error for a length header out of range. @internal */
export function frameLengthError(length: number, maxFrameBytes: number): RpcError {
  return length === 0
    ? new RpcError(RpcErrorCode.BAD_MESSAGE, 'frame with length 0: every frame holds one MessagePack value of at least one byte')
    : new RpcError(
        RpcErrorCode.FRAME_TOO_LARGE,
        `frame of ${length} bytes is larger than maxFrameBytes (${maxFrameBytes})`,
      );
}

/** Writes `length` as the 4-byte big-endian header at `buf[offset..offset+4)`. */
export function writeFrameLength(buf: Uint8Array, offset: number, length: number): void {
  buf[offset] = length >>> 24;
  buf[offset + 1] = (length >>> 16) & 0xff;
  buf[offset + 2] = (length >>> 8) & 0xff;
  buf[offset + 3] = length & 0xff;
}

/**
 * Called for each complete frame: its body is `bytes[start..end)`. When
 * `bytes` is the chunk given to `push`, the view is valid only during the call
 * (the caller may overwrite the chunk afterwards); otherwise `bytes` is a
 * buffer of the frame's own.
 */
export type FrameHandler = (bytes: Uint8Array, start: number, end: number) => void;

/**
 * Splits a byte stream into frames: a synchronous state machine over the
 * chunks as they arrive (STYLE.md 5).
 *
 * A frame that lies inside one chunk is handed out as a view of that chunk,
 * with no copy. Only a frame that spans chunks is copied, into a buffer of
 * exactly its length, allocated once its header has been checked; that buffer
 * is the frame's own (`bytes` is then not the chunk), and the handler may keep
 * it. The decoder keeps no reference to a chunk after {@link FrameDecoder.push}
 * returns, so the caller may reuse its read buffer.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder(4 * 1024 * 1024);
 * socket.on('data', (chunk) => decoder.push(chunk, 0, chunk.length, (bytes, start, end) => {
 *   const message = unpack(bytes.subarray(start, end));
 * }));
 * ```
 */
export class FrameDecoder {
  /** Bound on a frame's body; a larger length header is an error. */
  readonly maxFrameBytes: number;
  /** Header bytes of the next frame gathered so far (0 to 3 between pushes). */
  private _headerHave = 0;
  private readonly _header = new Uint8Array(FRAME_HEADER_BYTES);
  /** The body being gathered across chunks, or `null` while reading a header. */
  private _body: Buffer | null = null;
  private _bodyHave = 0;
  /** Set once a bad header was seen: the stream cannot be resynchronised. */
  private _failed: RpcError | null = null;

  /** @param maxFrameBytes - bound on a frame's body, checked before any allocation. */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_MAX_FRAME_BYTES) {
      throw new RangeError(`maxFrameBytes must be an integer from 1 to ${MAX_MAX_FRAME_BYTES}, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held of a frame not yet complete (header and body). */
  get buffered(): number {
    return this._body === null ? this._headerHave : FRAME_HEADER_BYTES + this._bodyHave;
  }

  /**
   * Feeds `chunk[start..end)`; calls `onFrame` for every frame it completes,
   * in order. `onFrame` must not throw.
   *
   * @throws RpcError `FRAME_TOO_LARGE` or `BAD_MESSAGE` for a length header out
   *   of range. The frames before it in the chunk have been handed out; the
   *   decoder then refuses further input, since the stream has lost its framing.
   */
  push(chunk: Uint8Array, start: number, end: number, onFrame: FrameHandler): void {
    if (this._failed !== null) throw this._failed;
    const max = this.maxFrameBytes;
    let pos = start;
    // Finish the frame the previous chunks left open.
    if (this._body !== null) {
      pos = this._fillBody(chunk, pos, end, onFrame);
    } else if (this._headerHave > 0) {
      pos = this._fillHeader(chunk, pos, end);
      if (this._body !== null) pos = this._fillBody(chunk, pos, end, onFrame);
    }
    // Frames wholly inside this chunk: views, no copy.
    while (end - pos >= FRAME_HEADER_BYTES && this._body === null) {
      const length = this._checkedLength(chunk, pos, max);
      const bodyStart = pos + FRAME_HEADER_BYTES;
      if (end - bodyStart >= length) {
        pos = bodyStart + length;
        onFrame(chunk, bodyStart, pos);
      } else {
        this._body = Buffer.allocUnsafe(length);
        this._bodyHave = 0;
        pos = this._fillBody(chunk, bodyStart, end, onFrame);
      }
    }
    // Fewer than 4 bytes of a header left: keep them.
    if (pos < end && this._body === null) this._fillHeader(chunk, pos, end);
  }

  /** Copies header bytes; once all 4 are in, checks them and opens the body. */
  private _fillHeader(chunk: Uint8Array, pos: number, end: number): number {
    const header = this._header;
    while (this._headerHave < FRAME_HEADER_BYTES && pos < end) header[this._headerHave++] = chunk[pos++];
    if (this._headerHave === FRAME_HEADER_BYTES) {
      const length = this._checkedLength(header, 0, this.maxFrameBytes);
      this._headerHave = 0;
      this._body = Buffer.allocUnsafe(length);
      this._bodyHave = 0;
    }
    return pos;
  }

  /** Copies body bytes into the open body; hands the frame out when complete. */
  private _fillBody(chunk: Uint8Array, pos: number, end: number, onFrame: FrameHandler): number {
    const body = this._body!;
    const take = Math.min(body.length - this._bodyHave, end - pos);
    body.set(chunk.subarray(pos, pos + take), this._bodyHave);
    this._bodyHave += take;
    if (this._bodyHave === body.length) {
      this._body = null;
      this._bodyHave = 0;
      onFrame(body, 0, body.length);
    }
    return pos + take;
  }

  private _checkedLength(bytes: Uint8Array, offset: number, max: number): number {
    try {
      return readFrameLength(bytes, offset, max);
    } catch (err) {
      this._failed = err as RpcError;
      this._body = null;
      this._headerHave = 0;
      throw err;
    }
  }
}
