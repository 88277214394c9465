/**
 * Stable error codes of this package. A handler may also throw an error with a
 * `code` of its own; that code reaches the caller unchanged, with
 * {@link RpcError.remote} `true`.
 */
export const RpcErrorCode = {
  /** The call got no response within its `timeoutMs` (local). */
  TIMEOUT: 'TIMEOUT',
  /** The call's `AbortSignal` fired before the response came (local). */
  ABORTED: 'ABORTED',
  /** The server has no handler for the method (remote: the server says so). */
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  /** The handler threw or rejected with an error that has no string `code` of its own (remote). */
  HANDLER_ERROR: 'HANDLER_ERROR',
  /** A frame (request or response) is longer than `maxFrameBytes`. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** Bytes that are not one MessagePack value, or a value that is not a valid message. */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** The connection closed (or was closed here) before the response came (local). */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** No connection could be made within `connectTimeoutMs` (local). */
  CONNECT_FAILED: 'CONNECT_FAILED',
} as const;

/** One of {@link RpcErrorCode}'s values. */
export type RpcErrorCodeName = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** Extra fields of an {@link RpcError}. */
export interface RpcErrorOptions {
  /** The error underneath (a `TcpError`, a MessagePack error, ...). */
  cause?: unknown;
  /** Method of the call concerned, when there is one. */
  method?: string;
  /** Remote address, when known. */
  address?: string;
  /** Remote port, when known. */
  port?: number;
  /** The peer reported this error in its response (see {@link RpcError.remote}). Default `false`. */
  remote?: boolean;
}

/**
 * Every failure of a call: match on {@link RpcError.code} (the
 * {@link RpcErrorCode} constants), never on the message. The same class
 * carries the error a handler threw on the server (`{ code, message }` on the
 * wire) back to the caller, with {@link RpcError.remote} set.
 */
export class RpcError extends Error {
  /** `'RpcError'`. */
  override readonly name = 'RpcError';
  /** One of {@link RpcErrorCode}, or the handler's own code. */
  readonly code: string;
  /**
   * `true` when the peer reported the error in its response: its handler's
   * error (the code as the handler gave it), or the server's own answer that
   * it has no such method, could not read the request or could not send the
   * result (`METHOD_NOT_FOUND`, `BAD_MESSAGE`, `FRAME_TOO_LARGE`). `false` for
   * failures here: timeout, abort, connection, framing, a request that could
   * not be encoded. So a handler that throws `{ code: 'TIMEOUT' }` is told
   * apart from a call that timed out.
   */
  readonly remote: boolean;
  /** Method of the call concerned, when there is one. */
  readonly method?: string;
  /** Remote address, when known. */
  readonly address?: string;
  /** Remote port, when known. */
  readonly port?: number;

  /**
   * @param code - one of {@link RpcErrorCode}, or a handler's own code.
   * @param message - what happened, for people.
   * @param options - the call's method, the peer's address and port, the cause, `remote`.
   */
  constructor(code: string, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.remote = options.remote === true;
    if (options.method !== undefined) this.method = options.method;
    if (options.address !== undefined) this.address = options.address;
    if (options.port !== undefined) this.port = options.port;
  }
}

/**
 * A message that could not be used (code `BAD_MESSAGE`). `msgid` is set when
 * the bytes held a recognisable msgid, so that the peer can be answered;
 * otherwise the peer cannot be told which message was wrong. @internal
 */
export class BadMessageError extends RpcError {
  /** The message's msgid, when one could be read. */
  readonly msgid: number | undefined;
  /** The message type (element 0) when it was one of the known ones. */
  readonly type: number | undefined;
  constructor(message: string, msgid: number | undefined, type?: number, cause?: unknown) {
    super(RpcErrorCode.BAD_MESSAGE, message, { cause });
    this.msgid = msgid;
    this.type = type;
  }
}
