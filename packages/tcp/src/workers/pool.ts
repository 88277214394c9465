/**
 * The calling thread's side of a `Server` with `workers`: starts the worker
 * threads, hands them sockets (handoff) or lets each listen (reuseport),
 * replaces one that dies, and makes them one server again: one count, one
 * limit, one `exit`, one `shutdown`, one `onExit`, one `onError`.
 * @internal
 */
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import type * as tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { type TransferListItem, Worker } from 'node:worker_threads';
import { TcpAbortError, TcpError, TcpErrorCode, fromNodeError } from '../errors';
import { SharedCounters } from './counters';
import type { ErrorData, FromWorker, ToWorker, WorkerInit } from './messages';

/** The worker's entry: the built file beside this one; from the TypeScript sources (tests), the package's build. */
function workerEntry(): string {
  const here = join(__dirname, 'worker-main.js');
  return existsSync(here) ? here : join(__dirname, '..', '..', 'dist', 'workers', 'worker-main.js');
}

/** What a pool is started with. @internal */
export interface PoolConfig {
  workers: number;
  distribution: 'handoff' | 'reuseport';
  module: string;
  exportName: string;
  handlerData: unknown;
  options: Record<string, unknown>;
  credentials: tls.SecureContextOptions | null;
  maxConnections: number | undefined;
  noDelay: boolean;
  exclusive: boolean;
  host: string;
  port: number;
  report: (err: TcpError) => void;
  /** Every worker (and the accepting thread) has stopped listening. */
  stopped: () => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** It said it has no connection left after exit/shutdown, and was told to end. */
  finished: boolean;
  /** It has stopped listening (or died). */
  stopped: boolean;
  /** Its connections, for ERR_WORKER_EXIT: id to [address, port]. */
  conns: Map<number, [string, number]>;
  exited: Promise<void>;
  fatal: ErrorData | null;
  crash: unknown;
  onReady: ((err: TcpError | null) => void) | null;
}

/** A module given as a URL or a path (relative to the working directory) as `import()` takes it. @internal */
export function moduleSpecifier(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z][a-z0-9+.-]+:/i.test(m)) return m;
  return pathToFileURL(resolve(m)).href;
}

/** @internal */
export function fromErrorData(d: ErrorData): TcpError {
  let cause: Error | undefined;
  if (d.cause !== undefined) {
    cause = new Error(d.cause.message);
    cause.name = d.cause.name;
    if (d.cause.stack !== undefined) cause.stack = d.cause.stack;
  }
  return new TcpError(d.code, d.message, { cause, address: d.address, port: d.port });
}

/** @internal */
export class WorkerPool {
  private readonly _slots: Slot[] = [];
  private readonly _counters: SharedCounters;
  private _listener: net.Server | null = null;
  private _port = 0;
  private _state: 'starting' | 'running' | 'stopping' = 'starting';
  private _nextId = 0;
  private _stopReported = false;
  private _allExited: Promise<void> | null = null;

  constructor(private readonly _cfg: PoolConfig) {
    this._counters = new SharedCounters(_cfg.workers);
  }

  /** Starts every worker and, for handoff, the accepting socket; on any failure ends them all and rejects. */
  async start(): Promise<void> {
    const cfg = this._cfg;
    this._port = cfg.port;
    try {
      if (cfg.distribution === 'reuseport') {
        // The first one takes the port (a free one for port 0), the others join it.
        await this._spawn(0);
        await Promise.all(Array.from({ length: cfg.workers - 1 }, (_, k) => this._spawn(k + 1)));
      } else {
        await Promise.all(Array.from({ length: cfg.workers }, (_, k) => this._spawn(k)));
        this._listener = await this._listen();
      }
    } catch (err) {
      this._state = 'stopping';
      this._listener?.close();
      this._listener = null;
      for (const slot of this._slots) void slot.worker.terminate();
      await Promise.all(this._slots.map((s) => s.exited));
      throw err;
    }
    this._state = 'running';
  }

  address(): number {
    return this._port;
  }

  /** Started and not told to exit. */
  listening(): boolean {
    return this._state !== 'stopping';
  }

  connNum(): number {
    return this._counters.total();
  }

  workerLoad(): number[] {
    return this._slots.map((_, i) => this._counters.live(i));
  }

  /** Stops listening everywhere; the connections go on, and each worker ends once it has none. */
  exit(): void {
    if (this._state === 'stopping') return;
    this._state = 'stopping';
    this._listener?.close();
    this._listener = null;
    this._allExited = Promise.all(this._slots.map((s) => s.exited)).then(() => undefined);
    for (const slot of this._slots) {
      if (slot.ready) this._send(slot, { t: 'exit' });
      else {
        // A replacement still loading serves nothing yet.
        slot.stopped = true;
        void slot.worker.terminate();
      }
    }
    this._checkStopped();
  }

  /** exit(), then every worker shuts down (or drains) within `ms`; resolves once every worker thread has ended. */
  async stop(how: 'shutdown' | 'drain', ms: number, signal: AbortSignal | null): Promise<void> {
    const wasRunning = this._state !== 'stopping';
    this.exit();
    if (wasRunning || how === 'drain') {
      for (const slot of this._slots) if (slot.ready && !slot.finished) this._send(slot, { t: how, ms });
    } else {
      // A second shutdown after exit(): the workers still serving close their connections now.
      for (const slot of this._slots) if (slot.ready && !slot.finished) this._send(slot, { t: 'shutdown', ms });
    }
    const all = this._allExited!;
    if (signal === null) return all;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        all,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new TcpAbortError('shutdown aborted by its signal', signal.reason));
          signal.addEventListener('abort', onAbort);
        }),
      ]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  private _send(slot: Slot, msg: ToWorker): void {
    try {
      slot.worker.postMessage(msg);
    } catch {
      // The worker is ending; its 'exit' handles the rest.
    }
  }

  private _spawn(i: number): Promise<void> {
    const cfg = this._cfg;
    const init: WorkerInit = {
      index: i,
      workers: cfg.workers,
      counters: this._counters.buffer,
      maxConnections: cfg.maxConnections,
      module: cfg.module,
      exportName: cfg.exportName,
      handlerData: cfg.handlerData,
      options: cfg.options,
      credentials: cfg.credentials,
      listen: cfg.distribution === 'reuseport',
      host: cfg.host,
      port: this._port,
    };
    const worker = new Worker(workerEntry(), { workerData: init, name: `@proj/tcp worker ${i}` });
    let exited!: () => void;
    const slot: Slot = {
      worker,
      ready: false,
      finished: false,
      stopped: false,
      conns: new Map(),
      exited: new Promise<void>((res) => (exited = res)),
      fatal: null,
      crash: undefined,
      onReady: null,
    };
    this._slots[i] = slot;
    const ready = new Promise<void>((res, rej) => {
      slot.onReady = (err) => (err === null ? res() : rej(err));
    });
    worker.on('message', (msg: FromWorker) => this._onMessage(i, slot, msg));
    worker.on('error', (err) => {
      slot.crash = err;
    });
    worker.on('exit', (code) => {
      this._onExit(i, slot, code);
      exited();
    });
    return ready;
  }

  private _onMessage(i: number, slot: Slot, msg: FromWorker): void {
    switch (msg.t) {
      case 'ready':
        slot.ready = true;
        if (this._cfg.distribution === 'reuseport') this._port = msg.port;
        slot.onReady?.(null);
        slot.onReady = null;
        if (this._state === 'stopping') {
          // Ready after exit(): a replacement that finished loading late.
          this._send(slot, { t: 'shutdown', ms: 0 });
        }
        break;
      case 'fatal':
        slot.fatal = msg.error;
        break;
      case 'error':
        this._cfg.report(fromErrorData(msg.error));
        break;
      case 'conns': {
        const o = msg.opened;
        for (let k = 0; k < o.length; k += 3) slot.conns.set(o[k] as number, [o[k + 1] as string, o[k + 2] as number]);
        for (const id of msg.gone) slot.conns.delete(id);
        break;
      }
      case 'stopped':
        slot.stopped = true;
        this._checkStopped();
        break;
      case 'finished':
        slot.finished = true;
        void slot.worker.terminate();
        break;
    }
    void i;
  }

  private _onExit(i: number, slot: Slot, code: number): void {
    if (this._slots[i] !== slot) return;
    // Its thread is gone: whatever it still counted is gone with it.
    this._counters.clear(i);
    if (!slot.ready) {
      // Never served: a start that failed (or a replacement that could not load).
      const err =
        slot.fatal !== null
          ? fromErrorData(slot.fatal)
          : new TcpError(TcpErrorCode.ERR_WORKER_EXIT, `worker thread ${i} ended (code ${code}) before it was ready: ${describe(slot.crash)}`, {
              cause: slot.crash,
            });
      if (slot.onReady !== null) {
        slot.onReady(err);
        slot.onReady = null;
      } else if (this._state === 'running') {
        this._cfg.report(err);
      }
      slot.stopped = true;
      this._checkStopped();
      return;
    }
    if (!slot.finished) {
      // It died while it had connections (or could have had some): each one is reported.
      const why = slot.crash !== undefined ? describe(slot.crash) : `exit code ${code}`;
      for (const [address, port] of slot.conns.values()) {
        this._cfg.report(
          new TcpError(TcpErrorCode.ERR_WORKER_EXIT, `worker thread ${i} died (${why}); its connection with ${address}:${port} was lost`, {
            address,
            port,
            cause: slot.crash,
          }),
        );
      }
      if (slot.conns.size === 0) {
        this._cfg.report(new TcpError(TcpErrorCode.ERR_WORKER_EXIT, `worker thread ${i} died (${why}) with no connection`, { cause: slot.crash }));
      }
      slot.conns.clear();
      if (this._state === 'running') {
        this._spawn(i).catch(() => {
          // Reported by its own exit: a replacement that cannot load is left out.
        });
        return;
      }
    }
    slot.stopped = true;
    this._checkStopped();
  }

  private _checkStopped(): void {
    if (this._state !== 'stopping' || this._stopReported || this._listener !== null) return;
    if (!this._slots.every((s) => s.stopped)) return;
    this._stopReported = true;
    this._cfg.stopped();
  }

  private _listen(): Promise<net.Server> {
    const cfg = this._cfg;
    const listener = net.createServer({ noDelay: cfg.noDelay, pauseOnConnect: true });
    listener.on('connection', (sock: net.Socket) => this._handOff(sock));
    return new Promise((res, rej) => {
      const onError = (err: Error): void => {
        rej(fromNodeError(err, `cannot listen on ${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${cfg.port}`, { address: cfg.host, port: cfg.port }));
      };
      listener.once('error', onError);
      listener.listen({ host: cfg.host, port: cfg.port, exclusive: cfg.exclusive }, () => {
        listener.off('error', onError);
        listener.on('error', (err) => cfg.report(fromNodeError(err, 'listening socket failed')));
        this._port = (listener.address() as net.AddressInfo).port;
        res(listener);
      });
    });
  }

  /** Gives an accepted (paused) socket to the less loaded of two workers picked at random. */
  private _handOff(sock: net.Socket): void {
    const slots = this._slots;
    const i = this._counters.pick(slots);
    const slot = slots[i];
    const id = ++this._nextId;
    const address = sock.remoteAddress ?? '';
    const port = sock.remotePort ?? 0;
    this._counters.hold(i);
    try {
      slot.worker.postMessage({ t: 'sock', id, sock } satisfies ToWorker, [sock as unknown as TransferListItem]);
    } catch (err) {
      this._counters.unhold(i);
      sock.destroy();
      this._cfg.report(fromNodeError(err, 'could not hand a connection to a worker thread', { address, port }));
      return;
    }
    slot.conns.set(id, [address, port]);
  }
}

function describe(err: unknown): string {
  // By shape, not instanceof: the worker's error is made in the calling thread's main realm, which
  // need not be the caller's (a test runner's vm context).
  const message = (err as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : err === undefined ? 'no error' : JSON.stringify(err);
}
