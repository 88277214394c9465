import type { TraceStart } from './diagnostics';

/** What a handler learns about the message it serves. */
export interface RpcContext {
  /** The method called. */
  readonly method: string;
  /** The request's msgid, or `null` for a notification (nobody awaits an answer). */
  readonly msgid: number | null;
  /** `"ip:port"` of the client (`"[ip]:port"` for IPv6). */
  readonly peer: string;
  /**
   * Aborted when the client closes its side or the connection is gone: the
   * answer is most likely unwanted, so long work may stop. One per request,
   * made only when a handler reads it.
   */
  readonly signal: AbortSignal;
}

/** A method's implementation: what it returns (or resolves to) is the result; what it throws is the error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- public API: params are what the peer sent; a handler annotates them
export type RpcHandler<P = any, R = unknown> = (params: P, ctx: RpcContext) => R | Promise<R>;

/** Who aborts a context's signal when the client goes: told when a handler first reads it. @internal */
export interface SignalWatch {
  watch(ctx: RequestContext): void;
}

/** The {@link RpcContext} of one request or notification being served. @internal */
export class RequestContext implements RpcContext {
  /** Made when a handler first reads `signal`. */
  private _abort: AbortController | null = null;
  /** `null`: not traced (nobody listened when it started). */
  trace: TraceStart | null = null;

  constructor(
    private readonly _watch: SignalWatch,
    readonly method: string,
    readonly msgid: number | null,
    readonly peer: string,
  ) {}

  get signal(): AbortSignal {
    if (this._abort === null) {
      this._abort = new AbortController();
      this._watch.watch(this);
    }
    return this._abort.signal;
  }

  /** A handler has read `signal`. */
  get watched(): boolean {
    return this._abort !== null;
  }

  /** Aborts `signal` (made by then) with `reason`. */
  abort(reason: unknown): void {
    this._abort?.abort(reason);
  }
}
