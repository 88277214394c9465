/**
 * Stable error codes of this package. A handler may also throw an error with a
 * `code` of its own; that code reaches the caller unchanged.
 */
export const RpcErrorCode = {
  /** The call got no response within its `timeoutMs`. */
  TIMEOUT: 'TIMEOUT',
  /** The call's `AbortSignal` fired before the response came. */
  ABORTED: 'ABORTED',
  /** The server has no handler for the method. */
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  /** The handler threw or rejected with an error that has no string `code` of its own. */
  HANDLER_ERROR: 'HANDLER_ERROR',
  /** A frame (request or response) is longer than `maxFrameBytes`. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** Bytes that are not one MessagePack value, or a value that is not a valid message. */
  BAD_MESSAGE: 'BAD_MESSAGE',
  /** The connection closed (or was closed here) before the response came. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  /** No connection could be made within `connectTimeoutMs`. */
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
}

/**
 * Every failure of a call: match on {@link RpcError.code}, never on the message.
 * The same class carries the error a handler threw on the server
 * (`{ code, message }` on the wire) back to the caller.
 */
export class RpcError extends Error {
  /** `'RpcError'`. */
  override readonly name = 'RpcError';
  /** One of {@link RpcErrorCode}, or the handler's own code. */
  readonly code: string;
  /** Method of the call concerned, when there is one. */
  readonly method?: string;
  /** Remote address, when known. */
  readonly address?: string;
  /** Remote port, when known. */
  readonly port?: number;

  /**
   * @param code - one of {@link RpcErrorCode}, or a handler's own code.
   * @param message - what happened, for people.
   * @param options - the call's method, the peer's address and port, the cause.
   */
  constructor(code: string, message: string, options: RpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.method !== undefined) this.method = options.method;
    if (options.address !== undefined) this.address = options.address;
    if (options.port !== undefined) this.port = options.port;
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

/** The {@link RpcError} a response's `error` field stands for. @internal */
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
  return new RpcError(code, message, { method, ...where });
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
