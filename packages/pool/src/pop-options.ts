/**
 * What `Pool.pop(opts)` and `PoolGuard.acquire(pool, opts)` take: the
 * `WaitOptions` of the other packages without `ms` (the pool's timeout is
 * `acquireTimeoutMs`, one for every pop). Unknown keys are rejected.
 */
export interface PopOptions {
  /**
   * Cancels the pop while it waits (for a free item under `max`, or for
   * `create`): it rejects at once with a `PoolAbortError` (`name`
   * `'AbortError'`, `code` `'ABORT_ERR'`, `cause` `signal.reason`). A signal
   * aborted already rejects before anything is taken or created. An item that
   * comes for an aborted pop is pushed back, not lost.
   */
  signal?: AbortSignal;
}

const POP_OPTION_KEYS = new Set(['signal']);

/**
 * The signal of `opts`, checked; `null` when there is none.
 *
 * @param what - whose options they are, for the errors: `pop` or `PoolGuard.acquire`.
 * @throws TypeError for options that are not an object, an unknown key, or a `signal` that is not an AbortSignal.
 * @internal
 */
export function popSignal(opts: PopOptions, what: string): AbortSignal | null {
  if (opts === null || typeof opts !== 'object')
    throw new TypeError(`${what} options must be an object, got ${kind(opts)}`);
  for (const key of Object.keys(opts)) {
    if (!POP_OPTION_KEYS.has(key))
      throw new TypeError(`unknown ${what} option "${key}"; known: ${[...POP_OPTION_KEYS].join(', ')}`);
  }
  const signal = opts.signal;
  if (signal === undefined) return null;
  // Checked by shape, not instanceof: a signal from another realm (a vm context, a test runner) is one too.
  if (
    signal === null ||
    typeof signal !== 'object' ||
    typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function'
  ) {
    throw new TypeError(`${what} option signal must be an AbortSignal, got ${kind(signal)}`);
  }
  return signal;
}

/** What `v` is, for an error message: `null`, its class name, or its `typeof`. @internal */
export function kind(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}
