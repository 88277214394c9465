// co's semantics of co::Pool, on plain objects.
import { Pool } from '../src';
import { failOnLateUnhandledRejections, tracker, type Item } from './helpers';

failOnLateUnhandledRejections();

describe('pop and push (co semantics)', () => {
  test('pop creates an item when the pool is empty, push keeps it, size counts idle items', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { onError: t.onError });
    expect(pool.size()).toBe(0);
    const a = await pool.pop();
    expect(a).toBe(t.created[0]);
    expect(pool.size()).toBe(0);
    pool.push(a);
    expect(pool.size()).toBe(1);
    expect(await pool.pop()).toBe(a);
    expect(t.created).toHaveLength(1);
    pool.push(a);
    await pool.close();
    expect(t.live()).toBe(0);
    expect(t.errors).toEqual([]);
  });

  test('pop takes the most recently pushed idle item (LIFO)', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy);
    const [a, b, c] = await Promise.all([pool.pop(), pool.pop(), pool.pop()]);
    pool.push(a);
    pool.push(c);
    pool.push(b);
    expect(await pool.pop()).toBe(b);
    expect(await pool.pop()).toBe(c);
    pool.push(b);
    expect(await pool.pop()).toBe(b);
    expect(await pool.pop()).toBe(a);
    expect(t.created).toHaveLength(3);
    for (const item of [a, b, c]) pool.push(item);
    await pool.close();
  });

  test('pop never waits for a free item by default: every concurrent pop gets its own new item', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy);
    const items = await Promise.all(Array.from({ length: 50 }, () => pool.pop()));
    expect(new Set(items).size).toBe(50);
    expect(t.created).toHaveLength(50);
    for (const item of items) pool.push(item);
    expect(pool.size()).toBe(50);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('an async create works like a sync one', async () => {
    let n = 0;
    const pool = new Pool(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5)); // settles on a later turn, as a connect does: the case under test
      return { id: ++n };
    });
    const a = await pool.pop();
    expect(a).toEqual({ id: 1 });
    pool.push(a);
    expect(await pool.pop()).toBe(a);
    await pool.close();
  });

  test('without create: pop gives null when empty, and the pool keeps whatever is pushed (LIFO)', async () => {
    const t = tracker();
    const pool = new Pool<Item>(null, t.destroy, -1, { onError: t.onError });
    expect(await pool.pop()).toBeNull();
    const a = { id: 1, destroyed: false };
    const b = { id: 2, destroyed: false };
    pool.push(a);
    pool.push(b);
    expect(pool.size()).toBe(2);
    expect(await pool.pop()).toBe(b);
    expect(await pool.pop()).toBe(a);
    expect(await pool.pop()).toBeNull();
    pool.push(a);
    await pool.close();
    expect(a.destroyed).toBe(true);
    expect(b.destroyed).toBe(false); // lent out at close, never pushed back: the caller still owns it
    expect(t.errors).toEqual([]);
  });

  test('a create that gives nothing makes pop give null', async () => {
    const pool = new Pool<object>(() => null as unknown as object);
    expect(await pool.pop()).toBeNull();
    await pool.close();
  });

  test('push(null) and push(undefined) are ignored', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, 1, { onError: t.onError });
    pool.push(null);
    pool.push(undefined);
    expect(pool.size()).toBe(0);
    const a = await pool.pop();
    pool.push(a);
    pool.push(null);
    expect(pool.size()).toBe(1);
    expect(t.destroyed).toEqual([]);
    expect(t.errors).toEqual([]);
    await pool.close();
  });

  test('push past cap destroys the item instead of keeping it', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, 2, { onError: t.onError });
    const [a, b, c] = await Promise.all([pool.pop(), pool.pop(), pool.pop()]);
    pool.push(a);
    pool.push(b);
    expect(t.destroyed).toEqual([]);
    pool.push(c);
    expect(pool.size()).toBe(2);
    expect(t.destroyed).toEqual([c]);
    expect(await pool.pop()).toBe(b);
    expect(await pool.pop()).toBe(a);
    expect(t.errors).toEqual([]);
    await pool.close();
  });

  test('cap 0 keeps nothing idle, also for items the pool did not make', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, 0);
    const a = await pool.pop();
    pool.push(a);
    const stranger = { id: 99, destroyed: false };
    pool.push(stranger);
    expect(pool.size()).toBe(0);
    expect(t.destroyed).toEqual([a, stranger]);
    await pool.close();
  });

  test('clear destroys every idle item, leaves lent-out ones alone, and the pool goes on', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { onError: t.onError });
    const [a, b, c] = await Promise.all([pool.pop(), pool.pop(), pool.pop()]);
    pool.push(a);
    pool.push(b);
    const clearing = pool.clear();
    expect(pool.size()).toBe(0); // at once, as co's clear
    await clearing;
    expect(new Set(t.destroyed)).toEqual(new Set([a, b]));
    expect(c!.destroyed).toBe(false);
    // generic-pool's own clear() would now hand out a destroyed item (its issue #217):
    const d = await pool.pop();
    expect(d!.destroyed).toBe(false);
    expect(d).not.toBe(a);
    expect(d).not.toBe(b);
    pool.push(c);
    pool.push(d);
    expect(pool.size()).toBe(2);
    await pool.clear();
    expect(t.live()).toBe(0);
    expect(t.errors).toEqual([]);
    await pool.close();
  });

  test('clear also destroys an item whose adoption is still in flight', async () => {
    const t = tracker();
    const pool = new Pool<Item>(null, t.destroy);
    const a = { id: 1, destroyed: false };
    pool.push(a);
    expect(pool.size()).toBe(1);
    await pool.clear();
    expect(a.destroyed).toBe(true);
    expect(pool.size()).toBe(0);
    expect(await pool.pop()).toBeNull();
    await pool.close();
  });

  test('an item adopted by push serves a pop that is waiting for a slow create', async () => {
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const made: object[] = [];
    const pool = new Pool<object>(async () => {
      await slow;
      const item = { made: true };
      made.push(item);
      return item;
    });
    const waiting = pool.pop();
    const handed = { handed: true };
    pool.push(handed);
    expect(await waiting).toBe(handed);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.size()).toBe(1); // what the slow create made is idle now
    expect(await pool.pop()).toBe(made[0]);
    await pool.close();
  });

  test('the README ordering detail: a new item pushed in the same run as a lent one comes out first', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy);
    const lent = await pool.pop();
    const stranger = { id: 50, destroyed: false };
    pool.push(stranger);
    pool.push(lent);
    expect(pool.size()).toBe(2);
    await new Promise((resolve) => setImmediate(resolve)); // the adoption has landed, on top
    expect(await pool.pop()).toBe(stranger); // co would give `lent`, pushed last
    expect(await pool.pop()).toBe(lent);
    await pool.close();
  });

  test('the constructor rejects bad arguments and unknown options', () => {
    expect(() => new Pool(42 as never)).toThrow(TypeError);
    expect(() => new Pool(null, 'x' as never)).toThrow(TypeError);
    expect(() => new Pool(null, null, -2)).toThrow(RangeError);
    expect(() => new Pool(null, null, 1.5)).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { maxItems: 3 } as never)).toThrow(/unknown Pool option "maxItems"/);
    expect(() => new Pool(null, null, -1, { max: 0 })).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { idleTimeoutMs: -5 })).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { acquireTimeoutMs: 1.5 })).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { validate: true as never })).toThrow(TypeError);
    expect(() => new Pool(null, null, -1, null as never)).toThrow(TypeError);
  });
});
