/** What a value of unknown type is: the checks the pool makes on items and on what user callbacks return. @internal */

/** Whether `v` can be a WeakMap key: an object or a function. @internal */
export function isObject(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

/** Whether `v` is a promise or another thenable. @internal */
export function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return isObject(v) && typeof (v as { then?: unknown }).then === 'function';
}

/** An error's message (or the value as a string), for a report's message. @internal */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
