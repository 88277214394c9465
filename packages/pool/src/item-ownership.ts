import { isObject } from './values';

/** Which pool owns an object item, across every pool of the process (compared with the pool only). */
const OWNERS = new WeakMap<object, object>();

/** Why a pool may not take an item that was pushed or discarded: see {@link ItemOwnership.conflict}. @internal */
export type OwnershipConflict = 'idle' | 'destroyed' | 'foreign';

/**
 * The items one pool owns, and those it destroyed: what tells a double push,
 * a push of another pool's item and a push of a new item apart. Items are
 * compared by identity; only object items can be told apart across pools.
 * @internal
 */
export class ItemOwnership<T> {
  private readonly _pool: object;
  /** Items the pool owns and has not destroyed: idle, lent out, being validated or being adopted. */
  private readonly _live = new Set<T>();
  /** Object items the pool destroyed, so a late second push of one is caught instead of adopted. */
  private readonly _destroyed = new WeakSet<object>();

  constructor(pool: object) {
    this._pool = pool;
  }

  /** The pool made or adopted `item`. */
  own(item: T): void {
    this._live.add(item);
    if (isObject(item)) {
      OWNERS.set(item, this._pool);
      this._destroyed.delete(item);
    }
  }

  /** The pool destroys `item`, which it owned. */
  disown(item: T): void {
    this._live.delete(item);
    if (isObject(item)) {
      if (OWNERS.get(item) === this._pool) OWNERS.delete(item);
      this._destroyed.add(item);
    }
  }

  /** The pool destroys `item`, which it never owned (given away past `cap`, made after close). */
  destroyedUnowned(item: T): void {
    if (isObject(item)) this._destroyed.add(item);
  }

  /**
   * Why the pool may not take `item`, which it has not lent out: it is idle here already, this
   * pool destroyed it, or another pool owns it. `null`: a new item the pool may adopt.
   */
  conflict(item: T): OwnershipConflict | null {
    if (this._live.has(item)) return 'idle';
    if (isObject(item)) {
      if (this._destroyed.has(item)) return 'destroyed';
      const owner = OWNERS.get(item);
      if (owner !== undefined && owner !== this._pool) return 'foreign';
    }
    return null;
  }
}
