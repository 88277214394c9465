/**
 * `RpcServer` with `workers`: what the calling thread gives each worker, and
 * where the worker module is.
 * @internal
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

/** What each worker's rpc-worker module is given (`workerHandlerData()`). @internal */
export interface RpcWorkerData {
  service: string;
  maxFrameBytes: number;
  maxInFlight: number;
  /** `shutdown` sends `rpc.goaway` first (the `goAway` option). */
  goAway: boolean;
  /** The BroadcastChannel the worker reports its failures on. */
  errorChannel: string;
}

/** The built rpc-worker module; from the TypeScript sources (tests), the package's build. @internal */
export function rpcWorkerModule(): string {
  const here = join(__dirname, 'rpc-worker.js');
  return existsSync(here) ? here : join(__dirname, '..', '..', 'dist', 'server', 'rpc-worker.js');
}

/** A service module given as a URL or a path as `import()` takes it. @internal */
export function serviceSpecifier(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z][a-z0-9+.-]+:/i.test(m)) return m;
  return pathToFileURL(resolve(m)).href;
}

let nextChannel = 0;

/** A channel name no other server of this process uses. @internal */
export function errorChannelName(): string {
  return `proj:rpc-lite:worker-errors:${process.pid}:${++nextChannel}`;
}
