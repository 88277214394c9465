/**
 * Promises already settled, shared by every channel: a call that the queue
 * (or the kernel) answers at once returns one of these rather than a new
 * promise, which saves an allocation per message of a request/response
 * protocol. A settled promise never changes, so sharing one is invisible to
 * callers.
 * @internal
 */

/** @internal */
export const RESOLVED_0 = Promise.resolve(0);
/** @internal */
export const RESOLVED_MINUS_1 = Promise.resolve(-1);

/** Counts up to this many have a shared promise, made on first use. */
const RESOLVED_COUNTS_MAX = 4096;
const resolvedCounts: Array<Promise<number> | undefined> = Array.from(
  { length: RESOLVED_COUNTS_MAX + 1 },
  () => undefined,
);

/** A promise resolved with `n`: shared for `n <= 4096`. @internal */
export function resolvedWith(n: number): Promise<number> {
  if (n > RESOLVED_COUNTS_MAX) return Promise.resolve(n);
  return (resolvedCounts[n] ??= Promise.resolve(n));
}
