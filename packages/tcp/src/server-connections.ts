/**
 * The connections of a server on one thread, and the two ways they end:
 * `shutdown` closes them now; `drain` tells each handler to finish the request
 * in progress and return. Kept apart from the listening socket so that a
 * server whose connections run on several threads drains each thread's with
 * {@link ServerConnections.drain}, after stopping the listener once.
 * @internal
 */
import type * as net from 'node:net';
import type { Connection } from './connection';
import { TcpError, TcpErrorCode } from './errors';
import { type Timer, startTimer, stopTimer } from './timers';

/** A drain under way: every `drain()` call made meanwhile waits for the same end. */
interface Drain {
  readonly done: Promise<void>;
  readonly resolve: () => void;
  /** The reason every connection's `draining` signal is aborted with. */
  readonly reason: TcpError;
  /** When connections still open are reset (`performance.now()` time), `Infinity` for never. */
  deadline: number;
  timer: Timer | null;
  /** The deadline has passed: what is left was reset; only the closes are waited for. */
  overdue: boolean;
}

/** @internal */
export class ServerConnections {
  /** Connections whose socket has not closed yet. */
  readonly live = new Set<Connection>();
  /**
   * TLS: accepted TCP sockets whose handshake has not finished, by the peer's
   * "address|port" (unique among live connections to one listener). The TLS
   * socket made from one is matched to it by that key.
   */
  private readonly _handshaking = new Map<string, net.Socket>();
  /** Handlers that have not returned yet (a handler may outlive its connection). */
  private _running = 0;
  private _drain: Drain | null = null;
  /** Every shutdown waiting for the last connection to close (there may be several at once). */
  private _closeWaiters: Array<() => void> = [];

  /** A TLS handshake began on `raw`. */
  handshakeStarted(raw: net.Socket, key: string): void {
    this._handshaking.set(key, raw);
    raw.once('close', () => {
      if (this._handshaking.get(key) !== raw) return;
      this._handshaking.delete(key);
      this.settle();
    });
  }

  /** The TLS handshake of the peer `key` is done: its TCP socket, which the caller accepts or refuses (then call {@link settle}). */
  handshakeDone(key: string): net.Socket | undefined {
    const raw = this._handshaking.get(key);
    this._handshaking.delete(key);
    return raw;
  }

  /** `conn` (on `sock`) is accepted and its handler about to run; a drain under way is told to it at once. */
  opened(conn: Connection, sock: net.Socket): void {
    this.live.add(conn);
    this._running++;
    if (this._drain !== null) conn._startDraining(this._drain.reason);
    sock.once('close', () => {
      this.live.delete(conn);
      this.settle();
    });
  }

  /** A handler returned (or threw). */
  handlerReturned(): void {
    this._running--;
    this.settle();
  }

  /**
   * Tells every connection to finish (aborts its `draining`), and resolves once
   * every handler has returned and every connection is closed, TLS handshakes
   * under way included (they are served, told at once). After `ms` (negative:
   * never) the connections still open are reset and handshakes dropped; the
   * drain then ends when their sockets have closed, whether their handlers have
   * returned or not. A drain while one is under way joins it, and the earlier
   * deadline of the two applies.
   */
  drain(ms: number): Promise<void> {
    const deadline = ms < 0 || ms === Infinity ? Infinity : performance.now() + ms;
    let d = this._drain;
    if (d === null) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const reason = new TcpError(
        TcpErrorCode.ERR_DRAINING,
        'the server is draining: finish the request in progress, then return from the handler',
      );
      d = this._drain = { done, resolve, reason, deadline: Infinity, timer: null, overdue: false };
      for (const conn of this.live) conn._startDraining(reason);
    }
    if (deadline < d.deadline) {
      d.deadline = deadline;
      this._armDeadline(d);
    }
    this.settle();
    return d.done;
  }

  /**
   * Closes every connection gracefully now and drops TLS handshakes under
   * way; resolves once every connection is closed. `shutdown` waits on this.
   */
  closeAll(): Promise<void> {
    for (const raw of this._handshaking.values()) raw.destroy();
    this._handshaking.clear();
    if (this.live.size === 0) {
      this.settle();
      return Promise.resolve();
    }
    const closed = new Promise<void>((resolve) => this._closeWaiters.push(resolve));
    for (const conn of this.live) void conn.close();
    return closed;
  }

  /** Resets every connection still open (the grace period of a shutdown is over). */
  resetAll(): void {
    for (const conn of this.live) void conn.reset();
  }

  /** Resolves the waiters whose end has come (call after refusing a socket {@link handshakeDone} gave). */
  settle(): void {
    if (this.live.size > 0) return;
    if (this._closeWaiters.length > 0) {
      const waiters = this._closeWaiters;
      this._closeWaiters = [];
      for (const resolve of waiters) resolve();
    }
    const d = this._drain;
    if (d !== null && this._handshaking.size === 0 && (this._running === 0 || d.overdue)) {
      this._drain = null;
      if (d.timer !== null) stopTimer(d.timer);
      d.resolve();
    }
  }

  private _armDeadline(d: Drain): void {
    if (d.timer !== null) stopTimer(d.timer);
    const left = d.deadline - performance.now();
    // Not unref'd: a handler may still be running after its socket closed, and the drain waits for it.
    d.timer = left > 0 ? startTimer(overdue, Math.ceil(left), this, d) : null;
    if (left <= 0) this._overdue(d);
  }

  /** @internal */
  _overdue(d: Drain): void {
    if (this._drain !== d) return;
    d.overdue = true;
    for (const conn of this.live) void conn.reset();
    for (const raw of this._handshaking.values()) raw.destroy();
    this.settle();
  }
}

function overdue(connections: ServerConnections, d: Drain): void {
  connections._overdue(d);
}
