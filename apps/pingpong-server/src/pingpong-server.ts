import { Server, type Connection, type ProxyProtocolVersion, type TcpError } from '@proj/tcp';
import { PingCounter } from './ping-counter';

/** co's example resets a failed connection after 3 s (`conn.reset(3000)`). */
export const RESET_DELAY_MS = 3000;

const PONG = Buffer.from('pong');

/** Options of {@link PingPongServer}. */
export interface PingPongServerOptions {
  /** Drop the per-message and per-connection lines. Default `false`. */
  quiet?: boolean;
  /** Where lines go. Default: stdout. */
  log?: (line: string) => void;
  /** Behind a load balancer: every connection begins with a PROXY header of this version; the lines name the real client. Default: off. */
  proxyProtocol?: ProxyProtocolVersion;
}

/** What a {@link PingPongServer} has done so far. */
export interface PingPongTotals {
  /** Connections accepted. */
  connections: number;
  /** Pings answered with a pong. */
  pings: number;
  /** Connections that failed (receive/send errors, failed TLS handshakes). */
  errors: number;
  /** Connections open now. */
  live: number;
}

/**
 * co's ping-pong server on `@proj/tcp`: every connection runs in its own async
 * task, answers each `ping` with a `pong`, is closed when the client closes,
 * and is reset after {@link RESET_DELAY_MS} on an error (at once when the
 * server is stopping).
 *
 * @example
 * ```ts
 * const s = new PingPongServer({ quiet: true });
 * const { port } = await s.start('127.0.0.1', 0);
 * // ... clients ping ...
 * await s.stop(2000);
 * console.log(s.totals());
 * ```
 */
export class PingPongServer {
  private readonly _server: Server;
  private readonly _quiet: boolean;
  private readonly _log: (line: string) => void;
  private _stopping = false;
  private _connections = 0;
  private _pings = 0;
  private _errors = 0;
  /** Handlers running: the connections not yet ended, for the per-connection lines. */
  private _open = 0;
  /** Connections with a delayed reset pending; a stop resets them at once. */
  private readonly _resetting = new Set<Connection>();

  constructor(options: PingPongServerOptions = {}) {
    this._quiet = options.quiet ?? false;
    this._log = options.log ?? ((line) => process.stdout.write(`${line}\n`));
    this._server = new Server({
      onError: (err, conn) => this._onServerError(err, conn),
      ...(options.proxyProtocol === undefined ? {} : { proxyProtocol: options.proxyProtocol }),
    });
    // eslint-disable-next-line @typescript-eslint/unbound-method -- onConnection(f, thisArg) calls it with this as `this`
    this._server.onConnection(this._serve, this);
  }

  /**
   * Starts listening, plain TCP or TLS (both `keyPath` and `certPath` given).
   *
   * @returns where it listens (the real port when `port` was 0).
   * @throws TcpError from `Server.start`: `EADDRINUSE`, `ERR_TLS_CONFIG`, ...
   */
  async start(ip: string, port: number, keyPath?: string, certPath?: string): Promise<{ ip: string; port: number }> {
    await this._server.start(ip, port, keyPath, certPath);
    return this._server.address()!;
  }

  /** Connections open now (co's `conn_num`). */
  connNum(): number {
    return this._server.connNum();
  }

  /** Counts so far. */
  totals(): PingPongTotals {
    return { connections: this._connections, pings: this._pings, errors: this._errors, live: this.connNum() };
  }

  /**
   * Stops gracefully: no new connections, open ones closed, those still open
   * after `graceMs` reset. Call it once.
   */
  async stop(graceMs: number): Promise<void> {
    this._stopping = true;
    // Delayed resets would otherwise hold the process for up to RESET_DELAY_MS.
    for (const conn of this._resetting) void conn.reset();
    this._resetting.clear();
    await this._server.shutdown(graceMs);
  }

  /** co's `on_connection`: one async task per connection. */
  private async _serve(conn: Connection): Promise<void> {
    this._connections++;
    this._open++;
    try {
      await this._pingPong(conn);
    } finally {
      this._open--;
    }
  }

  /** The loop of co's example: recv, a pong per ping, close on EOF, reset on error. */
  private async _pingPong(conn: Connection): Promise<void> {
    const peer = conn.peer();
    if (!this._quiet) this._log(`${peer} connected (${this._open} open)${conn.proxy === null ? '' : ` via ${conn.proxy.via} (PROXY v${conn.proxy.version} ${conn.proxy.command})`}`);
    const buf = Buffer.alloc(64);
    const pings = new PingCounter();
    for (;;) {
      const r = await conn.recv(buf, buf.length);
      if (r === 0) {
        // The client closed the connection; the server closes ours when we return.
        if (!this._quiet) this._log(`${peer} closed by the client (${this._open - 1} open)`);
        return;
      }
      if (r < 0) {
        // Closed here by stop(): shutdown() takes care of it.
        if (this._stopping) return;
        this._failed(conn, `recv error: ${conn.strerror()}`);
        return;
      }
      const n = pings.feed(buf, r);
      if (n === 0) continue;
      this._pings += n;
      if (!this._quiet) this._log(`${peer} recv ping${n > 1 ? ` x${n}` : ''}, send pong${n > 1 ? ` x${n}` : ''}`);
      const s = await conn.send(n === 1 ? PONG : Buffer.from('pong'.repeat(n)));
      if (s <= 0) {
        if (this._stopping) return;
        this._failed(conn, `send error: ${conn.strerror()}`);
        return;
      }
    }
  }

  private _failed(conn: Connection, what: string): void {
    this._errors++;
    const delay = this._stopping ? 0 : RESET_DELAY_MS;
    if (!this._quiet) this._log(`${conn.peer()} ${what}; reset in ${delay} ms`);
    if (delay === 0) {
      void conn.reset();
      return;
    }
    this._resetting.add(conn);
    void conn.reset(delay);
    setTimeout(() => this._resetting.delete(conn), delay).unref();
  }

  private _onServerError(err: TcpError, conn: Connection | null): void {
    this._errors++;
    if (!this._quiet) this._log(`${conn === null ? '' : `${conn.peer()} `}${err.message}`);
  }
}
