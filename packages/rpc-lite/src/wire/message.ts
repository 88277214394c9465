import { BadMessageError } from '../errors';

/** The first element of every message (msgpack-rpc). */
export const MessageType = {
  /** `[0, msgid, method, params]`: a call that expects an answer. */
  REQUEST: 0,
  /** `[1, msgid, error, result]`: the answer to a request. */
  RESPONSE: 1,
  /** `[2, method, params]`: a call that is never answered. */
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

function isMsgid(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_MSGID;
}

/**
 * Checks the shape of a decoded value: one of the three messages.
 * @throws BadMessageError otherwise, with the msgid when one could be read. @internal
 */
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
      if (value.length !== 4)
        throw new BadMessageError(`${what} must have 4 elements, got ${value.length}`, msgid, type);
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
      if (value.length !== 3)
        throw new BadMessageError(`notification must have 3 elements, got ${value.length}`, undefined, type);
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
