import { Server, TcpErrorCode, type Connection, type ServerOptions, type TcpError } from '@proj/tcp';
import { MessageCodec } from './codec';
import type { RpcError } from './errors';
import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from './frame-header';
import { SLAB_BYTES } from './frame-reader';
import { ServerSession, type RpcHandler } from './server-session';
import { SlabPool } from './slab-pool';

/** Options of {@link RpcServer}; every one is optional. */
export interface RpcServerOptions {
  /**
   * Largest frame body accepted or sent, in bytes. A request frame longer than
   * this closes the connection (its msgid cannot be known); a response longer
   * than this is replaced by a `FRAME_TOO_LARGE` error. Default 4 MiB (4194304).
   */
  maxFrameBytes?: number;
  /** Most live connections; further ones are closed as they arrive. Default: no limit. */
  maxConnections?: number;
  /**
   * Most requests of one connection running at once. Past it the server stops
   * reading that connection until one finishes (backpressure, so a client
   * cannot pile up unbounded work). Default `1024`.
   */
  maxInFlight?: number;
  /** Reset a connection on which nothing was received or sent for this long. Default `0` (off). */
  idleTimeoutMs?: number;
  /** TLS only: a client must finish its handshake within this time. Default `10000`. */
  handshakeTimeoutMs?: number;
  /** Extra TLS options (ciphers, `minVersion`, `requestCert`, ...), as for `@proj/tcp`'s `Server`. */
  tls?: ServerOptions['tls'];
  /**
   * Told of every failure no caller hears of: a bad frame from a client
   * (`RpcError` `BAD_MESSAGE`/`FRAME_TOO_LARGE`), a notification whose handler
   * failed or is missing, a failed TLS handshake (`TcpError`). `peer` is the
   * client's `"ip:port"` when known. Default: failed notification handlers
   * (and a failure of the server itself, `TcpError` `ERR_HANDLER`) become a
   * process warning (`process.emitWarning`: one line on stderr unless the
   * application listens for `'warning'`); the rest is dropped (a bad client
   * must not be able to flood the log).
   */
  onError?: (err: Error, peer: string | null) => void;
}

const OPTION_KEYS = new Set([
  'maxFrameBytes',
  'maxConnections',
  'maxInFlight',
  'idleTimeoutMs',
  'handshakeTimeoutMs',
  'tls',
  'onError',
]);

/** Answers wait in memory up to this many bytes before the server stops reading a connection. */
const MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * An RPC server (msgpack-rpc messages in length-prefixed frames) on
 * `@proj/tcp`'s `Server`: each connection is read by a `FrameReader`, its requests
 * run concurrently, and the answers ready in one tick leave in one `send`.
 *
 * @example
 * ```ts
 * const server = new RpcServer()
 *   .handle('add', ([a, b]: [number, number]) => a + b)
 *   .handle('sleep', async ([ms]: [number]) => { await delay(ms); return 'done'; });
 * await server.start('127.0.0.1', 0);
 * // ... later
 * await server.shutdown(1000);
 * ```
 */
export class RpcServer implements AsyncDisposable {
  // The @internal members make it its sessions' SessionHost (checked where _serve passes `this`); no
  // `implements SessionHost`: that interface is internal, stripped from the published declarations.
  /** @internal */ readonly codec = new MessageCodec();
  /** @internal */ readonly slabs = new SlabPool(SLAB_BYTES);
  /** @internal */ readonly maxFrameBytes: number;
  /** @internal */ readonly maxInFlight: number;
  /** @internal */ readonly maxQueuedBytes = MAX_QUEUED_BYTES;
  private readonly _handlers = new Map<string, RpcHandler>();
  private readonly _sessions = new Set<ServerSession>();
  private readonly _tcp: Server;
  private readonly _onError: RpcServerOptions['onError'];

  /**
   * @param options - see {@link RpcServerOptions}.
   * @throws TypeError/RangeError for an unknown option or a bad value.
   */
  constructor(options: RpcServerOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('RpcServer options must be an object');
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) {
        throw new TypeError(`unknown RpcServer option "${key}"; known: ${[...OPTION_KEYS].join(', ')}`);
      }
    }
    const o = options;
    checkInteger('maxFrameBytes', o.maxFrameBytes, MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES);
    checkInteger('maxInFlight', o.maxInFlight, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('maxConnections', o.maxConnections, 1, Number.MAX_SAFE_INTEGER);
    checkInteger('idleTimeoutMs', o.idleTimeoutMs, 0, 0x7fff_ffff);
    checkInteger('handshakeTimeoutMs', o.handshakeTimeoutMs, 1, 0x7fff_ffff);
    if (o.onError !== undefined && typeof o.onError !== 'function') throw new TypeError('onError must be a function');
    if (o.tls !== undefined && (o.tls === null || typeof o.tls !== 'object')) throw new TypeError('tls must be an object');
    this.maxFrameBytes = o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxInFlight = o.maxInFlight ?? 1024;
    this._onError = o.onError;
    const tcpOptions: ServerOptions = {
      onError: (err: TcpError, conn: Connection | null) => this._report(err, conn === null ? null : conn.peer(), err.code === TcpErrorCode.ERR_HANDLER),
    };
    if (o.maxConnections !== undefined) tcpOptions.maxConnections = o.maxConnections;
    if (o.idleTimeoutMs !== undefined) tcpOptions.idleTimeoutMs = o.idleTimeoutMs;
    if (o.handshakeTimeoutMs !== undefined) tcpOptions.handshakeTimeoutMs = o.handshakeTimeoutMs;
    if (o.tls !== undefined) tcpOptions.tls = o.tls;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- onConnection(f, thisArg) calls it with this as `this`
    this._tcp = new Server(tcpOptions).onConnection(this._serve, this);
  }

  /**
   * Sets the handler of `method` (replacing any earlier one). `fn(params, ctx)`
   * may be async: what it returns or resolves to is the result; what it throws
   * or rejects with becomes the error `{ code, message }` (its own string
   * `code`, else `HANDLER_ERROR`; never its stack).
   *
   * @returns this, for chaining.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- public API: params are what the peer sent; a handler annotates them
  handle<P = any, R = unknown>(method: string, fn: RpcHandler<P, R>): this {
    if (typeof method !== 'string' || method === '') throw new TypeError('method must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`the handler of "${method}" must be a function`);
    this._handlers.set(method, fn as RpcHandler);
    return this;
  }

  /**
   * Starts listening; resolves once it does.
   *
   * @param ip - IPv4 or IPv6 address; `''` means `0.0.0.0`.
   * @param port - port, `0` for any free one (see {@link RpcServer.address}).
   * @param key - path of a PEM private key; with `ca`, the server speaks TLS.
   * @param ca - path of the PEM certificate that goes with `key`.
   * @throws TcpError from `@proj/tcp`: `EADDRINUSE`, `ERR_TLS_CONFIG`, `ERR_SERVER_RUNNING`, ...
   */
  start(ip: string, port: number, key?: string, ca?: string): Promise<void> {
    return this._tcp.start(ip, port, key, ca);
  }

  /** Where the server listens, or `null` when it does not. */
  address(): { ip: string; port: number } | null {
    return this._tcp.address();
  }

  /** Live client connections. */
  connNum(): number {
    return this._tcp.connNum();
  }

  /** Stops listening; established connections go on being served. Idempotent. */
  exit(): void {
    this._tcp.exit();
  }

  /**
   * Stops listening, stops taking new requests, lets the requests in flight
   * finish and their answers go out, then closes every connection; those still
   * open after `ms` are reset. A request that arrived during the shutdown is
   * not run: its caller gets `CONNECTION_CLOSED` and may retry elsewhere.
   *
   * @param ms - grace period in milliseconds. Default `5000`; negative waits forever.
   */
  async shutdown(ms = 5000): Promise<void> {
    if (typeof ms !== 'number' || Number.isNaN(ms)) throw new TypeError(`ms must be a number, got ${ms}`);
    this.exit();
    const drains = Promise.all([...this._sessions].map((s) => s.drain()));
    if (ms < 0) {
      await drains;
      await this._tcp.shutdown(-1);
      return;
    }
    const deadline = Date.now() + ms;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drains, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    await this._tcp.shutdown(Math.max(0, deadline - Date.now()));
  }

  /** Same as `shutdown()`: `await using server = new RpcServer(...)` shuts it down at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** @internal */
  lookup(method: string): RpcHandler | undefined {
    return this._handlers.get(method);
  }

  /** @internal */
  report(err: RpcError, peer: string): void {
    this._report(err, peer, false);
  }

  /** @internal */
  warn(err: RpcError, peer: string): void {
    this._report(err, peer, true);
  }

  private async _serve(conn: Connection): Promise<void> {
    const session = new ServerSession(conn, this);
    this._sessions.add(session);
    try {
      await session.run();
    } finally {
      this._sessions.delete(session);
    }
  }

  /** To `onError`; without it, a process warning when `warn`, else nothing (a bad client must not flood the log). */
  private _report(err: RpcError | TcpError, peer: string | null, warn: boolean): void {
    const onError = this._onError;
    if (onError !== undefined) {
      try {
        onError(err, peer);
      } catch {
        // A throwing hook must not take the server down.
      }
    } else if (warn) {
      // By message, type and code: Node refuses an Error object from another realm (a test runner's vm context).
      process.emitWarning(peer === null ? err.message : `${err.message} (client ${peer})`, { type: err.name, code: err.code });
    }
  }
}

function checkInteger(name: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}
