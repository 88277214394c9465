import { DestroyRunner } from './destroy-runner';
import { PoolAbortError, PoolError, PoolErrorCode, closedError, type PoolErrorCodeName } from './errors';
import { GenericPoolAdapter, type GenericPoolHooks } from './generic-pool-adapter';
import { ItemOwnership } from './item-ownership';
import { popSignal, type PopOptions } from './pop-options';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './pool-options';
import { describe } from './values';

const RESOLVED_NULL: Promise<null> = Promise.resolve(null);

/**
 * A pool of reusable items, such as connections (co's `co::Pool`), built on
 * the npm package generic-pool. As in co, {@link Pool.pop} never waits for a
 * free item unless `max` says so: it takes the most recently pushed idle item
 * (LIFO) or creates one; {@link Pool.push} keeps at most `cap` idle items and
 * destroys the rest.
 *
 * Items are compared by identity, so they should be objects (a primitive
 * works, but two equal primitives are the same item). An item must not be a
 * promise or other thenable.
 *
 * @example
 * ```ts
 * const pool = new Pool(() => new Client(proto), (c) => c.close(), 8);
 * const c = await pool.pop();
 * try {
 *   // ... use c
 * } finally {
 *   pool.push(c);
 * }
 * await pool.close();
 * ```
 */
export class Pool<T> implements AsyncDisposable {
  /** Where idle items are kept, lent and created: generic-pool, behind its adapter. */
  private readonly _store: GenericPoolAdapter<T>;
  private readonly _create: (() => T | Promise<T>) | null;
  private readonly _cap: number;
  private readonly _o: ResolvedPoolOptions<T>;
  private readonly _owned: ItemOwnership<T>;
  private readonly _destroyer: DestroyRunner<T>;
  private _closed = false;
  private _closing: Promise<void> | null = null;

  /**
   * @param create - makes an item when `pop()` finds none idle; may be async.
   *   Without it, `pop()` on an empty pool gives `null`.
   * @param destroy - disposes of an item (closes a connection); may be async.
   *   A throw, a rejection or a time past `destroyTimeoutMs` is reported
   *   through `onError`, never thrown at the caller.
   * @param cap - most idle items kept; pushes beyond it destroy the item.
   *   Default `-1`: no limit.
   * @param options - extras from generic-pool; see {@link PoolOptions}.
   * @throws TypeError or RangeError for a bad argument or an unknown option.
   */
  constructor(
    create?: (() => T | Promise<T>) | null,
    destroy?: ((item: T) => void | Promise<void>) | null,
    cap = -1,
    options?: PoolOptions<T>,
  ) {
    if (create != null && typeof create !== 'function') throw new TypeError('Pool create must be a function');
    if (destroy != null && typeof destroy !== 'function') throw new TypeError('Pool destroy must be a function');
    if (typeof cap !== 'number' || !Number.isSafeInteger(cap) || cap < -1) {
      throw new RangeError(`Pool cap must be an integer >= 0, or -1 for no limit; got ${String(cap)}`);
    }
    this._create = create ?? null;
    this._cap = cap;
    const o = (this._o = resolvePoolOptions(options));
    this._owned = new ItemOwnership<T>(this);
    this._destroyer = new DestroyRunner<T>(destroy ?? null, o.destroyTimeoutMs, this._reportHook);
    const hooks: GenericPoolHooks<T> = {
      create: this._create,
      accept: this._accept,
      destroy: this._destroyOwned,
      validate: o.validate,
      report: this._reportHook,
    };
    this._store = new GenericPoolAdapter(hooks, o);
  }

  /**
   * Takes an item (co's `pop`): the most recently pushed idle one, else a new
   * one from `create`. With `max`, waits in order while `max` items are live.
   * With `validate`, idle items that fail it are destroyed and skipped.
   *
   * @param opts - `signal` cancels the pop while it waits; see {@link PopOptions}.
   * @returns the item; `null` only when the pool is empty and has no `create`
   *   (or `create` returned nothing).
   * @throws (rejects) the error `create` threw, when it failed; `PoolError`
   *   `ERR_ACQUIRE_TIMEOUT` after `acquireTimeoutMs`; `ERR_CLOSED` after `close()`;
   *   `PoolAbortError` (`ABORT_ERR`) when `opts.signal` aborts first.
   *   Throws a TypeError at once for bad options.
   */
  pop(opts?: PopOptions): Promise<T | null> {
    if (opts === undefined) {
      const item = this._takeIdle();
      if (item !== undefined) return Promise.resolve(item);
      if (this._create === null && !this._closed && this._store.idle === 0) return RESOLVED_NULL;
    }
    return this._popThen(this._onAcquired, opts);
  }

  /**
   * The idle item pushed last, taken at once when the store keeps it at hand (see
   * {@link GenericPoolAdapter.takeIdle}); `undefined` when closed or when `pop()` has to ask
   * generic-pool. What `pop()` and `PoolGuard.acquire` without options try first. @internal
   */
  _takeIdle(): T | undefined {
    return this._closed ? undefined : this._store.takeIdle();
  }

  /**
   * `pop()` with the caller's own last step: `then(r => next(r))` where `r` is what the store
   * lent and `next` calls {@link Pool._settle}. `PoolGuard.acquire` makes its guard in that same
   * step, instead of one promise more after `pop()`'s. @internal
   */
  _popThen<R>(next: (r: unknown) => R, opts?: PopOptions, what = 'pop'): Promise<R> {
    const signal = opts === undefined ? null : popSignal(opts, what);
    // Before anything else: an aborted signal takes nothing and creates nothing.
    if (signal !== null && signal.aborted) return Promise.reject(abortError(signal));
    if (this._closed) return Promise.reject(closedError());
    const idle = this._store.takeIdle();
    if (idle !== undefined) return Promise.resolve(next(idle));
    if (this._create === null && this._store.idle === 0) return Promise.resolve(next(null));
    if (signal === null) return this._store.acquire().then(next, this._onAcquireFailed);
    return this._popUntilAborted(next, signal);
  }

  /**
   * Turns what the store lent into what `pop()` resolves with: the item, `null`, or a throw
   * (the error of a failed create, `ERR_CLOSED`). @internal
   */
  _settle(r: unknown): T | null {
    const item = this._store.unwrap(r);
    if (item === null) return null;
    if (this._closed) {
      this._store.destroy(item);
      throw closedError();
    }
    return item;
  }

  /**
   * Gives an item back (co's `push`). `null` and `undefined` are ignored. The
   * item is destroyed instead when `cap` idle items are already kept (unless a
   * `pop()` is waiting for it), or when the pool is closed.
   *
   * Like co's, this pool takes any item, not only those it made: a new item is
   * adopted (and counts against `max`). Pushing an item twice, or an item that
   * another `Pool` owns, is reported through `onError` (`ERR_DOUBLE_PUSH`,
   * `ERR_FOREIGN_ITEM`) and otherwise ignored; it never throws.
   */
  push(item: T | null | undefined): void {
    if (item === null || item === undefined) return;
    const store = this._store;
    const loan = store.loanOf(item);
    if (loan === undefined) {
      this._pushNotLent(item);
      return;
    }
    // The ordinary case, kept short: the item goes back on top of the idle list.
    if (this._closed || (this._cap >= 0 && store.idle >= this._cap && store.waiting === 0)) {
      store.destroy(item);
    } else {
      store.release(loan);
    }
  }

  /**
   * Destroys an item the caller holds instead of pushing it back: a broken
   * connection must not return to the pool. Used by {@link PoolGuard.reset}.
   * An item this pool does not know is destroyed too (the pool was given it);
   * an idle or already destroyed one is reported (`ERR_DOUBLE_PUSH`) and left.
   */
  discard(item: T | null | undefined): void {
    if (item === null || item === undefined) return;
    if (this._store.isLent(item)) {
      this._store.destroy(item);
    } else if (!this._refused(item, 'discarded')) {
      this._destroyUnowned(item);
    }
  }

  /** Idle items (co's `size`): pushed back and not yet popped, cleared or evicted. */
  size(): number {
    return this._store.idle;
  }

  /**
   * Destroys every idle item (co's `clear`). Lent-out items are not touched.
   * Resolves once their `destroy` calls have settled, each within
   * `destroyTimeoutMs`, so this cannot hang on a stuck `destroy`.
   */
  async clear(): Promise<void> {
    await this._clearIdle();
  }

  /**
   * Shuts the pool down: `pop()` rejects with `ERR_CLOSED` from now on, as do
   * pops still waiting under `max`; idle items are destroyed; items pushed
   * back later are destroyed instead of kept; generic-pool's eviction timer
   * stops. Resolves once idle items are destroyed and creates in flight have
   * settled (what they make is destroyed). Items still lent out do not delay
   * it. Safe to call many times.
   */
  close(): Promise<void> {
    if (this._closing === null) this._closing = this._close();
    return this._closing;
  }

  /** Same as {@link Pool.close}: `await using pool = new Pool(...)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async _close(): Promise<void> {
    this._closed = true;
    this._store.close();
    await this._clearIdle();
    if (this._store.creating > 0) {
      // What they make is destroyed (see _accept); what they leave idle is a marker. A create that
      // fails with nobody waiting rejects (and is reported): wait for all, whatever the outcome.
      await this._store.createsSettled();
      await this._clearIdle();
    }
    await this._store.drain();
  }

  private async _clearIdle(): Promise<void> {
    await this._store.destroyIdle();
    const destroying = this._destroyer.settled();
    if (destroying !== null) await destroying;
  }

  private readonly _onAcquired = (r: unknown): T | null => this._settle(r);

  private readonly _onAcquireFailed = (err: unknown): never => {
    if (this._closed) throw new PoolError(PoolErrorCode.ERR_CLOSED, 'the pool was closed', err);
    if (this._store.timedOut(err)) {
      const ms = this._o.acquireTimeoutMs;
      throw new PoolError(
        PoolErrorCode.ERR_ACQUIRE_TIMEOUT,
        ms === 0
          ? `no item free and ${this._o.max} live already (acquireTimeoutMs 0: not waiting)`
          : `no item within acquireTimeoutMs (${ms} ms); max ${this._o.max} live items`,
        err,
      );
    }
    throw err;
  };

  /**
   * A pop that `signal` may cancel while it waits. The abort rejects it at once; an item that still
   * comes for it (lent just before the abort, or whose create was under way) is pushed back. The
   * listener goes when the pop settles, so one long-lived signal serves any number of pops.
   */
  private _popUntilAborted<R>(next: (r: unknown) => R, signal: AbortSignal): Promise<R> {
    const request = this._store.acquireCancellable();
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        settled = true;
        request.cancel();
        reject(abortError(signal));
      };
      // `create` runs inside acquire(): if it aborted the signal, that abort counts too.
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      request.promise.then(
        (r) => {
          if (settled) {
            this._returnUnwanted(r);
            return;
          }
          settled = true;
          signal.removeEventListener('abort', onAbort);
          try {
            resolve(next(r));
          } catch (err) {
            reject(err);
          }
        },
        (err: unknown) => {
          // After an abort: the cancelled request's own rejection, or a timeout nobody waits for.
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          try {
            this._onAcquireFailed(err);
          } catch (failure) {
            reject(failure);
          }
        },
      );
    });
  }

  /** What the store lent for a pop that was aborted meanwhile: the item goes back, a failure is reported. */
  private _returnUnwanted(r: unknown): void {
    let item: T | null;
    try {
      item = this._store.unwrap(r);
    } catch (err) {
      if (err instanceof PoolError && err.code === PoolErrorCode.ERR_CLOSED) return;
      this._report(
        PoolErrorCode.ERR_CREATE,
        `create failed and its pop had been aborted: ${describe(err)}`,
        undefined,
        err,
      );
      return;
    }
    this.push(item);
  }

  /** A push of an item the store has not lent out: a double push, another pool's item, or a new one. */
  private _pushNotLent(item: T): void {
    if (this._refused(item, 'pushed')) return;
    if (this._closed || (this._cap >= 0 && this.size() >= this._cap) || !this._store.hasRoom) {
      // The caller gave the item away, as past `cap` for one of ours: the pool cannot keep it, so it ends it.
      this._destroyUnowned(item);
      return;
    }
    this._owned.own(item);
    this._store.adopt(item);
  }

  /** Reports and returns true when `item` is idle here, was destroyed here, or belongs to another pool. */
  private _refused(item: T, what: string): boolean {
    const conflict = this._owned.conflict(item);
    if (conflict === null) return false;
    if (conflict === 'foreign') {
      this._report(PoolErrorCode.ERR_FOREIGN_ITEM, `an item owned by another Pool was ${what} here; left alone`, item);
    } else if (conflict === 'idle') {
      this._report(PoolErrorCode.ERR_DOUBLE_PUSH, `an item already idle in the pool was ${what} again; ignored`, item);
    } else {
      this._report(PoolErrorCode.ERR_DOUBLE_PUSH, `an item the pool already destroyed was ${what}; ignored`, item);
    }
    return true;
  }

  /** What `create` made: the pool owns it, unless it closed meanwhile, in which case the item is destroyed. */
  private readonly _accept = (item: T): boolean => {
    if (this._closed) {
      this._destroyUnowned(item);
      return false;
    }
    this._owned.own(item);
    return true;
  };

  /** An item the pool owned is destroyed (evicted, invalid, past `cap`, cleared, discarded). */
  private readonly _destroyOwned = (item: T): Promise<void> => {
    this._owned.disown(item);
    return this._destroyer.run(item);
  };

  private _destroyUnowned(item: T): void {
    this._owned.destroyedUnowned(item);
    void this._destroyer.run(item);
  }

  private readonly _reportHook = (
    code: PoolErrorCodeName,
    message: string,
    item: T | undefined,
    cause?: unknown,
  ): void => this._report(code, message, item, cause);

  private _report(code: PoolErrorCodeName, message: string, item: T | undefined, cause?: unknown): void {
    const err = new PoolError(code, message, cause);
    const onError = this._o.onError;
    if (onError === null) {
      process.emitWarning(err);
      return;
    }
    try {
      onError(err, item);
    } catch (hookErr) {
      // A throwing hook must not break the pool's bookkeeping, nor go unnoticed.
      process.emitWarning(
        new PoolError(code, `onError threw while reporting "${message}": ${describe(hookErr)}`, hookErr),
      );
    }
  }
}

function abortError(signal: AbortSignal): PoolAbortError {
  return new PoolAbortError('pop aborted by its signal', signal.reason);
}
