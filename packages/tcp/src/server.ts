import * as net from 'node:net';
import * as tls from 'node:tls';
import { type WaitOptions, waitMs, waitSignal } from './args';
import { Connection } from './connection';
import { serverExit, serverListen } from './diagnostics';
import { TcpAbortError, TcpError, TcpErrorCode, fromNodeError } from './errors';
import { adoptWithOnread } from './node-internals';
import { ProxyGate } from './proxy-accept';
import type { ProxyInfo } from './proxy-protocol';
import { type ResolvedServerOptions, type ServerOptions, resolveServerOptions } from './server-options';
import { ServerConnections } from './server-connections';
import { closeGracefully, resetSocket } from './socket-close';
import { CHANNEL_ONREAD, discardSocket } from './socket-events';
import { loadTlsCredentials } from './tls-credentials';
import { type Timer, startTimer, stopTimer } from './timers';
import { type ServerWorkers, codedTypeError, startWorkers } from './workers/start';
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
  /** The options as given: what each worker's own server is made with. */
  private readonly _given: ServerOptions;
  private _connectionHandler: ConnectionHandler<unknown> | null = null;
  /** With `workers`: the handler module and its export. */
  private _moduleHandler: { module: string | URL; exportName: string; data?: unknown } | null = null;
  /** With `workers`: the worker threads of the last start. */
  private _workers: ServerWorkers | null = null;
  /** @internal Set in a worker thread: connections are counted across threads. */
  _accounting: SharedAccounting | null = null;
  private _thisArg: unknown = undefined;
  private readonly _exitCallbacks: Array<() => void> = [];
  private _listener: net.Server | null = null;
  private _starting = false;
  private _address: { ip: string; port: number } | null = null;
  /** The connections of this server, and how they end (shutdown, drain). */
  private readonly _connections = new ServerConnections();
  /** With `proxyProtocol`: reads each connection's header first. */
  private readonly _proxyGate: ProxyGate | null = null;
  /** TLS with `proxyProtocol`: the header of each TCP socket in its handshake. */
  private readonly _proxyInfo = new WeakMap<net.Socket, ProxyInfo>();
  /** The listener is the PROXY protocol's plain one in front of TLS. */
  private _tlsFront = false;

  /**
   * @param options - limits, timeouts, TLS extras and the error hook; every
   *   one optional. Unknown keys and bad values throw at once.
   */
  constructor(options: ServerOptions = {}) {
    this._options = resolveServerOptions(options);
    this._given = { ...options };
    const o = this._options;
    if (o.proxyProtocol !== undefined) {
      this._proxyGate = new ProxyGate(
        { proxyProtocol: o.proxyProtocol, proxyHeaderTimeoutMs: o.proxyHeaderTimeoutMs, proxyFrom: o.proxyFrom },
        (err) => this._report(err, null),
      );
    }
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
   * @param data - a value (structured-cloned) the module reads in each worker
   *   with `workerHandlerData()`, for its top-level code.
   */
  onConnection(module: string | URL, exportName?: string, data?: unknown): this;
  onConnection<T>(f: ConnectionHandler<T> | string | URL, thisArgOrExport?: T | string, data?: unknown): this {
    if (typeof f === 'string' || f instanceof URL) {
      if (this._options.workers === 0) {
        throw codedTypeError(
          TcpErrorCode.ERR_HANDLER_NOT_MODULE,
          'a handler module runs on worker threads: give the workers option (workers: 1 runs it on one), or give onConnection a function',
        );
      }
      const exportName = thisArgOrExport ?? 'default';
      if (typeof exportName !== 'string' || exportName === '')
        throw new TypeError('the export name must be a non-empty string');
      if (f === '') throw new TypeError('the handler module must be a non-empty path or URL');
      this._moduleHandler = { module: f, exportName, data };
      this._connectionHandler = null;
      return this;
    }
    if (typeof f !== 'function')
      throw new TypeError('onConnection needs a function, or with workers a module path or URL');
    this._connectionHandler = f as ConnectionHandler<unknown>;
    this._moduleHandler = null;
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
    if (this._connectionHandler === null && this._moduleHandler === null) {
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
    if (this._options.workers > 0 || this._moduleHandler !== null) {
      this._starting = true;
      try {
        this._workers = await startWorkers(
          this._options,
          this._given,
          this._moduleHandler,
          this._connectionHandler !== null,
          host,
          port,
          key,
          ca,
          {
            report: (err) => this._report(err, null),
            stopped: () => this._runExitCallbacks(),
          },
        );
      } finally {
        this._starting = false;
      }
      return;
    }
    this._starting = true;
    try {
      const tlsServer = key || ca ? this._tlsListener(await loadTlsCredentials(key, ca, this._options.tls)) : null;
      // With the PROXY protocol a plain listener reads the header, then hands the socket to TLS.
      const listener = this._proxyGate !== null ? this._proxyListener(tlsServer) : (tlsServer ?? this._plainListener());
      await listen(listener, host, port, { exclusive: this._options.exclusive });
      listener.on('error', (err) => this._report(fromNodeError(err, 'listening socket failed'), null));
      const addr = listener.address() as net.AddressInfo;
      this._address = { ip: addr.address, port: addr.port };
      this._listener = listener;
      if (serverListen.hasSubscribers) {
        serverListen.publish({ server: this, address: addr.address, port: addr.port, tls: tlsServer !== null });
      }
    } finally {
      this._starting = false;
    }
  }

  /** Where the server listens, or `null` when it does not. */
  address(): {
    /** The address listened on, as the system reports it. */
    ip: string;
    /** The port listened on. */
    port: number;
  } | null {
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
    return this._workers !== null ? this._workers.pool.workerLoad() : [this._connections.live.size];
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
    const isTls = listener instanceof tls.Server || this._tlsFront;
    this._listener = null;
    this._address = null;
    listener.close();
    if (serverExit.hasSubscribers) {
      serverExit.publish({ server: this, address: where.ip, port: where.port, tls: isTls });
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
    return this._workers !== null ? this._workers.pool.connNum() : this._connections.live.size;
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
    const { ms, signal } = graceOf(opts, 'shutdown');
    if (this._workers !== null) return this._workers.pool.stop('shutdown', ms, signal);
    this.exit();
    // A connection still in its PROXY header never reached a handler: drop it.
    this._proxyGate?.dropAll();
    const connections = this._connections;
    const closed = connections.closeAll();
    if (connections.live.size === 0) return;
    const timedOut = await waitOrInterrupt(closed, ms, signal, 'shutdown');
    if (timedOut) {
      connections.resetAll();
      await closed;
    }
  }

  /**
   * Stops without dropping work: `exit()`, then aborts every connection's
   * {@link Connection.draining} signal and waits until every handler has
   * returned (each connection closes gracefully as its handler returns).
   * Connections still open after `ms` are reset. Resolves once every handler
   * has returned and every connection is closed; `onExit` runs once.
   *
   * Where {@link Server.shutdown} closes every connection now (a request in
   * progress gets `-1` from its `recv`/`send`), `drain` lets each handler
   * finish the request it is on; a handler that waits between requests with
   * `{ signal: conn.draining }` returns at once. A TLS connection whose
   * handshake was under way when the listener closed is served, with
   * `draining` already aborted; one still sending its PROXY protocol header
   * is dropped, as `shutdown` does. A `drain` while one is under way joins it, and
   * the earlier deadline of the two applies (a second, shorter `drain` cuts the
   * first short); a `shutdown` during a drain closes every connection now, and
   * the drain still ends when the handlers have returned. After the deadline
   * the drain waits for the reset sockets to close, not for handlers that keep
   * running without touching their connection.
   *
   * @param opts - grace period in milliseconds before the connections still
   *   open are reset (default `5000`; negative waits forever), or
   *   `{ ms, signal }` (`ms` absent: the default). An abort stops the waiting
   *   and rejects with an `AbortError` (code `ABORT_ERR`); the connections go
   *   on draining. A signal aborted already rejects at once and changes nothing.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void server.drain(10_000));
   * ```
   */
  async drain(opts: number | WaitOptions = 5000): Promise<void> {
    const { ms, signal } = graceOf(opts, 'drain');
    if (this._workers !== null) return this._workers.pool.stop('drain', ms, signal);
    this.exit();
    // A connection still sending its PROXY header never reached a handler, and the
    // drain does not wait for it (the balancer tries another server): drop it.
    this._proxyGate?.dropAll();
    await waitOrInterrupt(this._connections.drain(ms), -1, signal, 'drain');
  }

  /**
   * In a worker thread: serves with `credentials` (PEM) or plain TCP,
   * listening on host:port with `reusePort`, or (`listen` false) only the
   * sockets given to {@link Server._feed}.
   * @internal
   */
  async _serveInWorker(
    credentials: tls.SecureContextOptions | null,
    host: string,
    port: number,
    listen_: boolean,
  ): Promise<void> {
    const tlsServer = credentials !== null ? this._tlsListener(credentials) : null;
    const listener = this._proxyGate !== null ? this._proxyListener(tlsServer) : (tlsServer ?? this._plainListener());
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
    if (this._listener instanceof tls.Server || this._proxyGate !== null) {
      this._listener!.emit('connection', sock);
      return sock;
    }
    return this._acceptPlain(sock, null, null);
  }

  /** Shuts the server down gracefully ({@link Server.shutdown} with its default grace period); `await using server = new Server()` calls this. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  private _plainListener(): net.Server {
    // Accepted sockets start paused so that their handle can move to a socket
    // that reads through the channel's `onread` fast path (adoptWithOnread).
    const listener = net.createServer({ allowHalfOpen: true, noDelay: this._options.noDelay, pauseOnConnect: true });
    listener.on('connection', (sock) => this._acceptPlain(sock, null, null));
    return listener;
  }

  /** Serves an accepted plain socket; returns the socket that serves it (the fast path moves it to a new one). */
  private _acceptPlain(sock: net.Socket, proxy: ProxyInfo | null, rest: Buffer | null): net.Socket {
    // Called at once from the read that ended a PROXY header, so nothing else was read yet: its
    // handle can still move to an onread socket, with `rest` handed over. Bytes buffered in the
    // old socket's stream would stay behind: then it keeps that socket.
    const adopted = sock.readableLength === 0 ? adoptWithOnread(sock, CHANNEL_ONREAD) : null;
    if (adopted !== null) {
      this._accept(adopted, adopted, true, proxy, rest);
      return adopted;
    }
    sock.resume();
    this._accept(sock, sock, false, proxy, rest);
    return sock;
  }

  /**
   * The listener of a server with `proxyProtocol`: each connection's header is
   * read first, then the socket goes on as a plain one, or to `tlsServer`
   * (which does not listen itself) with the bytes after the header put back
   * for the TLS layer to read.
   */
  private _proxyListener(tlsServer: tls.Server | null): net.Server {
    this._tlsFront = tlsServer !== null;
    const gate = this._proxyGate!;
    const listener = net.createServer({
      allowHalfOpen: tlsServer === null,
      noDelay: this._options.noDelay,
      pauseOnConnect: true,
    });
    listener.on('connection', (sock: net.Socket) => {
      gate.admit(sock, (s, info, rest) => {
        if (tlsServer === null) {
          this._acceptPlain(s, info, rest);
          return;
        }
        if (rest !== null) s.unshift(rest);
        this._proxyInfo.set(s, info);
        tlsServer.emit('connection', s);
      });
    });
    return listener;
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
    listener.on('connection', (raw: net.Socket) => this._connections.handshakeStarted(raw, peerKey(raw)));
    listener.on('secureConnection', (sock) => {
      const raw = this._connections.handshakeDone(peerKey(sock));
      // Read when the peer's FIN is seen, so this still lets a Connection send after it.
      sock.allowHalfOpen = true;
      // A TLS socket is open here, so its peer's address is known and the TCP socket found.
      this._accept(sock, raw ?? sock, false, raw === undefined ? null : (this._proxyInfo.get(raw) ?? null));
    });
    listener.on('tlsClientError', (err, sock) => {
      const where = { address: sock.remoteAddress, port: sock.remotePort };
      if (this._options.onError) this._report(fromNodeError(err, 'TLS handshake with a client failed', where), null);
      sock.destroy();
    });
    return listener;
  }

  private _accept(
    sock: net.Socket,
    raw: net.Socket,
    viaOnread: boolean,
    proxy: ProxyInfo | null = null,
    rest: Buffer | null = null,
  ): void {
    const connections = this._connections;
    const max = this._options.maxConnections;
    const shared = this._accounting;
    if (shared !== null ? !shared.admit(sock) : max !== undefined && connections.live.size >= max) {
      this._refuse(sock, raw, viaOnread);
      connections.settle();
      return;
    }
    const conn = new Connection(sock, raw, this._options.maxReadBufferBytes, viaOnread, proxy, rest);
    connections.opened(conn, sock);
    if (shared !== null) sock.once('close', () => shared.release());
    const idleMs = this._options.idleTimeoutMs;
    if (idleMs > 0) {
      const reset = this._options.idleClose === 'reset';
      sock.setTimeout(idleMs, () => conn._expire(idleMs, reset));
    }
    let result: void | Promise<void>;
    try {
      result = this._connectionHandler!.call(this._thisArg, conn);
    } catch (err) {
      this._failHandler(conn, err);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      result.then(
        () => this._onHandlerReturned(conn),
        (err: unknown) => this._failHandler(conn, err),
      );
    } else {
      this._onHandlerReturned(conn);
    }
  }

  /**
   * Refuses a connection over `maxConnections`: with an `overLimitReply`, sends
   * it and closes gracefully (lingering, bounded); else an RST at once rather
   * than hold a socket nobody serves. (TLS: the TCP socket under it is reset,
   * safe right after the handshake on every line.)
   */
  private _refuse(sock: net.Socket, raw: net.Socket, viaOnread: boolean): void {
    sock.on('error', ignore);
    const reply = this._options.overLimitReply;
    if (reply === null) {
      resetSocket(sock, raw);
      return;
    }
    // What the peer still sends is read and dropped until its FIN (or the linger time).
    discardSocket(sock, viaOnread);
    if (reply.length > 0) sock.write(reply);
    closeGracefully(sock);
  }

  private _onHandlerReturned(conn: Connection): void {
    if (!conn._closeAsked()) void conn.close();
    this._connections.handlerReturned();
  }

  private _failHandler(conn: Connection, err: unknown): void {
    void conn.reset();
    this._connections.handlerReturned();
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

/** The grace period and the signal of `shutdown`/`drain`, checked; a signal aborted already throws. */
function graceOf(opts: number | WaitOptions, what: string): { ms: number; signal: AbortSignal | null } {
  const ms = waitMs(opts, 5000);
  const signal = waitSignal(opts);
  if (signal !== null && signal.aborted) throw new TcpAbortError(`${what} aborted by its signal`, signal.reason);
  return { ms, signal };
}

/**
 * Waits for `done`; resolves `true` instead when `ms` (>= 0) runs out first,
 * and rejects with an `AbortError` when `signal` is aborted first.
 */
async function waitOrInterrupt(
  done: Promise<void>,
  ms: number,
  signal: AbortSignal | null,
  what: string,
): Promise<boolean> {
  if (ms < 0 && signal === null) {
    await done;
    return false;
  }
  let timer: Timer | null = null;
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<boolean>((resolve, reject) => {
    if (ms >= 0) timer = startTimer(resolve, ms, true, undefined);
    if (signal !== null) {
      onAbort = () => reject(new TcpAbortError(`${what} aborted by its signal`, signal.reason));
      signal.addEventListener('abort', onAbort);
    }
  });
  try {
    return await Promise.race([done.then(() => false), interrupted]);
  } finally {
    if (timer !== null) stopTimer(timer);
    if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
  }
}

function listen(
  listener: net.Server,
  host: string,
  port: number,
  how: { exclusive?: boolean; reusePort?: boolean },
): Promise<void> {
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
    listener.listen({
      host,
      port,
      exclusive: how.exclusive ?? false,
      ...(how.reusePort ? { reusePort: true } : {}),
    } as net.ListenOptions);
  });
}
