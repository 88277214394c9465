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
  [
    'release, dispose, asyncDispose',
    async (g: PoolGuard<Item>) => {
      g.release();
      g[Symbol.dispose]();
      await g[Symbol.asyncDispose]();
    },
  ],
  [
    'dispose, release',
    async (g: PoolGuard<Item>) => {
      g[Symbol.dispose]();
      g.release();
    },
  ],
  [
    'asyncDispose, dispose, release',
    async (g: PoolGuard<Item>) => {
      await g[Symbol.asyncDispose]();
      g[Symbol.dispose]();
      g.release();
    },
  ],
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

describe('arguments', () => {
  test.each([
    ['an empty object', {}],
    ['undefined', undefined],
    ['null', null],
    ['a generic-pool-like object', { acquire: () => Promise.resolve(1), release: () => undefined }],
  ])('PoolGuard.acquire(%s) throws a TypeError that says a Pool was expected', (_what, notAPool) => {
    expect(() => PoolGuard.acquire(notAPool as never)).toThrow(TypeError);
    expect(() => PoolGuard.acquire(notAPool as never)).toThrow(
      /^PoolGuard\.acquire\(pool, opts\?\): pool must be a Pool of @proj\/pool, got /,
    );
    expect(() => new PoolGuard(notAPool as never, null)).toThrow(/new PoolGuard\(pool, item\): pool must be a Pool/);
  });

  test('the message names what it got, and never an internal name', () => {
    expect(() => PoolGuard.acquire({} as never)).toThrow(
      'PoolGuard.acquire(pool, opts?): pool must be a Pool of @proj/pool, got Object',
    );
    expect(() => PoolGuard.acquire(42 as never)).toThrow(/got number$/);
    let message = '';
    try {
      void PoolGuard.acquire({} as never);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toMatch(/_popThen|_settle|is not a function/);
  });

  test('unknown keys and bad values in opts throw a TypeError naming PoolGuard.acquire; nothing is popped', async () => {
    const { t, pool } = setup();
    pool.push(await pool.pop());
    expect(() => PoolGuard.acquire(pool, { signl: new AbortController().signal } as never)).toThrow(
      'unknown PoolGuard.acquire option "signl"; known: signal',
    );
    expect(() => PoolGuard.acquire(pool, 'fast' as never)).toThrow(/^PoolGuard\.acquire options must be an object/);
    expect(() => PoolGuard.acquire(pool, { signal: 5 } as never)).toThrow(
      /^PoolGuard\.acquire option signal must be an AbortSignal/,
    );
    expect(pool.size()).toBe(1);
    expect(t.created).toHaveLength(1);
    await pool.close();
  });
});

describe('the releasedByGuard mark', () => {
  const MARK = Symbol.for('@proj/pool.releasedByGuard');

  test.each([
    ['release()', async (g: PoolGuard<Item>) => g.release()],
    ['[Symbol.dispose]()', async (g: PoolGuard<Item>) => g[Symbol.dispose]()],
    ['[Symbol.asyncDispose]()', (g: PoolGuard<Item>) => g[Symbol.asyncDispose]()],
  ])('%s sets a non-enumerable, writable true on the item it pushes back', async (_how, end) => {
    const { pool } = setup();
    const g = await PoolGuard.acquire(pool);
    const item = g.value;
    expect(MARK in item).toBe(false);
    await end(g);
    expect((item as unknown as Record<symbol, unknown>)[MARK]).toBe(true);
    const d = Object.getOwnPropertyDescriptor(item, MARK)!;
    expect(d).toMatchObject({ value: true, writable: true, enumerable: false });
    expect(Object.keys(item)).toEqual(['id', 'destroyed']);
    expect(JSON.stringify(item)).toBe(JSON.stringify({ id: item.id, destroyed: false }));
    await pool.close();
  });

  test('set again after a reader cleared it, every time a guard gives the item back', async () => {
    const { pool } = setup();
    let g = await PoolGuard.acquire(pool);
    const item = g.value as unknown as Record<symbol, unknown>;
    g.release();
    item[MARK] = false;
    g = await PoolGuard.acquire(pool);
    expect(g.value).toBe(item);
    g.release();
    expect(item[MARK]).toBe(true);
    await pool.close();
  });

  test('not set by a plain push, nor on an item reset() destroyed', async () => {
    const { pool } = setup();
    const a = (await pool.pop())!;
    pool.push(a);
    expect(MARK in a).toBe(false);
    const g = await PoolGuard.acquire(pool);
    g.reset();
    g.release();
    expect(MARK in a).toBe(false);
    await pool.close();
  });

  test('frozen, sealed and primitive items are pushed back untouched, without a throw', async () => {
    for (const make of [
      () => Object.freeze({ n: 1 }),
      () => Object.seal({ n: 2 }),
      () => Object.preventExtensions({ n: 3 }),
    ]) {
      const pool = new Pool(make);
      const g = await PoolGuard.acquire(pool);
      const item = g.value;
      g.release();
      expect(MARK in item).toBe(false);
      expect(pool.size()).toBe(1);
      await pool.close();
    }
    let n = 0;
    const numbers = new Pool(() => ++n);
    const g = await PoolGuard.acquire(numbers);
    g.release();
    expect(await numbers.pop()).toBe(1);
    await numbers.close();
  });
});
