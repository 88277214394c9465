import type * as net from 'node:net';
import { checkMs } from './args';
import { Channel } from './channel';
import { TcpError, TcpErrorCode } from './errors';
import { type Timer, startTimer, stopTimer } from './timers';
import type { ProxyInfo } from './proxy-protocol';

/**
 * One accepted connection (co's `tcp::Connection`). Made by {@link Server} and
 * handed to the `onConnection` callback; the server closes it when the callback
 * returns, so a handler only calls `close`/`reset` to end it early or abortively.
 */
export class Connection extends Channel {
  /**
   * What the PROXY header said, on a server with `proxyProtocol` (then
   * {@link Connection.peer} is the client it names); `null` without the option.
   */
  readonly proxy: ProxyInfo | null;
  private readonly _peerAddress: string;
  private readonly _peerPort: number;
  /** close()/reset() has run (not merely been scheduled). */
  private _shut = false;
  /** close()/reset() was asked for, possibly with a delay still running. */
  private _shutAsked = false;
  private _delayTimer: Timer | null = null;
  private _closedPromise: Promise<void> | null = null;
  /** Made on first access of {@link Connection.draining}: an idle connection that never asks holds none. */
  private _drainController: AbortController | null = null;
  /** Why the server drains, once it does. */
  private _drainReason: TcpError | null = null;

  /**
   * @internal Created by {@link Server}; `raw` is the TCP socket under `sock`
   * (`sock` itself when plain); `viaOnread`: `sock` reads through `CHANNEL_ONREAD`;
   * `proxy`: the PROXY header read before; `rest`: bytes read after that header, the first the handler reads.
   */
  constructor(
    sock: net.Socket,
    raw: net.Socket,
    maxReadBufferBytes: number,
    viaOnread: boolean,
    proxy: ProxyInfo | null = null,
    rest: Buffer | null = null,
  ) {
    super('server', maxReadBufferBytes);
    this.proxy = proxy;
    // LOCAL (a health check) and UNKNOWN name no client; a UNIX path is no "ip:port": the socket's peer then.
    const client =
      proxy !== null && proxy.command === 'PROXY' && (proxy.protocol === 'TCP4' || proxy.protocol === 'TCP6')
        ? proxy.source
        : null;
    this._peerAddress = client !== null ? client.address : (sock.remoteAddress ?? '');
    this._peerPort = client !== null ? client.port : (sock.remotePort ?? 0);
    this._attach(sock, raw, viaOnread);
    if (rest !== null) this._reader._onBytes(rest, rest.length, true);
  }

  /**
   * Closes gracefully: bytes already sent are flushed, then FIN. A `recv`
   * pending at that moment resolves `-1`. Safe to call many times.
   *
   * @param ms - close after this many milliseconds instead of now, however
   *   many (`Infinity`: only when the handler returns or the peer closes).
   * @returns resolves once the socket is closed.
   */
  close(ms = 0): Promise<void> {
    return this._shutdown(ms, false);
  }

  /**
   * Closes abortively with an RST: no `TIME_WAIT`, unsent bytes dropped.
   *
   * @param ms - reset after this many milliseconds instead of now, however
   *   many (`Infinity`: only when the handler returns or the peer closes).
   * @returns resolves once the socket is closed.
   */
  reset(ms = 0): Promise<void> {
    return this._shutdown(ms, true);
  }

  /** The remote end as a `TcpError` carries it. @internal */
  _peerAddr(): { address: string; port: number } {
    return { address: this._peerAddress, port: this._peerPort };
  }

  /**
   * `"ip:port"` of the remote end (`"[ip]:port"` for IPv6). Behind a balancer
   * with `proxyProtocol`: the client named by the header (`LOCAL`, `UNKNOWN`
   * and `UNIX` headers name none: the socket's peer, the balancer, then).
   */
  peer(): string {
    const ip = this._peerAddress;
    return ip.includes(':') ? `[${ip}]:${this._peerPort}` : `${ip}:${this._peerPort}`;
  }

  /**
   * Aborted when the server starts to drain ({@link Server.drain}), with a
   * `TcpError` of code `ERR_DRAINING` as its reason; already aborted on a
   * connection accepted while the server drains. Pass it to the wait
   * *between* two requests, so an idle connection ends at once while a
   * request in progress finishes:
   *
   * @example
   * ```ts
   * for (;;) {
   *   const n = await conn.recvUntil(line, '\n', { signal: conn.draining }); // -1 once the server drains
   *   if (n <= 0) return; // the server closes the connection gracefully
   *   await conn.send(answer(line.subarray(0, n))); // a request under way is answered
   * }
   * ```
   * An already aborted signal fails a call at once even when bytes are
   * queued: to answer requests the peer has sent already, take them first
   * with `tryRecvUntil`.
   */
  get draining(): AbortSignal {
    let controller = this._drainController;
    if (controller === null) {
      controller = this._drainController = new AbortController();
      if (this._drainReason !== null) controller.abort(this._drainReason);
    }
    return controller.signal;
  }

  /** The server drains: aborts {@link Connection.draining}, now or when it is first asked for. @internal */
  _startDraining(reason: TcpError): void {
    if (this._drainReason !== null) return;
    this._drainReason = reason;
    this._drainController?.abort(reason);
  }

  /** Same as {@link Connection.close}: `await using conn = ...` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether close()/reset() was asked for; the server then leaves the socket to it. @internal */
  _closeAsked(): boolean {
    return this._shutAsked;
  }

  /** The server's idle timeout fired: reset or close (`reset` false), and tell a waiting recv why. @internal */
  _expire(ms: number, reset: boolean): void {
    const err = new TcpError(
      TcpErrorCode.ERR_IDLE_TIMEOUT,
      `connection from ${this.peer()} was idle for ${ms} ms and was ${reset ? 'reset' : 'closed'} (server idleTimeoutMs)`,
      this._where(),
    );
    this.lastError = err;
    this._shutNow(reset, err, reset ? err : null);
  }

  /** @internal */
  _where(): { address: string; port: number } {
    return { address: this._peerAddress, port: this._peerPort };
  }

  /** @internal */
  protected _closedHere(): boolean {
    return this._shut;
  }

  private _shutdown(ms: number, reset: boolean): Promise<void> {
    checkMs(ms);
    this._shutAsked = true;
    if (ms > 0 && !this._shut && this._sock !== null && !this._sock.destroyed) {
      // A later close/reset replaces an earlier delayed one. The timer does not
      // hold the process open: the socket does, for as long as it is open.
      // `Infinity` arms nothing: the close waits for the peer or the server.
      if (this._delayTimer !== null) stopTimer(this._delayTimer);
      this._delayTimer = startTimer(onDelayOver, ms, this, reset);
      this._delayTimer?.unref();
      return this._whenClosed();
    }
    this._shutNow(reset, closedHere(reset));
    return this._whenClosed();
  }

  /** A delayed close()/reset() is due. @internal */
  _delayOver(reset: boolean): void {
    this._delayTimer = null;
    this._shutNow(reset, closedHere(reset));
  }

  private _shutNow(reset: boolean, why: TcpError, failure: TcpError | null = null): void {
    const sock = this._sock;
    if (sock === null) return;
    if (this._delayTimer !== null) {
      stopTimer(this._delayTimer);
      this._delayTimer = null;
    }
    if (this._shut && !reset) return;
    this._shut = true;
    this._detach(why, reset, failure);
  }

  private _whenClosed(): Promise<void> {
    const sock = this._sock;
    if (sock === null || sock.closed) return Promise.resolve();
    return (this._closedPromise ??= new Promise<void>((resolve) => {
      sock.once('close', () => {
        if (this._delayTimer !== null) {
          stopTimer(this._delayTimer);
          this._delayTimer = null;
        }
        resolve();
      });
    }));
  }
}

function onDelayOver(conn: Connection, reset: boolean): void {
  conn._delayOver(reset);
}

function closedHere(reset: boolean): TcpError {
  return new TcpError(TcpErrorCode.ENOTCONN, `the connection was ${reset ? 'reset' : 'closed'} here`);
}
