/**
 * Stable error codes. Network failures keep the operating system's code
 * (`ECONNRESET`, `ECONNREFUSED`, `EPIPE`, `ENOTFOUND`, TLS verification codes
 * such as `DEPTH_ZERO_SELF_SIGNED_CERT`, ...); these are the ones this package
 * itself produces.
 */
export const TcpErrorCode = {
  /** A `recv`, `recvn`, `send` or `connect` ran out of time. */
  ETIMEDOUT: 'ETIMEDOUT',
  /** The call needs a connection and there is none (never connected, or closed here). */
  ENOTCONN: 'ENOTCONN',
  /** The peer aborted the connection (RST). */
  ECONNRESET: 'ECONNRESET',
  /**
   * A second `recv`/`recvn`/`recvUntil` was started while one was still pending
   * on the same object. On a pooled connection usually a previous holder that
   * returned its call without awaiting it (`return conn.recvn(...)` inside
   * `await using`); the message says so when `@proj/pool` marked the connection.
   */
  ERR_CONCURRENT_RECV: 'ERR_CONCURRENT_RECV',
  /** A second `send`/`sendv` was started while one was still pending on the same object (see ERR_CONCURRENT_RECV for pooled connections). */
  ERR_CONCURRENT_SEND: 'ERR_CONCURRENT_SEND',
  /** `Server.start` was called before `onConnection`. */
  ERR_NO_HANDLER: 'ERR_NO_HANDLER',
  /** `Server.start` was called on a server that is already listening. */
  ERR_SERVER_RUNNING: 'ERR_SERVER_RUNNING',
  /** The TLS key or certificate given to `Server.start` could not be read or used. */
  ERR_TLS_CONFIG: 'ERR_TLS_CONFIG',
  /** The connection was idle for longer than the server's `idleTimeoutMs`. */
  ERR_IDLE_TIMEOUT: 'ERR_IDLE_TIMEOUT',
  /** A connection handler threw or rejected. */
  ERR_HANDLER: 'ERR_HANDLER',
  /**
   * The call's `AbortSignal` was aborted (`cause` is the signal's reason). A
   * read consumed nothing; a send reset the connection, as a timeout does.
   */
  ABORT_ERR: 'ABORT_ERR',
  /** `recvUntil` filled its buffer without finding the delimiter; nothing was consumed. */
  ERR_NO_DELIMITER: 'ERR_NO_DELIMITER',
  /**
   * The server is draining (`Server.drain`): the reason of every
   * `conn.draining` signal, so the `cause` of a call it aborted.
   */
  ERR_DRAINING: 'ERR_DRAINING',
  /**
   * A server with `proxyProtocol` got a connection without a valid PROXY
   * header in time (missing, malformed, oversized, late), or from an address
   * outside `proxyFrom`; the connection was reset before its handler ran.
   */
  ERR_PROXY_PROTOCOL: 'ERR_PROXY_PROTOCOL',
  /**
   * A `Pipeline` request was made after the pipeline was closed, by
   * `close()` or by a failure (then `cause` is that failure): make a new
   * pipeline on a new connection.
   */
  ERR_PIPELINE_CLOSED: 'ERR_PIPELINE_CLOSED',
  /**
   * `Server.start` with `workers` was given a function as the handler (a
   * closure cannot cross threads: give a module), or a module without
   * `workers`. A `TypeError`.
   */
  ERR_HANDLER_NOT_MODULE: 'ERR_HANDLER_NOT_MODULE',
  /** The handler module given to a `Server` with `workers` threw (or was not found) while a worker loaded it. */
  ERR_HANDLER_LOAD: 'ERR_HANDLER_LOAD',
  /** This Node.js can neither hand a socket to a worker thread nor listen with `reusePort` (or not the `distribution` asked for). */
  ERR_WORKERS_UNSUPPORTED: 'ERR_WORKERS_UNSUPPORTED',
  /** A worker thread of a `Server` died; each of its connections is reported with this code (it is replaced). */
  ERR_WORKER_EXIT: 'ERR_WORKER_EXIT',
} as const;

/** Where a {@link TcpError} happened, when it concerns a remote end or a listening address. */
export interface TcpErrorOptions {
  /** The error underneath (the `net`/`tls` error, ...). */
  cause?: unknown;
  /** Remote (or listening) address involved, when known. */
  address?: string;
  /** Remote (or listening) port involved, when known. */
  port?: number;
}

/**
 * Every failure of this package: a network failure recorded in `lastError`, a
 * rejected `start`, or a programming error such as a concurrent `recv`.
 * Match on {@link TcpError.code}, never on the message.
 */
export class TcpError extends Error {
  /** `'TcpError'`. */
  override readonly name = 'TcpError';
  /** Stable code: one of {@link TcpErrorCode} or the operating system's / TLS's own code. */
  readonly code: string;
  /** Remote (or listening) address involved, when known. */
  readonly address?: string;
  /** Remote (or listening) port involved, when known. */
  readonly port?: number;

  /**
   * @param code - one of {@link TcpErrorCode}, or the operating system's / TLS's own code.
   * @param message - what happened, for people.
   * @param options - the cause, and the address and port involved.
   */
  constructor(code: string, message: string, options: TcpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.address !== undefined) this.address = options.address;
    if (options.port !== undefined) this.port = options.port;
  }
}

/** Wraps an error from `net`/`tls` with its code kept and a message that says what was going on. @internal */
export function fromNodeError(err: unknown, doing: string, where: TcpErrorOptions = {}): TcpError {
  if (err instanceof TcpError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const code = typeof e?.code === 'string' ? e.code : 'EIO';
  const text = e?.message ?? String(err);
  return new TcpError(code, `${doing}: ${text}`, { ...where, cause: err });
}

/**
 * The rejection of a call that returns no status (`Server.shutdown`) when its
 * signal is aborted: as Node's own APIs reject, `name` is `'AbortError'`,
 * `code` is `'ABORT_ERR'` and `cause` is `signal.reason`. Match on
 * {@link TcpAbortError.code}. (Calls that return a status, `recv`, `send`,
 * `connect`, ..., give `-1`/`false` and a {@link TcpError} with code
 * `ABORT_ERR` in `lastError` instead.)
 */
export class TcpAbortError extends Error {
  /** `'AbortError'`, as Node's own aborted calls. */
  override readonly name = 'AbortError';
  /** Always {@link TcpErrorCode}`.ABORT_ERR`. */
  readonly code = TcpErrorCode.ABORT_ERR;

  /**
   * @param message - what was aborted, for people.
   * @param reason - the signal's `reason`, kept as `cause`.
   */
  constructor(message: string, reason: unknown) {
    super(message, { cause: reason });
  }
}

/** A call's signal was aborted: what was given up, and what became of the bytes. @internal */
export function abortError(what: string, signal: AbortSignal, outcome: string, where: TcpErrorOptions): TcpError {
  return new TcpError(TcpErrorCode.ABORT_ERR, `${what} aborted by its signal; ${outcome}`, {
    ...where,
    cause: signal.reason,
  });
}

/** recvUntil/tryRecvUntil filled a buffer of `size` bytes without the delimiter. @internal */
export function noDelimiterError(size: number, where: TcpErrorOptions): TcpError {
  return new TcpError(
    TcpErrorCode.ERR_NO_DELIMITER,
    `recvUntil filled its ${size}-byte buffer without finding the delimiter; nothing was consumed: read the bytes with recv, or retry with a larger buffer`,
    where,
  );
}
