import { PoolError, PoolErrorCode } from './errors';
import { Pool } from './pool';
import { kind, type PopOptions } from './pop-options';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Set (non-enumerable, writable, `true`) on an object item each time a guard pushes it back.
 * `@proj/tcp` reads it to explain an `ERR_CONCURRENT_RECV` that follows: `return g.value.cmd()`
 * without `await` inside `await using g` gives the connection back before `cmd()` has finished.
 */
const RELEASED_BY_GUARD = Symbol.for('@proj/pool.releasedByGuard');

/** Marks `item` as given back by a guard when it is an object that can take the mark. */
function markReleased(item: unknown): void {
  if ((typeof item !== 'object' || item === null) && typeof item !== 'function') return;
  const marked = item as { [RELEASED_BY_GUARD]?: unknown };
  // Already marked: nothing to write (the common case, every release after the first).
  if (marked[RELEASED_BY_GUARD] === true) return;
  if (Object.prototype.hasOwnProperty.call(item, RELEASED_BY_GUARD)) {
    Reflect.set(item, RELEASED_BY_GUARD, true); // false on a frozen item: left as it is
  } else if (Object.isExtensible(item)) {
    Object.defineProperty(item, RELEASED_BY_GUARD, {
      value: true,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  }
}

function isPoolShaped(v: unknown): boolean {
  const p = v as Partial<Record<'_popThen' | '_settle' | '_takeIdle' | 'push', unknown>> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p._popThen === 'function' &&
    typeof p._settle === 'function' &&
    typeof p._takeIdle === 'function' &&
    typeof p.push === 'function'
  );
}

function checkPool(pool: unknown, where: string): void {
  // instanceof, or the shape of one: a Pool of another copy of this package (two installed) works too.
  if (!(pool instanceof Pool) && !isPoolShaped(pool)) {
    throw new TypeError(`${where}: pool must be a Pool of @proj/pool, got ${kind(pool)}`);
  }
}

/**
 * Per pool, the step that turns what the pool's store lent into a guard; see {@link PoolGuard.acquire}.
 * Pools of every item type share it, and `Pool<T>` is invariant in `T`: keys and values are typed loosely.
 */
const GUARD_MAKERS = new WeakMap<object, (r: unknown) => unknown>();

/**
 * Holds one item popped from a {@link Pool} and pushes it back exactly once
 * (co's `co::PoolGuard`): whichever of {@link PoolGuard.release},
 * `[Symbol.dispose]` or `[Symbol.asyncDispose]` runs first does it, the rest
 * do nothing. With `using`/`await using` that happens when the block ends, as
 * co's destructor does.
 *
 * @example
 * ```ts
 * async function clientFun(): Promise<void> {
 *   await using c = await PoolGuard.acquire(pool);
 *   if (!c.value.connected() && !(await c.value.connect(3000))) return;
 *   if ((await c.value.send('ping')) <= 0) c.reset(); // broken: destroy it, do not pool it
 * }
 * ```
 */
export class PoolGuard<T> implements Disposable, AsyncDisposable {
  private readonly _pool: Pool<T>;
  private _item: T | null;
  private _released = false;

  /**
   * Pops an item from `pool` and guards it (co's `PoolGuard(pool)`).
   *
   * @param opts - as for {@link Pool.pop}: `signal` cancels the wait.
   * @returns a guard whose item may be `null` when the pool is empty and has no `create`.
   * @throws (rejects) whatever {@link Pool.pop} rejects with (`PoolAbortError`
   *   when `opts.signal` aborts first); throws a TypeError at once when `pool`
   *   is not a {@link Pool}, and for bad options (an unknown key included).
   */
  static acquire<T>(pool: Pool<T>, opts?: PopOptions): Promise<PoolGuard<T>> {
    checkPool(pool, 'PoolGuard.acquire(pool, opts?)');
    if (opts === undefined) {
      // The common case: an idle item at hand, and one promise, as any pool that answers with one.
      const item = pool._takeIdle();
      if (item !== undefined) return Promise.resolve(new PoolGuard(pool, item));
    }
    // One step per pop, made once per pool: no closure, and no promise more than pop() has.
    let makeGuard = GUARD_MAKERS.get(pool) as ((r: unknown) => PoolGuard<T>) | undefined;
    if (makeGuard === undefined) {
      makeGuard = (r) => new PoolGuard(pool, pool._settle(r));
      GUARD_MAKERS.set(pool, makeGuard);
    }
    return pool._popThen(makeGuard, opts, 'PoolGuard.acquire');
  }

  /**
   * Guards an item the caller already popped from `pool`; it is pushed back to
   * `pool`. Most code uses {@link PoolGuard.acquire} instead.
   *
   * @throws TypeError when `pool` is not a {@link Pool}.
   */
  constructor(pool: Pool<T>, item: T | null) {
    checkPool(pool, 'new PoolGuard(pool, item)');
    this._pool = pool;
    this._item = item ?? null;
  }

  /**
   * The item (co's `operator->` and `operator*`).
   *
   * @throws PoolError `ERR_NO_ITEM` when the guard holds none: the pool had no
   *   `create` and was empty, `reset()` left it empty, or it was released.
   */
  get value(): T {
    const item = this._item;
    if (item === null) {
      throw new PoolError(
        PoolErrorCode.ERR_NO_ITEM,
        this._released ? 'the guard was released; its item went back to the pool' : 'the guard holds no item',
      );
    }
    return item;
  }

  /** The item, or `null` when the guard holds none (co's `get`). */
  get(): T | null {
    return this._item;
  }

  /**
   * Destroys the held item through the pool (a broken connection must not go
   * back) and holds `item` instead, which is pushed back in its place (co's
   * `reset`). Nothing happens when `item` is the one already held.
   *
   * @param item - the new item, often a fresh one; default `null`: hold nothing.
   * @throws PoolError `ERR_GUARD_RELEASED` after the item was pushed back.
   */
  reset(item: T | null = null): void {
    if (this._released) {
      throw new PoolError(PoolErrorCode.ERR_GUARD_RELEASED, 'reset() on a guard that already pushed its item back');
    }
    const held = this._item;
    if (held === item) return;
    this._item = item ?? null;
    if (held !== null) this._pool.discard(held);
  }

  /**
   * Pushes the item back now; later calls, and disposal, do nothing. An
   * object item gets the non-enumerable mark
   * `Symbol.for('@proj/pool.releasedByGuard')` (`true`), by which
   * `@proj/tcp` explains a later `ERR_CONCURRENT_RECV` on it.
   */
  release(): void {
    if (this._released) return;
    this._released = true;
    const item = this._item;
    this._item = null;
    if (item !== null) {
      markReleased(item);
      this._pool.push(item);
    }
  }

  /** Same as {@link PoolGuard.release}; `using g = ...` calls it. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Same as {@link PoolGuard.release} (pushing back never waits); `await using g = ...` calls it. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return RESOLVED;
  }
}
