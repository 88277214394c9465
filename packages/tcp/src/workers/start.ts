/**
 * `Server.start` with `workers`: checks the handler and the options, picks the
 * distribution, reads the TLS files once (the workers get PEM), and starts
 * the pool.
 * @internal
 */
import { loadTlsCredentials } from '../tls-credentials';
import { TcpError, TcpErrorCode } from '../errors';
import type { ResolvedServerOptions, ServerOptions } from '../server-options';
import { WorkerPool, moduleSpecifier } from './pool';
import { chooseDistribution } from './support';

/** A started pool and what `Server` tells of it. @internal */
export interface ServerWorkers {
  pool: WorkerPool;
  distribution: 'handoff' | 'reuseport';
  address(): { ip: string; port: number };
}

/** A `TypeError` with a stable code, as Node's own argument errors. @internal */
export function codedTypeError(code: string, message: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

/** @internal */
export async function startWorkers(
  options: ResolvedServerOptions,
  given: ServerOptions,
  handler: { module: string | URL; exportName: string; data?: unknown } | null,
  functionGiven: boolean,
  host: string,
  port: number,
  key: string | undefined,
  ca: string | undefined,
  hooks: { report: (err: TcpError) => void; stopped: () => void },
): Promise<ServerWorkers> {
  if (options.workers === 0) {
    throw codedTypeError(
      TcpErrorCode.ERR_HANDLER_NOT_MODULE,
      'a handler module runs on worker threads: give the workers option (workers: 1 runs it on one), or give onConnection a function',
    );
  }
  if (handler === null || functionGiven) {
    throw codedTypeError(
      TcpErrorCode.ERR_HANDLER_NOT_MODULE,
      'with the workers option the handler must be a module (a function cannot cross threads): ' +
        "onConnection(new URL('./handler.js', import.meta.url)) or onConnection(require.resolve('./handler'), 'exportName')",
    );
  }
  const distribution = await chooseDistribution(options.distribution);
  const credentials = key || ca ? await loadTlsCredentials(key, ca, options.tls) : null;
  if (credentials !== null) {
    // PEM text crosses to the workers as it is; each makes its own TLS context and does its own handshakes.
    credentials.key = (credentials.key as Buffer).toString('latin1');
    credentials.cert = (credentials.cert as Buffer).toString('latin1');
  }
  // Each worker's own server is made with the options as given (it checks them again), less those
  // that only this thread acts on; maxConnections is counted across threads (counters.ts).
  const { workers: _w, distribution: _d, onError: _e, maxConnections: _m, exclusive: _x, ...workerOptions } = given;
  const maxConnections = options.maxConnections;
  const n = options.workers;
  const pool = new WorkerPool({
    workers: n,
    distribution,
    module: moduleSpecifier(handler.module),
    exportName: handler.exportName,
    handlerData: handler.data,
    options: workerOptions,
    credentials,
    maxConnections,
    noDelay: options.noDelay,
    exclusive: options.exclusive,
    host,
    port,
    report: hooks.report,
    stopped: hooks.stopped,
  });
  try {
    await pool.start();
  } catch (err) {
    if (err instanceof TcpError) throw err;
    throw new TcpError(TcpErrorCode.ERR_WORKER_EXIT, `could not start the worker threads: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  const ip = host;
  return { pool, distribution, address: () => ({ ip, port: pool.address() }) };
}
