/**
 * Stable codes of the package's errors: {@link PoolError} has all but
 * `ABORT_ERR`, which is {@link PoolAbortError}'s. A `create` that fails is not
 * among them: `pop()` rejects with the very error `create` threw, so callers
 * see their own failure (`ECONNREFUSED`, ...) and not a wrapper.
 */
export const PoolErrorCode = {
  /** `pop()` waited for a free item (only with `max`) longer than `acquireTimeoutMs`. */
  ERR_ACQUIRE_TIMEOUT: 'ERR_ACQUIRE_TIMEOUT',
  /** `pop()` after `close()`, or a `pop()` that was still waiting when the pool closed. */
  ERR_CLOSED: 'ERR_CLOSED',
  /** Reported: a `create` failed while no `pop()` was waiting for it (the pop had timed out). */
  ERR_CREATE: 'ERR_CREATE',
  /** Reported: `destroy` threw or rejected; the item is forgotten all the same. */
  ERR_DESTROY: 'ERR_DESTROY',
  /** Reported: `destroy` did not settle within `destroyTimeoutMs`; the pool stopped waiting for it. */
  ERR_DESTROY_TIMEOUT: 'ERR_DESTROY_TIMEOUT',
  /** Reported: `validate` threw or rejected; the item was treated as invalid and destroyed. */
  ERR_VALIDATE: 'ERR_VALIDATE',
  /** Reported: an item was pushed (or discarded) that is already idle in this pool or was destroyed by it; ignored. */
  ERR_DOUBLE_PUSH: 'ERR_DOUBLE_PUSH',
  /** Reported: an item that another `Pool` owns was pushed (or discarded) here; left alone. */
  ERR_FOREIGN_ITEM: 'ERR_FOREIGN_ITEM',
  /** Thrown by `PoolGuard.value` when the guard holds no item. */
  ERR_NO_ITEM: 'ERR_NO_ITEM',
  /** Thrown by `PoolGuard.reset` after the guard already pushed its item back. */
  ERR_GUARD_RELEASED: 'ERR_GUARD_RELEASED',
  /** {@link PoolAbortError}: the `signal` given to `pop()` or `PoolGuard.acquire()` aborted. */
  ABORT_ERR: 'ABORT_ERR',
} as const;

/** One of the {@link PoolErrorCode} values. */
export type PoolErrorCodeName = (typeof PoolErrorCode)[keyof typeof PoolErrorCode];

/**
 * Every failure of `@proj/pool`: what `pop()` rejects with (apart from a
 * failed `create`'s own error), what `PoolGuard` throws, and what the pool
 * reports through its `onError` hook. Match on {@link PoolError.code}, never
 * on the message.
 */
export class PoolError extends Error {
  /** `'PoolError'`. */
  override readonly name = 'PoolError';
  /** Stable code, one of {@link PoolErrorCode} (never `ABORT_ERR`, which is {@link PoolAbortError}'s). */
  readonly code: PoolErrorCodeName;

  /**
   * @param code - one of {@link PoolErrorCode} (not `ABORT_ERR`).
   * @param message - what happened, for people.
   * @param cause - the underlying error (what `destroy` threw, generic-pool's timeout, ...).
   */
  constructor(code: PoolErrorCodeName, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/**
 * What `pop({ signal })` and `PoolGuard.acquire(pool, { signal })` reject with
 * when `signal` aborts before they have an item, or was aborted already: as
 * Node's own APIs reject, `name` is `'AbortError'`, `code` is `'ABORT_ERR'`
 * and `cause` is `signal.reason`. Match on {@link PoolAbortError.code}.
 */
export class PoolAbortError extends Error {
  /** `'AbortError'`, as Node's own aborted calls. */
  override readonly name = 'AbortError';
  /** Always {@link PoolErrorCode}`.ABORT_ERR`. */
  readonly code = PoolErrorCode.ABORT_ERR;

  /**
   * @param message - what was aborted, for people.
   * @param reason - the signal's `reason`, kept as `cause`.
   */
  constructor(message: string, reason: unknown) {
    super(message, { cause: reason });
  }
}

/** The rejection of a `pop()` on a closed pool, or one that was waiting when it closed. @internal */
export function closedError(): PoolError {
  return new PoolError(PoolErrorCode.ERR_CLOSED, 'the pool is closed');
}
