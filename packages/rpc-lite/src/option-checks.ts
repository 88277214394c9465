/** Largest delay `setTimeout` takes, in milliseconds. @internal */
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

/** The error for a time limit that is not a number up to {@link MAX_TIMER_MS} (negative: none), or `null`. @internal */
export function badMs(name: string, v: number | undefined): RangeError | null {
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || v > MAX_TIMER_MS)) {
    return new RangeError(`${name} must be a number of milliseconds up to ${MAX_TIMER_MS} (negative: none), got ${v}`);
  }
  return null;
}

/** @throws TypeError when `v` is given and is not a non-null object. @internal */
export function checkObject(name: string, v: unknown): void {
  if (v !== undefined && (v === null || typeof v !== 'object')) throw new TypeError(`${name} must be an object`);
}
