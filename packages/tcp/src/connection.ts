import type * as net from 'node:net';
import { checkMs } from './args';
import { Channel } from './channel';
import { TcpError, TcpErrorCode } from './errors';

/**
 * One accepted connection (co's `tcp::Connection`). Made by {@link Server} and
 * handed to the `onConnection` callback; the server closes it when the callback
 * returns, so a handler only calls `close`/`reset` to end it early or abortively.
 */
export class Connection extends Channel {
  private readonly _peerAddress: string;
  private readonly _peerPort: number;
  /** close()/reset() has run (not merely been scheduled). */
  private _shut = false;
  /** close()/reset() was asked for, possibly with a delay still running. */
  private _shutAsked = false;
  private _delayTimer: NodeJS.Timeout | null = null;
  private _closedPromise: Promise<void> | null = null;

  /**
   * @internal Created by {@link Server}; `raw` is the TCP socket under `sock`
   * (`sock` itself when plain); `viaOnread`: `sock` reads through `CHANNEL_ONREAD`.
   */
  constructor(sock: net.Socket, raw: net.Socket, maxReadBufferBytes: number, viaOnread: boolean) {
    super('server', maxReadBufferBytes);
    this._peerAddress = sock.remoteAddress ?? '';
    this._peerPort = sock.remotePort ?? 0;
    this._attach(sock, raw, viaOnread);
  }

  /**
   * Closes gracefully: bytes already sent are flushed, then FIN. A `recv`
   * pending at that moment resolves `-1`. Safe to call many times.
   *
   * @param ms - close after this many milliseconds instead of now.
   * @returns resolves once the socket is closed.
   */
  close(ms = 0): Promise<void> {
    return this._shutdown(ms, false);
  }

  /**
   * Closes abortively with an RST: no `TIME_WAIT`, unsent bytes dropped.
   *
   * @param ms - reset after this many milliseconds instead of now.
   * @returns resolves once the socket is closed.
   */
  reset(ms = 0): Promise<void> {
    return this._shutdown(ms, true);
  }

  /** The remote end as a `TcpError` carries it. @internal */
  _peerAddr(): { address: string; port: number } {
    return { address: this._peerAddress, port: this._peerPort };
  }

  /** `"ip:port"` of the remote end (`"[ip]:port"` for IPv6). */
  peer(): string {
    const ip = this._peerAddress;
    return ip.includes(':') ? `[${ip}]:${this._peerPort}` : `${ip}:${this._peerPort}`;
  }

  /** Same as {@link Connection.close}: `await using conn = ...` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether close()/reset() was asked for; the server then leaves the socket to it. @internal */
  _closeAsked(): boolean {
    return this._shutAsked;
  }

  /** The server's idle timeout fired: reset, and tell a waiting recv why. @internal */
  _expire(ms: number): void {
    const err = new TcpError(
      TcpErrorCode.ERR_IDLE_TIMEOUT,
      `connection from ${this.peer()} was idle for ${ms} ms and was reset (server idleTimeoutMs)`,
      this._where(),
    );
    this.lastError = err;
    this._shutNow(true, err, err);
  }

  /** @internal */
  protected _where(): { address: string; port: number } {
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
      if (this._delayTimer !== null) clearTimeout(this._delayTimer);
      this._delayTimer = setTimeout(() => {
        this._delayTimer = null;
        this._shutNow(reset, closedHere(reset));
      }, ms);
      this._delayTimer.unref();
      return this._whenClosed();
    }
    this._shutNow(reset, closedHere(reset));
    return this._whenClosed();
  }

  private _shutNow(reset: boolean, why: TcpError, failure: TcpError | null = null): void {
    const sock = this._sock;
    if (sock === null) return;
    if (this._delayTimer !== null) {
      clearTimeout(this._delayTimer);
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
          clearTimeout(this._delayTimer);
          this._delayTimer = null;
        }
        resolve();
      });
    }));
  }
}

function closedHere(reset: boolean): TcpError {
  return new TcpError(TcpErrorCode.ENOTCONN, `the connection was ${reset ? 'reset' : 'closed'} here`);
}
