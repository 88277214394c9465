import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr';
import { BadMessageError, RpcError, RpcErrorCode } from '../errors';
import { DEFAULT_MAX_FRAME_BYTES } from './frame-header';
import { MessageType, checkMessage, type Message } from './message';

/** Where a peer is, for the errors about it. @internal */
export interface PeerAddress {
  address?: string;
  port?: number;
}

/**
 * Encoder and decoder for the messages of one server or client, made once and
 * reused for every message (msgpackr keeps its scratch memory between calls).
 * It writes whole messages only: a request, a notification, a response with
 * its result, an error response; each within `maxFrameBytes`.
 *
 * Settings chosen for peers in other languages: plain MessagePack maps (no
 * msgpackr records), `undefined` sent as nil, 64-bit integers read as numbers
 * when they fit in 53 bits. Binary values are decoded as views of the frame
 * (no copy): {@link MessageCodec.decode} must be given bytes that nobody
 * overwrites afterwards.
 *
 * Every `encode*` returns a view of msgpackr's scratch memory: copy it (the
 * frame writer does) before the next `encode*`.
 *
 * @internal
 */
export class MessageCodec {
  private readonly _packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
  private readonly _unpackr = new Unpackr({
    useRecords: false,
    mapsAsObjects: true,
    // 'auto' (a number when it fits in 53 bits, else a BigInt) is in msgpackr 2.1 but not in its typings.
    int64AsType: 'auto' as 'number',
  });
  private readonly _range = { start: 0, end: 0 };
  /**
   * The code of the error response the latest {@link MessageCodec.encodeResult}
   * made instead of the result (`HANDLER_ERROR`, `FRAME_TOO_LARGE`); set only
   * then, so a caller that wants to know resets it first (tracing does).
   */
  resultFailure: string | null = null;

  /** @param maxFrameBytes - the largest message body this side sends (and reads). */
  constructor(readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /**
   * Encodes one value, whatever its size.
   * @throws Error when the value has no MessagePack form.
   */
  encode(value: unknown): Uint8Array {
    // msgpackr's scratch buffer itself, with the bounds of this value on it; the
    // next encode writes over the same bytes (no view allocated, memory reused).
    const target = this._packr.pack(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & {
      start: number;
      end: number;
    };
    return new Uint8Array(target.buffer, target.byteOffset + target.start, target.end - target.start);
  }

  /**
   * Decodes `bytes[start..end)` as exactly one MessagePack value and checks
   * that it is a well-formed message. Binary values in it are views of
   * `bytes`, so `bytes` must not be reused afterwards.
   *
   * @throws BadMessageError otherwise, with the msgid when one could be read.
   */
  decode(bytes: Uint8Array, start: number, end: number): Message {
    let value: unknown;
    try {
      const range = this._range;
      range.start = start;
      range.end = end;
      value = this._unpackr.unpack(bytes, range);
    } catch (err) {
      throw new BadMessageError(`frame is not one MessagePack value: ${messageOf(err)}`, undefined, undefined, err);
    }
    return checkMessage(value);
  }

  /**
   * A request (`msgid` a number) or a notification (`msgid` `null`), or the
   * local error that says why it cannot be sent: `BAD_MESSAGE` when `params`
   * has no MessagePack form, `FRAME_TOO_LARGE` when it is over `maxFrameBytes`.
   */
  encodeCall(msgid: number | null, method: string, params: unknown): Uint8Array | RpcError {
    let bytes: Uint8Array;
    try {
      bytes = this.encode(
        msgid === null ? [MessageType.NOTIFICATION, method, params] : [MessageType.REQUEST, msgid, method, params],
      );
    } catch (err) {
      return new RpcError(
        RpcErrorCode.BAD_MESSAGE,
        `the params of "${method}" cannot be encoded as MessagePack: ${messageOf(err)}`,
        {
          method,
          cause: err,
        },
      );
    }
    if (bytes.length > this.maxFrameBytes) {
      return new RpcError(
        RpcErrorCode.FRAME_TOO_LARGE,
        `the message for "${method}" is ${bytes.length} bytes, more than maxFrameBytes (${this.maxFrameBytes}); nothing was sent`,
        { method },
      );
    }
    return bytes;
  }

  /**
   * The response carrying `result`; when `result` has no MessagePack form or
   * is over `maxFrameBytes`, the error response that says so instead
   * (`HANDLER_ERROR`, `FRAME_TOO_LARGE`).
   */
  encodeResult(msgid: number, result: unknown): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = this.encode([MessageType.RESPONSE, msgid, null, result]);
    } catch (err) {
      this.resultFailure = RpcErrorCode.HANDLER_ERROR;
      return this.encodeError(
        msgid,
        RpcErrorCode.HANDLER_ERROR,
        `the result cannot be encoded as MessagePack: ${messageOf(err)}`,
      );
    }
    if (bytes.length > this.maxFrameBytes) {
      this.resultFailure = RpcErrorCode.FRAME_TOO_LARGE;
      return this.encodeError(
        msgid,
        RpcErrorCode.FRAME_TOO_LARGE,
        `the response of ${bytes.length} bytes is larger than maxFrameBytes (${this.maxFrameBytes})`,
      );
    }
    return bytes;
  }

  /** The error response for what a handler threw (see {@link toWireError}). */
  encodeThrown(msgid: number, thrown: unknown): Uint8Array {
    const wire = toWireError(thrown);
    return this.encodeError(msgid, wire.code, wire.message);
  }

  /**
   * The error response `[1, msgid, { code, message }, nil]`, always within
   * `maxFrameBytes` (at least 64): a message too long for a frame is replaced
   * by a short one, keeping the code.
   */
  encodeError(msgid: number, code: string, message: string): Uint8Array {
    const max = this.maxFrameBytes;
    let bytes = this.encode([MessageType.RESPONSE, msgid, { code, message }, null]);
    if (bytes.length > max) {
      bytes = this.encode([MessageType.RESPONSE, msgid, { code, message: 'error message too long for a frame' }, null]);
      if (bytes.length > max)
        bytes = this.encode([MessageType.RESPONSE, msgid, { code: RpcErrorCode.HANDLER_ERROR, message: '' }, null]);
    }
    return bytes;
  }
}

/**
 * What goes on the wire for a handler's failure: its own string `code` if it
 * has one, else `HANDLER_ERROR`; its message; never its stack. @internal
 */
export function toWireError(err: unknown): { code: string; message: string } {
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' && e.code !== '' ? e.code : RpcErrorCode.HANDLER_ERROR;
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error object: its own toString, or [object Object]
    const message = typeof e.message === 'string' ? e.message : String(err);
    return { code, message };
  }
  return { code: RpcErrorCode.HANDLER_ERROR, message: String(err) };
}

/** The {@link RpcError} (`remote: true`) a response's `error` field stands for. @internal */
export function fromWireError(error: unknown, method: string, where: PeerAddress): RpcError {
  let code: string = RpcErrorCode.HANDLER_ERROR;
  let message: string;
  if (error !== null && typeof error === 'object' && !Array.isArray(error)) {
    const e = error as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string' && e.code !== '') code = e.code;
    message = typeof e.message === 'string' ? e.message : 'the server reported an error without a message';
  } else {
    // A peer in another language may send a bare string (or anything else) as the error.
    message = typeof error === 'string' ? error : `the server reported an error: ${safeString(error)}`;
  }
  return new RpcError(code, message, { method, remote: true, address: where.address, port: where.port });
}

/** The message of a caught value, for an error message of ours. @internal */
export function messageOf(err: unknown): string {
  // Not `instanceof Error`: an error from another realm (a vm context) has a message too.
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
