import type { ServerOptions } from '@proj/tcp';
import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from '../wire/frame-header';
import { MAX_TIMER_MS, checkInteger, checkObject, checkOptionKeys, checkTimeLimit } from '../option-checks';

/** Options of {@link RpcServer}; every one is optional. */
export interface RpcServerOptions {
  /**
   * Largest frame body accepted or sent, in bytes. A request frame longer than
   * this closes the connection (its msgid cannot be known); a response longer
   * than this is replaced by a `FRAME_TOO_LARGE` error. Default 4 MiB (4194304).
   */
  maxFrameBytes?: number;
  /** Most live connections; further ones are closed as they arrive. Default: no limit. */
  maxConnections?: number;
  /**
   * Most requests of one connection running at once. Past it the server stops
   * reading that connection until one finishes (backpressure, so a client
   * cannot pile up unbounded work). Default `1024`.
   */
  maxInFlight?: number;
  /**
   * Reset a connection on which nothing was received or sent for this long, up
   * to 2147483647 ms (Node's timer limit). `0` or `Infinity`: never. Default `0`.
   */
  idleTimeoutMs?: number;
  /**
   * TLS only: a client must finish its handshake within this time, from 1 to
   * 2147483647 ms. There is no "never" (`Infinity` throws a RangeError): a
   * handshake that never ends would hold its socket for good. Default `10000`.
   */
  handshakeTimeoutMs?: number;
  /** Extra TLS options (ciphers, `minVersion`, `requestCert`, ...), as for `@proj/tcp`'s `Server`. */
  tls?: ServerOptions['tls'];
  /**
   * Told of every failure no caller hears of: a bad frame from a client
   * (`RpcError` `BAD_MESSAGE`/`FRAME_TOO_LARGE`), a notification whose handler
   * failed or is missing, a failed TLS handshake (`TcpError`). `peer` is the
   * client's `"ip:port"` when known. Default: failed notification handlers
   * (and a failure of the server itself, `TcpError` `ERR_HANDLER`) become a
   * process warning (`process.emitWarning`: one line on stderr unless the
   * application listens for `'warning'`); the rest is dropped (a bad client
   * must not be able to flood the log).
   */
  onError?: (err: Error, peer: string | null) => void;
  /**
   * `shutdown` first tells every client it is going away (the `rpc.goaway`
   * notification, see the README's wire format), serves what they sent until
   * they close, then closes. `false`: `shutdown` takes no new request from the
   * moment it starts and tells no one (a client finds out when its calls fail
   * with `CONNECTION_CLOSED`). Default `true`.
   */
  goAway?: boolean;
  /** Behind a load balancer: as `@proj/tcp`'s `Server` (`'v1'`, `'v2'`, `'any'`); the client's address becomes the `peer`. Default: off. */
  proxyProtocol?: ServerOptions['proxyProtocol'];
  /** With `proxyProtocol`: as `@proj/tcp`'s `Server`. Default `3000`. */
  proxyHeaderTimeoutMs?: number;
  /** With `proxyProtocol`: the balancers' addresses or CIDR blocks, as `@proj/tcp`'s `Server`. Default: any peer. */
  proxyFrom?: readonly string[];
  /**
   * Serve on this many worker threads (`'auto'`: one per core), as
   * `@proj/tcp`'s `Server` does; the methods then come from `service`.
   * Default: every connection on the calling thread.
   */
  workers?: number | 'auto';
  /**
   * With `workers`: the service module (URL or path), loaded once per worker.
   * Its default export is an object of methods (as `implement`), or
   * `(server: RpcServer) => void | Promise<void>` that registers handlers.
   */
  service?: string | URL;
}

/** {@link RpcServerOptions} checked, with the defaults filled in. @internal */
export interface ServerConfig {
  maxFrameBytes: number;
  maxInFlight: number;
  onError: RpcServerOptions['onError'];
  goAway: boolean;
  /** What goes to `@proj/tcp`'s `Server` (its `onError` aside). */
  tcp: ServerOptions;
  /** With `workers`: the service module. */
  service: string | URL | undefined;
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'maxFrameBytes',
  'maxConnections',
  'maxInFlight',
  'idleTimeoutMs',
  'handshakeTimeoutMs',
  'tls',
  'onError',
  'goAway',
  'proxyProtocol',
  'proxyHeaderTimeoutMs',
  'proxyFrom',
  'workers',
  'service',
]);

/**
 * Checks `options` and fills in the defaults.
 * @throws TypeError/RangeError for an unknown option or a bad value. @internal
 */
export function serverConfig(options: RpcServerOptions): ServerConfig {
  checkOptionKeys('RpcServer', options, OPTION_KEYS);
  const o = options;
  checkInteger('maxFrameBytes', o.maxFrameBytes, MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES);
  checkInteger('maxInFlight', o.maxInFlight, 1, Number.MAX_SAFE_INTEGER);
  checkInteger('maxConnections', o.maxConnections, 1, Number.MAX_SAFE_INTEGER);
  checkTimeLimit('idleTimeoutMs', o.idleTimeoutMs, 0);
  checkInteger('handshakeTimeoutMs', o.handshakeTimeoutMs, 1, MAX_TIMER_MS);
  if (o.onError !== undefined && typeof o.onError !== 'function') throw new TypeError('onError must be a function');
  checkObject('tls', o.tls);
  const tcp: ServerOptions = {};
  if (o.maxConnections !== undefined) tcp.maxConnections = o.maxConnections;
  // @proj/tcp's 0 is "never", as Infinity is here.
  if (o.idleTimeoutMs !== undefined) tcp.idleTimeoutMs = o.idleTimeoutMs === Infinity ? 0 : o.idleTimeoutMs;
  if (o.handshakeTimeoutMs !== undefined) tcp.handshakeTimeoutMs = o.handshakeTimeoutMs;
  if (o.tls !== undefined) tcp.tls = o.tls;
  if (o.goAway !== undefined && typeof o.goAway !== 'boolean')
    throw new TypeError(`goAway must be a boolean, got ${typeof o.goAway}`);
  // Checked by @proj/tcp's Server, which is made at once.
  if (o.proxyProtocol !== undefined) tcp.proxyProtocol = o.proxyProtocol;
  if (o.proxyHeaderTimeoutMs !== undefined) tcp.proxyHeaderTimeoutMs = o.proxyHeaderTimeoutMs;
  if (o.proxyFrom !== undefined) tcp.proxyFrom = o.proxyFrom;
  if (o.workers !== undefined) tcp.workers = o.workers;
  if ((o.workers === undefined) !== (o.service === undefined)) {
    throw new TypeError(
      o.workers === undefined
        ? 'service needs the workers option'
        : 'workers needs a service module (service: its URL or path)',
    );
  }
  if (o.service !== undefined && !(o.service instanceof URL) && (typeof o.service !== 'string' || o.service === '')) {
    throw new TypeError('service must be a module URL or a non-empty path');
  }
  return {
    maxFrameBytes: o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxInFlight: o.maxInFlight ?? 1024,
    onError: o.onError,
    goAway: o.goAway ?? true,
    tcp,
    service: o.service,
  };
}
