// pop({ signal }) and PoolGuard.acquire(pool, { signal }): what an abort cancels, what it leaves.
import { getEventListeners, setMaxListeners } from 'node:events';
import { Pool, PoolAbortError, PoolErrorCode, PoolGuard } from '../src';
import { collectGarbage, MiB } from '../../../libs/test-support/hostile';
import { failOnLateUnhandledRejections, settle, tracker, type Item } from './helpers';

failOnLateUnhandledRejections();

/** A create whose items come only when the test says so. */
function gatedCreate() {
  const t = tracker();
  const gates: Array<() => void> = [];
  const create = (): Promise<Item> => new Promise<Item>((resolve) => gates.push(() => resolve(t.create())));
  return { t, create, open: (): void => gates.shift()!() };
}

type Take = (pool: Pool<Item>, signal: AbortSignal) => Promise<unknown>;

/** A pool of `max` 1 whose item `a` is lent out, and a call of `take` waiting for it with a signal. */
async function waitingUnderMax(take: Take) {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, -1, { max: 1, onError: t.onError });
  const a = await pool.pop();
  const controller = new AbortController();
  const waiting = take(pool, controller.signal);
  await settle();
  return { t, pool, a, controller, waiting };
}

describe.each([
  ['pop', (pool: Pool<Item>, signal: AbortSignal) => pool.pop({ signal })],
  ['PoolGuard.acquire', (pool: Pool<Item>, signal: AbortSignal) => PoolGuard.acquire(pool, { signal })],
] as const)('%s with a signal', (_name, take) => {
  test('an abort while it waits under max rejects it with AbortError, ABORT_ERR, cause = reason', async () => {
    const { t, pool, a, controller, waiting } = await waitingUnderMax(take);
    const reason = new Error('the caller went away');
    controller.abort(reason);
    const err = (await waiting.catch((e: unknown) => e)) as PoolAbortError;
    expect(err).toBeInstanceOf(PoolAbortError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('AbortError');
    expect(err.code).toBe(PoolErrorCode.ABORT_ERR);
    expect(err.cause).toBe(reason);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // The aborted pop is gone from the queue: the item pushed back is idle at once, not handed to it.
    pool.push(a);
    expect(pool.size()).toBe(1);
    expect(await pool.pop()).toBe(a);
    expect(t.created).toHaveLength(1);
    expect(t.errors).toEqual([]);
    pool.push(a);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('a signal aborted already rejects at once: nothing taken, nothing created', async () => {
    const t = tracker();
    const pool = new Pool<Item>(t.create, t.destroy, -1, { onError: t.onError });
    pool.push(await pool.pop());
    const controller = new AbortController();
    controller.abort('too late');
    await expect(take(pool, controller.signal)).rejects.toMatchObject({
      name: 'AbortError',
      code: PoolErrorCode.ABORT_ERR,
      cause: 'too late',
    });
    expect(pool.size()).toBe(1); // the idle item was not taken
    const empty = new Pool<Item>(t.create, t.destroy, -1, { onError: t.onError });
    await expect(take(empty, controller.signal)).rejects.toMatchObject({ code: PoolErrorCode.ABORT_ERR });
    expect(t.created).toHaveLength(1); // the empty pool created nothing
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(t.errors).toEqual([]);
    await Promise.all([pool.close(), empty.close()]);
    expect(t.live()).toBe(0);
  });

  test('an item created for it after the abort is not lost: it goes back to the pool', async () => {
    const { t, create, open } = gatedCreate();
    const pool = new Pool<Item>(create, t.destroy, -1, { max: 1, onError: t.onError });
    const first = take(pool, new AbortController().signal);
    open();
    const held = await first;
    const controller = new AbortController();
    const waiting = take(pool, controller.signal);
    // The held item is broken: destroying it makes room, and the pool starts a create for the waiter.
    if (held instanceof PoolGuard) held.reset();
    else pool.discard(held);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: PoolErrorCode.ABORT_ERR });
    open(); // the create finishes after the abort
    await settle();
    expect(t.created).toHaveLength(2);
    expect(pool.size()).toBe(1);
    expect(await pool.pop()).toBe(t.created[1]);
    expect(t.errors).toEqual([]);
    pool.push(t.created[1]);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('an item lent to it just before the abort went off is pushed back, not lost', async () => {
    const { t, pool, a, controller, waiting } = await waitingUnderMax(take);
    pool.push(a); // hands `a` to the waiting pop at once; its promise settles a few steps later
    controller.abort(); // before it does
    await expect(waiting).rejects.toMatchObject({ code: PoolErrorCode.ABORT_ERR });
    await settle();
    expect(pool.size()).toBe(1);
    expect(await pool.pop()).toBe(a);
    expect(t.errors).toEqual([]);
    pool.push(a);
    await pool.close();
  });

  test('an abort while it waits for a slow create rejects it; the item comes to the pool later', async () => {
    const { t, create, open } = gatedCreate();
    const pool = new Pool<Item>(create, t.destroy, -1, { onError: t.onError });
    const controller = new AbortController();
    const waiting = take(pool, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: PoolErrorCode.ABORT_ERR });
    open();
    await settle();
    expect(pool.size()).toBe(1);
    expect(t.errors).toEqual([]);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('without an abort it resolves as without a signal, and leaves no listener', async () => {
    const t = tracker();
    const pool = new Pool<Item>(t.create, t.destroy, -1, { max: 1, onError: t.onError });
    const signal = new AbortController().signal;
    const a = await take(pool, signal);
    const waiting = take(pool, signal);
    expect(getEventListeners(signal, 'abort')).toHaveLength(1); // the waiting one
    if (a instanceof PoolGuard) a.release();
    else pool.push(a);
    const b = await waiting;
    expect(b instanceof PoolGuard ? b.value : b).toBe(t.created[0]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await pool.close();
  });
});

test('a create that fails after its pop was aborted is reported as ERR_CREATE, not thrown anywhere', async () => {
  const t = tracker();
  let fail!: () => void;
  const pool = new Pool<Item>(
    () => new Promise<Item>((_resolve, reject) => (fail = () => reject(new Error('connect refused')))),
    t.destroy,
    -1,
    { onError: t.onError },
  );
  const controller = new AbortController();
  const waiting = pool.pop({ signal: controller.signal });
  controller.abort();
  await expect(waiting).rejects.toMatchObject({ code: PoolErrorCode.ABORT_ERR });
  fail();
  await settle();
  expect(t.codes()).toEqual([PoolErrorCode.ERR_CREATE]);
  expect((t.errors[0].cause as Error).message).toBe('connect refused');
  await pool.close();
});

test('1,000 aborted pops under a saturated max leave nothing queued and nothing listening', async () => {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, -1, { max: 1, onError: t.onError });
  const a = await pool.pop();
  const controller = new AbortController();
  setMaxListeners(1000, controller.signal); // 1,000 waiting at once is the point here, not a leak
  const pops = Array.from({ length: 1000 }, () =>
    pool.pop({ signal: controller.signal }).catch((err: PoolAbortError) => err.code),
  );
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1000);
  controller.abort();
  expect(new Set(await Promise.all(pops))).toEqual(new Set([PoolErrorCode.ABORT_ERR]));
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  pool.push(a);
  expect(pool.size()).toBe(1); // no aborted pop took it
  expect(t.created).toHaveLength(1);
  await pool.close();
});

test('pop and PoolGuard.acquire reject bad options at once', () => {
  const pool = new Pool<Item>(() => ({ id: 1, destroyed: false }));
  expect(() => pool.pop({ ms: 100 } as never)).toThrow(/unknown pop option "ms"/);
  expect(() => pool.pop({ signal: 'soon' } as never)).toThrow(TypeError);
  expect(() => pool.pop(null as never)).toThrow(TypeError);
  expect(() => PoolGuard.acquire(pool, { timeoutMs: 5 } as never)).toThrow(TypeError);
  expect(pool.size()).toBe(0);
});

test('100,000 pops and 100,000 acquires with one long-lived signal: no listener and no memory left behind', async () => {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, -1, { max: 1, onError: t.onError });
  const signal = new AbortController().signal;
  const one = async (): Promise<void> => {
    pool.push(await pool.pop({ signal }));
    (await PoolGuard.acquire(pool, { signal })).release();
  };
  for (let i = 0; i < 1000; i++) await one(); // warm up
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 100_000; i++) {
    await one();
    if (i % 10_000 === 0) expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  }
  collectGarbage();
  const grown = process.memoryUsage().heapUsed - before;
  expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  expect(grown).toBeLessThan(2 * MiB);
  expect(t.created).toHaveLength(1);
  await pool.close();
}, 120_000);
