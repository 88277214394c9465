import { RpcError, RpcErrorCode } from '../errors';

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

function frameLengthError(length: number, maxFrameBytes: number): RpcError {
  return length === 0
    ? new RpcError(
        RpcErrorCode.BAD_MESSAGE,
        'frame with length 0: every frame holds one MessagePack value of at least one byte',
      )
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
