import { Pool, PoolErrorCode, PoolGuard } from '@proj/pool';

/** A task with a deadline: it waits for a pooled item no longer than its signal allows. */
export async function popWithSignal(log: (...args: unknown[]) => void = console.log): Promise<void> {
  const pool = new Pool(() => ({ id: 1 }), null, -1, { max: 1 });
  const busy = await pool.pop(); // the one item `max` allows, in use elsewhere

  async function task(signal: AbortSignal): Promise<void> {
    try {
      await using item = await PoolGuard.acquire(pool, { signal }); // waits while `busy` is out
      log('got item', item.value.id);
    } catch (err) {
      if ((err as { code?: unknown }).code !== PoolErrorCode.ABORT_ERR) throw err;
      log('gave up waiting:', (err as Error).name); // nothing taken, nothing left waiting
    }
  }

  await task(AbortSignal.timeout(50)); // `busy` stays out: the signal aborts the wait
  pool.push(busy);
  await task(AbortSignal.timeout(50)); // free now: no wait
  await pool.close();
}
