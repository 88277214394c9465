/** What the handler module of a worker thread was given with it. */
let data: unknown;

/** Set by the worker thread before it loads the handler module. @internal */
export function setHandlerData(value: unknown): void {
  data = value;
}

/**
 * In a worker thread of a `Server` with `workers`: the `data` given to
 * `onConnection(module, exportName, data)` (a structured clone of it), for
 * the handler module's top-level code. `undefined` elsewhere.
 *
 * @example
 * ```ts
 * // handler.mjs
 * import { workerHandlerData } from '@proj/tcp';
 * const { greeting } = workerHandlerData();
 * export default async (conn) => { await conn.send(greeting); };
 * ```
 */
export function workerHandlerData(): unknown {
  return data;
}
