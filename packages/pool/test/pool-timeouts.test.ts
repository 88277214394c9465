// Every time limit is honoured as given: negative or Infinity is "forever" and arms no timer; a
// finite one above Node's timer limit (2^31 - 1 ms) is refused at construction with a RangeError,
// never cut to the 1 ms Node would make of it (with a TimeoutOverflowWarning).
import { Pool, PoolErrorCode } from '../src';
import { deferred, failOnLateUnhandledRejections, settle, tracker } from './helpers';

failOnLateUnhandledRejections();

const TIMER_LIMIT = 2 ** 31 - 1;

/** Node's timers armed now (`Timeout` resources). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** The names of the warnings the process emits while `run` runs (and one turn after it). */
async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error): void => void seen.push(w.name);
  process.on('warning', onWarning);
  try {
    await run();
    await settle();
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('acquireTimeoutMs', () => {
  test('above the timer limit: a RangeError at construction that says what to give instead', () => {
    expect(() => new Pool(null, null, -1, { max: 1, acquireTimeoutMs: 2 ** 31 })).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { acquireTimeoutMs: 2 ** 31 })).toThrow(
      /acquireTimeoutMs must be at most 2147483647 ms .*-1 or Infinity/,
    );
    expect(() => new Pool(null, null, -1, { acquireTimeoutMs: Number.MAX_SAFE_INTEGER })).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { acquireTimeoutMs: -Infinity })).toThrow(RangeError);
    expect(() => new Pool(null, null, -1, { acquireTimeoutMs: Number.NaN })).toThrow(RangeError);
  });

  test('Infinity waits forever: a waiting pop arms no timer and is served by the next push', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1, acquireTimeoutMs: Infinity });
    const warnings = await warningsDuring(async () => {
      const a = await pool.pop();
      const before = timers();
      let outcome = 'pending';
      const waiting = pool.pop().then(
        (item) => ((outcome = 'served'), item),
        (err: Error) => ((outcome = err.message), null),
      );
      expect(timers()).toBe(before);
      await settle();
      expect(outcome).toBe('pending');
      pool.push(a);
      expect(await waiting).toBe(a);
      pool.push(a);
    });
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    await pool.close();
    expect(t.live()).toBe(0);
  });

  test('the timer limit itself is honoured: the pop waits on one timer, and a push serves it', async () => {
    const t = tracker();
    const pool = new Pool(t.create, t.destroy, -1, { max: 1, acquireTimeoutMs: TIMER_LIMIT });
    const warnings = await warningsDuring(async () => {
      const a = await pool.pop();
      let outcome = 'pending';
      const waiting = pool.pop().then(
        (item) => ((outcome = 'served'), item),
        (err: Error) => ((outcome = err.message), null),
      );
      await settle();
      expect(outcome).toBe('pending');
      pool.push(a);
      expect(await waiting).toBe(a);
      pool.push(a);
    });
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    await pool.close();
  });
});

describe('destroyTimeoutMs', () => {
  test('above the timer limit: a RangeError at construction', () => {
    expect(() => new Pool(null, null, -1, { destroyTimeoutMs: 2 ** 31 })).toThrow(
      /destroyTimeoutMs must be at most 2147483647 ms/,
    );
  });

  test('Infinity waits for destroy however long it takes: no timer, no ERR_DESTROY_TIMEOUT', async () => {
    const t = tracker();
    const gate = deferred<void>();
    let destroying = 0;
    const pool = new Pool(
      t.create,
      (item) => {
        destroying++;
        t.destroy(item);
        return gate.promise;
      },
      -1,
      { destroyTimeoutMs: Infinity, onError: t.onError },
    );
    const warnings = await warningsDuring(async () => {
      pool.push(await pool.pop());
      const before = timers();
      let cleared = false;
      const clearing = pool.clear().then(() => void (cleared = true));
      await settle();
      expect(destroying).toBe(1);
      expect(timers()).toBe(before);
      expect(cleared).toBe(false);
      gate.resolve();
      await clearing;
    });
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    expect(t.codes()).not.toContain(PoolErrorCode.ERR_DESTROY_TIMEOUT);
    await pool.close();
  });
});

describe('idleTimeoutMs', () => {
  test('Infinity keeps idle items (no eviction timer); a value past the timer limit is honoured, not refused', async () => {
    const t = tracker();
    const before = timers();
    const forever = new Pool(t.create, t.destroy, -1, { idleTimeoutMs: Infinity });
    expect(timers()).toBe(before);
    forever.push(await forever.pop());
    expect(forever.size()).toBe(1);
    await forever.close();
    // No timer waits this long: the evictor compares it with how long an item has been idle.
    const long = new Pool(t.create, t.destroy, -1, { idleTimeoutMs: 2 ** 40 });
    long.push(await long.pop());
    expect(long.size()).toBe(1);
    await long.close();
    expect(t.live()).toBe(0);
    expect(() => new Pool(null, null, -1, { idleTimeoutMs: -Infinity })).toThrow(RangeError);
  });
});
