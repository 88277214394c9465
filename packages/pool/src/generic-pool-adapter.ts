import { createPool, type Factory, type Pool as GenericPool } from 'generic-pool';
import { PoolErrorCode, closedError, type PoolErrorCodeName } from './errors';
import type { ResolvedPoolOptions } from './pool-options';
import { describe, isPromiseLike } from './values';

/**
 * Everything `@proj/pool` knows about the npm package generic-pool lives in this file: how our
 * options map onto its config, the markers and hand-offs that work around its issues, and the two
 * internals it needs, `_createResource()` and `_waitingClientsQueue.tail` (each checked on
 * generic-pool 3.9.0, each pinned by test/generic-pool-behaviour.test.ts so that an upgrade that
 * changes one fails there first; package.json takes 3.9 patch releases only, `~3.9.0`, for them).
 * `Pool` (pool.ts) speaks only of items: acquire, release, destroy, adopt.
 *
 * Reusing an idle item does not go through generic-pool: each of its acquire/release pairs makes
 * two deferred promises, a loan and a request object and reads the clock, about 1 µs, ten times
 * what taking an item from an array costs. So, as long as nothing needs generic-pool's idle list
 * (no `validate`, no `idleTimeoutMs`), an item pushed back while no acquire waits goes on a stack
 * kept here ({@link GenericPoolAdapter.takeIdle}). generic-pool still counts it lent out, so its
 * `max`, its count of live items and its destroy path hold for it unchanged.
 */

/** What the adapter needs from the pool it serves: co's side of each step. @internal */
export interface GenericPoolHooks<T> {
  /** The user's `create`, or `null`. */
  readonly create: (() => T | Promise<T>) | null;
  /**
   * Called synchronously with what `create` made (never `null`). Returns `false` when the pool has
   * closed meanwhile, having destroyed the item: the adapter then hands out no item.
   */
  accept(item: T): boolean;
  /** generic-pool destroys an item (evicted, invalid, destroyed instead of pushed, cleared): forget it and dispose of it. */
  destroy(item: T): Promise<void>;
  /** The user's `validate`, or `null`. */
  readonly validate: ((item: T) => boolean | Promise<boolean>) | null;
  /** Reports a failure that reaches no caller (`onError`). */
  report(code: PoolErrorCodeName, message: string, item: T | undefined, cause?: unknown): void;
}

/**
 * An item this adapter has lent out, or keeps on its stack: one per item, made when the item is
 * first lent, dropped when it is destroyed. Holding the state here costs one map lookup per push
 * and none per pop, where asking generic-pool and a set of the stacked items costs four. @internal
 */
export interface Loan<T> {
  readonly item: T;
  /** Lent out to a caller now (else idle: on the stack, or in generic-pool's idle list). */
  lent: boolean;
}

/** A `pop` in generic-pool's queue, and the means to take it back out while it waits. @internal */
export interface CancellableAcquire {
  /** What generic-pool lends: give it to {@link GenericPoolAdapter.unwrap}. */
  readonly promise: Promise<unknown>;
  /** Takes the request out of generic-pool's queue if it still waits there; else does nothing. */
  cancel(): void;
}

/**
 * What the factory hands generic-pool when there is no item to give: `create`
 * failed (`failed`, with its `error`), there is no `create`, `create` returned
 * nothing, or the pool closed. {@link GenericPoolAdapter.unwrap} turns it into a
 * throw or `null`. Each one is a fresh object because generic-pool keys its
 * loans by resource.
 */
class NoItem {
  constructor(
    readonly failed: boolean,
    readonly error: unknown,
  ) {}
}

/**
 * generic-pool's internals this file uses, as generic-pool 3.9.0 has them (lib/Pool.js,
 * lib/PriorityQueue.js, lib/ResourceRequest.js, lib/Queue.js).
 */
interface GenericPoolInternals {
  /** Its creation step: calls `factory.create()` synchronously and pools what the promise gives. See {@link GenericPoolAdapter.adopt}. */
  _createResource(): void;
  /** Its queue of waiting acquires; `tail` is the request `acquire()` queued last. See {@link GenericPoolAdapter.acquireCancellable}. */
  _waitingClientsQueue?: { readonly tail?: WaitingRequest };
}

/** One of generic-pool's ResourceRequests (a Deferred with a timeout). */
interface WaitingRequest {
  readonly promise: Promise<unknown>;
  reject(reason: unknown): void;
}

/**
 * The reason a cancelled acquire is rejected with. generic-pool's queue unlinks a request that
 * rejects with an error named `TimeoutError` (lib/Queue.js, what its own acquire timeout relies
 * on), so that is its name; nobody else sees it (the pop has already rejected with its AbortError).
 */
const CANCELLED: Error = Object.freeze(
  Object.assign(new Error('acquire cancelled by its signal'), { name: 'TimeoutError' }),
);

const NOT_CANCELLABLE = (): void => {};
const RESOLVED: Promise<void> = Promise.resolve();
const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);
const RESOLVED_FALSE: Promise<boolean> = Promise.resolve(false);

/** generic-pool's `max` when ours is unbounded: it needs a number, and this one never binds. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * The item store of a {@link Pool}: a generic-pool configured as co's pool
 * behaves, with its sharp edges worked around. @internal
 */
export class GenericPoolAdapter<T> {
  private readonly _gp: GenericPool<T | NoItem>;
  private readonly _hooks: GenericPoolHooks<T>;
  private readonly _acquireTimeoutMs: number;
  /** Whether the queue of waiting acquires is where generic-pool 3.9.0 keeps it; else an aborted pop is not taken out of it. */
  private readonly _canCancel: boolean;
  /** The item {@link GenericPoolAdapter.adopt} is handing to generic-pool's creation step, which calls our factory synchronously. */
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
  /** While {@link GenericPoolAdapter.destroyIdle} takes the idle items out, validating them would be wasted work. */
  private _clearing = false;
  private _closed = false;
  private readonly _creates = new Set<Promise<unknown>>();
  /**
   * Idle items kept here rather than in generic-pool's idle list, the one pushed last on top.
   * Every one is older than every item in generic-pool's idle list (see {@link GenericPoolAdapter.release}),
   * so taking generic-pool's first while it has any keeps the whole LIFO.
   */
  private readonly _stack: Array<Loan<T>> = [];
  /** The loan of every item lent out once and not destroyed since: see {@link Loan}. */
  private readonly _loans = new Map<T, Loan<T>>();
  /** Whether idle items may bypass generic-pool: it has no idle item to validate or evict. */
  private readonly _bypass: boolean;

  constructor(hooks: GenericPoolHooks<T>, o: ResolvedPoolOptions<T>) {
    this._hooks = hooks;
    this._bypass = o.validate === null && o.idleTimeoutMs === 0;
    this._acquireTimeoutMs = o.acquireTimeoutMs;
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
      // the pool bounds every destroy itself (destroyTimeoutMs).
    });
    const internals = this._gp as unknown as Partial<GenericPoolInternals>;
    if (typeof internals._createResource !== 'function') {
      throw new Error('@proj/pool needs generic-pool 3.x: Pool._createResource is missing');
    }
    const queue = internals._waitingClientsQueue;
    this._canCancel = typeof queue === 'object' && queue !== null && 'tail' in queue;
  }

  /** Idle items, adoptions in flight included. */
  get idle(): number {
    return this._gp.available + this._adopting + this._stack.length;
  }

  /** Acquires waiting for an item. */
  get waiting(): number {
    return this._gp.pending;
  }

  /** Whether one more item may live under `max`. */
  get hasRoom(): boolean {
    return this._gp.spareResourceCapacity >= 1;
  }

  /** Creates still in flight. */
  get creating(): number {
    return this._creates.size;
  }

  /** Whether `item` is lent out by this store (and so may be released or destroyed). */
  isLent(item: T): boolean {
    return this.loanOf(item) !== undefined;
  }

  /** The loan of `item` when it is lent out by this store; `undefined` when not (idle, destroyed, unknown). */
  loanOf(item: T): Loan<T> | undefined {
    const loan = this._loans.get(item);
    return loan !== undefined && loan.lent ? loan : undefined;
  }

  /**
   * The idle item pushed last, lent out at once, when it is on this adapter's stack and
   * generic-pool holds no newer one; else `undefined` (then {@link GenericPoolAdapter.acquire}).
   */
  takeIdle(): T | undefined {
    const stack = this._stack;
    if (stack.length === 0 || this._gp.available + this._adopting > 0) return undefined;
    const loan = stack.pop()!;
    loan.lent = true;
    return loan.item;
  }

  /**
   * Takes an idle item, or creates one, or waits under `max`. Resolves with what
   * {@link GenericPoolAdapter.unwrap} turns into the item; rejects as
   * {@link GenericPoolAdapter.timedOut} tells.
   */
  acquire(): Promise<unknown> {
    return this._gp.acquire();
  }

  /**
   * {@link GenericPoolAdapter.acquire} that can be taken back while it waits (an aborted pop).
   *
   * generic-pool has no public way to withdraw a waiting acquire: its `acquire()` returns only a
   * promise. Its queue keeps the request object (`_waitingClientsQueue.tail` right after the call),
   * and rejecting that request with a `TimeoutError` takes it out, as its own acquire timeout does.
   * Without that, every aborted pop would stay queued until an item came for it. Where the queue
   * is not found (another generic-pool version), `cancel` does nothing and what the request gets
   * later is given back by the caller, which has to handle that race anyway.
   */
  acquireCancellable(): CancellableAcquire {
    const promise = this._gp.acquire();
    if (!this._canCancel) return { promise, cancel: NOT_CANCELLABLE };
    const tail = (this._gp as unknown as GenericPoolInternals)._waitingClientsQueue?.tail;
    // Not the tail: acquire() was served at once, or rejected before it queued anything.
    if (tail === undefined || tail.promise !== promise) return { promise, cancel: NOT_CANCELLABLE };
    return { promise, cancel: () => tail.reject(CANCELLED) };
  }

  /**
   * What an acquire resolved with, as the pool hands it out: the item, or `null` (no `create`, or
   * it gave nothing). A failed create's marker throws that create's error; a closed pool's marker
   * throws `ERR_CLOSED`.
   */
  unwrap(r: unknown): T | null {
    if (r instanceof NoItem) {
      void this._gp.destroy(r);
      if (r.failed) throw r.error;
      return null;
    }
    const item = r as T;
    const loan = this._loans.get(item);
    if (loan === undefined) this._loans.set(item, { item, lent: true });
    else loan.lent = true;
    return item;
  }

  /** Whether an acquire's rejection is generic-pool giving up on waiting (`acquireTimeoutMs`, or `0` with nothing free). */
  timedOut(err: unknown): boolean {
    return (err instanceof Error && err.name === 'TimeoutError') || this._acquireTimeoutMs === 0;
  }

  /** Puts a lent item (its {@link GenericPoolAdapter.loanOf}) back on top of the idle list, or gives it to the first waiting acquire. */
  release(loan: Loan<T>): void {
    loan.lent = false;
    // The stack only while generic-pool's own idle list is empty: what lands there later (an
    // adopted item, a create nobody took) is then newer than everything on the stack.
    if (this._bypass && !this._closed && this._gp.available + this._adopting === 0 && this._gp.pending === 0) {
      this._stack.push(loan);
      return;
    }
    void this._gp.release(loan.item);
  }

  /** Destroys a lent item (through the pool's `destroy` hook); a waiting acquire may then get a new one. */
  destroy(item: T): void {
    void this._gp.destroy(item);
  }

  /**
   * Puts an item the pool did not make into generic-pool's idle list. The item must not be known
   * here, and {@link GenericPoolAdapter.hasRoom} must hold.
   *
   * generic-pool has no public way to do that (in its model the factory makes every resource), but
   * co's `push` takes any item and a pool without `create` is filled only this way. Its creation
   * step `_createResource()` does all an item needs: counts it against `max`, puts it on top of
   * the idle list, serves a waiting acquire. It calls `factory.create` synchronously, which returns
   * `_handoff`. Its public paths cannot stand in: `acquire()` calls `create` only when no idle item
   * could serve it. The item lands a microtask later; `_adopting` keeps {@link GenericPoolAdapter.idle}
   * exact meanwhile.
   */
  adopt(item: T): void {
    const handoff = Promise.resolve<T | NoItem>(item);
    this._adopting++;
    this._handOver(handoff);
    // Registered after generic-pool's own reaction to `handoff`, so it runs once the item is idle.
    this._lastAdoption = handoff.then(this._adopted);
  }

  /**
   * From now on, creates give no item and what a create in flight makes is refused (see
   * {@link GenericPoolHooks.accept}); every acquire waiting now rejects at once with `ERR_CLOSED`.
   */
  close(): void {
    this._closed = true;
    // Waiting acquires wait for an item that, now, will be destroyed when it comes back: give each
    // waiter a marker through the creation step so that it rejects at once.
    for (let n = this._gp.pending; n > 0; n--) this._handOver(Promise.resolve(new NoItem(true, closedError())));
  }

  /**
   * Destroys every idle item, adoptions in flight included. Not generic-pool's clear(): it destroys
   * idle items but leaves them in its idle list, so a later acquire hands out a destroyed item (its
   * issue #217, pinned by a test), and it first waits for every create in flight. Instead, the idle
   * items are taken out through acquire() and destroyed. Resolves once they are handed to the pool's
   * `destroy` hook (not once that settles).
   */
  async destroyIdle(): Promise<void> {
    // generic-pool counts the stacked items lent out: it destroys them as such.
    for (const loan of this._stack.splice(0)) void this._gp.destroy(loan.item);
    for (;;) {
      // Acquires already waiting come first in generic-pool's queue and would take some of the items
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
  }

  /** Settles once every create in flight now has settled, whatever its outcome. */
  createsSettled(): Promise<unknown> {
    return Promise.allSettled(this._creates);
  }

  /**
   * Makes generic-pool refuse acquires and stop its eviction timer once every loan is back.
   * Resolves at once when items are still lent out (they do not delay a close).
   */
  drain(): Promise<void> {
    const drained = this._gp.drain();
    return this._gp.borrowed === 0 ? drained : RESOLVED;
  }

  private readonly _adopted = (): void => {
    this._adopting--;
  };

  private _handOver(resource: Promise<T | NoItem>): void {
    this._handoff = resource;
    try {
      (this._gp as unknown as GenericPoolInternals)._createResource();
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
    const create = this._hooks.create;
    if (create === null) return Promise.resolve(new NoItem(false, undefined));
    let made: T | Promise<T>;
    try {
      made = create();
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
    if (!this._hooks.accept(item)) return new NoItem(true, closedError());
    if (this._hooks.validate !== null) this._fresh.add(item);
    return item;
  };

  /**
   * generic-pool answers a rejected create by calling create again for as long as an acquire waits:
   * a busy loop (its issues #175, #183, #273). Resolving with a marker instead hands the failure to
   * the waiting acquire, whose pop rejects with this very error, and nothing is retried.
   */
  private readonly _createFailed = (err: unknown): NoItem | Promise<never> => {
    if (this._gp.pending > 0) return new NoItem(true, err);
    // Nobody waits any more (the pop timed out): with no waiter, a rejection makes generic-pool stop.
    this._hooks.report(
      PoolErrorCode.ERR_CREATE,
      `create failed and no pop was waiting: ${describe(err)}`,
      undefined,
      err,
    );
    return Promise.reject(err);
  };

  private readonly _factoryDestroy = (r: T | NoItem): Promise<void> => {
    if (r instanceof NoItem) return RESOLVED;
    this._loans.delete(r);
    this._fresh.delete(r);
    return this._hooks.destroy(r);
  };

  private readonly _factoryValidate = (r: T | NoItem): Promise<boolean> => {
    if (this._clearing || r instanceof NoItem || this._fresh.delete(r)) return RESOLVED_TRUE;
    let ok: boolean | Promise<boolean>;
    try {
      ok = this._hooks.validate!(r);
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
    this._hooks.report(
      PoolErrorCode.ERR_VALIDATE,
      `validate failed, the item is destroyed: ${describe(err)}`,
      item,
      err,
    );
  }
}

/** Half the idle timeout, within [10 ms, 30 s]: an idle item goes between 1x and 1.5x `idleTimeoutMs`. */
function evictionIntervalMs(idleTimeoutMs: number): number {
  return Math.min(Math.max(Math.ceil(idleTimeoutMs / 2), 10), 30_000);
}
