import { Server, TcpErrorCode, type Connection, type TcpError } from '@proj/tcp';
import { MessageCodec } from '../wire/codec';
import { badMs } from '../option-checks';
import { SLAB_BYTES } from '../wire/frame-reader';
import type { RpcHandler } from '../context';
import { ServerSession } from './server-session';
import { serverConfig, type RpcServerOptions } from './server-options';
import { SlabPool } from '../wire/slab-pool';
import { implementationHandlers, type RpcImplementation } from '../typed';
import { BroadcastChannel } from 'node:worker_threads';
import { RpcError } from '../errors';
import { rpcWorkerModule, type RpcWorkerData, errorChannelName, serviceSpecifier } from './server-workers';

/** Answers wait in memory up to this many bytes before the server stops reading a connection. */
const MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * An RPC server (msgpack-rpc messages in length-prefixed frames) on
 * `@proj/tcp`'s `Server`: each connection is read by a `FrameReader`, its
 * requests run concurrently, and the answers ready in one tick leave in one `send`.
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
  /** @internal */ readonly codec: MessageCodec;
  /** @internal */ readonly slabs = new SlabPool(SLAB_BYTES);
  /** @internal */ readonly maxInFlight: number;
  /** @internal */ readonly maxQueuedBytes = MAX_QUEUED_BYTES;
  private readonly _methods = new Map<string, RpcHandler>();
  private readonly _sessions = new Set<ServerSession>();
  private readonly _tcp: Server;
  private readonly _onError: RpcServerOptions['onError'];
  private readonly _goAway: boolean;
  /** shutdown() has begun: a connection accepted from now on is told at once. */
  private _stopping = false;
  /** With workers: where their failures come from. */
  private _workerErrors: BroadcastChannel | null = null;

  /**
   * @param options - see {@link RpcServerOptions}.
   * @throws TypeError/RangeError for an unknown option or a bad value.
   */
  constructor(options: RpcServerOptions = {}) {
    const config = serverConfig(options);
    this.codec = new MessageCodec(config.maxFrameBytes);
    this.maxInFlight = config.maxInFlight;
    this._onError = config.onError;
    this._goAway = config.goAway;
    const onError = (err: TcpError, conn: Connection | null): void =>
      this._report(err, conn === null ? null : conn.peer(), err.code === TcpErrorCode.ERR_HANDLER);
    if (config.service === undefined) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- onConnection(f, thisArg) calls it with this as `this`
      this._tcp = new Server({ ...config.tcp, onError }).onConnection(this._serve, this);
      return;
    }
    // With workers: each worker runs its own RpcServer (rpc-worker.ts) with the service module loaded.
    const channel = errorChannelName();
    const data: RpcWorkerData = {
      service: serviceSpecifier(config.service),
      maxFrameBytes: config.maxFrameBytes,
      maxInFlight: config.maxInFlight,
      goAway: config.goAway,
      errorChannel: channel,
    };
    this._tcp = new Server({ ...config.tcp, onError }).onConnection(rpcWorkerModule(), 'serve', data);
    this._workerErrors = new BroadcastChannel(channel);
    this._workerErrors.unref();
    this._workerErrors.onmessage = (event) => {
      const d = (
        event as { data: { name: string; code: string; message: string; remote?: boolean; peer: string | null } }
      ).data;
      const err = new RpcError(d.code, d.message, { remote: d.remote });
      this._report(err, d.peer, false);
    };
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
    if (this._workerErrors !== null) {
      throw new TypeError(
        'an RpcServer with workers takes its handlers from its service module, not from handle()/implement()',
      );
    }
    if (typeof method !== 'string' || method === '') throw new TypeError('method must be a non-empty string');
    if (typeof fn !== 'function') throw new TypeError(`the handler of "${method}" must be a function`);
    this._methods.set(method, fn as RpcHandler);
    return this;
  }

  /**
   * Serves every method of `impl` under its own name: `handle(name, (params) =>
   * impl[name](...params))` with `this` bound to `impl`. Its methods are its own
   * enumerable function properties and the methods of its prototype chain up to
   * `Object.prototype` (a class instance's methods; `constructor` is not one),
   * taken as they are now. The caller gets the result, or the error the method
   * threw, as with {@link RpcServer.handle} (a method does not see the
   * `RpcContext`). Params that are not an array (msgpack-rpc sends the
   * arguments as one) fail the call with `BAD_MESSAGE` (`remote` `true` for the
   * caller); the arguments themselves are not checked.
   *
   * @example
   * ```ts
   * interface Api { add(a: number, b: number): number }
   * server.implement<Api>({ add: (a, b) => a + b }); // a caller: await client.proxy<Api>().add(2, 3)
   * ```
   * @typeParam Api - the interface `impl` is checked against when given
   *   (`implement<Api>(impl)`): each of its methods, sync or async.
   * @typeParam Impl - the type of `impl`; not to be given (it stands apart from
   *   `Api` so that `implement(impl)` with no type argument infers nothing
   *   from `impl` and checks nothing, as with a class that has private members).
   * @param impl - an object (a class instance, a plain object) with at least one method.
   * @returns this, for chaining.
   * @throws TypeError when `impl` is not an object (a function or an array is not one here) or has no method.
   */
  implement<Api extends object, Impl extends RpcImplementation<Api> & object = RpcImplementation<Api> & object>(
    impl: Impl,
  ): this {
    for (const [method, fn] of implementationHandlers(impl)) this.handle(method, fn);
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
  address(): {
    /** The address listened on, as the system reports it. */
    ip: string;
    /** The port listened on. */
    port: number;
  } | null {
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
   * Stops listening, tells every client it is going away (the `rpc.goaway`
   * notification), serves what each sends until it closes its connection (an
   * `RpcClient` closes once its calls there are answered, and sends new ones
   * on another connection), then closes every connection; those still open
   * after `ms` are reset. With the option `goAway: false`: nobody is told, a
   * request that arrives during the shutdown is not run (its caller gets
   * `CONNECTION_CLOSED`), and the connections close once the requests in
   * flight are answered.
   *
   * @param ms - grace period in milliseconds, up to 2147483647 (Node's timer
   *   limit). Default `5000`; negative or `Infinity` waits forever.
   * @throws (rejects) TypeError for an `ms` that is not a number, RangeError
   *   for one above the timer limit, before anything is stopped.
   */
  async shutdown(ms = 5000): Promise<void> {
    if (typeof ms !== 'number' || Number.isNaN(ms)) throw new TypeError(`ms must be a number, got ${ms}`);
    const bad = badMs('shutdown ms', ms);
    if (bad !== null) throw bad;
    if (this._workerErrors !== null) {
      // Each worker's RpcServer finishes its requests in flight first (rpc-worker.ts's close).
      await this._tcp.shutdown(ms === Infinity ? -1 : ms);
      this._workerErrors.close();
      return;
    }
    this.exit();
    this._stopping = true;
    const drains = this._drainAll();
    if (ms < 0 || ms === Infinity) {
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

  /** Drains every session, including those that began while the others drained. */
  private async _drainAll(): Promise<void> {
    while (this._sessions.size > 0) await Promise.all([...this._sessions].map((s) => s.drain(this._goAway)));
  }

  /** Same as `shutdown()`: `await using server = new RpcServer(...)` shuts it down at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** @internal */
  lookup(method: string): RpcHandler | undefined {
    return this._methods.get(method);
  }

  /** @internal */
  report(err: RpcError, peer: string): void {
    this._report(err, peer, false);
  }

  /** @internal */
  warn(err: RpcError, peer: string): void {
    this._report(err, peer, true);
  }

  /** Serves one connection given by a worker thread's `Server`. @internal */
  _serveConnection(conn: Connection): Promise<void> {
    return this._serve(conn);
  }

  /** Live connections per worker thread (with `workers`). */
  workerLoad(): number[] {
    return this._tcp.workerLoad();
  }

  private async _serve(conn: Connection): Promise<void> {
    const session = new ServerSession(conn, this);
    this._sessions.add(session);
    if (this._stopping) void session.drain(this._goAway);
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
      process.emitWarning(peer === null ? err.message : `${err.message} (client ${peer})`, {
        type: err.name,
        code: err.code,
      });
    }
  }
}
