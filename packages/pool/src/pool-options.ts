import type { PoolError } from './errors';

/**
 * Extras of {@link Pool} beyond co's `(create, destroy, cap)`, mostly
 * generic-pool's features. Every one is optional; unknown keys are rejected.
 */
export interface PoolOptions<T> {
  /**
   * Most live items (idle + lent out + being created). When that many exist,
   * `pop()` waits, in order, for one to be pushed back, up to
   * `acquireTimeoutMs`. Default: no limit, and `pop()` never waits for a free
   * item (co's behaviour).
   */
  max?: number;
  /**
   * How long `pop()` may wait, for a free item under `max` or for `create`,
   * before it rejects with `ERR_ACQUIRE_TIMEOUT`, up to 2147483647 ms (Node's
   * timer limit; a longer time throws a RangeError). `0`: with `max`, reject at
   * once when no item is free and none may be created. Negative or `Infinity`:
   * wait forever (no timer). Default `-1`.
   */
  acquireTimeoutMs?: number;
  /**
   * Checked on every `pop()` that takes an idle item (generic-pool's
   * `testOnBorrow`): a falsy result, a throw or a rejection destroys the item
   * and another is taken (or created). A throw or rejection is also reported
   * (`ERR_VALIDATE`). Default: none, idle items are handed out as they are.
   */
  validate?: (item: T) => boolean | Promise<boolean>;
  /**
   * Idle items unused for longer than this are destroyed by a background
   * check (generic-pool's evictor, which runs only when this is set; its
   * timer never keeps the process alive). No timer is armed with this value
   * itself (the check compares times), so any integer is honoured. Default `0`,
   * like `Infinity`: idle items are kept until popped or cleared (co's behaviour).
   */
  idleTimeoutMs?: number;
  /**
   * Longest time one `destroy` is awaited; past it the pool reports
   * `ERR_DESTROY_TIMEOUT` and goes on, so `clear()` and `close()` cannot hang
   * on a `destroy` that never settles. At most 2147483647 (Node's timer
   * limit; more throws a RangeError). Default `5000`; negative or `Infinity`
   * waits forever (no timer).
   */
  destroyTimeoutMs?: number;
  /**
   * Told of every failure that is not a rejected `pop()`: `destroy` or
   * `validate` that threw or rejected, a `destroy` past `destroyTimeoutMs`, a
   * failed `create` nobody waited for, a double push, a push of another
   * pool's item. `item` is the item concerned, when there is one. Default:
   * `process.emitWarning(err)`, one line on stderr.
   */
  onError?: (err: PoolError, item: T | undefined) => void;
}

/** The options once checked, with their defaults filled in. @internal */
export interface ResolvedPoolOptions<T> {
  max: number;
  acquireTimeoutMs: number;
  validate: ((item: T) => boolean | Promise<boolean>) | null;
  idleTimeoutMs: number;
  destroyTimeoutMs: number;
  onError: ((err: PoolError, item: T | undefined) => void) | null;
}

const POOL_OPTION_KEYS = new Set([
  'max',
  'acquireTimeoutMs',
  'validate',
  'idleTimeoutMs',
  'destroyTimeoutMs',
  'onError',
]);

/**
 * Largest delay a Node timer takes (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms
 * with a TimeoutOverflowWarning, so a time limit above it is refused rather than cut.
 */
const MAX_TIMER_MS = 0x7fff_ffff;

/** Default of {@link PoolOptions.destroyTimeoutMs}. */
export const DEFAULT_DESTROY_TIMEOUT_MS = 5000;

/**
 * Checks `options` the way the constructor promises: unknown keys and bad
 * values throw at once (`TypeError`/`RangeError`), defaults are filled in.
 * `max` comes back as `Infinity` when unbounded. @internal
 */
export function resolvePoolOptions<T>(options: PoolOptions<T> | undefined): ResolvedPoolOptions<T> {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') throw new TypeError('Pool options must be an object');
  for (const key of Object.keys(options)) {
    if (!POOL_OPTION_KEYS.has(key)) {
      throw new TypeError(`unknown Pool option "${key}"; known: ${[...POOL_OPTION_KEYS].join(', ')}`);
    }
  }
  const o = options;
  checkInteger('max', o.max, 1);
  checkTimerMs('acquireTimeoutMs', o.acquireTimeoutMs);
  if (o.idleTimeoutMs !== Infinity) checkInteger('idleTimeoutMs', o.idleTimeoutMs, 0);
  checkTimerMs('destroyTimeoutMs', o.destroyTimeoutMs);
  checkFunction('validate', o.validate);
  checkFunction('onError', o.onError);
  return {
    max: o.max ?? Infinity,
    // Any negative value, and Infinity, mean "forever", as for every `ms` of @proj/tcp: -1 here.
    acquireTimeoutMs: forever(o.acquireTimeoutMs ?? -1),
    validate: o.validate ?? null,
    idleTimeoutMs: o.idleTimeoutMs === undefined || o.idleTimeoutMs === Infinity ? 0 : o.idleTimeoutMs,
    destroyTimeoutMs: forever(o.destroyTimeoutMs ?? DEFAULT_DESTROY_TIMEOUT_MS),
    onError: o.onError ?? null,
  };
}

function checkInteger(name: string, v: unknown, min: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
    const range = min > -Number.MAX_SAFE_INTEGER ? ` >= ${min}` : ' (negative: wait forever)';
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever the caller passed, as String() shows it
    throw new RangeError(`Pool option ${name} must be an integer${range}, got ${String(v)}`);
  }
}

/** A time limit a timer will wait: an integer up to {@link MAX_TIMER_MS}, negative (forever) or `Infinity` (forever). */
function checkTimerMs(name: string, v: unknown): void {
  if (v === Infinity) return;
  checkInteger(name, v, -Number.MAX_SAFE_INTEGER);
  if (typeof v === 'number' && v > MAX_TIMER_MS) {
    throw new RangeError(
      `Pool option ${name} must be at most ${MAX_TIMER_MS} ms (Node's timer limit); ` +
        `for no limit give -1 or Infinity; got ${String(v)}`,
    );
  }
}

function forever(ms: number): number {
  return ms < 0 || ms === Infinity ? -1 : ms;
}

function checkFunction(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function') throw new TypeError(`Pool option ${name} must be a function`);
}
