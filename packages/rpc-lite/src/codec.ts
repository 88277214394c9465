import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr';
import { BadMessageError, RpcError, RpcErrorCode } from './errors';
import { checkMessage, type Message } from './message';

/**
 * Encoder and decoder for messages, made once per server or client and
 * reused for every message (msgpackr keeps its scratch memory between calls).
 *
 * Settings chosen for peers in other languages: plain MessagePack maps (no
 * msgpackr records), `undefined` sent as nil, 64-bit integers read as numbers
 * when they fit in 53 bits. Binary values are decoded as views of the frame
 * (no copy): {@link MessageCodec.decode} must be given bytes that nobody
 * overwrites afterwards.
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
   * Encodes one value. The bytes are a view of msgpackr's scratch memory:
   * copy them before the next `encode`.
   * @throws Error when the value has no MessagePack form.
   */
  encode(value: unknown): Uint8Array {
    // msgpackr's scratch buffer itself, with the bounds of this value on it; the
    // next encode writes over the same bytes (no view allocated, memory reused).
    const target = this._packr.pack(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE) as Buffer & { start: number; end: number };
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
export function fromWireError(error: unknown, method: string | undefined, where: { address?: string; port?: number }): RpcError {
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
