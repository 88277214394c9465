import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr';
import { RpcError, RpcErrorCode } from './errors';

/** The first element of every message (msgpack-rpc). */
export const MessageType = {
  REQUEST: 0,
  RESPONSE: 1,
  NOTIFICATION: 2,
} as const;

/** `[0, msgid, method, params]` */
export type RequestMessage = [type: 0, msgid: number, method: string, params: unknown];
/** `[1, msgid, error, result]`; `error` is `null` or `{ code, message }`. */
export type ResponseMessage = [type: 1, msgid: number, error: unknown, result: unknown];
/** `[2, method, params]` */
export type NotificationMessage = [type: 2, method: string, params: unknown];
/** Any valid message. */
export type Message = RequestMessage | ResponseMessage | NotificationMessage;

/** Largest msgid: msgids are unsigned 32-bit integers, as in msgpack-rpc. @internal */
export const MAX_MSGID = 0xffff_ffff;

/**
 * A message that could not be used. `msgid` is set when the bytes held a
 * recognisable msgid, so that the peer can be answered; otherwise the peer
 * cannot be told which message was wrong. @internal
 */
export class BadMessageError extends RpcError {
  readonly msgid: number | undefined;
  /** The message type (element 0) when it was one of the known ones. */
  readonly type: number | undefined;
  constructor(message: string, msgid: number | undefined, type?: number, cause?: unknown) {
    super(RpcErrorCode.BAD_MESSAGE, message, { cause });
    this.msgid = msgid;
    this.type = type;
  }
}

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
      throw new BadMessageError(`frame is not one MessagePack value: ${(err as Error)?.message ?? err}`, undefined, undefined, err);
    }
    return checkMessage(value);
  }
}

function isMsgid(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_MSGID;
}

/** Checks the shape of a decoded value. @internal */
export function checkMessage(decoded: unknown): Message {
  if (!Array.isArray(decoded)) {
    throw new BadMessageError(`a message must be an array, got ${describe(decoded)}`, undefined);
  }
  const value: readonly unknown[] = decoded;
  const type = value[0];
  switch (type) {
    case MessageType.REQUEST:
    case MessageType.RESPONSE: {
      const what = type === MessageType.REQUEST ? 'request' : 'response';
      const msgid = value[1];
      if (!isMsgid(msgid)) {
        throw new BadMessageError(`${what} without a valid msgid (an unsigned 32-bit integer)`, undefined, type);
      }
      if (value.length !== 4) throw new BadMessageError(`${what} must have 4 elements, got ${value.length}`, msgid, type);
      if (type === MessageType.REQUEST) {
        if (typeof value[2] !== 'string') {
          throw new BadMessageError(`request method must be a string, got ${describe(value[2])}`, msgid, type);
        }
      } else {
        const error = value[2];
        if (error !== null && (typeof error !== 'object' || Array.isArray(error)) && typeof error !== 'string') {
          throw new BadMessageError(`response error must be nil or a map, got ${describe(error)}`, msgid, type);
        }
      }
      return value as Message;
    }
    case MessageType.NOTIFICATION:
      if (value.length !== 3) throw new BadMessageError(`notification must have 3 elements, got ${value.length}`, undefined, type);
      if (typeof value[1] !== 'string') {
        throw new BadMessageError(`notification method must be a string, got ${describe(value[1])}`, undefined, type);
      }
      return value as Message;
    default:
      throw new BadMessageError(
        `unknown message type ${typeof type === 'number' ? type : describe(type)} (0 request, 1 response, 2 notification)`,
        isMsgid(value[1]) ? value[1] : undefined,
      );
  }
}

function describe(v: unknown): string {
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'binary';
  return typeof v;
}
