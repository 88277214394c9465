// co::PoolGuard: pops on acquire, pushes back exactly once, whichever way the guard ends.
import { Pool, PoolErrorCode, PoolGuard } from '../src';
import { failOnLateUnhandledRejections, tracker, type Item } from './helpers';

failOnLateUnhandledRejections();

function setup(cap = -1, options: { max?: number } = {}) {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, cap, { ...options, onError: t.onError });
  const pushes: Array<Item | null | undefined> = [];
  const push = pool.push.bind(pool);
  pool.push = (item) => {
    pushes.push(item);
    push(item);
  };
  return { t, pool, pushes };
}

test('acquire pops an item; value and get give it', async () => {
  const { t, pool } = setup();
  const g = await PoolGuard.acquire(pool);
  expect(g.value).toBe(t.created[0]);
  expect(g.get()).toBe(t.created[0]);
  g.release();
  expect(pool.size()).toBe(1);
  await pool.close();
});

test('value throws ERR_NO_ITEM when the pool had nothing to give; get gives null', async () => {
  const pool = new Pool<Item>();
  const g = await PoolGuard.acquire(pool);
  expect(g.get()).toBeNull();
  expect(() => g.value).toThrow(expect.objectContaining({ name: 'PoolError', code: PoolErrorCode.ERR_NO_ITEM }));
  g.release(); // nothing to push: harmless
  expect(pool.size()).toBe(0);
  await pool.close();
});

test('acquire rejects with what pop rejects with', async () => {
  const boom = new Error('no route');
  const pool = new Pool<Item>(() => {
    throw boom;
  });
  await expect(PoolGuard.acquire(pool)).rejects.toBe(boom);
  await pool.close();
});

test.each([
  ['release, dispose, asyncDispose', async (g: PoolGuard<Item>) => { g.release(); g[Symbol.dispose](); await g[Symbol.asyncDispose](); }],
  ['dispose, release', async (g: PoolGuard<Item>) => { g[Symbol.dispose](); g.release(); }],
  ['asyncDispose, dispose, release', async (g: PoolGuard<Item>) => { await g[Symbol.asyncDispose](); g[Symbol.dispose](); g.release(); }],
])('pushes back exactly once: %s', async (_order, end) => {
  const { t, pool, pushes } = setup();
  const g = await PoolGuard.acquire(pool);
  const item = g.value;
  await end(g);
  expect(pushes).toEqual([item]);
  expect(pool.size()).toBe(1);
  expect(t.errors).toEqual([]); // no double push reached the pool
  expect(() => g.value).toThrow(expect.objectContaining({ code: PoolErrorCode.ERR_NO_ITEM }));
  await pool.close();
});

test('using pushes back at the end of the block, also when the block throws', async () => {
  const { pool, pushes } = setup();
  const popped = (await pool.pop())!;
  expect(() => {
    using g = new PoolGuard(pool, popped); // a guard over an item popped by hand
    expect(g.value).toBe(popped);
    throw new Error('inside');
  }).toThrow('inside');
  expect(pushes).toEqual([popped]);
  let held: Item | undefined;
  await (async () => {
    await using g = await PoolGuard.acquire(pool);
    held = g.value;
    expect(pool.size()).toBe(0);
  })();
  expect(held).toBe(popped);
  expect(pushes).toEqual([popped, held]);
  expect(pool.size()).toBe(1);
  await expect(
    (async () => {
      await using g = await PoolGuard.acquire(pool);
      expect(g.value).toBe(held); // LIFO: the same one again
      throw new Error('task failed');
    })(),
  ).rejects.toThrow('task failed');
  expect(pushes).toEqual([popped, held, held]);
  expect(pool.size()).toBe(1);
  await pool.close();
});

test('reset() destroys the held item, which is then not pushed back', async () => {
  const { t, pool, pushes } = setup();
  const g = await PoolGuard.acquire(pool);
  const broken = g.value;
  g.reset();
  expect(broken.destroyed).toBe(true);
  expect(g.get()).toBeNull();
  g.release();
  expect(pushes).toEqual([]);
  expect(pool.size()).toBe(0);
  expect(t.errors).toEqual([]);
  await pool.close();
});

test('reset(item) destroys the held item and pushes the new one back in its place', async () => {
  const { t, pool } = setup();
  const g = await PoolGuard.acquire(pool);
  const broken = g.value;
  const fresh = { id: 1000, destroyed: false };
  g.reset(fresh);
  expect(broken.destroyed).toBe(true);
  expect(g.value).toBe(fresh);
  g.reset(fresh); // the same item: nothing happens
  expect(fresh.destroyed).toBe(false);
  g.release();
  expect(pool.size()).toBe(1);
  expect(await pool.pop()).toBe(fresh);
  expect(t.errors).toEqual([]);
  pool.push(fresh);
  await pool.close();
  expect(fresh.destroyed).toBe(true);
});

test('reset twice destroys the item set by the first reset', async () => {
  const { t, pool } = setup();
  const g = await PoolGuard.acquire(pool);
  const first = { id: 1, destroyed: false };
  const second = { id: 2, destroyed: false };
  g.reset(first);
  g.reset(second);
  expect(first.destroyed).toBe(true);
  g.release();
  expect(await pool.pop()).toBe(second);
  expect(t.errors).toEqual([]);
  await pool.close();
});

test('reset after release throws ERR_GUARD_RELEASED', async () => {
  const { pool } = setup();
  const g = await PoolGuard.acquire(pool);
  g.release();
  expect(() => g.reset()).toThrow(expect.objectContaining({ code: PoolErrorCode.ERR_GUARD_RELEASED }));
  await pool.close();
});

test('under max, reset() makes room for a waiting guard', async () => {
  const { t, pool } = setup(-1, { max: 1 });
  const g1 = await PoolGuard.acquire(pool);
  const waiting = PoolGuard.acquire(pool);
  g1.reset();
  const g2 = await waiting;
  expect(g2.value).toBe(t.created[1]);
  g2.release();
  await pool.close();
  expect(t.live()).toBe(0);
});
