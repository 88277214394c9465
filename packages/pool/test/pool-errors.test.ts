// Where generic-pool hurts its users (its issue tracker), done right: every failure is a
// rejected pop or a report through onError, never an unhandled rejection or a busy loop.
import { Pool, PoolError, PoolErrorCode } from '../src';
import { deferred, failOnLateUnhandledRejections, settle, sleep, tracker, waitFor, type Item } from './helpers';

failOnLateUnhandledRejections();

describe('a failing create', () => {
  test.each([
    [
      'throws',
      (err: Error) => (): Item => {
        throw err;
      },
    ],
    [
      'rejects',
      (err: Error) => async (): Promise<Item> => {
        throw err;
      },
    ],
  ])('that %s rejects pop with that very error, and is not retried', async (_how, makeCreate) => {
    const boom = new Error('cannot connect');
    let calls = 0;
    const failing = makeCreate(boom);
    const t = tracker();
    const pool = new Pool<Item>(
      () => {
        calls++;
        return failing();
      },
      t.destroy,
      -1,
      { onError: t.onError },
    );
    await expect(pool.pop()).rejects.toBe(boom);
    // Time passing with a failing create is the case under test, not a synchronization:
    // generic-pool alone would call create thousands of times meanwhile.
    await sleep(30);
    expect(calls).toBe(1);
    await expect(pool.pop()).rejects.toBe(boom);
    expect(calls).toBe(2);
    expect(pool.size()).toBe(0);
    expect(t.errors).toEqual([]);
    await pool.close();
  });

  test('under max, fails each waiting pop once; the pool works once create does', async () => {
    let fail = true;
    const t = tracker();
    const pool = new Pool<Item>(
      () => {
        if (fail) throw new Error('down');
        return t.create();
      },
      t.destroy,
      -1,
      { max: 2, onError: t.onError },
    );
    const results = await Promise.allSettled([pool.pop(), pool.pop(), pool.pop()]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    const a = await pool.pop();
    expect(a).toBe(t.created[0]);
    pool.push(a);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('that fails after its pop timed out is reported as ERR_CREATE, not thrown anywhere', async () => {
    const boom = new Error('late failure');
    const fail = deferred();
    const t = tracker();
    const pool = new Pool<Item>(
      async () => {
        await fail.promise;
        throw boom;
      },
      t.destroy,
      -1,
      { acquireTimeoutMs: 20, onError: t.onError },
    );
    await expect(pool.pop()).rejects.toMatchObject({ code: PoolErrorCode.ERR_ACQUIRE_TIMEOUT });
    expect(t.errors).toEqual([]);
    fail.resolve(); // only now, with its pop timed out, does the create fail
    await waitFor(() => t.errors.length > 0, 'the late failure to be reported');
    await settle(); // a second report of it would come in the same chain of promise reactions
    expect(t.codes()).toEqual([PoolErrorCode.ERR_CREATE]);
    expect(t.errors[0].cause).toBe(boom);
    await pool.close();
  });
});

describe('a failing destroy', () => {
  test('that throws is reported as ERR_DESTROY and the pool goes on', async () => {
    const boom = new Error('close failed');
    const t = tracker();
    const reported: Array<Item | undefined> = [];
    const pool = new Pool<Item>(
      t.create,
      () => {
        throw boom;
      },
      0,
      {
        onError: (err, item) => {
          t.onError(err);
          reported.push(item);
        },
      },
    );
    const a = await pool.pop();
    pool.push(a); // cap 0: destroyed
    expect(t.codes()).toEqual([PoolErrorCode.ERR_DESTROY]);
    expect(t.errors[0]).toBeInstanceOf(PoolError);
    expect(t.errors[0].cause).toBe(boom);
    expect(reported).toEqual([a]);
    expect(await pool.pop()).not.toBe(a);
    await pool.close();
  });

  test('that rejects is reported as ERR_DESTROY, including from clear()', async () => {
    const t = tracker();
    const pool = new Pool<Item>(
      t.create,
      async (item) => {
        throw new Error(`cannot close ${item.id}`);
      },
      -1,
      { onError: t.onError },
    );
    const [a, b] = await Promise.all([pool.pop(), pool.pop()]);
    pool.push(a);
    pool.push(b);
    await pool.clear();
    expect(t.codes()).toEqual([PoolErrorCode.ERR_DESTROY, PoolErrorCode.ERR_DESTROY]);
    expect(pool.size()).toBe(0);
    await pool.close();
  });

  test('that never settles cannot hang clear(): it is given up after destroyTimeoutMs', async () => {
    const t = tracker();
    const pool = new Pool<Item>(t.create, () => new Promise<void>(() => {}), -1, {
      destroyTimeoutMs: 50,
      onError: t.onError,
    });
    const a = await pool.pop();
    pool.push(a);
    const started = Date.now();
    await pool.clear();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(40);
    expect(took).toBeLessThan(1000);
    expect(t.codes()).toEqual([PoolErrorCode.ERR_DESTROY_TIMEOUT]);
    await pool.close();
  });
});

describe('validate', () => {
  test('a validate that always fails does not make the pool create and destroy in a loop', async () => {
    const t = tracker();
    let checks = 0;
    const pool = new Pool<Item>(t.create, t.destroy, -1, {
      validate: () => {
        checks++;
        return false;
      },
      onError: t.onError,
    });
    const a = await pool.pop();
    expect(a).toBe(t.created[0]);
    pool.push(a);
    const b = await pool.pop();
    // No timer is in play here (no idleTimeoutMs, no acquireTimeoutMs): once every promise reaction
    // the pop set off has run, a create-and-destroy loop would show in the counts below.
    await settle();
    expect(b).toBe(t.created[1]);
    expect(checks).toBe(1);
    expect(t.created).toHaveLength(2);
    expect(t.destroyed).toEqual([a]);
    pool.push(b);
    await pool.close();
  });

  test('an item that fails validation is destroyed and another is taken', async () => {
    const t = tracker();
    const bad = new Set<Item>();
    const pool = new Pool<Item>(t.create, t.destroy, -1, {
      validate: (item) => !bad.has(item),
      onError: t.onError,
    });
    const [a, b] = await Promise.all([pool.pop(), pool.pop()]);
    pool.push(a);
    pool.push(b);
    bad.add(b!);
    expect(await pool.pop()).toBe(a); // b, on top, was invalid
    expect(t.destroyed).toEqual([b]);
    bad.add(a!);
    pool.push(a);
    const c = await pool.pop(); // nothing valid idle: a new one
    expect(c).toBe(t.created[2]);
    expect(t.destroyed).toEqual([b, a]);
    expect(t.errors).toEqual([]);
    pool.push(c);
    await pool.close();
  });

  test('a validate that rejects or throws is reported as ERR_VALIDATE and counts as invalid', async () => {
    const t = tracker();
    let mode: 'reject' | 'throw' = 'reject';
    const pool = new Pool<Item>(t.create, t.destroy, -1, {
      validate: (item) => {
        if (mode === 'throw') throw new Error(`validate threw for ${item.id}`);
        return Promise.reject(new Error(`validate rejected for ${item.id}`));
      },
      onError: t.onError,
    });
    const a = await pool.pop(); // just created: handed out without a check
    pool.push(a);
    const b = await pool.pop();
    expect(b).not.toBe(a);
    expect(a!.destroyed).toBe(true);
    mode = 'throw';
    pool.push(b);
    const c = await pool.pop();
    expect(c).not.toBe(b);
    expect(b!.destroyed).toBe(true);
    expect(t.codes()).toEqual([PoolErrorCode.ERR_VALIDATE, PoolErrorCode.ERR_VALIDATE]);
    expect((t.errors[0].cause as Error).message).toBe('validate rejected for 1');
    pool.push(c);
    await pool.close();
  });
});

describe('pushes that are bugs', () => {
  test('a double push is harmless: reported as ERR_DOUBLE_PUSH, the item is pooled once', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { onError: t.onError });
    const a = await pool.pop();
    pool.push(a);
    pool.push(a);
    expect(pool.size()).toBe(1);
    expect(t.codes()).toEqual([PoolErrorCode.ERR_DOUBLE_PUSH]);
    const [x, y] = await Promise.all([pool.pop(), pool.pop()]);
    expect(x).not.toBe(y); // the item was not handed out twice
    pool.push(x);
    pool.push(y);
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('a push of an item the pool already destroyed is reported, not adopted', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, 0, { onError: t.onError });
    const a = await pool.pop();
    pool.push(a); // cap 0: destroyed
    pool.push(a);
    expect(pool.size()).toBe(0);
    expect(t.destroyed).toEqual([a]); // destroy is not called twice (the tracker would throw)
    expect(t.codes()).toEqual([PoolErrorCode.ERR_DOUBLE_PUSH]);
    await pool.close();
  });

  test("a push of another pool's item is reported as ERR_FOREIGN_ITEM and left alone", async () => {
    const t1 = tracker();
    const t2 = tracker();
    const p1 = new Pool(t1.create, t1.destroy, -1, { onError: t1.onError });
    const p2 = new Pool(t2.create, t2.destroy, -1, { onError: t2.onError });
    const a = await p1.pop();
    p2.push(a);
    expect(t2.codes()).toEqual([PoolErrorCode.ERR_FOREIGN_ITEM]);
    expect(p2.size()).toBe(0);
    expect(a!.destroyed).toBe(false);
    p1.push(a); // still p1's, and p1 takes it back
    expect(p1.size()).toBe(1);
    expect(t1.errors).toEqual([]);
    await Promise.all([p1.close(), p2.close()]);
    expect(a!.destroyed).toBe(true);
  });
});

describe('onError', () => {
  test('defaults to process.emitWarning', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const pool = new Pool(() => ({}));
      const a = await pool.pop();
      pool.push(a);
      pool.push(a);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatchObject({ name: 'PoolError', code: PoolErrorCode.ERR_DOUBLE_PUSH });
      await pool.close();
    } finally {
      warn.mockRestore();
    }
  });

  test('a hook that throws does not break the pool; its failure becomes a warning', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const t = tracker();
      const pool = new Pool(t.create, t.destroy, -1, {
        onError: () => {
          throw new Error('hook bug');
        },
      });
      const a = await pool.pop();
      pool.push(a);
      pool.push(a);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String((warn.mock.calls[0][0] as Error).message)).toContain('hook bug');
      expect(await pool.pop()).toBe(a);
      pool.push(a);
      await pool.close();
      expect(t.live()).toBe(0);
    } finally {
      warn.mockRestore();
    }
  });
});
