import { createPool, type Factory, type Pool as GenericPool } from 'generic-pool';
import { PoolError, PoolErrorCode, type PoolErrorCodeName } from './errors';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './pool-options';

/**
 * What the factory hands generic-pool when there is no item to give: `create`
 * failed (`failed`, with its `error`), there is no `create`, `create` returned
 * nothing, or the pool closed. `pop()` turns it into a rejection or `null`.
 * Each one is a fresh object because generic-pool keys its loans by resource.
 */
class NoItem {
  constructor(
    readonly failed: boolean,
    readonly error: unknown,
  ) {}
}

/** generic-pool's internal creation step; see {@link Pool._adopt} for why it is used. */
interface GenericPoolCreateStep {
  _createResource(): void;
}

/** Which pool owns an object item, across pools, to tell a foreign push from a new item (only compared with `this`). */
const OWNERS = new WeakMap<object, object>();

const RESOLVED: Promise<void> = Promise.resolve();
const RESOLVED_NULL: Promise<null> = Promise.resolve(null);
const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/** generic-pool's `max` when ours is unbounded: it needs a number, and this one never binds. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

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
  private readonly _gp: GenericPool<T | NoItem>;
  private readonly _create: (() => T | Promise<T>) | null;
  private readonly _destroy: ((item: T) => unknown) | null;
  private readonly _cap: number;
  private readonly _o: ResolvedPoolOptions<T>;
  /** Items this pool owns and has not destroyed: idle, lent out, being validated or being adopted. */
  private readonly _live = new Set<T>();
  /** Object items this pool destroyed, so a late second push of one is caught instead of adopted. */
  private readonly _destroyed = new WeakSet<object>();
  /** The item `_adopt` is handing to generic-pool's creation step, which calls our factory synchronously. */
  private _handoff: Promise<T | NoItem> | null = null;
  /** Adopted items generic-pool has not yet put in its idle list (it does so a microtask later). */
  private _adopting = 0;
  private _lastAdoption: Promise<void> = RESOLVED;
  /**
   * Items `create` just made, not yet handed out. generic-pool validates them too, so a validate
   * that always fails (a health check whose server is down) would make it create and destroy in a
   * loop; a fresh item needs no check anyway. Kept only when there is a `validate`.
   */
  private readonly _fresh = new Set<T>();
  /** While `clear()` takes the idle items out, validating them would be wasted work. */
  private _clearing = false;
  private _closed = false;
  private _closing: Promise<void> | null = null;
  private readonly _creates = new Set<Promise<unknown>>();
  private readonly _destroys = new Set<Promise<void>>();

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
    this._destroy = destroy ?? null;
    this._cap = cap;
    const o = (this._o = resolvePoolOptions(options));
    const factory: Factory<T | NoItem> = { create: this._factoryCreate, destroy: this._factoryDestroy };
    if (o.validate !== null) factory.validate = this._factoryValidate;
    this._gp = createPool(factory, {
      max: o.max === Infinity ? UNBOUNDED : o.max,
      min: 0,
      // co hands out the most recently pushed item: hot connections stay hot, the rest can idle out.
      fifo: false,
      testOnBorrow: o.validate !== null,
      // generic-pool arms a timer per acquire when this is set, so it is set only when asked for.
      acquireTimeoutMillis: o.acquireTimeoutMs > 0 ? o.acquireTimeoutMs : undefined,
      // "Do not wait" is generic-pool's maxWaitingClients 0: acquire rejects when nothing is free or creatable.
      maxWaitingClients: o.acquireTimeoutMs === 0 ? 0 : undefined,
      // generic-pool only evicts when evictionRunIntervalMillis > 0 (its issue #178), and checks 3
      // items per run unless told otherwise (#200): run often enough, check every idle item.
      evictionRunIntervalMillis: o.idleTimeoutMs > 0 ? evictionIntervalMs(o.idleTimeoutMs) : 0,
      numTestsPerEvictionRun: o.idleTimeoutMs > 0 ? UNBOUNDED : undefined,
      idleTimeoutMillis: o.idleTimeoutMs > 0 ? o.idleTimeoutMs : undefined,
      // destroyTimeoutMillis is not used: its timer is never cleared and its error carries no item;
      // _runDestroy bounds every destroy itself.
    });
    if (typeof (this._gp as unknown as Partial<GenericPoolCreateStep>)._createResource !== 'function') {
      throw new Error('@proj/pool needs generic-pool 3.x: Pool._createResource is missing');
    }
  }

  /**
   * Takes an item (co's `pop`): the most recently pushed idle one, else a new
   * one from `create`. With `max`, waits in order while `max` items are live.
   * With `validate`, idle items that fail it are destroyed and skipped.
   *
   * @returns the item; `null` only when the pool is empty and has no `create`
   *   (or `create` returned nothing).
   * @throws (rejects) the error `create` threw, when it failed; `PoolError`
   *   `ERR_ACQUIRE_TIMEOUT` after `acquireTimeoutMs`; `ERR_CLOSED` after `close()`.
   */
  pop(): Promise<T | null> {
    if (this._create === null && !this._closed && this._gp.available + this._adopting === 0) return RESOLVED_NULL;
    return this._popThen(this._onAcquired);
  }

  /**
   * `pop()` with the caller's own last step: `then(r => next(r))` where `r` is what generic-pool
   * gave and `next` calls {@link Pool._settle}. `PoolGuard.acquire` makes its guard in that same
   * step, instead of one promise more after `pop()`'s. @internal
   */
  _popThen<R>(next: (r: unknown) => R): Promise<R> {
    if (this._closed) return Promise.reject(closedError());
    if (this._create === null && this._gp.available + this._adopting === 0) return Promise.resolve(next(null));
    return this._gp.acquire().then(next, this._onAcquireFailed);
  }

  /**
   * Turns what generic-pool lent into what `pop()` resolves with: the item, `null`, or a throw
   * (the error of a failed create, `ERR_CLOSED`). @internal
   */
  _settle(r: unknown): T | null {
    if (r instanceof NoItem) {
      void this._gp.destroy(r);
      if (r.failed) throw r.error;
      return null;
    }
    if (r === null) return null;
    if (this._closed) {
      void this._gp.destroy(r as T);
      throw closedError();
    }
    return r as T;
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
    const gp = this._gp;
    if (!gp.isBorrowedResource(item)) {
      this._pushNotLent(item);
      return;
    }
    // The ordinary case, kept short: generic-pool knows the item and puts it back on top of its idle list.
    if (this._closed || (this._cap >= 0 && gp.available + this._adopting >= this._cap && gp.pending === 0)) {
      void gp.destroy(item);
    } else {
      void gp.release(item);
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
    if (this._gp.isBorrowedResource(item)) {
      void this._gp.destroy(item);
    } else if (this._knownElsewhere(item, 'discarded')) {
      return;
    } else {
      this._destroyUnowned(item);
    }
  }

  /** Idle items (co's `size`): pushed back and not yet popped, cleared or evicted. */
  size(): number {
    return this._gp.available + this._adopting;
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
    // Pops waiting under `max` wait for an item that, now, will be destroyed when it comes back:
    // give each waiter a marker through the creation step so that it rejects with ERR_CLOSED at once.
    for (let n = this._gp.pending; n > 0; n--) this._handOver(Promise.resolve(new NoItem(true, closedError())));
    await this._clearIdle();
    if (this._creates.size > 0) {
      // What they make is destroyed by _created now that the pool is closed; what they leave idle is a marker.
      // A create that fails with nobody waiting rejects (and is reported): wait for all, whatever the outcome.
      await Promise.allSettled(this._creates);
      await this._clearIdle();
    }
    // drain() makes generic-pool refuse acquires and stop its eviction timer once every loan is back.
    const drained = this._gp.drain();
    if (this._gp.borrowed === 0) await drained;
  }

  private async _clearIdle(): Promise<void> {
    // Not generic-pool's clear(): it destroys idle items but leaves them in its idle list, so a later
    // acquire hands out a destroyed item (its issue #217, pinned by a test here), and it first waits
    // for every create in flight. Instead, take the idle items out through acquire() and destroy them.
    for (;;) {
      // Pops already waiting come first in generic-pool's queue and would take some of the items
      // acquired here, leaving as many of these acquires waiting for ever: take only the surplus.
      const n = this._gp.available - this._gp.pending;
      if (n > 0) {
        const taken: Array<Promise<T | NoItem>> = [];
        this._clearing = true;
        try {
          for (let i = 0; i < n; i++) taken.push(this._gp.acquire());
        } finally {
          this._clearing = false;
        }
        for (const r of await Promise.allSettled(taken)) {
          if (r.status === 'fulfilled') void this._gp.destroy(r.value);
        }
      }
      if (this._adopting === 0) break;
      await this._lastAdoption;
    }
    if (this._destroys.size > 0) await Promise.all(this._destroys);
  }

  private readonly _onAcquired = (r: unknown): T | null => this._settle(r);

  private readonly _onAcquireFailed = (err: unknown): never => {
    if (this._closed) throw new PoolError(PoolErrorCode.ERR_CLOSED, 'the pool was closed', err);
    if ((err instanceof Error && err.name === 'TimeoutError') || this._o.acquireTimeoutMs === 0) {
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

  /** A push of an item generic-pool has not lent out: a double push, another pool's item, or a new one. */
  private _pushNotLent(item: T): void {
    if (this._knownElsewhere(item, 'pushed')) return;
    if (this._closed || (this._cap >= 0 && this.size() >= this._cap) || this._gp.spareResourceCapacity < 1) {
      // The caller gave the item away, as past `cap` for one of ours: the pool cannot keep it, so it ends it.
      this._destroyUnowned(item);
      return;
    }
    this._adopt(item);
  }

  /** Reports and returns true when `item` is idle here, was destroyed here, or belongs to another pool. */
  private _knownElsewhere(item: T, what: string): boolean {
    if (this._live.has(item)) {
      this._report(PoolErrorCode.ERR_DOUBLE_PUSH, `an item already idle in the pool was ${what} again; ignored`, item);
      return true;
    }
    if (isObject(item)) {
      if (this._destroyed.has(item)) {
        this._report(PoolErrorCode.ERR_DOUBLE_PUSH, `an item the pool already destroyed was ${what}; ignored`, item);
        return true;
      }
      const owner = OWNERS.get(item);
      if (owner !== undefined && owner !== this) {
        this._report(PoolErrorCode.ERR_FOREIGN_ITEM, `an item owned by another Pool was ${what} here; left alone`, item);
        return true;
      }
    }
    return false;
  }

  /**
   * Puts an item the pool did not make into generic-pool's idle list. generic-pool has no public way
   * to do that (in its model the factory makes every resource), but co's `push` takes any item and a
   * pool without `create` is filled only this way. Its own creation step does all an item needs:
   * counts it against `max`, puts it on top of the idle list, serves a waiting pop. That step calls
   * `factory.create` synchronously, which returns `_handoff`. The item lands a microtask later;
   * `_adopting` keeps `size()` exact meanwhile.
   */
  private _adopt(item: T): void {
    this._own(item);
    const handoff = Promise.resolve<T | NoItem>(item);
    this._adopting++;
    this._handOver(handoff);
    // Registered after generic-pool's own reaction to `handoff`, so it runs once the item is idle.
    this._lastAdoption = handoff.then(this._adopted);
  }

  private readonly _adopted = (): void => {
    this._adopting--;
  };

  private _handOver(resource: Promise<T | NoItem>): void {
    this._handoff = resource;
    try {
      (this._gp as unknown as GenericPoolCreateStep)._createResource();
    } finally {
      this._handoff = null;
    }
  }

  private readonly _factoryCreate = (): Promise<T | NoItem> => {
    const handoff = this._handoff;
    if (handoff !== null) {
      this._handoff = null;
      return handoff;
    }
    if (this._closed) return Promise.resolve(new NoItem(true, closedError()));
    if (this._create === null) return Promise.resolve(new NoItem(false, undefined));
    let made: T | Promise<T>;
    try {
      made = this._create();
    } catch (err) {
      return Promise.resolve(this._createFailed(err));
    }
    const creating = Promise.resolve(made).then(this._created, this._createFailed);
    this._creates.add(creating);
    const forget = (): void => void this._creates.delete(creating);
    creating.then(forget, forget);
    return creating;
  };

  private readonly _created = (item: T): T | NoItem => {
    if (item === null || item === undefined) return new NoItem(false, undefined);
    if (this._closed) {
      this._destroyUnowned(item);
      return new NoItem(true, closedError());
    }
    this._own(item);
    if (this._o.validate !== null) this._fresh.add(item);
    return item;
  };

  /**
   * generic-pool answers a rejected create by calling create again for as long as a pop waits: a
   * busy loop (its issues #175, #183, #273). Resolving with a marker instead hands the failure to the
   * waiting pop, which rejects with this very error, and nothing is retried.
   */
  private readonly _createFailed = (err: unknown): NoItem | Promise<never> => {
    if (this._gp.pending > 0) return new NoItem(true, err);
    // Nobody waits any more (the pop timed out): with no waiter, a rejection makes generic-pool stop.
    this._report(PoolErrorCode.ERR_CREATE, `create failed and no pop was waiting: ${describe(err)}`, undefined, err);
    return Promise.reject(err);
  };

  private readonly _factoryDestroy = (r: T | NoItem): Promise<void> => {
    if (r instanceof NoItem) return RESOLVED;
    this._disown(r);
    return this._runDestroy(r);
  };

  private readonly _factoryValidate = (r: T | NoItem): Promise<boolean> => {
    if (this._clearing || r instanceof NoItem || this._fresh.delete(r)) return RESOLVED_TRUE;
    let ok: boolean | Promise<boolean>;
    try {
      ok = this._o.validate!(r);
    } catch (err) {
      this._validateFailed(r, err);
      return RESOLVED_FALSE;
    }
    if (!isPromiseLike(ok)) return ok ? RESOLVED_TRUE : RESOLVED_FALSE;
    // generic-pool leaves a rejected validate unhandled (its issue #195): it becomes "invalid" here.
    return Promise.resolve(ok).then(Boolean, (err: unknown) => {
      this._validateFailed(r, err);
      return false;
    });
  };

  private _validateFailed(item: T, err: unknown): void {
    this._report(PoolErrorCode.ERR_VALIDATE, `validate failed, the item is destroyed: ${describe(err)}`, item, err);
  }

  private _own(item: T): void {
    this._live.add(item);
    if (isObject(item)) {
      OWNERS.set(item, this);
      this._destroyed.delete(item);
    }
  }

  private _disown(item: T): void {
    this._live.delete(item);
    this._fresh.delete(item);
    if (isObject(item)) {
      if (OWNERS.get(item) === this) OWNERS.delete(item);
      this._destroyed.add(item);
    }
  }

  private _destroyUnowned(item: T): void {
    if (isObject(item)) this._destroyed.add(item);
    void this._runDestroy(item);
  }

  /** Calls `destroy`, bounded by `destroyTimeoutMs`; reports failures; never rejects. */
  private _runDestroy(item: T): Promise<void> {
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
    const ms = this._o.destroyTimeoutMs;
    const done = new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      if (ms >= 0) {
        timer = setTimeout(() => {
          timer = null;
          this._report(PoolErrorCode.ERR_DESTROY_TIMEOUT, `destroy did not settle within ${ms} ms; not waiting for it`, item);
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
    this._destroys.add(done);
    void done.then(() => this._destroys.delete(done));
    return done;
  }

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
      process.emitWarning(new PoolError(code, `onError threw while reporting "${message}": ${describe(hookErr)}`, hookErr));
    }
  }
}

function closedError(): PoolError {
  return new PoolError(PoolErrorCode.ERR_CLOSED, 'the pool is closed');
}

/** Half the idle timeout, within [10 ms, 30 s]: an idle item goes between 1x and 1.5x `idleTimeoutMs`. */
function evictionIntervalMs(idleTimeoutMs: number): number {
  return Math.min(Math.max(Math.ceil(idleTimeoutMs / 2), 10), 30_000);
}

function isObject(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return isObject(v) && typeof (v as { then?: unknown }).then === 'function';
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
