import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES } from './frame-header';
import { FrameReader, SLAB_BYTES } from './frame-reader';
import { SlabPool } from './slab-pool';

/**
 * Called for each complete frame: its body is `bytes[start..end)`. When
 * `bytes` is the chunk given to `push`, the view is valid only during the call
 * (the caller may overwrite the chunk afterwards); otherwise `bytes` is memory
 * of the decoder's own that is never written again, and the handler may keep it.
 */
export type FrameHandler = (bytes: Uint8Array, start: number, end: number) => void;

/**
 * Splits a byte stream into frames, for a caller that has the bytes in chunks
 * (a `'data'` listener): the frame reader of `RpcClient` and `RpcServer`, fed
 * by `push` instead of by reads of its own.
 *
 * A frame that lies inside one chunk is handed out as a view of that chunk,
 * with no copy. Only a frame that spans chunks is copied, into memory of the
 * decoder's own, once its header has been checked; a large one into a buffer
 * that grows as its bytes arrive. The decoder keeps no reference to a chunk
 * after {@link FrameDecoder.push} returns, so the caller may reuse its read buffer.
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
  private readonly _reader: FrameReader;

  /** @param maxFrameBytes - bound on a frame's body, checked before any allocation. Default 4 MiB. */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > MAX_MAX_FRAME_BYTES) {
      throw new RangeError(`maxFrameBytes must be an integer from 1 to ${MAX_MAX_FRAME_BYTES}, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
    this._reader = new FrameReader(maxFrameBytes, new SlabPool(SLAB_BYTES), 'slab');
  }

  /** Bytes held of a frame not yet complete (header and body). */
  get buffered(): number {
    return this._reader.buffered;
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
    const reader = this._reader;
    reader.throwIfFailed();
    let pos = start;
    // Finish the frame the previous chunks left open.
    while (pos < end && reader.buffered > 0) {
      pos += reader.append(chunk, pos, end);
      if (reader.next()) onFrame(reader.bytes, reader.start, reader.end);
    }
    if (pos === end) return;
    // Frames wholly inside this chunk: views, no copy. The rest is kept.
    reader.view(chunk, pos, end);
    try {
      while (reader.next()) onFrame(reader.bytes, reader.start, reader.end);
    } finally {
      reader.keep();
    }
  }
}
