import type { PeerAddress } from '../wire/codec';
import { callEnd, callError, callStart, callsTraced, type TraceStart } from '../diagnostics';
import { RpcError, RpcErrorCode } from '../errors';

/**
 * Where a call waits: the connection it was sent on (for its answer), or the
 * client's send queue (for room to be sent). @internal
 */
export interface CallHolder {
  /** The call timed out or was aborted: its msgid is free, a late answer is dropped; a call not sent yet never will be. */
  forget(call: PendingCall): void;
  /** The message of the call's `TIMEOUT` while it is held here. */
  timeoutMessage(method: string, timeoutMs: number): string;
}

function noop(): void {}

// One shared executor hands each call's resolvers over (`new Promise` runs it at
// once, and the constructor takes them): no closure per call.
let givenResolve: (value: unknown) => void = noop;
let givenReject: (err: RpcError) => void = noop;
function callExecutor(resolve: (value: unknown) => void, reject: (err: RpcError) => void): void {
  givenResolve = resolve;
  givenReject = reject;
}

function onCallTimeout(call: PendingCall): void {
  call._timedOut();
}

/**
 * One call, from `call()` until it settles: its promise, and the one timer and
 * the one abort listener that bound it. They cover the wait for a connection
 * and the wait for the response alike, so that `timeoutMs` counts from
 * `call()`, connecting included, and an abort ends either wait the same way.
 * No timer when the call has no time limit.
 *
 * The call is the abort listener itself (`handleEvent`): no closure per call.
 * @internal
 */
export class PendingCall {
  /** Settles with the result, or an {@link RpcError}. */
  readonly promise: Promise<unknown>;
  /** The connection the request went on (`null` while it waits for one), and its msgid there. */
  holder: CallHolder | null = null;
  msgid = 0;
  private readonly _resolve: (value: unknown) => void;
  private readonly _reject: (err: RpcError) => void;
  private _settled = false;
  private _timer: NodeJS.Timeout | null = null;
  private _signal: AbortSignal | null = null;
  /** `null`: not traced (nobody listened when it started); decided once, at the start. */
  private _trace: TraceStart | null = null;

  /**
   * Starts the call's clock: a call whose `signal` is aborted already is
   * settled at once (`ABORTED`), before anything is sent.
   *
   * @param method - the method called, for the errors.
   * @param _timeoutMs - its time limit, checked by `badMs`; negative or `Infinity`: none.
   * @param signal - ends it when aborted.
   * @param _where - the server's address and port, for the errors.
   */
  constructor(
    readonly method: string,
    private readonly _timeoutMs: number,
    signal: AbortSignal | undefined,
    private readonly _where: PeerAddress,
  ) {
    this.promise = new Promise(callExecutor);
    this._resolve = givenResolve;
    this._reject = givenReject;
    if (callsTraced()) this._traceStart();
    if (signal !== undefined) {
      if (signal.aborted) {
        this.fail(
          this._error(RpcErrorCode.ABORTED, `call of "${method}" was aborted before it was sent`, signal.reason),
        );
        return;
      }
      this._signal = signal;
      signal.addEventListener('abort', this, { once: true });
    }
    // Infinity is no limit, not a timer: Node would fire it after 1 ms.
    if (_timeoutMs >= 0 && _timeoutMs !== Infinity) this._timer = setTimeout(onCallTimeout, _timeoutMs, this);
  }

  /** Settled: nothing more is to be done for it. */
  get settled(): boolean {
    return this._settled;
  }

  /** Whether the call is traced (someone listened on a call channel when it started). */
  get traced(): boolean {
    return this._trace !== null;
  }

  /** The request went out on `holder` as `msgid`. */
  sentOn(holder: CallHolder, msgid: number): void {
    this.holder = holder;
    this.msgid = msgid;
  }

  /** The request waits in the send queue, as `holder`, for room to be sent. */
  waitIn(holder: CallHolder): void {
    this.holder = holder;
  }

  /** Resolves the call with its result (no-op once settled). */
  resolve(value: unknown): void {
    if (!this._finish()) return;
    if (this._trace !== null) this._traceEnd(this._trace, null);
    this._resolve(value);
  }

  /** Rejects the call (no-op once settled). */
  fail(err: RpcError): void {
    if (!this._finish()) return;
    if (this._trace !== null) this._traceEnd(this._trace, err);
    this._reject(err);
  }

  /** The signal fired (the call is its abort listener). */
  handleEvent(): void {
    const reason: unknown = this._signal?.reason;
    this.holder?.forget(this);
    this.fail(this._error(RpcErrorCode.ABORTED, `call of "${this.method}" was aborted`, reason));
  }

  /** @internal The time limit passed. */
  _timedOut(): void {
    this._timer = null;
    const holder = this.holder;
    holder?.forget(this);
    const message =
      holder === null
        ? `call of "${this.method}" got no connection within ${this._timeoutMs} ms`
        : holder.timeoutMessage(this.method, this._timeoutMs);
    this.fail(this._error(RpcErrorCode.TIMEOUT, message));
  }

  /** Marks it settled and lets go of its timer and listener; `false` if it was settled already. */
  private _finish(): boolean {
    if (this._settled) return false;
    this._settled = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    if (this._signal !== null) {
      this._signal.removeEventListener('abort', this);
      this._signal = null;
    }
    return true;
  }

  private _traceStart(): void {
    this._trace = { startedAt: performance.now() };
    if (callStart.hasSubscribers) {
      callStart.publish({
        call: this.promise,
        method: this.method,
        address: this._where.address ?? '',
        port: this._where.port ?? 0,
      });
    }
  }

  private _traceEnd(trace: TraceStart, err: RpcError | null): void {
    const durationMs = performance.now() - trace.startedAt;
    const address = this._where.address ?? '';
    const port = this._where.port ?? 0;
    if (err === null) {
      if (callEnd.hasSubscribers)
        callEnd.publish({ call: this.promise, method: this.method, address, port, durationMs });
    } else if (callError.hasSubscribers) {
      callError.publish({
        call: this.promise,
        method: this.method,
        address,
        port,
        durationMs,
        code: err.code,
        remote: err.remote,
        error: err,
      });
    }
  }

  private _error(code: string, message: string, cause?: unknown): RpcError {
    return new RpcError(code, message, { method: this.method, cause, ...this._where });
  }
}
