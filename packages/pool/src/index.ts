/**
 * `@proj/pool`: co's `co::Pool` and `co::PoolGuard` for Node.js, built on the
 * npm package generic-pool. A pool keeps reusable items (connections, mostly);
 * a guard pops one and pushes it back when its block ends, with
 * `using`/`await using`. The package imports nothing of ours: it is given
 * `create` and `destroy`.
 *
 * @example
 * ```ts
 * import { Pool, PoolGuard } from '@proj/pool';
 * import { Client } from '@proj/tcp';
 *
 * const proto = new Client('127.0.0.1', 7788);
 * const pool = new Pool(() => new Client(proto), (c) => c.close(), 8);
 *
 * async function clientFun(): Promise<void> {
 *   await using c = await PoolGuard.acquire(pool);
 *   if (!c.value.connected() && !(await c.value.connect(3000))) {
 *     console.log('connect failed:', c.value.strerror());
 *     return;
 *   }
 *   if ((await c.value.send('ping')) <= 0) return c.reset(); // broken: destroyed, not pooled
 *   const buf = Buffer.alloc(8);
 *   const n = await c.value.recv(buf, 8, 3000);
 *   if (n <= 0) return c.reset();
 *   console.log('client recv', buf.toString('utf8', 0, n));
 * } // the connection goes back to the pool here
 *
 * await Promise.all(Array.from({ length: 8 }, clientFun));
 * await pool.close();
 * ```
 * @packageDocumentation
 */
export { PoolAbortError, PoolError, PoolErrorCode, type PoolErrorCodeName } from './errors';
export { Pool } from './pool';
export { PoolGuard } from './pool-guard';
export { type PopOptions } from './pop-options';
export { DEFAULT_DESTROY_TIMEOUT_MS, type PoolOptions } from './pool-options';
