import { Client, type ClientTlsOptions } from '@proj/tcp';
import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, MIN_MAX_FRAME_BYTES } from '../wire/frame-header';
import { badMs, checkInteger, checkObject, checkOptionKeys, checkTimeLimit, limitMs } from '../option-checks';

/** Options of {@link RpcClient}; every one is optional. */
export interface RpcClientOptions {
  /** Speak TLS. Default `false`. */
  ssl?: boolean;
  /**
   * TLS settings passed to `@proj/tcp`'s `Client` (`ca`, `servername`,
   * `rejectUnauthorized`, `cert`, `key`, `minVersion`). The server's
   * certificate is verified unless `rejectUnauthorized: false`. Default `{}`.
   */
  tls?: ClientTlsOptions;
  /**
   * Default time a call may take, in milliseconds, from `call()` to its
   * response (connecting included); a call can override it. Negative or
   * `Infinity`: no limit, and no timer at all. At most 2147483647 (Node's timer
   * limit, about 24.8 days): a longer one throws a RangeError. Default `-1`.
   */
  timeoutMs?: number;
  /**
   * Largest frame body sent or accepted, in bytes. A request over it is
   * refused with `FRAME_TOO_LARGE` before anything is sent; a response over it
   * closes the connection. Default 4 MiB (4194304).
   */
  maxFrameBytes?: number;
  /**
   * How many connections to spread the calls over, kept by `@proj/pool`. Each
   * carries any number of calls at once. Default `1`.
   */
  connections?: number;
  /**
   * Time allowed to connect (TLS handshake included) before `CONNECT_FAILED`,
   * from 1 to 2147483647 ms, or `Infinity` for no limit. Default `3000`.
   */
  connectTimeoutMs?: number;
  /**
   * Bound on the bytes of requests and notifications queued for sending and
   * not yet accepted by the sockets, for the whole client (all its
   * connections), frame headers included. A call whose request does not fit
   * waits, in order (FIFO), within its own `timeoutMs` and `signal`: one that
   * times out or is aborted while waiting sends nothing; a connection that
   * closes fails the calls waiting for it with `CONNECTION_CLOSED`. A
   * notification waits likewise (`notify` resolves once it is queued). A single
   * frame larger than the bound waits until nothing is queued, then goes
   * alone. From 1024 (1 KiB). Default 8 MiB (8388608).
   */
  maxQueuedBytes?: number;
}

/** Default {@link RpcClientOptions.maxQueuedBytes}: 8 MiB. @internal */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** Smallest {@link RpcClientOptions.maxQueuedBytes} accepted. @internal */
export const MIN_MAX_QUEUED_BYTES = 1024;

/** Options of one {@link RpcClient.call}. */
export interface RpcCallOptions {
  /**
   * This call's time limit in milliseconds; negative or `Infinity`: none; above
   * 2147483647 the call rejects with a RangeError. Default: the client's `timeoutMs`.
   */
  timeoutMs?: number;
  /** Aborting it rejects the call at once with `ABORTED`; a late response is dropped. */
  signal?: AbortSignal;
}

/** {@link RpcClientOptions} checked, with the defaults filled in. @internal */
export interface ClientConfig {
  ip: string;
  port: number;
  ssl: boolean;
  tls: ClientTlsOptions;
  timeoutMs: number;
  maxFrameBytes: number;
  connections: number;
  connectTimeoutMs: number;
  maxQueuedBytes: number;
}

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'ssl',
  'tls',
  'timeoutMs',
  'maxFrameBytes',
  'connections',
  'connectTimeoutMs',
  'maxQueuedBytes',
]);
const CALL_OPTION_KEYS: ReadonlySet<string> = new Set(['timeoutMs', 'signal']);

/**
 * Checks the arguments of `new RpcClient(ip, port, options)` and fills in the defaults.
 * @throws TypeError/RangeError for an unknown option or a bad value. @internal
 */
export function clientConfig(ip: string, port: number, options: RpcClientOptions): ClientConfig {
  if (typeof ip !== 'string') throw new TypeError('ip must be a string (host name, IPv4 or IPv6)');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RangeError(`port must be an integer from 1 to 65535, got ${port}`);
  checkOptionKeys('RpcClient', options, OPTION_KEYS);
  const o = options;
  if (o.ssl !== undefined && typeof o.ssl !== 'boolean') throw new TypeError('ssl must be a boolean');
  checkObject('tls', o.tls);
  const badTimeout = badMs('timeoutMs', o.timeoutMs);
  if (badTimeout !== null) throw badTimeout;
  checkInteger('maxFrameBytes', o.maxFrameBytes, MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES);
  checkInteger('connections', o.connections, 1, 65536);
  checkTimeLimit('connectTimeoutMs', o.connectTimeoutMs, 1);
  checkInteger('maxQueuedBytes', o.maxQueuedBytes, MIN_MAX_QUEUED_BYTES, Number.MAX_SAFE_INTEGER);
  const ssl = o.ssl ?? false;
  if (!ssl && o.tls !== undefined && Object.keys(o.tls).length > 0)
    throw new TypeError('tls options were given without ssl: true');
  const config: ClientConfig = {
    ip: ip === '' ? '127.0.0.1' : ip,
    port,
    ssl,
    tls: { ...o.tls },
    timeoutMs: limitMs(o.timeoutMs ?? -1),
    maxFrameBytes: o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    connections: o.connections ?? 1,
    connectTimeoutMs: limitMs(o.connectTimeoutMs ?? 3000),
    maxQueuedBytes: o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
  };
  // @proj/tcp's Client checks the TLS option names: made once here so that a typo
  // throws from the constructor rather than failing the first call.
  void new Client(config.ip, port, ssl, config.tls);
  return config;
}

/** The error for bad options of one call, or `null` (a call rejects rather than throws). @internal */
export function callOptionsError(options: RpcCallOptions): Error | null {
  if (options === null || typeof options !== 'object') return new TypeError('call options must be an object');
  for (const key in options) {
    if (!CALL_OPTION_KEYS.has(key)) return new TypeError(`unknown call option "${key}"; known: timeoutMs, signal`);
  }
  const bad = badMs('timeoutMs', options.timeoutMs);
  if (bad !== null) return bad;
  const s = options.signal;
  if (s !== undefined && !(s instanceof AbortSignal)) return new TypeError('signal must be an AbortSignal');
  return null;
}
