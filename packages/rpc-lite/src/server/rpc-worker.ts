/**
 * The handler module of an `RpcServer` with `workers`: `@proj/tcp` loads it
 * once in each worker thread. It makes that worker's own `RpcServer`, loads
 * the service module into it (an object of methods, or a function that
 * registers handlers), and serves each connection the worker is given.
 * Failures no caller hears of go to the calling thread's `onError` over a
 * BroadcastChannel.
 * @internal
 */
import { type Connection, workerHandlerData } from '@proj/tcp';
import { BroadcastChannel } from 'node:worker_threads';
import { RpcServer } from './server';
import type { RpcWorkerData } from './server-workers';

const data = workerHandlerData() as RpcWorkerData;
const errors = new BroadcastChannel(data.errorChannel);
errors.unref();

const server = new RpcServer({
  maxFrameBytes: data.maxFrameBytes,
  maxInFlight: data.maxInFlight,
  goAway: data.goAway,
  onError: (err, peer) => {
    const e = err as Error & { code?: string; remote?: boolean };
    errors.postMessage({ name: e.name, code: e.code, message: e.message, remote: e.remote, peer, warn: false });
  },
});

async function load(): Promise<void> {
  const mod = (await import(data.service)) as { default?: unknown };
  // A CommonJS module compiled from `export default` has it as module.exports.default.
  let service = mod.default;
  if (service !== null && typeof service === 'object' && 'default' in service && Object.keys(service).length === 1) {
    service = (service).default;
  }
  if (typeof service === 'function') await (service as (s: RpcServer) => unknown)(server);
  else if (service !== null && typeof service === 'object') server.implement(service);
  else throw new TypeError(`the service module ${data.service} has no default export: give an object of methods or a function (server) => void`);
}

/** The service is loaded before the worker takes a connection; a failure fails `start`. @internal */
export const ready: Promise<void> = load();
// Marked handled here: the worker awaits it at once, and reports its failure itself.
ready.catch(() => {});

/** Serves one connection (the worker's `Server` closes it when this returns). @internal */
export function serve(conn: Connection): Promise<void> {
  return server._serveConnection(conn);
}

/** The server shuts down: requests in flight finish and their answers go out first. @internal */
export function close(ms: number): Promise<void> {
  return server.shutdown(ms < 0 ? -1 : ms);
}
