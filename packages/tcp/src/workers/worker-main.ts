/**
 * A worker thread of a `Server` with `workers`: it loads the handler module
 * once, then serves connections with an ordinary one-thread `Server`, fed the
 * sockets the calling thread hands over or listening itself with `reusePort`.
 * Its connections are counted in the memory shared with every thread
 * (counters.ts); its failures go to the calling thread's `onError`.
 * @internal
 */
import type * as net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { TcpError, TcpErrorCode } from '../errors';
import { type ConnectionHandler, Server } from '../server';
import { SharedCounters } from './counters';
import { setHandlerData } from './handler-data';
import type { ErrorData, FromWorker, ToWorker, WorkerInit } from './messages';

const init = workerData as WorkerInit;
const port = parentPort!;
const counters = new SharedCounters(init.workers, init.counters);
const me = init.index;

function post(msg: FromWorker): void {
  port.postMessage(msg);
}

/** @internal */
export function errorData(err: unknown, fallbackCode: string): ErrorData {
  const e = err as Partial<TcpError> & { cause?: unknown };
  const cause = e?.cause instanceof Error ? e.cause : err instanceof TcpError ? undefined : err instanceof Error ? err : undefined;
  return {
    code: typeof e?.code === 'string' ? e.code : fallbackCode,
    message: err instanceof Error ? err.message : String(err),
    address: e?.address,
    port: e?.port,
    cause: cause === undefined ? undefined : { name: cause.name, message: cause.message, stack: cause.stack },
  };
}

// Connections opened and ended since the last report, sent once per turn of the event loop.
let opened: Array<number | string> = [];
let gone: number[] = [];
let reportScheduled = false;
function flushConns(): void {
  reportScheduled = false;
  if (opened.length === 0 && gone.length === 0) return;
  post({ t: 'conns', opened, gone });
  opened = [];
  gone = [];
}
function scheduleReport(): void {
  if (!reportScheduled) {
    reportScheduled = true;
    setImmediate(flushConns);
  }
}
function ended(id: number): void {
  gone.push(id);
  live--;
  scheduleReport();
  maybeFinished();
}

/** Sockets this worker holds: handed over and not closed, or (reuseport) counted and not closed. */
let live = 0;
let stopping = false;
let finishedSent = false;
function maybeFinished(): void {
  if (stopping && live === 0 && !finishedSent) {
    finishedSent = true;
    // Told in a later turn: the calling thread ends this one on 'finished', which stops its
    // JavaScript wherever it is, and the other 'close' listeners of the last socket (the one
    // that releases its count) must have run by then.
    setImmediate(() => {
      flushConns();
      post({ t: 'finished' });
    });
  }
}

async function main(): Promise<void> {
  setHandlerData(init.handlerData);
  let handler: unknown;
  let names: string;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(init.module)) as Record<string, unknown>;
    handler = mod[init.exportName];
    // A CommonJS module compiled from `export default f` has it as module.exports.default.
    if (handler === undefined && init.exportName === 'default') handler = (mod.default as Record<string, unknown> | undefined)?.default;
    names = Object.keys(mod).join(', ') || 'none';
    // Setup that cannot finish in top-level code (a CommonJS module has no top-level await).
    const ready = mod.ready as PromiseLike<unknown> | undefined;
    if (ready !== null && typeof ready === 'object' && typeof ready.then === 'function') await ready;
  } catch (err) {
    post({
      t: 'fatal',
      error: errorData(
        new TcpError(TcpErrorCode.ERR_HANDLER_LOAD, `the handler module ${init.module} failed to load in a worker thread: ${(err as Error)?.message ?? String(err)}`, { cause: err }),
        TcpErrorCode.ERR_HANDLER_LOAD,
      ),
    });
    return;
  }
  if (typeof handler !== 'function') {
    post({
      t: 'fatal',
      error: {
        code: TcpErrorCode.ERR_NO_HANDLER,
        message: `the handler module ${init.module} has no function export "${init.exportName}" (its exports: ${names})`,
      },
    });
    return;
  }
  const server = new Server({
    ...init.options,
    onError: (err) => post({ t: 'error', error: errorData(err, TcpErrorCode.ERR_HANDLER) }),
  }).onConnection(handler as ConnectionHandler);
  let nextId = 0;
  server._accounting = {
    admit: (sock: net.Socket): boolean => {
      if (!counters.admit(me, init.maxConnections)) return false;
      if (init.listen) {
        // Handed-over sockets are followed from the moment they arrive (below); these from here.
        const id = ++nextId;
        live++;
        opened.push(id, sock.remoteAddress ?? '', sock.remotePort ?? 0);
        scheduleReport();
        sock.once('close', () => ended(id));
      }
      return true;
    },
    release: (): void => counters.release(me),
  };
  try {
    await server._serveInWorker(init.credentials, init.host, init.port, init.listen);
  } catch (err) {
    post({ t: 'fatal', error: errorData(err, 'EIO') });
    return;
  }
  const close = typeof mod.close === 'function' ? (mod.close as (ms: number) => unknown) : null;
  port.on('message', (msg: ToWorker) => {
    switch (msg.t) {
      case 'sock': {
        live++;
        const id = msg.id;
        server._feed(msg.sock).once('close', () => {
          counters.unhold(me);
          ended(id);
        });
        break;
      }
      case 'exit':
        stopping = true;
        server.exit();
        post({ t: 'stopped' });
        maybeFinished();
        break;
      case 'shutdown':
      case 'drain':
        stopping = true;
        server.exit();
        post({ t: 'stopped' });
        void stop(server, msg, close);
        break;
    }
  });
  post({ t: 'ready', port: server.address()?.port ?? init.port });
}

/** Ends this worker's connections; the module's own `close(ms)` first, when it exports one (an RPC server finishing its requests). */
async function stop(server: Server, msg: { t: 'shutdown' | 'drain'; ms: number }, close: ((ms: number) => unknown) | null): Promise<void> {
  const deadline = performance.now() + msg.ms;
  if (close !== null) {
    try {
      await close(msg.ms);
    } catch (err) {
      post({ t: 'error', error: errorData(err, TcpErrorCode.ERR_HANDLER) });
    }
  }
  const left = msg.ms < 0 ? msg.ms : Math.max(0, Math.round(deadline - performance.now()));
  if (msg.t === 'drain') await server.drain(left);
  else await server.shutdown(left);
  maybeFinished();
}

void main();
