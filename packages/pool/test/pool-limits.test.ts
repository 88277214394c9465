// generic-pool's features as options: max with waiting pops, acquireTimeoutMs, idle eviction, close().
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { Pool, PoolErrorCode } from '../src';
import { deferred, failOnLateUnhandledRejections, settle, sleep, tracker, waitFor, within, type Item } from './helpers';

failOnLateUnhandledRejections();

describe('max', () => {
  test('bounds live items; waiting pops are served in the order they came', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 2, onError: t.onError });
    const a = await pool.pop();
    const b = await pool.pop();
    const order: string[] = [];
    const w1 = pool.pop().then((item) => (order.push('w1'), item));
    const w2 = pool.pop().then((item) => (order.push('w2'), item));
    const w3 = pool.pop().then((item) => (order.push('w3'), item));
    await settle(); // no timer is in play: had a pop been served or an item created, it would show now
    expect(order).toEqual([]);
    expect(t.created).toHaveLength(2);
    pool.push(b);
    expect(await w1).toBe(b);
    pool.push(a);
    expect(await w2).toBe(a);
    pool.push(b);
    expect(await w3).toBe(b);
    expect(order).toEqual(['w1', 'w2', 'w3']);
    expect(t.created).toHaveLength(2);
    pool.push(a);
    pool.push(b);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('a destroyed item makes room: the waiting pop gets a new one', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1 });
    const a = await pool.pop();
    const waiting = pool.pop();
    pool.discard(a);
    const b = await waiting;
    expect(b).toBe(t.created[1]);
    expect(t.destroyed).toEqual([a]);
    pool.push(b);
    await pool.close();
  });

  test('past cap, an item goes to a waiting pop rather than being destroyed', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, 0, { max: 1 });
    const a = await pool.pop();
    const waiting = pool.pop();
    pool.push(a);
    expect(await waiting).toBe(a);
    expect(t.destroyed).toEqual([]);
    pool.push(a); // nobody waits now: cap 0 destroys it
    expect(t.destroyed).toEqual([a]);
    await pool.close();
  });

  test('a new item pushed while max items are live is destroyed, not kept over max', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1, onError: t.onError });
    const a = await pool.pop();
    const stranger = { id: 100, destroyed: false };
    pool.push(stranger);
    expect(stranger.destroyed).toBe(true);
    expect(pool.size()).toBe(0);
    pool.push(a);
    expect(pool.size()).toBe(1);
    expect(t.errors).toEqual([]);
    await pool.close();
  });
});

describe('acquireTimeoutMs', () => {
  test('a pop waiting under max rejects with ERR_ACQUIRE_TIMEOUT after that long', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1, acquireTimeoutMs: 50 });
    const a = await pool.pop();
    const started = Date.now();
    const err = await pool.pop().catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toMatchObject({ name: 'PoolError', code: PoolErrorCode.ERR_ACQUIRE_TIMEOUT });
    expect(took).toBeGreaterThanOrEqual(45);
    expect(took).toBeLessThan(1000);
    // The timed-out request is gone: the item goes back to the idle list, not to a ghost.
    pool.push(a);
    expect(pool.size()).toBe(1);
    expect(await pool.pop()).toBe(a);
    pool.push(a);
    await pool.close();
  });

  test('0 means do not wait: with max reached, pop rejects at once', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1, acquireTimeoutMs: 0 });
    const a = await pool.pop();
    await expect(pool.pop()).rejects.toMatchObject({ code: PoolErrorCode.ERR_ACQUIRE_TIMEOUT });
    pool.push(a);
    expect(await pool.pop()).toBe(a);
    pool.push(a);
    await pool.close();
  });

  test('also bounds a slow create', async () => {
    const finish = deferred();
    const item = {};
    const destroyed: object[] = [];
    // The create finishes only once told to, after its pop has timed out.
    const pool = new Pool(
      () => finish.promise.then(() => item),
      (i) => void destroyed.push(i),
      -1,
      { acquireTimeoutMs: 30 },
    );
    await expect(pool.pop()).rejects.toMatchObject({ code: PoolErrorCode.ERR_ACQUIRE_TIMEOUT });
    const closing = pool.close(); // waits for the create in flight, whose item it then destroys
    finish.resolve();
    await closing;
    expect(destroyed).toEqual([item]);
  });
});

describe('close() with a pop waiting on a create in flight', () => {
  // Regression: close() took as many idle items as there were, but the waiting pop took one of
  // them first, so one of close()'s own acquires waited for ever and close() never resolved.
  test.each([
    ['succeeds', true],
    ['fails', false],
  ])(
    'resolves when that create then %s; the pop rejects (ERR_CLOSED, or the error of the create)',
    async (_name, succeeds) => {
      let finish!: () => void;
      const createStarted = deferred();
      const pool = new Pool(
        () =>
          new Promise<Item>((resolve, reject) => {
            finish = () => (succeeds ? resolve({ id: 1 } as Item) : reject(new Error('create failed')));
            createStarted.resolve();
          }),
        () => {},
        1,
        { max: 1 },
      );
      const popped = pool.pop().then(
        () => 'resolved',
        (err: { code?: string; message: string }) => err.code ?? err.message,
      );
      await createStarted.promise;
      const closing = pool.close();
      finish();
      expect(await popped).toBe(succeeds ? PoolErrorCode.ERR_CLOSED : 'create failed');
      expect(
        await within(
          closing.then(() => 'closed'),
          2000,
        ),
      ).toBe('closed');
    },
  );
});

describe('idleTimeoutMs', () => {
  test('idle items are evicted by a check that actually runs; lent-out ones are not', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { idleTimeoutMs: 40, onError: t.onError });
    const items = await Promise.all(Array.from({ length: 6 }, () => pool.pop()));
    for (const item of items.slice(0, 5)) pool.push(item); // more than generic-pool's 3 checks per run
    expect(pool.size()).toBe(5);
    await waitFor(() => pool.size() === 0, 'the evictor to destroy the 5 idle items');
    expect(new Set(t.destroyed)).toEqual(new Set(items.slice(0, 5)));
    expect(items[5]!.destroyed).toBe(false);
    pool.push(items[5]);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('an item in use is not evicted for the time it was lent out: its idle time starts when it is pushed', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { idleTimeoutMs: 60 });
    const a = (await pool.pop())!;
    await sleep(120); // lent out for twice idleTimeoutMs: the case under test, not a synchronization
    const pushedAt = Date.now();
    pool.push(a);
    expect(pool.size()).toBe(1);
    await waitFor(() => a.destroyed, 'the evictor to destroy the pushed item');
    // The check runs every 30 ms: had the 120 ms lent out counted as idle, the first run after the
    // push would have ended it, within 30 ms. It went only once idle for idleTimeoutMs.
    expect(Date.now() - pushedAt).toBeGreaterThanOrEqual(60);
    expect(t.destroyed).toEqual([a]);
    expect(pool.size()).toBe(0);
    await pool.close();
  });

  test('the eviction timer does not keep the process alive', async () => {
    // A child process that pools an item with eviction on and never closes: it must exit by itself.
    const dist = path.join(__dirname, '..', 'dist', 'index.js');
    const script = `
      const { Pool } = require(${JSON.stringify(dist)});
      const pool = new Pool(() => ({}), null, -1, { idleTimeoutMs: 60000 });
      pool.pop().then((item) => { pool.push(item); process.stdout.write('pooled ' + pool.size()); });
    `;
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 10_000 }, (err: Error | null, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
    expect(out.trim()).toBe('pooled 1');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('close', () => {
  test('destroys idle items, rejects later pops, destroys items pushed back after it', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { onError: t.onError });
    const [a, b] = await Promise.all([pool.pop(), pool.pop()]);
    pool.push(a);
    await pool.close();
    expect(t.destroyed).toEqual([a]);
    await expect(pool.pop()).rejects.toMatchObject({ code: PoolErrorCode.ERR_CLOSED });
    pool.push(b);
    expect(t.destroyed).toEqual([a, b]);
    expect(pool.size()).toBe(0);
    const stranger = { id: 9, destroyed: false };
    pool.push(stranger);
    expect(stranger.destroyed).toBe(true);
    expect(t.errors).toEqual([]);
    await pool.close(); // idempotent
  });

  test('pops waiting under max reject with ERR_CLOSED at once', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1 });
    const a = await pool.pop();
    const w1 = pool.pop().catch((err: unknown) => err);
    const w2 = pool.pop().catch((err: unknown) => err);
    await pool.close();
    expect(await w1).toMatchObject({ code: PoolErrorCode.ERR_CLOSED });
    expect(await w2).toMatchObject({ code: PoolErrorCode.ERR_CLOSED });
    expect(t.created).toHaveLength(1);
    pool.push(a);
    expect(t.live()).toBe(0);
  });

  test('an item a create in flight makes after close is destroyed, and close waits for it', async () => {
    const destroyed: object[] = [];
    const item = { late: true };
    const finish = deferred();
    const pool = new Pool<object>(
      () => finish.promise.then(() => item),
      (i) => void destroyed.push(i),
    );
    const popped = pool.pop().catch((err: unknown) => err);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false); // no timer is in play: close() is waiting for the create
    finish.resolve(); // the create makes its item only now, after close()
    await closing;
    expect(destroyed).toEqual([item]);
    expect(await popped).toMatchObject({ code: PoolErrorCode.ERR_CLOSED });
  });

  test('await using closes the pool at the end of the block', async () => {
    const t = tracker();
    {
      await using pool = new Pool<Item>(t.create, t.destroy);
      pool.push(await pool.pop());
    }
    expect(t.live()).toBe(0);
  });
});
