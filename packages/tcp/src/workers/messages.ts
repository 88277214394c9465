/**
 * What a server's calling thread and its worker threads tell each other.
 * @internal
 */
import type * as net from 'node:net';
import type * as tls from 'node:tls';

/** Everything a worker needs to serve, as `workerData`. @internal */
export interface WorkerInit {
  index: number;
  workers: number;
  counters: SharedArrayBuffer;
  maxConnections: number | undefined;
  /** The handler module's URL (a `file:` URL, or a specifier `import()` takes). */
  module: string;
  exportName: string;
  /** What `workerHandlerData()` gives the module. */
  handlerData: unknown;
  /** The worker's own `Server` options: the caller's, less `workers`, `distribution`, `maxConnections` and `onError`. */
  options: Record<string, unknown>;
  /** TLS key and certificate as PEM, with the extra TLS options; `null` for plain TCP. */
  credentials: tls.SecureContextOptions | null;
  /** `true`: listen on host:port with `reusePort`; `false`: serve the sockets the calling thread hands over. */
  listen: boolean;
  host: string;
  port: number;
}

/** From the calling thread to a worker. @internal */
export type ToWorker =
  | { t: 'sock'; id: number; sock: net.Socket }
  | { t: 'exit' }
  | { t: 'shutdown'; ms: number }
  | { t: 'drain'; ms: number };

/** An error as it crosses threads: a `TcpError`'s fields, and its cause's. @internal */
export interface ErrorData {
  code: string;
  message: string;
  address?: string;
  port?: number;
  cause?: { name: string; message: string; stack?: string };
}

/** From a worker to the calling thread. @internal */
export type FromWorker =
  | { t: 'ready'; port: number }
  | { t: 'fatal'; error: ErrorData }
  | { t: 'error'; error: ErrorData }
  /** Connections counted (reuseport: id, address, port, ...) and ended (ids) since the last such message. */
  | { t: 'conns'; opened: Array<number | string>; gone: number[] }
  /** The worker has stopped listening (after `exit`). */
  | { t: 'stopped' }
  /** The worker has stopped and has no connection left: it may end. */
  | { t: 'finished' };
