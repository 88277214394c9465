import type { RpcHandler } from '../context';
import type { RequestContext, SignalWatch } from './request-context';

/** Told once a handler is done: `ok` with what it returned, or not with what it threw. @internal */
export type HandlerDone = (ctx: RequestContext, ok: boolean, value: unknown) => void;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * The handlers running for one connection: runs each (sync or async, request
 * or notification, one path), counts those in flight for backpressure, and
 * aborts the signals handlers watch once the client is gone.
 * @internal
 */
export class InFlight implements SignalWatch {
  private _count = 0;
  /** Contexts of running handlers that read ctx.signal. */
  private readonly _watched = new Set<RequestContext>();
  /** Set once the client is gone: signals read from then on are aborted at once. */
  private _abortReason: unknown = null;
  private _closed = false;
  /** Wakes the reader waiting for {@link InFlight.room}. */
  private _wakeRoom: (() => void) | null = null;
  /** Wake {@link InFlight.idle}'s callers. */
  private _idleWaiters: Array<() => void> = [];

  /**
   * @param _max - most async handlers running at once before {@link InFlight.full}.
   * @param _done - told when each handler is done.
   */
  constructor(
    private readonly _max: number,
    private readonly _done: HandlerDone,
  ) {}

  /** As many handlers run as may: read no more until {@link InFlight.room}. */
  get full(): boolean {
    return this._count >= this._max;
  }

  /** Runs `fn(params, ctx)`; once it has returned or settled, tells the `done` callback. */
  run(fn: RpcHandler, params: unknown, ctx: RequestContext): void {
    let result: unknown;
    try {
      result = fn(params, ctx);
    } catch (err) {
      this._finish(ctx, false, err);
      return;
    }
    if (!isThenable(result)) {
      this._finish(ctx, true, result);
      return;
    }
    this._count++;
    result.then(
      (value) => this._settled(ctx, true, value),
      (err: unknown) => this._settled(ctx, false, err),
    );
  }

  /** A handler read ctx.signal: aborted now if the client is gone, else when it goes. */
  watch(ctx: RequestContext): void {
    if (this._abortReason !== null) ctx.abort(this._abortReason);
    else this._watched.add(ctx);
  }

  /** The client is gone: aborts every watched signal with `reason`, and those read later. */
  abortSignals(reason: unknown): void {
    this._abortReason ??= reason;
    if (this._watched.size === 0) return;
    for (const ctx of this._watched) ctx.abort(reason);
    this._watched.clear();
  }

  /** The connection is closed: aborts the signals and stops every wait. */
  close(reason: unknown): void {
    this._closed = true;
    this.abortSignals(reason);
    this._wake();
  }

  /** Resolves once fewer handlers run than the bound (or the connection is closed). */
  room(): Promise<void> {
    if (!this.full || this._closed) return Promise.resolve();
    return new Promise((resolve) => (this._wakeRoom = resolve));
  }

  /** Resolves once no handler runs (or the connection is closed). */
  idle(): Promise<void> {
    if (this._count === 0 || this._closed) return Promise.resolve();
    return new Promise((resolve) => this._idleWaiters.push(resolve));
  }

  private _settled(ctx: RequestContext, ok: boolean, value: unknown): void {
    this._count--;
    this._finish(ctx, ok, value);
    this._wake();
  }

  private _finish(ctx: RequestContext, ok: boolean, value: unknown): void {
    if (ctx.watched) this._watched.delete(ctx);
    this._done(ctx, ok, value);
  }

  /** Wakes the reader, and the idle waiters when nothing runs. */
  private _wake(): void {
    const wake = this._wakeRoom;
    if (wake !== null) {
      this._wakeRoom = null;
      wake();
    }
    if ((this._count === 0 || this._closed) && this._idleWaiters.length > 0) {
      const waiters = this._idleWaiters;
      this._idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
