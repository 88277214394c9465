import type { RpcContext } from '../context';
import type { TraceStart } from '../diagnostics';

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
