/**
 * Largest delay a Node timer takes, in milliseconds (2^31 - 1, about 24.8 days). A longer
 * one fires after 1 ms with a TimeoutOverflowWarning, so every time limit above it is
 * refused with a RangeError rather than cut; `Infinity` (no limit) is taken. @internal
 */
export const MAX_TIMER_MS = 0x7fff_ffff;

/**
 * Checks that `options` is an object whose keys are all in `known`.
 * @throws TypeError otherwise, naming the unknown key and the known ones. @internal
 */
export function checkOptionKeys(what: string, options: unknown, known: ReadonlySet<string>): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${what} options must be an object`);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`unknown ${what} option "${key}"; known: ${[...known].join(', ')}`);
  }
}

/** @throws RangeError when `v` is given and is not an integer from `min` to `max`. @internal */
export function checkInteger(name: string, v: number | undefined, min: number, max: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}

/**
 * The error for a time limit that is not a number of milliseconds up to {@link MAX_TIMER_MS}, a
 * negative one or `Infinity` (both: no limit); `null` when it is one of those. @internal
 */
export function badMs(name: string, v: number | undefined): RangeError | null {
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || (v > MAX_TIMER_MS && v !== Infinity))) {
    return new RangeError(
      `${name} must be a number of milliseconds up to ${MAX_TIMER_MS} (Node's timer limit), ` +
        `or negative or Infinity for no limit; got ${v}`,
    );
  }
  return null;
}

/** `ms` as the timers here take it: `Infinity` becomes `-1` (no limit, no timer). @internal */
export function limitMs(ms: number): number {
  return ms === Infinity ? -1 : ms;
}

/**
 * @throws RangeError when `v` is given and is neither an integer from `min` to {@link MAX_TIMER_MS}
 *   nor `Infinity` (no limit). @internal
 */
export function checkTimeLimit(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && v !== Infinity && (!Number.isInteger(v) || v < min || v > MAX_TIMER_MS)) {
    throw new RangeError(
      `${name} must be an integer from ${min} to ${MAX_TIMER_MS} ms (Node's timer limit), or Infinity for no limit; got ${v}`,
    );
  }
}

/** @throws TypeError when `v` is given and is not a non-null object. @internal */
export function checkObject(name: string, v: unknown): void {
  if (v !== undefined && (v === null || typeof v !== 'object')) throw new TypeError(`${name} must be an object`);
}
