import { availableParallelism } from 'node:os';
import type * as tls from 'node:tls';
import { DEFAULT_MAX_READ_BUFFER_BYTES } from './channel';
import type { Connection } from './connection';
import type { TcpError } from './errors';
import { TIMER_MAX_MS } from './timers';
import { compileProxyFrom } from './proxy-accept';
import type { ProxyProtocolVersion } from './proxy-protocol';

/** Options of {@link Server}; every one is optional. */
export interface ServerOptions {
  /**
   * Most live connections; further ones are reset as they arrive (after the
   * handshake, over TLS), or sent {@link ServerOptions.overLimitReply} and
   * closed. Default: no limit.
   */
  maxConnections?: number;
  /**
   * What a connection refused by `maxConnections` is sent before a graceful
   * close (FIN), say `"HTTP/1.1 503 Service Unavailable\r\nConnection:
   * close\r\nContent-Length: 0\r\n\r\n"`: the peer then learns it was
   * turned away for being one too many, not that the server failed. Over TLS
   * it goes after the handshake. At most 64 KiB; needs `maxConnections`.
   * Default: none, the connection is reset.
   */
  overLimitReply?: Uint8Array | string;
  /** Disable Nagle's algorithm on accepted sockets. Default `true`. */
  noDelay?: boolean;
  /**
   * Close a connection when nothing was received or sent for this long: the
   * defence against peers that connect and stall. A `recv` waiting then gets
   * `-1` with code `ERR_IDLE_TIMEOUT`. How it is closed: {@link ServerOptions.idleClose}.
   * Default `0` (off); at most 2^31 - 1 (about 24.8 days), the longest timer a socket takes.
   */
  idleTimeoutMs?: number;
  /**
   * How `idleTimeoutMs` ends an idle connection: `'reset'` (RST, the default:
   * a peer that stalls gets no TIME_WAIT and no more of our time) or `'close'`
   * (graceful: what was sent is flushed, then FIN), as keep-alive protocols
   * (HTTP/1.1) expect of an idle connection: their clients take an RST as a
   * failure, and a FIN as "open a new connection".
   */
  idleClose?: 'reset' | 'close';
  /** TLS only: a peer must finish its handshake within this time, at most 2^31 - 1. Default `10000`. */
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
   * Every connection begins with a PROXY header (HAProxy's protocol) of this
   * version, `'any'` for either; it is read before TLS and before the handler
   * runs, and `conn.peer()` is then the client's address it gives (see
   * `conn.proxy`). A connection without a valid header in time is reset and
   * reported to `onError` (code `ERR_PROXY_PROTOCOL`). Default: off.
   */
  proxyProtocol?: ProxyProtocolVersion;
  /** With `proxyProtocol`: the whole header must arrive within this time. Default `3000`. */
  proxyHeaderTimeoutMs?: number;
  /**
   * With `proxyProtocol`: the only addresses (or CIDR blocks, IPv4 and IPv6,
   * like `'10.0.0.0/8'`, `'fd00::/8'`) allowed to connect, that is, your
   * balancers. A connection from anywhere else is reset before a byte is read.
   * Without it any peer may claim any client address: only safe when a
   * firewall lets nothing but the balancers reach the port.
   */
  proxyFrom?: readonly string[];
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
export type ResolvedServerOptions = Required<
  Omit<
    ServerOptions,
    'tls' | 'onError' | 'maxConnections' | 'overLimitReply' | 'proxyProtocol' | 'proxyFrom' | 'workers' | 'distribution'
  >
> &
  Pick<ServerOptions, 'tls' | 'onError' | 'maxConnections' | 'proxyProtocol' | 'proxyFrom' | 'distribution'> & {
    /** The bytes of `overLimitReply`, made once; `null` without it. */
    overLimitReply: Buffer | null;
    /** The number of worker threads, `0` without `workers`. */
    workers: number;
  };

/** Most bytes of `overLimitReply`: it must fit the socket's buffers, so that no refused peer holds memory for long. */
const MAX_OVER_LIMIT_REPLY_BYTES = 64 * 1024;

const SERVER_OPTION_KEYS = new Set([
  'maxConnections',
  'noDelay',
  'idleTimeoutMs',
  'idleClose',
  'overLimitReply',
  'handshakeTimeoutMs',
  'maxReadBufferBytes',
  'tls',
  'onError',
  'proxyProtocol',
  'proxyHeaderTimeoutMs',
  'proxyFrom',
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
  checkCount('idleTimeoutMs', o.idleTimeoutMs, 0, TIMER_MAX_MS);
  checkCount('handshakeTimeoutMs', o.handshakeTimeoutMs, 1, TIMER_MAX_MS);
  checkCount('maxReadBufferBytes', o.maxReadBufferBytes, 1);
  if (o.noDelay !== undefined && typeof o.noDelay !== 'boolean')
    throw new TypeError(`noDelay must be a boolean, got ${typeof o.noDelay}`);
  if (o.tls !== undefined && (o.tls === null || typeof o.tls !== 'object'))
    throw new TypeError('tls must be an object of TLS options');
  if (o.onError !== undefined && typeof o.onError !== 'function') throw new TypeError('onError must be a function');
  checkCount('proxyHeaderTimeoutMs', o.proxyHeaderTimeoutMs, 1, TIMER_MAX_MS);
  if (
    o.proxyProtocol !== undefined &&
    o.proxyProtocol !== 'v1' &&
    o.proxyProtocol !== 'v2' &&
    o.proxyProtocol !== 'any'
  ) {
    throw new TypeError(`proxyProtocol must be 'v1', 'v2' or 'any', got ${JSON.stringify(o.proxyProtocol)}`);
  }
  if (o.proxyFrom !== undefined) {
    if (!Array.isArray(o.proxyFrom)) throw new TypeError('proxyFrom must be an array of addresses or CIDR blocks');
    compileProxyFrom(o.proxyFrom);
  }
  if (o.proxyProtocol === undefined && (o.proxyFrom !== undefined || o.proxyHeaderTimeoutMs !== undefined)) {
    throw new TypeError('proxyFrom and proxyHeaderTimeoutMs need proxyProtocol');
  }
  if (o.idleClose !== undefined && o.idleClose !== 'reset' && o.idleClose !== 'close') {
    throw new TypeError(`idleClose must be 'reset' or 'close', got ${JSON.stringify(o.idleClose)}`);
  }
  if (o.workers !== undefined && o.workers !== 'auto') checkCount('workers', o.workers, 1);
  if (o.distribution !== undefined && o.distribution !== 'handoff' && o.distribution !== 'reuseport') {
    throw new TypeError(`distribution must be 'handoff' or 'reuseport', got ${String(o.distribution)}`);
  }
  if (o.distribution !== undefined && o.workers === undefined)
    throw new TypeError('distribution needs the workers option');
  if (o.exclusive !== undefined && typeof o.exclusive !== 'boolean')
    throw new TypeError(`exclusive must be a boolean, got ${typeof o.exclusive}`);
  return {
    maxConnections: o.maxConnections,
    noDelay: o.noDelay ?? true,
    idleTimeoutMs: o.idleTimeoutMs ?? 0,
    idleClose: o.idleClose ?? 'reset',
    overLimitReply: overLimitReplyOf(o),
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
    maxReadBufferBytes: o.maxReadBufferBytes ?? DEFAULT_MAX_READ_BUFFER_BYTES,
    tls: o.tls,
    onError: o.onError,
    proxyProtocol: o.proxyProtocol,
    proxyHeaderTimeoutMs: o.proxyHeaderTimeoutMs ?? 3000,
    // A copy: the caller's array could change after the check.
    proxyFrom: o.proxyFrom === undefined ? undefined : Array.from(o.proxyFrom, String),
    workers: o.workers === 'auto' ? availableParallelism() : (o.workers ?? 0),
    distribution: o.distribution,
    exclusive: o.exclusive ?? false,
  };
}

function overLimitReplyOf(o: ServerOptions): Buffer | null {
  const reply = o.overLimitReply;
  if (reply === undefined) return null;
  if (typeof reply !== 'string' && !(reply instanceof Uint8Array)) {
    throw new TypeError(
      `overLimitReply must be a string or a Uint8Array, got ${reply === null ? 'null' : typeof reply}`,
    );
  }
  if (o.maxConnections === undefined)
    throw new TypeError('overLimitReply needs maxConnections: without a limit no connection is refused');
  // A copy: the caller may change its bytes later.
  const bytes = Buffer.from(reply);
  if (bytes.length > MAX_OVER_LIMIT_REPLY_BYTES) {
    throw new RangeError(`overLimitReply must be at most ${MAX_OVER_LIMIT_REPLY_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function checkCount(name: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
    // The socket's own timers take at most 2^31 - 1 ms; past that Node would fire them after 1 ms.
    const most = max === Number.MAX_SAFE_INTEGER ? '' : ` and <= ${max} (about 24.8 days)`;
    throw new RangeError(`${name} must be an integer >= ${min}${most}, got ${v}`);
  }
}
