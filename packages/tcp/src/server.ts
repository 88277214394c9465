import * as net from 'node:net';
import * as tls from 'node:tls';
import { type WaitOptions, waitMs, waitSignal } from './args';
import { Connection } from './connection';
import { serverExit, serverListen } from './diagnostics';
import { TcpAbortError, TcpError, TcpErrorCode, fromNodeError } from './errors';
import { adoptWithOnread } from './node-internals';
import { type ResolvedServerOptions, type ServerOptions, resolveServerOptions } from './server-options';
import { resetSocket } from './socket-close';
import { CHANNEL_ONREAD } from './socket-events';
import { loadTlsCredentials } from './tls-credentials';
import { type ServerWorkers, startWorkers } from './workers/start';
import { type Distribution, expectedDistribution } from './workers/support';

/**
 * Counts connections in memory shared with other threads (a worker of a
 * `Server` with `workers`): `admit` false refuses one over the total bound.
 * @internal
 */
export interface SharedAccounting {
  admit(sock: net.Socket): boolean;
  release(): void;
}

/** The connection callback: runs once per connection in its own async task. */
export type ConnectionHandler<T = unknown> = (this: T, conn: Connection) => void | Promise<void>;

/**
 * A TCP server, plain or TLS, IPv4 or IPv6 (co's `tcp::Server`): every
 * accepted connection runs the `onConnection` callback in its own async task,
 * and is closed when that callback returns.
 *
 * @example
 * ```ts
 * const server = new Server().onConnection(async (conn) => {
 *   const buf = Buffer.alloc(8);
 *   for (let n; (n = await conn.recv(buf)) > 0; ) await conn.send(buf, n);
 * });
 * await server.start('127.0.0.1', 7788);
 * ```
 */
export class Server {
  private readonly _options: ResolvedServerOptions;
  private _connectionHandler: ConnectionHandler<unknown> | null = null;
  /** With `workers`: the handler module and its export. */
  private _handlerModule: { module: string | URL; exportName: string } | null = null;
  private _workers: ServerWorkers | null = null;
  /** @internal Set in a worker thread: connections are counted across threads. */
  _accounting: SharedAccounting | null = null;
  private _thisArg: unknown = undefined;
  private readonly _exitCallbacks: Array<() => void> = [];
  private _listener: net.Server | null = null;
  private _starting = false;
  private _address: { ip: string; port: number } | null = null;
  private readonly _conns = new Set<Connection>();
  /** Every shutdown() waiting for the last connection to close (there may be several at once). */
  private _drainWaiters: Array<() => void> = [];
  /**
   * TLS: accepted TCP sockets whose handshake has not finished, by the peer's
   * "address|port" (unique among live connections to one listener). The TLS
   * socket made from one is matched to it by that key; shutdown() drops those
   * still in handshake.
   */
  private readonly _handshaking = new Map<string, net.Socket>();

  /**
   * @param options - limits, timeouts, TLS extras and the error hook; every
   *   one optional. Unknown keys and bad values throw at once.
   */
  constructor(options: ServerOptions = {}) {
    this._options = resolveServerOptions(options);
  }

  /**
   * Sets the connection callback (co's `on_connection`). It runs once per
   * connection in its own async task; when it returns or its promise settles
   * the connection is closed. If it throws or rejects, the connection is reset,
   * the error goes to `onError` (else one line on stderr) and the server goes on.
   *
   * @param f - the callback.
   * @param thisArg - `this` inside `f`, for a method of an object (co's `on_connection(&T::f, o)`).
   */
  onConnection<T>(f: ConnectionHandler<T>, thisArg?: T): this;
  /**
   * With the `workers` option: the handler is the export `exportName` of a
   * module, loaded once in every worker thread (a closure cannot cross
   * threads). Its top-level code runs once per worker: make pools and clients
   * there. `start` rejects with `ERR_NO_HANDLER` when the export is missing and
   * `ERR_HANDLER_LOAD` when the module throws or is not found.
   *
   * @param module - the module's URL (`new URL('./handler.js', import.meta.url)`),
   *   or its path (a relative one from the working directory).
   * @param exportName - which export is `f(conn)`. Default `'default'`.
   */
  onConnection(module: string | URL, exportName?: string): this;
  onConnection<T>(f: ConnectionHandler<T> | string | URL, thisArgOrExport?: T | string): this {
    if (typeof f === 'string' || f instanceof URL) {
      const exportName = thisArgOrExport ?? 'default';
      if (typeof exportName !== 'string' || exportName === '') throw new TypeError('the export name must be a non-empty string');
      if (f === '') throw new TypeError('the handler module must be a non-empty path or URL');
      this._handlerModule = { module: f, exportName };
      this._connectionHandler = null;
      return this;
    }
    if (typeof f !== 'function') throw new TypeError('onConnection needs a function, or with workers a module path or URL');
    this._connectionHandler = f as ConnectionHandler<unknown>;
    this._handlerModule = null;
    this._thisArg = thisArgOrExport;
    return this;
  }

  /** Adds a callback that runs once the server has stopped listening (co's `on_exit`). */
  onExit(cb: () => void): this {
    if (typeof cb !== 'function') throw new TypeError('onExit needs a function');
    this._exitCallbacks.push(cb);
    return this;
  }

  /**
   * Starts listening; resolves once it does (it never blocks on connections).
   *
   * @param ip - IPv4 or IPv6 address to listen on; `''` means `0.0.0.0`.
   * @param port - port, `0` for any free one (see {@link Server.address}).
   * @param key - path of a PEM private key; with `ca`, the server speaks TLS.
   * @param ca - path of the PEM certificate (chain) that goes with `key`.
   * @throws TcpError `ERR_NO_HANDLER` without `onConnection`; `EADDRINUSE`,
   *   `EADDRNOTAVAIL`, `EACCES` from the system; `ERR_TLS_CONFIG` for a key or
   *   certificate that is missing or unusable.
   */
  async start(ip: string, port: number, key?: string, ca?: string): Promise<void> {
    if (this._connectionHandler === null && this._handlerModule === null) {
      throw new TcpError(TcpErrorCode.ERR_NO_HANDLER, 'no connection callback: call onConnection(f) before start()');
    }
    if (this._listener !== null || this._workers?.pool.listening() === true || this._starting) {
      throw new TcpError(TcpErrorCode.ERR_SERVER_RUNNING, 'the server is already started; call exit() first');
    }
    if (typeof ip !== 'string') throw new TypeError('ip must be a string (use "" for all IPv4 addresses)');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
    }
    const host = ip === '' ? '0.0.0.0' : ip;
    if (this._options.workers > 0 || this._handlerModule !== null) {
      this._starting = true;
      try {
        this._workers = await startWorkers(this._options, this._handlerModule, this._connectionHandler !== null, host, port, key, ca, {
          report: (err) => this._report(err, null),
          stopped: () => {
            this._runExitCallbacks();
          },
        });
      } finally {
        this._starting = false;
      }
      return;
    }
    this._starting = true;
    try {
      const listener = key || ca ? this._tlsListener(await loadTlsCredentials(key, ca, this._options.tls)) : this._plainListener();
      await listen(listener, host, port, { exclusive: this._options.exclusive });
      listener.on('error', (err) => this._report(fromNodeError(err, 'listening socket failed'), null));
      const addr = listener.address() as net.AddressInfo;
      this._address = { ip: addr.address, port: addr.port };
      this._listener = listener;
      if (serverListen.hasSubscribers) {
        serverListen.publish({ server: this, address: addr.address, port: addr.port, tls: listener instanceof tls.Server });
      }
    } finally {
      this._starting = false;
    }
  }

  /** Where the server listens, or `null` when it does not. */
  address(): { ip: string; port: number } | null {
    if (this._workers !== null) return this._workers.pool.listening() ? this._workers.address() : null;
    return this._address === null ? null : { ...this._address };
  }

  /**
   * How connections reach their thread: `'single'` without `workers` (this
   * thread serves them), else `'handoff'` or `'reuseport'` (the one `start`
   * uses; before `start`, the one it would pick).
   */
  get distribution(): Distribution {
    return this._workers?.distribution ?? expectedDistribution(this._options.workers, this._options.distribution);
  }

  /** Live connections per worker thread (with `workers`; `[connNum()]` without). */
  workerLoad(): number[] {
    return this._workers !== null ? this._workers.pool.workerLoad() : [this._conns.size];
  }

  /**
   * Stops listening: no new connections; established ones go on (co's `exit`).
   * The `onExit` callbacks run once the listening socket is closed. Idempotent.
   */
  exit(): void {
    if (this._workers !== null) {
      this._workers.pool.exit();
      return;
    }
    const listener = this._listener;
    if (listener === null) return;
    const where = this._address!;
    this._listener = null;
    this._address = null;
    listener.close();
    if (serverExit.hasSubscribers) {
      serverExit.publish({ server: this, address: where.ip, port: where.port, tls: listener instanceof tls.Server });
    }
    process.nextTick(() => this._runExitCallbacks());
  }

  private _runExitCallbacks(): void {
    for (const cb of this._exitCallbacks) {
      try {
        cb();
      } catch (err) {
        this._report(fromNodeError(err, 'onExit callback threw'), null);
      }
    }
  }

  /** Live client connections (co's `conn_num`); with `workers`, every worker's, exact at any moment. */
  connNum(): number {
    return this._workers !== null ? this._workers.pool.connNum() : this._conns.size;
  }

  /**
   * `exit()`, then closes every connection gracefully; those still open after
   * `ms` are reset. Resolves once every connection is closed.
   *
   * @param opts - grace period in milliseconds before the remaining
   *   connections are reset (default `5000`; negative waits forever), or
   *   `{ ms, signal }` (`ms` absent: the default). An abort stops the waiting
   *   and rejects with an `AbortError` (code `ABORT_ERR`); the connections go
   *   on closing. A signal aborted already rejects at once and changes nothing.
   */
  async shutdown(opts: number | WaitOptions = 5000): Promise<void> {
    const ms = typeof opts === 'object' && opts !== null && opts.ms === undefined ? 5000 : waitMs(opts);
    const signal = waitSignal(opts);
    if (signal !== null && signal.aborted) throw new TcpAbortError('shutdown aborted by its signal', signal.reason);
    if (this._workers !== null) return this._workers.pool.stop('shutdown', ms, signal);
    if (this._options.workers > 0) return;
    this.exit();
    // A TLS handshake still under way would otherwise finish later and be served after shutdown.
    for (const raw of this._handshaking.values()) raw.destroy();
    this._handshaking.clear();
    if (this._conns.size === 0) return;
    const drained = new Promise<void>((resolve) => this._drainWaiters.push(resolve));
    for (const conn of this._conns) void conn.close();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // Resolves true when the grace period is over, rejects on an abort; never, with neither.
    const interrupted = new Promise<boolean>((resolve, reject) => {
      if (ms >= 0) timer = setTimeout(resolve, ms, true);
      if (signal !== null) {
        onAbort = () => reject(new TcpAbortError('shutdown aborted by its signal', signal.reason));
        signal.addEventListener('abort', onAbort);
      }
    });
    try {
      const timedOut = await Promise.race([drained.then(() => false), interrupted]);
      if (timedOut) {
        for (const conn of this._conns) void conn.reset();
        await drained;
      }
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
    }
  }

  /**
   * In a worker thread: serves with `credentials` (PEM) or plain TCP,
   * listening on host:port with `reusePort`, or (`listen` false) only the
   * sockets given to {@link Server._feed}.
   * @internal
   */
  async _serveInWorker(credentials: tls.SecureContextOptions | null, host: string, port: number, listen_: boolean): Promise<void> {
    const listener = credentials !== null ? this._tlsListener(credentials) : this._plainListener();
    if (listen_) {
      await listen(listener, host, port, { reusePort: true });
      const addr = listener.address() as net.AddressInfo;
      this._address = { ip: addr.address, port: addr.port };
    } else {
      this._address = { ip: host, port };
    }
    listener.on('error', (err) => this._report(fromNodeError(err, 'listening socket failed'), null));
    this._listener = listener;
  }

  /**
   * In a worker thread: serves a socket accepted by another thread, as if
   * this server's listener had accepted it. Returns the socket whose
   * `'close'` ends it (the plain fast path moves it to a new one).
   * @internal
   */
  _feed(sock: net.Socket): net.Socket {
    if (this._listener instanceof tls.Server) {
      this._listener.emit('connection', sock);
      return sock;
    }
    return this._servePlain(sock);
  }

  /** Shuts the server down gracefully ({@link Server.shutdown} with its default grace period); `await using server = new Server()` calls this. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  private _plainListener(): net.Server {
    // Accepted sockets start paused so that their handle can move to a socket
    // that reads through the channel's `onread` fast path (adoptWithOnread).
    const listener = net.createServer({ allowHalfOpen: true, noDelay: this._options.noDelay, pauseOnConnect: true });
    listener.on('connection', (sock) => this._servePlain(sock));
    return listener;
  }

  private _servePlain(sock: net.Socket): net.Socket {
    const adopted = adoptWithOnread(sock, CHANNEL_ONREAD);
    if (adopted !== null) {
      this._accept(adopted, adopted, true);
      return adopted;
    }
    sock.resume();
    this._accept(sock, sock, false);
    return sock;
  }

  private _tlsListener(credentials: tls.SecureContextOptions): tls.Server {
    const t = this._options.tls ?? {};
    const listener = tls.createServer({
      ...credentials,
      // Not half-open during the handshake: with it, Node ignores a FIN that comes before the
      // handshake is done and holds the socket until handshakeTimeoutMs, so a client that
      // connects and closes at once would keep a descriptor for that long. Once the handshake
      // is done the socket becomes half-open (below), as plain connections are.
      allowHalfOpen: false,
      noDelay: this._options.noDelay,
      handshakeTimeout: this._options.handshakeTimeoutMs,
      requestCert: t.requestCert,
      rejectUnauthorized: t.rejectUnauthorized,
      ALPNProtocols: t.ALPNProtocols,
    });
    listener.on('connection', (raw: net.Socket) => {
      const key = peerKey(raw);
      this._handshaking.set(key, raw);
      raw.once('close', () => {
        if (this._handshaking.get(key) === raw) this._handshaking.delete(key);
      });
    });
    listener.on('secureConnection', (sock) => {
      const key = peerKey(sock);
      const raw = this._handshaking.get(key);
      this._handshaking.delete(key);
      // Read when the peer's FIN is seen, so this still lets a Connection send after it.
      sock.allowHalfOpen = true;
      // A TLS socket is open here, so its peer's address is known and the TCP socket found.
      this._accept(sock, raw ?? sock, false);
    });
    listener.on('tlsClientError', (err, sock) => {
      const where = { address: sock.remoteAddress, port: sock.remotePort };
      if (this._options.onError) this._report(fromNodeError(err, 'TLS handshake with a client failed', where), null);
      sock.destroy();
    });
    return listener;
  }

  private _accept(sock: net.Socket, raw: net.Socket, viaOnread: boolean): void {
    const max = this._options.maxConnections;
    const shared = this._accounting;
    if (shared !== null ? !shared.admit(sock) : max !== undefined && this._conns.size >= max) {
      // Over the limit: refuse with an RST at once rather than hold a socket nobody serves.
      // (TLS: the TCP socket under it is reset, safe right after the handshake on every line.)
      sock.on('error', ignore);
      resetSocket(sock, raw);
      return;
    }
    const conn = new Connection(sock, raw, this._options.maxReadBufferBytes, viaOnread);
    this._conns.add(conn);
    sock.once('close', () => {
      this._conns.delete(conn);
      shared?.release();
      if (this._conns.size === 0 && this._drainWaiters.length > 0) {
        const waiters = this._drainWaiters;
        this._drainWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
    const idleMs = this._options.idleTimeoutMs;
    if (idleMs > 0) sock.setTimeout(idleMs, () => conn._expire(idleMs));
    let result: void | Promise<void>;
    try {
      result = this._connectionHandler!.call(this._thisArg, conn);
    } catch (err) {
      this._failHandler(conn, err);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then(
        () => closeUnlessAsked(conn),
        (err: unknown) => this._failHandler(conn, err),
      );
    } else {
      closeUnlessAsked(conn);
    }
  }

  private _failHandler(conn: Connection, err: unknown): void {
    void conn.reset();
    const e = new TcpError(
      TcpErrorCode.ERR_HANDLER,
      `connection handler for ${conn.peer()} failed, connection reset: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err, ...conn._peerAddr() },
    );
    this._report(e, conn);
  }

  private _report(err: TcpError, conn: Connection | null): void {
    const onError = this._options.onError;
    if (onError) {
      try {
        onError(err, conn);
      } catch {
        // A throwing error hook must not take the server down with it.
      }
    } else if (err.code === TcpErrorCode.ERR_HANDLER || err.code === TcpErrorCode.ERR_WORKER_EXIT) {
      // Without a hook, through Node's warnings: one line on stderr by default,
      // and an application can take them with process.on('warning').
      // (By message, type and code: an Error object from another realm, as under a
      // test runner's vm context, would be refused.)
      process.emitWarning(err.message, { type: err.name, code: err.code });
    }
  }
}

function ignore(): void {}

function peerKey(sock: net.Socket): string {
  return `${sock.remoteAddress}|${sock.remotePort}`;
}

function closeUnlessAsked(conn: Connection): void {
  if (!conn._closeAsked()) void conn.close();
}

function listen(listener: net.Server, host: string, port: number, how: { exclusive?: boolean; reusePort?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      listener.off('listening', onListening);
      reject(
        fromNodeError(err, `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}`, {
          address: host,
          port,
        }),
      );
    };
    const onListening = (): void => {
      listener.off('error', onError);
      resolve();
    };
    listener.once('error', onError);
    listener.once('listening', onListening);
    // Not exclusive unless asked: under node:cluster the workers then share the primary's socket.
    listener.listen({ host, port, exclusive: how.exclusive ?? false, ...(how.reusePort ? { reusePort: true } : {}) } as net.ListenOptions);
  });
}
