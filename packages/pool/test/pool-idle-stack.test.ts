// Idle items pushed back while nothing needs generic-pool's idle list are kept on a stack of the
// adapter's own (the fast path of pop/push and PoolGuard.acquire). These pin that the split between
// that stack and generic-pool's idle list shows nowhere: LIFO across both, max, size, clear, errors.
import { Pool, PoolErrorCode, PoolGuard } from '../src';
import { failOnLateUnhandledRejections, settle, tracker, type Item } from './helpers';

failOnLateUnhandledRejections();

/** A small deterministic generator (LCG), so that a failing sequence can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test.each([1, 2, 3, 4])(
  'random pops and pushes of lent and new items keep one LIFO across both stores (seed %i)',
  async (seed) => {
    const t = tracker();
    const pool = new Pool<Item>(t.create, t.destroy, -1, { onError: t.onError });
    const rand = random(seed);
    const idle: Item[] = []; // the model: co's pool is a stack
    const held: Item[] = [];
    let stranger = 1000;
    for (let step = 0; step < 400; step++) {
      const r = rand();
      if (r < 0.45) {
        const item = (await pool.pop())!;
        const expected = idle.pop();
        if (expected !== undefined) expect(item).toBe(expected);
        else expect(t.created).toContain(item);
        held.push(item);
      } else if (r < 0.85 && held.length > 0) {
        const item = held.splice(Math.floor(rand() * held.length), 1)[0];
        pool.push(item);
        idle.push(item);
      } else {
        const item = { id: ++stranger, destroyed: false }; // adopted: it joins generic-pool's idle list
        pool.push(item);
        idle.push(item);
      }
      await settle(); // an adopted item lands a microtask after push()
      expect(pool.size()).toBe(idle.length);
    }
    for (const item of held) pool.push(item);
    await pool.close();
    expect(t.errors).toEqual([]);
    const everyItem = [...new Set([...t.created, ...idle, ...held])];
    expect(everyItem.filter((item) => !item.destroyed)).toEqual([]);
    expect(t.destroyed).toHaveLength(everyItem.length); // each once
  },
);

test('max counts the idle items kept on the stack: a pop beyond it waits, and a push serves it', async () => {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, -1, { max: 2 });
  const a = (await pool.pop())!;
  const b = (await pool.pop())!;
  pool.push(a);
  pool.push(b);
  expect(pool.size()).toBe(2);
  expect(await pool.pop()).toBe(b);
  expect(await pool.pop()).toBe(a);
  let served: Item | null = null;
  const waiting = pool.pop().then((item) => (served = item));
  await settle();
  expect(served).toBeNull();
  expect(t.created).toHaveLength(2);
  pool.push(b);
  await waiting;
  expect(served).toBe(b);
  expect(pool.size()).toBe(0);
  pool.push(a);
  pool.push(b);
  await pool.close();
  expect(t.live()).toBe(0);
});

test('clear() and close() destroy the idle items of the stack; a guard taken from it works as any', async () => {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy);
  const guards = await Promise.all([PoolGuard.acquire(pool), PoolGuard.acquire(pool), PoolGuard.acquire(pool)]);
  for (const g of guards) g.release();
  expect(pool.size()).toBe(3);
  await pool.clear();
  expect(pool.size()).toBe(0);
  expect(t.destroyed).toHaveLength(3);
  const g = await PoolGuard.acquire(pool);
  expect(t.created).toHaveLength(4);
  g.release();
  await pool.close();
  expect(t.live()).toBe(0);
});

test('pushing or discarding an item idle on the stack is reported and ignored', async () => {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, -1, { onError: t.onError });
  const a = (await pool.pop())!;
  pool.push(a);
  pool.push(a);
  pool.discard(a);
  expect(t.codes()).toEqual([PoolErrorCode.ERR_DOUBLE_PUSH, PoolErrorCode.ERR_DOUBLE_PUSH]);
  expect(pool.size()).toBe(1);
  expect(a.destroyed).toBe(false);
  expect(await pool.pop()).toBe(a);
  expect(pool.size()).toBe(0);
  pool.push(a);
  await pool.close();
  expect(a.destroyed).toBe(true);
});

test('cap bounds the idle items of the stack too', async () => {
  const t = tracker();
  const pool = new Pool<Item>(t.create, t.destroy, 2);
  const items = [(await pool.pop())!, (await pool.pop())!, (await pool.pop())!];
  for (const item of items) pool.push(item);
  expect(pool.size()).toBe(2);
  expect(items[2].destroyed).toBe(true);
  expect(await pool.pop()).toBe(items[1]);
  pool.push(items[1]);
  await pool.close();
  expect(t.live()).toBe(0);
});

test('with validate, idle items go through generic-pool and are validated on every pop', async () => {
  const t = tracker();
  const checked: Item[] = [];
  const pool = new Pool<Item>(t.create, t.destroy, -1, {
    validate: (item) => {
      checked.push(item);
      return true;
    },
  });
  const a = (await pool.pop())!;
  expect(checked).toEqual([]); // a fresh item is not checked
  pool.push(a);
  expect(await pool.pop()).toBe(a);
  pool.push(a);
  const g = await PoolGuard.acquire(pool);
  expect(g.value).toBe(a);
  g.release();
  expect(checked).toEqual([a, a]);
  await pool.close();
});
