/**
 * A first-in first-out queue on a power-of-two ring: `shift` is O(1) where
 * `Array.prototype.shift` moves every element once a queue grows past V8's
 * fast cases, and a queue that fills and drains again and again allocates
 * nothing once it has grown.
 * @internal
 */
export class Ring<T> {
  private _items: (T | undefined)[] = new Array<T | undefined>(16);
  private _mask = 15;
  private _head = 0;
  /** How many items are queued. */
  length = 0;

  /** Adds `item` at the back. */
  push(item: T): void {
    if (this.length === this._items.length) this._grow();
    this._items[(this._head + this.length) & this._mask] = item;
    this.length++;
  }

  /** The front item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.length === 0 ? undefined : this._items[this._head];
  }

  /** The item `i` places from the front (0 is the front); `i` must be below `length`. */
  at(i: number): T {
    return this._items[(this._head + i) & this._mask]!;
  }

  /** Takes the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this._items[this._head];
    this._items[this._head] = undefined; // the queue keeps no reference to what it gave out
    this._head = (this._head + 1) & this._mask;
    this.length--;
    return item;
  }

  private _grow(): void {
    const old = this._items;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.length; i++) next[i] = old[(this._head + i) & this._mask];
    this._items = next;
    this._mask = next.length - 1;
    this._head = 0;
  }
}
