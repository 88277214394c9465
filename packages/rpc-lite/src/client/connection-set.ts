import { Pool, PoolError, PoolErrorCode } from '@proj/pool';
import { messageOf } from '../wire/codec';
import { ClientConnection, type ClientConnectionConfig } from './client-connection';
import { RpcError, RpcErrorCode } from '../errors';

/**
 * The connections of one {@link RpcClient}, made by `@proj/pool` and used in
 * turn (round robin).
 *
 * The pool makes (connects), bounds and destroys the connections. A connection
 * is multiplexed, so it stays out of the pool while it is healthy and carries
 * every call that comes: popping and pushing it around each call would cost
 * more CPU than the rest of the call (measured) and lend nothing exclusive. A
 * dropped one goes back to the pool to be destroyed.
 * @internal
 */
export class ConnectionSet {
  private readonly _pool: Pool<ClientConnection>;
  /** Connections taken from the pool that carry calls, used in turn. */
  private readonly _active: ClientConnection[] = [];
  private _next = 0;
  /** Pops under way: with the active connections, never more than `connections`. */
  private _popping = 0;
  /** The latest pop under way, which callers wait for when no more may start. */
  private _lastPop: Promise<ClientConnection> | null = null;
  /** Every connection made and not yet destroyed, connecting ones included, so that close() reaches them all. */
  private readonly _live = new Set<ClientConnection>();
  private _closed: RpcError | null = null;
  private _closing: Promise<void> | null = null;

  /**
   * @param _cfg - how each connection connects.
   * @param _connections - how many connections at most.
   * @param _connectTimeoutMs - time allowed to make one (TLS handshake included).
   */
  constructor(
    private readonly _cfg: ClientConnectionConfig,
    private readonly _connections: number,
    private readonly _connectTimeoutMs: number,
  ) {
    this._pool = new Pool<ClientConnection>(
      () => this._connect(),
      (conn) => this._destroy(conn),
      _connections,
      { max: _connections },
    );
  }

  /** {@link ConnectionSet.close} was called. */
  get closed(): boolean {
    return this._closed !== null;
  }

  /**
   * The next healthy connection in turn; `null` when a new one should be
   * taken with {@link ConnectionSet.take} (fewer than `connections` are up or
   * coming) or when every one is still connecting.
   */
  pick(): ClientConnection | null {
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
   * A connection for a caller that {@link ConnectionSet.pick} gave none: a
   * new one from the pool (which connects it), put in turn with the others;
   * or, when `connections` are already up or being made, one of those as soon
   * as it is ready.
   *
   * @throws RpcError (as a rejection) `CONNECT_FAILED` (cause: why), or
   *   `CONNECTION_CLOSED` once the set is closed.
   */
  take(): Promise<ClientConnection> {
    if (this._active.length + this._popping >= this._connections && this._lastPop !== null) {
      return this._lastPop.then(() => this.pick() ?? this.take());
    }
    const pop = this._popOne();
    this._lastPop = pop;
    return pop;
  }

  /** `conn`'s server is going away: out of turn now; the pool may make another in its place. */
  goneAway(conn: ClientConnection): void {
    const i = this._active.indexOf(conn);
    if (i < 0) return;
    this._active.splice(i, 1);
    if (this._next > i) this._next--;
    this._pool.discard(conn);
  }

  /** A connection that went away has closed by itself. */
  retired(conn: ClientConnection): void {
    this._live.delete(conn);
  }

  /** Closes every connection, those being made too, with `reason`. Safe to call many times. */
  close(reason: RpcError): Promise<void> {
    if (this._closing === null) {
      this._closed = reason;
      for (const conn of this._live) conn.close(reason);
      for (const conn of this._active) this._pool.discard(conn);
      this._active.length = 0;
      // The pool's close() also waits for the connects in flight, just cut short, to settle.
      this._closing = this._pool.close();
    }
    return this._closing;
  }

  private async _popOne(): Promise<ClientConnection> {
    this._popping++;
    let conn: ClientConnection;
    try {
      conn = (await this._pool.pop())!;
    } catch (err) {
      throw this._takeError(err);
    } finally {
      this._popping--;
    }
    if (this._closed !== null) {
      this._pool.discard(conn);
      throw this._closed;
    }
    this._active.push(conn);
    return conn;
  }

  /** The pool's `create`: a new connection, connected within `connectTimeoutMs`. */
  private async _connect(): Promise<ClientConnection> {
    if (this._closed !== null) throw this._closed;
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
    // One going away closes by itself once its calls are answered (then `retired`).
    if (conn.goingAway && !this.closed) return;
    this._live.delete(conn);
    conn.close();
  }

  private _takeError(err: unknown): RpcError {
    if (this._closed !== null) return this._closed;
    if (err instanceof RpcError) return err;
    if (err instanceof PoolError && err.code === PoolErrorCode.ERR_CLOSED) {
      return new RpcError(RpcErrorCode.CONNECTION_CLOSED, 'the client was closed', { cause: err, ...this._cfg.where });
    }
    return new RpcError(RpcErrorCode.CONNECT_FAILED, `no connection: ${messageOf(err)}`, {
      cause: err,
      ...this._cfg.where,
    });
  }
}
