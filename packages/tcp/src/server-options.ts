import { availableParallelism } from 'node:os';
import type * as tls from 'node:tls';
import { DEFAULT_MAX_READ_BUFFER_BYTES } from './channel';
import type { Connection } from './connection';
import type { TcpError } from './errors';

/** Options of {@link Server}; every one is optional. */
export interface ServerOptions {
  /** Most live connections; further ones are closed as they arrive. Default: no limit. */
  maxConnections?: number;
  /** Disable Nagle's algorithm on accepted sockets. Default `true`. */
  noDelay?: boolean;
  /**
   * Close (RST) a connection when nothing was received or sent for this long:
   * the defence against peers that connect and stall. Default `0` (off).
   */
  idleTimeoutMs?: number;
  /** TLS only: a peer must finish its handshake within this time. Default `10000`. */
  handshakeTimeoutMs?: number;
  /** Bytes received but not yet read that a connection keeps before it stops reading. Default 256 KiB. */
  maxReadBufferBytes?: number;
  /**
   * Extra TLS options (ciphers, `requestCert`, `minVersion`, ...), used when
   * `start` is given a key and a certificate. `minVersion` defaults to `'TLSv1.2'`.
   */
  tls?: tls.SecureContextOptions & Pick<tls.TlsOptions, 'requestCert' | 'rejectUnauthorized' | 'ALPNProtocols'>;
  /**
   * Told of every failure that is not a return value: a connection handler
   * that threw (`conn` is its connection), a failed TLS handshake, an error of
   * the listening socket. Default: handler failures become a process warning
   * (`process.emitWarning`, one line on stderr unless the application listens
   * for `'warning'`), the rest are dropped.
   */
  onError?: (err: TcpError, conn: Connection | null) => void;
  /**
   * Run connections on this many worker threads (co's N schedulers), or
   * `'auto'` for `os.availableParallelism()`. The handler is then a module
   * (`onConnection(moduleUrl, exportName)`). Default: every connection runs on
   * the calling thread. See docs/workers.md.
   */
  workers?: number | 'auto';
  /**
   * With `workers`: how connections reach the workers. `'handoff'`: this
   * thread accepts and hands each socket to the less loaded of two workers
   * picked at random; `'reuseport'`: every worker listens on the port
   * (`SO_REUSEPORT`) and the kernel spreads them. Default: `'handoff'` where
   * Node can transfer a socket to a worker, else `'reuseport'`.
   */
  distribution?: 'handoff' | 'reuseport';
  /**
   * Listen with `exclusive: true`: under `node:cluster`, this process then
   * listens on its own instead of sharing the primary's socket. Default `false`.
   */
  exclusive?: boolean;
}

/** {@link ServerOptions} checked, with every default filled in. @internal */
export type ResolvedServerOptions = Required<Omit<ServerOptions, 'tls' | 'onError' | 'maxConnections' | 'workers' | 'distribution'>> &
  Pick<ServerOptions, 'tls' | 'onError' | 'maxConnections' | 'distribution'> & {
    /** The number of worker threads, `0` without `workers`. */
    workers: number;
  };

const SERVER_OPTION_KEYS = new Set([
  'maxConnections',
  'noDelay',
  'idleTimeoutMs',
  'handshakeTimeoutMs',
  'maxReadBufferBytes',
  'tls',
  'onError',
  'workers',
  'distribution',
  'exclusive',
]);

/**
 * Checks `options` (unknown keys and bad values throw at once) and fills in the defaults.
 * @internal
 */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('Server options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!SERVER_OPTION_KEYS.has(key)) {
      throw new TypeError(`unknown Server option "${key}"; known: ${[...SERVER_OPTION_KEYS].join(', ')}`);
    }
  }
  const o = options;
  checkCount('maxConnections', o.maxConnections, 1);
  checkCount('idleTimeoutMs', o.idleTimeoutMs, 0);
  checkCount('handshakeTimeoutMs', o.handshakeTimeoutMs, 1);
  checkCount('maxReadBufferBytes', o.maxReadBufferBytes, 1);
  if (o.noDelay !== undefined && typeof o.noDelay !== 'boolean') throw new TypeError(`noDelay must be a boolean, got ${typeof o.noDelay}`);
  if (o.tls !== undefined && (o.tls === null || typeof o.tls !== 'object')) throw new TypeError('tls must be an object of TLS options');
  if (o.onError !== undefined && typeof o.onError !== 'function') throw new TypeError('onError must be a function');
  if (o.workers !== undefined && o.workers !== 'auto') checkCount('workers', o.workers, 1);
  if (o.distribution !== undefined && o.distribution !== 'handoff' && o.distribution !== 'reuseport') {
    throw new TypeError(`distribution must be 'handoff' or 'reuseport', got ${String(o.distribution)}`);
  }
  if (o.distribution !== undefined && o.workers === undefined) throw new TypeError('distribution needs the workers option');
  if (o.exclusive !== undefined && typeof o.exclusive !== 'boolean') throw new TypeError(`exclusive must be a boolean, got ${typeof o.exclusive}`);
  return {
    maxConnections: o.maxConnections,
    noDelay: o.noDelay ?? true,
    idleTimeoutMs: o.idleTimeoutMs ?? 0,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
    maxReadBufferBytes: o.maxReadBufferBytes ?? DEFAULT_MAX_READ_BUFFER_BYTES,
    tls: o.tls,
    onError: o.onError,
    workers: o.workers === 'auto' ? availableParallelism() : (o.workers ?? 0),
    distribution: o.distribution,
    exclusive: o.exclusive ?? false,
  };
}

function checkCount(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  }
}
