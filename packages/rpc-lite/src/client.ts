import { Pool, PoolError, PoolErrorCode } from '@proj/pool';
import { Client, type ClientTlsOptions } from '@proj/tcp';
import { ClientConnection, type ClientConnectionConfig } from './client-connection';
import { MessageCodec } from './codec';
import { RpcError, RpcErrorCode } from './errors';
import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from './frame-header';
import { SLAB_BYTES } from './frame-reader';
import { SlabPool } from './slab-pool';

/** Options of {@link RpcClient}; every one is optional. */
export interface RpcClientOptions {
  /** Speak TLS. Default `false`. */
  ssl?: boolean;
  /**
   * TLS settings passed to `@proj/tcp`'s `Client` (`ca`, `servername`,
   * `rejectUnauthorized`, `cert`, `key`, `minVersion`). The server's
   * certificate is verified unless `rejectUnauthorized: false`. Default `{}`.
   */
  tls?: ClientTlsOptions;
  /**
   * Default time a call may take, in milliseconds, from `call()` to its
   * response (connecting included); a call can override it. Negative: no
   * limit, and no timer at all. Default `-1`.
   */
  timeoutMs?: number;
  /**
   * Largest frame body sent or accepted, in bytes. A request over it is
   * refused with `FRAME_TOO_LARGE` before anything is sent; a response over it
   * closes the connection. Default 4 MiB (4194304).
   */
  maxFrameBytes?: number;
  /**
   * How many connections to spread the calls over, kept by `@proj/pool`. Each
   * carries any number of calls at once. Default `1`.
   */
  connections?: number;
  /** Time allowed to connect (TLS handshake included) before `CONNECT_FAILED`. Default `3000`. */
  connectTimeoutMs?: number;
}

/** Options of one {@link RpcClient.call}. */
export interface RpcCallOptions {
  /** This call's time limit in milliseconds; negative: none. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Aborting it rejects the call at once with `ABORTED`; a late response is dropped. */
  signal?: AbortSignal;
}

const OPTION_KEYS = new Set(['ssl', 'tls', 'timeoutMs', 'maxFrameBytes', 'connections', 'connectTimeoutMs']);
const CALL_OPTION_KEYS = new Set(['timeoutMs', 'signal']);
const NO_PARAMS: readonly unknown[] = Object.freeze([]);

/**
 * An RPC client: calls and notifications over one or more connections to an
 * {@link RpcServer}, each carrying many calls at once, matched by msgid.
 * Connections are made on first use and kept by `@proj/pool`; a connection
 * that drops fails its pending calls with `CONNECTION_CLOSED`, and the next
 * call makes a new one.
 *
 * @example
 * ```ts
 * await using client = new RpcClient('127.0.0.1', port, { timeoutMs: 5000 });
 * const sum = await client.call('add', [1, 2]); // 3
 * ```
 */
export class RpcClient implements AsyncDisposable {
  /** Host name or address of the server. */
  readonly ip: string;
  /** Port of the server. */
  readonly port: number;
  private readonly _cfg: ClientConnectionConfig;
  private readonly _timeoutMs: number;
  private readonly _connectTimeoutMs: number;
  private readonly _connections: number;
  private readonly _pool: Pool<ClientConnection>;
  /** Connections taken from the pool that carry calls, used in turn. */
  private readonly _active: ClientConnection[] = [];
  private _next = 0;
  /** Pops under way: with the active connections, never more than `connections`. */
  private _popping = 0;
  /** The latest pop under way, which calls wait for when no more may start. */
  private _lastPop: Promise<ClientConnection> | null = null;
  /** Every connection made and not yet destroyed, connecting ones included, so that close() reaches them all. */
  private readonly _live = new Set<ClientConnection>();
  private _closed = false;
  private _closing: Promise<void> | null = null;

  /**
   * @param ip - host name, IPv4 or IPv6 address of the server; `''` means `127.0.0.1`.
   * @param port - the server's port.
   * @param options - see {@link RpcClientOptions}.
   * @throws TypeError/RangeError for an unknown option or a bad value. Nothing connects here.
   */
  constructor(ip: string, port: number, options: RpcClientOptions = {}) {
    if (typeof ip !== 'string') throw new TypeError('ip must be a string (host name, IPv4 or IPv6)');
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`port must be an integer from 1 to 65535, got ${port}`);
    }
    if (options === null || typeof options !== 'object') throw new TypeError('RpcClient options must be an object');
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) {
        throw new TypeError(`unknown RpcClient option "${key}"; known: ${[...OPTION_KEYS].join(', ')}`);
      }
    }
    const o = options;
    if (o.ssl !== undefined && typeof o.ssl !== 'boolean') throw new TypeError('ssl must be a boolean');
    if (o.tls !== undefined && (o.tls === null || typeof o.tls !== 'object')) throw new TypeError('tls must be an object');
    checkMs('timeoutMs', o.timeoutMs);
    checkInteger('maxFrameBytes', o.maxFrameBytes, MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES);
    checkInteger('connections', o.connections, 1, 65536);
    checkInteger('connectTimeoutMs', o.connectTimeoutMs, 1, 0x7fff_ffff);
    this.ip = ip === '' ? '127.0.0.1' : ip;
    this.port = port;
    this._timeoutMs = o.timeoutMs ?? -1;
    this._connectTimeoutMs = o.connectTimeoutMs ?? 3000;
    this._cfg = {
      ip: this.ip,
      port,
      ssl: o.ssl ?? false,
      tls: { ...o.tls },
      maxFrameBytes: o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      codec: new MessageCodec(),
      slabs: new SlabPool(SLAB_BYTES),
    };
    if (!this._cfg.ssl && o.tls !== undefined && Object.keys(o.tls).length > 0) {
      throw new TypeError('tls options were given without ssl: true');
    }
    // @proj/tcp's Client checks the TLS option names: made once here so that a typo
    // throws from this constructor rather than failing the first call.
    void new Client(this.ip, port, this._cfg.ssl, this._cfg.tls);
    const connections = (this._connections = o.connections ?? 1);
    // The pool makes (connects), bounds and destroys the connections. A connection is
    // multiplexed, so it stays out of the pool while it is healthy and carries every call
    // that comes: popping and pushing it around each call would cost more CPU than the
    // rest of the call (measured) and lend nothing exclusive.
    this._pool = new Pool<ClientConnection>(
      () => this._connect(),
      (conn) => this._destroy(conn),
      connections,
      { max: connections },
    );
  }

  /**
   * Calls `method` with `params` and resolves with its result.
   *
   * @param method - the method's name.
   * @param params - any MessagePack-able value; msgpack-rpc peers expect an
   *   array of arguments. Default `[]`.
   * @param options - `timeoutMs` (default: the client's) and `signal`.
   * @throws RpcError (as a rejection): `TIMEOUT`, `ABORTED`, `CONNECT_FAILED`,
   *   `CONNECTION_CLOSED`, `FRAME_TOO_LARGE`, `BAD_MESSAGE`, `METHOD_NOT_FOUND`,
   *   `HANDLER_ERROR` or the handler's own code.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- public API: the result is what the peer sent (like JSON.parse); call<R> names it
  call<R = any>(method: string, params: unknown = NO_PARAMS, options?: RpcCallOptions): Promise<R> {
    if (typeof method !== 'string') return Promise.reject(new TypeError('method must be a string'));
    let timeoutMs = this._timeoutMs;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      const bad = checkCallOptions(options);
      if (bad !== null) return Promise.reject(bad);
      if (options.timeoutMs !== undefined) timeoutMs = options.timeoutMs;
      signal = options.signal;
    }
    if (this._closed) return Promise.reject(this._closedError(method));
    if (signal !== undefined && signal.aborted) {
      return Promise.reject(
        new RpcError(RpcErrorCode.ABORTED, `call of "${method}" was aborted before it was sent`, {
          method,
          cause: signal.reason,
          ...this._where(),
        }),
      );
    }
    const conn = this._pick();
    if (conn !== null) return conn.call(method, params, timeoutMs, signal) as Promise<R>;
    return this._callOnNewConnection(method, params, timeoutMs, signal) as Promise<R>;
  }

  /**
   * Sends a notification: no response, no msgid. Resolves once it is queued
   * on a connection (not once the server has it).
   *
   * @throws RpcError (as a rejection): `CONNECT_FAILED`, `CONNECTION_CLOSED`,
   *   `FRAME_TOO_LARGE`, `BAD_MESSAGE`.
   */
  async notify(method: string, params: unknown = NO_PARAMS): Promise<void> {
    if (typeof method !== 'string') throw new TypeError('method must be a string');
    if (this._closed) throw this._closedError(method);
    let conn = this._pick();
    if (conn === null) {
      try {
        conn = await this._take();
      } catch (err) {
        throw this._popError(err, method);
      }
    }
    conn.notify(method, params);
  }

  /**
   * Closes every connection: calls still pending reject with
   * `CONNECTION_CLOSED`, and so does every later call. Safe to call many times.
   */
  close(): Promise<void> {
    if (this._closing === null) {
      this._closed = true;
      const reason = new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', this._where());
      for (const conn of this._live) conn.close(reason);
      for (const conn of this._active) this._pool.discard(conn);
      this._active.length = 0;
      // The pool's close() also waits for the connects in flight, just cut short, to settle.
      this._closing = this._pool.close();
    }
    return this._closing;
  }

  /** Same as {@link RpcClient.close}: `await using client = new RpcClient(...)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * The next healthy connection in turn; `null` when a new one should be
   * taken from the pool (fewer than `connections` are up or coming) or when
   * every one is still connecting. Dropped ones go back to the pool to be destroyed.
   */
  private _pick(): ClientConnection | null {
    const active = this._active;
    for (;;) {
      const n = active.length;
      if (n === 0 || n + this._popping < this._connections) return null;
      const i = this._next < n ? this._next : 0;
      const conn = active[i];
      if (conn.usable()) {
        this._next = i + 1;
        return conn;
      }
      active.splice(i, 1);
      this._pool.discard(conn);
    }
  }

  /**
   * A connection for a call that found none ready: a new one from the pool
   * (which connects it), put in turn with the others; or, when `connections`
   * are already up or being made, one of those as soon as it is ready.
   */
  private _take(): Promise<ClientConnection> {
    if (this._active.length + this._popping >= this._connections && this._lastPop !== null) {
      return this._lastPop.then(() => this._pick() ?? this._take());
    }
    const pop = this._popOne();
    this._lastPop = pop;
    return pop;
  }

  private async _popOne(): Promise<ClientConnection> {
    this._popping++;
    let conn: ClientConnection;
    try {
      conn = (await this._pool.pop())!;
    } finally {
      this._popping--;
    }
    if (this._closed) {
      this._pool.discard(conn);
      throw new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', this._where());
    }
    this._active.push(conn);
    return conn;
  }

  /**
   * A call that waits for a connection to be made: the wait counts against
   * its deadline, and its signal can end it.
   */
  private _callOnNewConnection(
    method: string,
    params: unknown,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (timeoutMs < 0 && signal === undefined) {
      return this._take().then(
        (conn) => conn.call(method, params, -1, undefined),
        (err: unknown) => Promise.reject(this._popError(err, method)),
      );
    }
    const started = timeoutMs >= 0 ? performance.now() : 0;
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | null = null;
      const onAbort = (): void => {
        finish();
        reject(
          new RpcError(RpcErrorCode.ABORTED, `call of "${method}" was aborted`, {
            method,
            cause: signal!.reason,
            ...this._where(),
          }),
        );
      };
      const finish = (): void => {
        settled = true;
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (timeoutMs >= 0) {
        timer = setTimeout(() => {
          finish();
          reject(
            new RpcError(RpcErrorCode.TIMEOUT, `call of "${method}" got no connection within ${timeoutMs} ms`, {
              method,
              ...this._where(),
            }),
          );
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this._take().then(
        (conn) => {
          if (settled) return;
          finish();
          const left = timeoutMs < 0 ? -1 : Math.max(0, timeoutMs - (performance.now() - started));
          conn.call(method, params, left, signal).then(resolve, reject);
        },
        (err: unknown) => {
          if (settled) return;
          finish();
          reject(this._popError(err, method));
        },
      );
    });
  }

  /** The pool's `create`: a new connection, connected within `connectTimeoutMs`. */
  private async _connect(): Promise<ClientConnection> {
    if (this._closed) throw new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', this._where());
    const conn = new ClientConnection(this._cfg);
    this._live.add(conn);
    try {
      await conn.connect(this._connectTimeoutMs);
    } catch (err) {
      this._live.delete(conn);
      throw err;
    }
    return conn;
  }

  /** The pool's `destroy`. */
  private _destroy(conn: ClientConnection): void {
    this._live.delete(conn);
    conn.close();
  }

  private _popError(err: unknown, method: string): RpcError {
    if (this._closed) return this._closedError(method);
    if (err instanceof RpcError) {
      return err.method === undefined ? new RpcError(err.code, err.message, { method, cause: err.cause, ...this._where() }) : err;
    }
    if (err instanceof PoolError && err.code === PoolErrorCode.ERR_CLOSED) return this._closedError(method);
    return new RpcError(RpcErrorCode.CONNECT_FAILED, `no connection for "${method}": ${(err as Error)?.message ?? err}`, {
      method,
      cause: err,
      ...this._where(),
    });
  }

  private _closedError(method: string): RpcError {
    return new RpcError(RpcErrorCode.CONNECTION_CLOSED, `call of "${method}" on a closed client`, { method, ...this._where() });
  }

  private _where(): { address: string; port: number } {
    return { address: this.ip, port: this.port };
  }
}

function checkCallOptions(options: RpcCallOptions): Error | null {
  if (options === null || typeof options !== 'object') return new TypeError('call options must be an object');
  for (const key in options) {
    if (!CALL_OPTION_KEYS.has(key)) return new TypeError(`unknown call option "${key}"; known: timeoutMs, signal`);
  }
  const t = options.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || Number.isNaN(t) || t > 0x7fff_ffff)) {
    return new RangeError(`timeoutMs must be a number of milliseconds up to 2147483647 (negative: none), got ${t}`);
  }
  const s = options.signal;
  if (s !== undefined && !(s instanceof AbortSignal)) return new TypeError('signal must be an AbortSignal');
  return null;
}

function checkMs(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || v > 0x7fff_ffff)) {
    throw new RangeError(`${name} must be a number of milliseconds up to 2147483647 (negative: none), got ${v}`);
  }
}

function checkInteger(name: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}
