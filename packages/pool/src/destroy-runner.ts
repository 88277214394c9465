import { PoolErrorCode, type PoolErrorCodeName } from './errors';
import { describe, isPromiseLike } from './values';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Runs the user's `destroy`, each call bounded by `destroyTimeoutMs` with a
 * timer cleared on every path; a throw, a rejection or a time past the bound
 * is reported, never thrown. Remembers the calls still running so that
 * `clear()`/`close()` can wait for them. @internal
 */
export class DestroyRunner<T> {
  private readonly _destroy: ((item: T) => unknown) | null;
  private readonly _timeoutMs: number;
  private readonly _report: (code: PoolErrorCodeName, message: string, item: T, cause?: unknown) => void;
  private readonly _running = new Set<Promise<void>>();

  /**
   * @param destroy - the user's `destroy`, or `null` (then nothing is run).
   * @param timeoutMs - `destroyTimeoutMs`; negative waits forever.
   * @param report - where failures go (`ERR_DESTROY`, `ERR_DESTROY_TIMEOUT`).
   */
  constructor(
    destroy: ((item: T) => unknown) | null,
    timeoutMs: number,
    report: (code: PoolErrorCodeName, message: string, item: T, cause?: unknown) => void,
  ) {
    this._destroy = destroy;
    this._timeoutMs = timeoutMs;
    this._report = report;
  }

  /** Calls `destroy(item)`; resolves when it settled or timed out; never rejects. */
  run(item: T): Promise<void> {
    const destroy = this._destroy;
    if (destroy === null) return RESOLVED;
    let result: unknown;
    try {
      result = destroy(item);
    } catch (err) {
      this._report(PoolErrorCode.ERR_DESTROY, `destroy threw: ${describe(err)}`, item, err);
      return RESOLVED;
    }
    if (!isPromiseLike(result)) return RESOLVED;
    const ms = this._timeoutMs;
    const done = new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      if (ms >= 0) {
        timer = setTimeout(() => {
          timer = null;
          this._report(
            PoolErrorCode.ERR_DESTROY_TIMEOUT,
            `destroy did not settle within ${ms} ms; not waiting for it`,
            item,
          );
          resolve();
        }, ms);
      }
      Promise.resolve(result).then(
        () => {
          if (timer !== null) clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          if (timer !== null) clearTimeout(timer);
          this._report(PoolErrorCode.ERR_DESTROY, `destroy rejected: ${describe(err)}`, item, err);
          resolve();
        },
      );
    });
    this._running.add(done);
    void done.then(() => this._running.delete(done));
    return done;
  }

  /** Resolves once every `destroy` running now has settled or timed out; `null` when none runs. */
  settled(): Promise<unknown> | null {
    return this._running.size > 0 ? Promise.all(this._running) : null;
  }
}
