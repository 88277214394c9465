import * as net from 'node:net';
import * as tls from 'node:tls';
import { type WaitOptions, waitMs, waitSignal } from './args';
import { Channel } from './channel';
import { CHANNEL_ONREAD } from './socket-events';
import { clientConnect } from './diagnostics';
import { TcpError, TcpErrorCode, fromNodeError } from './errors';
import { type Timer, startTimer, stopTimer } from './timers';

/** TLS settings of a {@link Client}; used only when `useSsl` is true. */
export interface ClientTlsOptions {
  /** Certificate authorities to trust, PEM. Default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Name sent in SNI and checked against the certificate. Default: the host given to the constructor. */
  servername?: string;
  /**
   * Verify the server's certificate and host name. Default **`true`**; set it
   * to `false` only for tests against a self-signed server you control.
   */
  rejectUnauthorized?: boolean;
  /** Client certificate, PEM, for servers that ask for one. */
  cert?: string | Buffer;
  /** Private key of `cert`, PEM. */
  key?: string | Buffer;
  /** Oldest protocol accepted. Default `'TLSv1.2'`. */
  minVersion?: tls.SecureVersion;
}

const TLS_OPTION_KEYS = new Set(['ca', 'servername', 'rejectUnauthorized', 'cert', 'key', 'minVersion']);

/**
 * A TCP client, plain or TLS, IPv4 or IPv6 (co's `tcp::Client`). One client is
 * one connection; nothing connects until {@link Client.connect}. Not meant to
 * be shared by concurrent tasks: pool clients instead (`@proj/pool`).
 *
 * @example
 * ```ts
 * const c = new Client('127.0.0.1', 7788);
 * if (!(await c.connect(3000))) throw new Error(c.strerror());
 * await c.send('ping');
 * const buf = Buffer.alloc(8);
 * const n = await c.recv(buf, 8, 3000);
 * c.close();
 * ```
 */
export class Client extends Channel {
  /** Host name or address to connect to. */
  readonly ip: string;
  /** Port to connect to. */
  readonly port: number;
  /** Whether the connection speaks TLS. */
  readonly useSsl: boolean;
  /** TLS settings, copied from the constructor. */
  readonly tls: Readonly<ClientTlsOptions>;
  private _connecting: Promise<boolean> | null = null;
  private _abortConnect: ((err: TcpError) => void) | null = null;

  /**
   * @param ip - host name, IPv4 or IPv6 address; `''` means `127.0.0.1`.
   * @param port - the server's port.
   * @param useSsl - speak TLS. Default `false`.
   * @param tlsOptions - TLS settings; certificates are verified unless `rejectUnauthorized: false`.
   */
  constructor(ip: string, port: number, useSsl?: boolean, tlsOptions?: ClientTlsOptions);
  /** Copies ip, port, useSsl and the TLS settings of `other`, not its connection (co's copy constructor). */
  constructor(other: Client);
  constructor(ipOrOther: string | Client, port?: number, useSsl = false, tlsOptions: ClientTlsOptions = {}) {
    super('client');
    if (ipOrOther instanceof Client) {
      this.ip = ipOrOther.ip;
      this.port = ipOrOther.port;
      this.useSsl = ipOrOther.useSsl;
      this.tls = ipOrOther.tls;
      return;
    }
    if (typeof ipOrOther !== 'string') throw new TypeError('ip must be a string (host name, IPv4 or IPv6)');
    if (!Number.isInteger(port) || port! < 1 || port! > 65535) {
      throw new RangeError(`port must be an integer from 1 to 65535, got ${port}`);
    }
    if (tlsOptions === null || typeof tlsOptions !== 'object') throw new TypeError('tls options must be an object');
    for (const key of Object.keys(tlsOptions)) {
      if (!TLS_OPTION_KEYS.has(key)) {
        throw new TypeError(`unknown Client tls option "${key}"; known: ${[...TLS_OPTION_KEYS].join(', ')}`);
      }
    }
    this.ip = ipOrOther === '' ? '127.0.0.1' : ipOrOther;
    this.port = port!;
    this.useSsl = Boolean(useSsl);
    this.tls = Object.freeze({ ...tlsOptions });
  }

  /**
   * Connects, name resolution and the TLS handshake included, within `ms`.
   *
   * @param opts - timeout in milliseconds (negative, the default, waits
   *   forever), or `{ ms, signal }`.
   * @returns `true` once connected (at once if already connected); `false` on
   *   failure, timeout or abort, with {@link Client.strerror} and `lastError` set
   *   (`ECONNREFUSED`, `ETIMEDOUT`, `ABORT_ERR`, `ENOTFOUND`, a TLS verification code, ...).
   */
  connect(opts: number | WaitOptions = -1): Promise<boolean> {
    const ms = waitMs(opts);
    const signal = waitSignal(opts);
    if (this.connected()) return Promise.resolve(true);
    if (this._connecting !== null) return this._connecting;
    if (signal !== null && signal.aborted) {
      this.lastError = new TcpError(
        TcpErrorCode.ABORT_ERR,
        `connect to ${this._target()} aborted by its signal before it started`,
        {
          ...this._where(),
          cause: signal.reason,
        },
      );
      return Promise.resolve(false);
    }
    this.disconnect();
    const attempt = this._connect(ms, signal);
    this._connecting = attempt;
    return attempt;
  }

  /**
   * Whether the connection is up: connected, not failed, and not closed by
   * the peer (a pooled client whose server went away reads as not connected).
   */
  connected(): boolean {
    return this._usable();
  }

  /**
   * Closes the connection (co's `disconnect`); a pending `recv`/`send` resolves
   * `-1`, a pending `connect` resolves `false`. Safe to call many times, from anywhere.
   */
  disconnect(): void {
    if (this._abortConnect !== null) {
      this._abortConnect(
        new TcpError(TcpErrorCode.ENOTCONN, `connect to ${this._target()} cancelled by disconnect()`, this._where()),
      );
    }
    if (this._sock === null) return;
    // Every byte a resolved send handed over reaches the server, then FIN.
    this._detach(new TcpError(TcpErrorCode.ENOTCONN, 'the connection was closed here', this._where()), false);
    this._sock = null;
  }

  /** Same as {@link Client.disconnect}. */
  close(): void {
    this.disconnect();
  }

  /** Disconnects; `await using c = new Client(...)` calls this. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.disconnect();
  }

  /** @internal */
  _where(): { address: string; port: number } {
    return { address: this.ip, port: this.port };
  }

  /** @internal */
  protected _closedHere(): boolean {
    return false;
  }

  private _target(): string {
    return `${this.ip.includes(':') ? `[${this.ip}]` : this.ip}:${this.port}`;
  }

  private _connect(ms: number, signal: AbortSignal | null): Promise<boolean> {
    const startedAt = performance.now();
    return new Promise<boolean>((resolve) => {
      const host = this.ip;
      const raw = net.connect({
        host,
        port: this.port,
        noDelay: true,
        allowHalfOpen: true,
        // TLS reads through its own layer; a plain socket reads through the channel's fast path.
        onread: this.useSsl ? undefined : CHANNEL_ONREAD,
      });
      let sock: net.Socket = raw;
      if (this.useSsl) {
        const t = this.tls;
        sock = tls.connect({
          socket: raw,
          host,
          servername: t.servername ?? (net.isIP(host) === 0 ? host : undefined),
          ca: t.ca,
          cert: t.cert,
          key: t.key,
          rejectUnauthorized: t.rejectUnauthorized ?? true,
          minVersion: t.minVersion ?? 'TLSv1.2',
        });
        // The TLS socket re-emits the raw socket's errors; this keeps the raw one from crashing the process.
        raw.on('error', ignore);
      }
      let timer: Timer | null = null;
      const done = (err: TcpError | null): void => {
        if (timer !== null) stopTimer(timer);
        signal?.removeEventListener('abort', onAbort);
        sock.off('error', onFail);
        sock.off(this.useSsl ? 'secureConnect' : 'connect', onConnected);
        this._abortConnect = null;
        this._connecting = null;
        if (clientConnect.hasSubscribers) {
          clientConnect.publish({
            client: this,
            address: this.ip,
            port: this.port,
            tls: this.useSsl,
            ok: err === null,
            durationMs: performance.now() - startedAt,
            error: err,
          });
        }
        if (err === null) {
          this.lastError = null;
          this._attach(sock, raw, !this.useSsl);
          resolve(true);
          return;
        }
        this.lastError = err;
        sock.on('error', ignore);
        sock.destroy();
        if (sock !== raw) raw.destroy();
        resolve(false);
      };
      const onFail = (err: Error): void =>
        done(fromNodeError(err, `connect to ${this._target()} failed`, this._where()));
      const onConnected = (): void => done(null);
      const onAbort = (): void =>
        done(
          new TcpError(TcpErrorCode.ABORT_ERR, `connect to ${this._target()} aborted by its signal`, {
            ...this._where(),
            cause: signal!.reason,
          }),
        );
      signal?.addEventListener('abort', onAbort);
      sock.once('error', onFail);
      sock.once(this.useSsl ? 'secureConnect' : 'connect', onConnected);
      this._abortConnect = done;
      if (ms >= 0) {
        timer = startTimer(
          () => {
            timer = null;
            done(
              new TcpError(
                TcpErrorCode.ETIMEDOUT,
                `connect to ${this._target()} timed out after ${ms} ms${this.useSsl ? ' (TCP connect and TLS handshake)' : ''}`,
                this._where(),
              ),
            );
          },
          ms,
          undefined,
          undefined,
        );
      }
    });
  }
}

function ignore(): void {}
