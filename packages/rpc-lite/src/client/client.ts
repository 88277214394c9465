import type { PeerAddress } from '../wire/codec';
import { MessageCodec } from '../wire/codec';
import type { ClientConnection } from './client-connection';
import { callOptionsError, clientConfig, type RpcCallOptions, type RpcClientOptions } from './client-options';
import { ConnectionSet } from './connection-set';
import { RpcError, RpcErrorCode } from '../errors';
import { SLAB_BYTES } from '../wire/frame-reader';
import { PendingCall } from './pending-call';
import { SendBudget } from './send-budget';
import { SlabPool } from '../wire/slab-pool';
import { rpcProxy, type RpcProxy } from '../typed';

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
  private readonly _timeoutMs: number;
  private readonly _where: PeerAddress;
  private readonly _connections: ConnectionSet;
  private readonly _budget: SendBudget;

  /**
   * @param ip - host name, IPv4 or IPv6 address of the server; `''` means `127.0.0.1`.
   * @param port - the server's port.
   * @param options - see {@link RpcClientOptions}.
   * @throws TypeError/RangeError for an unknown option or a bad value. Nothing connects here.
   */
  constructor(ip: string, port: number, options: RpcClientOptions = {}) {
    const config = clientConfig(ip, port, options);
    this.ip = config.ip;
    this.port = config.port;
    this._timeoutMs = config.timeoutMs;
    this._where = { address: config.ip, port: config.port };
    this._budget = new SendBudget(config.maxQueuedBytes);
    const connection = {
      ip: config.ip,
      port: config.port,
      ssl: config.ssl,
      tls: config.tls,
      codec: new MessageCodec(config.maxFrameBytes),
      slabs: new SlabPool(SLAB_BYTES),
      where: this._where,
      budget: this._budget,
      resend: (call: PendingCall, params: unknown) => this._resend(call, params),
      goneAway: (conn: ClientConnection) => this._connections.goneAway(conn),
      retired: (conn: ClientConnection) => this._connections.retired(conn),
    };
    this._connections = new ConnectionSet(connection, config.connections, config.connectTimeoutMs);
  }

  /**
   * Calls `method` with `params` and resolves with its result.
   *
   * @param method - the method's name.
   * @param params - any MessagePack-able value; msgpack-rpc peers expect an
   *   array of arguments. Default `[]`.
   * @param options - `timeoutMs` (default: the client's) and `signal`.
   * @throws RpcError (as a rejection): `TIMEOUT`, `ABORTED`, `CONNECT_FAILED`,
   *   `CONNECTION_CLOSED`, `FRAME_TOO_LARGE`, `BAD_MESSAGE` (local, `remote`
   *   `false`); `METHOD_NOT_FOUND`, `HANDLER_ERROR`, the handler's own code, or
   *   `BAD_MESSAGE`/`FRAME_TOO_LARGE` reported by the server (`remote` `true`).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- public API: the result is what the peer sent (like JSON.parse); call<R> names it
  call<R = any>(method: string, params: unknown = NO_PARAMS, options?: RpcCallOptions): Promise<R> {
    if (typeof method !== 'string') return Promise.reject(new TypeError('method must be a string'));
    let timeoutMs = this._timeoutMs;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      const bad = callOptionsError(options);
      if (bad !== null) return Promise.reject(bad);
      if (options.timeoutMs !== undefined) timeoutMs = options.timeoutMs;
      signal = options.signal;
    }
    if (this._connections.closed) {
      // A call all the same (traced: a start and its error), with no timer and no signal.
      const refused = new PendingCall(method, -1, undefined, this._where);
      refused.fail(this._closedError(method));
      return refused.promise as Promise<R>;
    }
    const call = new PendingCall(method, timeoutMs, signal, this._where);
    if (!call.settled) {
      const conn = this._connections.pick();
      if (conn !== null) conn.send(call, params);
      else this._sendOnNewConnection(call, params);
    }
    return call.promise as Promise<R>;
  }

  /** A call that was never written to the connection it was meant for (closed, or its server going away): on another. */
  private _resend(call: PendingCall, params: unknown): void {
    if (call.settled) return;
    call.holder = null;
    if (this._connections.closed) {
      call.fail(this._closedError(call.method));
      return;
    }
    const conn = this._connections.pick();
    if (conn !== null) conn.send(call, params);
    else this._sendOnNewConnection(call, params);
  }

  /**
   * A typed view of the server's methods: `proxy.m(...args)` is
   * `call('m', args, defaults)`, typed from `Api` (see {@link RpcProxy}); and
   * `proxy.with(options)` is a proxy whose calls take `options` merged over
   * `defaults`. Each method's function is made on first use and kept. The
   * proxy is not thenable: `then`, `toJSON`, `inspect` and Symbol keys read as
   * `undefined`, the names every object has (`toString`, ...) as a plain
   * object's (see {@link RpcProxyReservedName}); every other name is a remote
   * method, whether `Api` has it or not. Nothing connects until one is called.
   *
   * @example
   * ```ts
   * interface Api { add(a: number, b: number): number }
   * const api = client.proxy<Api>({ timeoutMs: 1000 });
   * await api.add(2, 3); // 5
   * await api.with({ signal: AbortSignal.timeout(50) }).add(2, 3);
   * ```
   * @param defaults - `timeoutMs` and `signal` for every call of the proxy; default: the client's.
   * @throws TypeError/RangeError for an unknown option or a bad value, at once.
   */
  proxy<Api extends object>(defaults?: RpcCallOptions): RpcProxy<Api> {
    return rpcProxy<Api>(this, defaults);
  }

  /**
   * Sends a notification: no response, no msgid. Resolves once it is queued
   * on a connection (not once the server has it): when `maxQueuedBytes` are
   * queued already, once there is room.
   *
   * @throws RpcError (as a rejection): `CONNECT_FAILED`, `CONNECTION_CLOSED`
   *   (also when the connection closes while it waits for room),
   *   `FRAME_TOO_LARGE`, `BAD_MESSAGE`.
   */
  async notify(method: string, params: unknown = NO_PARAMS): Promise<void> {
    if (typeof method !== 'string') throw new TypeError('method must be a string');
    if (this._connections.closed) throw this._closedError(method);
    let conn = this._connections.pick();
    if (conn === null) {
      try {
        conn = await this._connections.take();
      } catch (err) {
        throw this._takeError(err, method);
      }
    }
    const waiting = conn.notify(method, params);
    if (waiting !== null) await waiting;
  }

  /**
   * Closes every connection: calls still pending reject with
   * `CONNECTION_CLOSED`, and so does every later call. Safe to call many times.
   */
  close(): Promise<void> {
    return this._connections.close(new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', this._where));
  }

  /** The send queue's bytes and waiting frames (`maxQueuedBytes`), for tests. @internal */
  get sendBudget(): SendBudget {
    return this._budget;
  }

  /** Same as {@link RpcClient.close}: `await using client = new RpcClient(...)` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A call that found no connection ready: it goes on the next one made; its own timer and signal bound the wait. */
  private _sendOnNewConnection(call: PendingCall, params: unknown): void {
    this._connections.take().then(
      (conn: ClientConnection) => {
        if (!call.settled) conn.send(call, params);
      },
      (err: unknown) => call.fail(this._takeError(err, call.method)),
    );
  }

  /** Why no connection came, for a call of `method`. */
  private _takeError(err: unknown, method: string): RpcError {
    if (this._connections.closed) return this._closedError(method);
    const e = err as RpcError;
    return new RpcError(e.code, e.message, { method, cause: e.cause, ...this._where });
  }

  private _closedError(method: string): RpcError {
    return new RpcError(RpcErrorCode.CONNECTION_CLOSED, `call of "${method}" on a closed client`, {
      method,
      ...this._where,
    });
  }
}
