/**
 * Closing a pool while its creates are failing (a server going down while
 * the pool connects to it): close() must resolve, never reject with a
 * create's error, and every failure must stay a report, never an unhandled
 * rejection. Found by the hostile suite (pooled clients of a server that
 * resets connections); pinned here without sockets.
 */
import { Pool, PoolErrorCode, type PoolError } from '../src';
import { deferred, failOnLateUnhandledRejections, sleep, within } from './helpers';

failOnLateUnhandledRejections();

test('close() resolves when a create in flight fails after it: the pop gets ERR_CLOSED, the failure is reported', async () => {
  const reported: PoolError[] = [];
  const createStarted = deferred();
  const fail = deferred();
  const pool = new Pool<object>(
    async () => {
      createStarted.resolve();
      await fail.promise;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    },
    () => {},
    4,
    { max: 4, onError: (err) => void reported.push(err) },
  );
  const popping = pool.pop().then(
    () => 'resolved',
    (err: { code?: string }) => err.code,
  );
  await createStarted.promise;
  const closing = pool.close();
  expect(await popping).toBe(PoolErrorCode.ERR_CLOSED);
  expect(reported).toEqual([]);
  fail.resolve(); // the create fails only now, after close() has rejected its pop
  await expect(closing).resolves.toBeUndefined();
  expect(reported.map((e) => e.code)).toEqual([PoolErrorCode.ERR_CREATE]);
  expect((reported[0].cause as { code?: string }).code).toBe('ECONNREFUSED');
});

test('close() amid many pops whose creates fail or succeed at random always resolves', async () => {
  for (let round = 0; round < 30; round++) {
    const pool = new Pool<{ n: number }>(
      async () => {
        await sleep(Math.random() * 4); // random timing is the case under test, not a synchronization
        if (Math.random() < 0.5) throw new Error('create failed');
        return { n: round };
      },
      () => {},
      2,
      { max: 2, acquireTimeoutMs: 100, onError: () => {} },
    );
    const pops = Array.from({ length: 6 }, () => pool.pop().catch(() => null));
    await sleep(Math.random() * 6); // close() at a random point among the creates: the case under test
    const outcome = await within(
      pool.close().then(
        () => 'resolved',
        (err: Error) => `rejected: ${err.message}`,
      ),
      2000,
    );
    expect(outcome).toBe('resolved');
    await Promise.all(pops);
  }
});
