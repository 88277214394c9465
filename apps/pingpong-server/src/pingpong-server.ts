import { Server, type Connection, type ProxyProtocolVersion, type TcpError } from '@proj/tcp';
import { BroadcastChannel } from 'node:worker_threads';
import { PingCounter } from './ping-counter';
import { QUIET_ENV, TOTALS_CHANNEL, type WorkerReport } from './pingpong-worker';

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
  /**
   * Serve on this many worker threads (`'auto'`: one per core); the workers
   * print their own lines on stdout. Default: every connection on this thread.
   */
  workers?: number | 'auto';
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
  /** With workers: connections each worker has served since start. */
  perWorker?: number[];
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
  /** With workers: what they report, and connections served by each worker (by thread id). */
  private _channel: BroadcastChannel | null = null;
  private readonly _perWorker = new Map<number, number>();
  private _ended = 0;
  private _allReported: (() => void) | null = null;

  constructor(options: PingPongServerOptions = {}) {
    this._quiet = options.quiet ?? false;
    this._log = options.log ?? ((line) => process.stdout.write(`${line}\n`));
    const onError = (err: TcpError, conn: Connection | null): void => this._onServerError(err, conn);
    const proxy = options.proxyProtocol === undefined ? {} : { proxyProtocol: options.proxyProtocol };
    if (options.workers === undefined) {
      this._server = new Server({ onError, ...proxy });
      // eslint-disable-next-line @typescript-eslint/unbound-method -- onConnection(f, thisArg) calls it with this as `this`
      this._server.onConnection(this._serve, this);
    } else {
      this._server = new Server({ onError, workers: options.workers, ...proxy });
      this._server.onConnection(require.resolve('./pingpong-worker'), 'serve');
    }
  }

  /** How connections reach their thread: `'single'`, `'handoff'` or `'reuseport'`. */
  get distribution(): string {
    return this._server.distribution;
  }

  /**
   * Starts listening, plain TCP or TLS (both `keyPath` and `certPath` given).
   *
   * @returns where it listens (the real port when `port` was 0).
   * @throws TcpError from `Server.start`: `EADDRINUSE`, `ERR_TLS_CONFIG`, ...
   */
  async start(ip: string, port: number, keyPath?: string, certPath?: string): Promise<{ ip: string; port: number }> {
    if (this._server.distribution !== 'single') {
      process.env[QUIET_ENV] = this._quiet ? '1' : '0';
      const channel = (this._channel = new BroadcastChannel(TOTALS_CHANNEL));
      channel.onmessage = (event) => this._onWorkerReport((event as { data: WorkerReport }).data);
    }
    try {
      await this._server.start(ip, port, keyPath, certPath);
    } catch (err) {
      this._channel?.close();
      throw err;
    }
    return this._server.address()!;
  }

  /** Connections open now (co's `conn_num`). */
  connNum(): number {
    return this._server.connNum();
  }

  /** Counts so far. */
  totals(): PingPongTotals {
    const t: PingPongTotals = {
      connections: this._connections,
      pings: this._pings,
      errors: this._errors,
      live: this.connNum(),
    };
    if (this._server.distribution !== 'single') t.perWorker = [...this._perWorker.values()];
    return t;
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
    if (this._channel !== null) {
      // Each worker posted its last reports before it ended: wait for them (a worker that died sent none).
      if (this._ended < this._connections) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          this._allReported = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      this._channel.close();
      this._channel = null;
    }
  }

  private _onWorkerReport(r: WorkerReport): void {
    this._connections += r.opened;
    this._pings += r.pings;
    this._errors += r.errors;
    if (r.opened > 0) this._perWorker.set(r.threadId, (this._perWorker.get(r.threadId) ?? 0) + r.opened);
    else if (++this._ended === this._connections) this._allReported?.();
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
    if (!this._quiet)
      this._log(
        `${peer} connected (${this._open} open)${conn.proxy === null ? '' : ` via ${conn.proxy.via} (PROXY v${conn.proxy.version} ${conn.proxy.command})`}`,
      );
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
