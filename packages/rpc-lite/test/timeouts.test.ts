/**
 * Every time limit is honoured as given: a negative one or `Infinity` is "no limit" and arms no
 * timer; a finite one above Node's timer limit (2^31 - 1 ms) is refused with a RangeError, never
 * cut to the 1 ms Node would make of it (with a TimeoutOverflowWarning).
 */
import { RpcClient, RpcServer } from '../src';
import { closedAfterEach, guardLeaks, until } from './helpers';

const perTest = closedAfterEach(500);
const { client, serve } = perTest;
guardLeaks();

const OVER_LIMIT = 2 ** 31;

/** Node's timers armed now (`Timeout` resources). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** The warnings the process emits from now until `stop()`. */
function recordWarnings(): { names(): string[]; stop(): void } {
  const seen: Error[] = [];
  const onWarning = (w: Error): void => void seen.push(w);
  process.on('warning', onWarning);
  return { names: () => seen.map((w) => w.name), stop: () => void process.off('warning', onWarning) };
}

/** A handler that waits until the test lets it go: no timer of its own. */
function holder(): { handler: () => Promise<string>; entered(): number; release(): void } {
  const waiting: Array<(v: string) => void> = [];
  let entered = 0;
  return {
    handler: () =>
      new Promise<string>((resolve) => {
        entered++;
        waiting.push(resolve);
      }),
    entered: () => entered,
    release: () => {
      for (const r of waiting.splice(0)) r('done');
    },
  };
}

describe('RpcClient', () => {
  test('timeoutMs and connectTimeoutMs above the timer limit throw a RangeError naming the limit', () => {
    expect(() => new RpcClient('127.0.0.1', 1, { timeoutMs: OVER_LIMIT })).toThrow(
      /timeoutMs must be .* up to 2147483647/,
    );
    expect(() => new RpcClient('127.0.0.1', 1, { connectTimeoutMs: OVER_LIMIT })).toThrow(RangeError);
    expect(() => new RpcClient('127.0.0.1', 1, { connectTimeoutMs: OVER_LIMIT })).toThrow(/Infinity for no limit/);
    expect(() => new RpcClient('127.0.0.1', 1, { timeoutMs: Number.NaN })).toThrow(RangeError);
  });

  test('timeoutMs: Infinity and connectTimeoutMs: Infinity are taken: no limit', () => {
    expect(() => new RpcClient('127.0.0.1', 1, { timeoutMs: Infinity, connectTimeoutMs: Infinity })).not.toThrow();
  });

  test('a call above the timer limit rejects with a RangeError and sends nothing', async () => {
    const h = holder();
    const s = await serve((server) => server.handle('hold', h.handler).handle('echo', (p: unknown) => p));
    const c = client(s.port);
    await expect(c.call('hold', [], { timeoutMs: OVER_LIMIT })).rejects.toThrow(RangeError);
    expect(() => c.proxy<{ hold(): string }>().with({ timeoutMs: OVER_LIMIT })).toThrow(RangeError);
    expect(await c.call('echo', [1])).toEqual([1]);
    expect(h.entered()).toBe(0);
  });

  test('a call with timeoutMs: Infinity (per call or the client default) arms no timer and waits for its answer', async () => {
    const h = holder();
    const s = await serve((server) => server.handle('hold', h.handler).handle('echo', (p: unknown) => p));
    const warnings = recordWarnings();
    try {
      const cases: Array<[RpcClient, { timeoutMs: number } | undefined]> = [
        [client(s.port), { timeoutMs: Infinity }],
        [client(s.port, { timeoutMs: Infinity, connectTimeoutMs: Infinity }), undefined],
      ];
      for (const [c, options] of cases) {
        expect(await c.call('echo', ['connected'])).toEqual(['connected']);
        const before = timers();
        const entered = h.entered();
        const call = c.call('hold', [], options);
        expect(timers()).toBe(before);
        await until(() => h.entered() === entered + 1);
        h.release();
        expect(await call).toBe('done');
      }
      // Node emits a TimeoutOverflowWarning on the next tick after such a setTimeout.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.names()).not.toContain('TimeoutOverflowWarning');
    } finally {
      warnings.stop();
    }
  });
});

describe('RpcServer', () => {
  test('idleTimeoutMs and handshakeTimeoutMs above the timer limit throw a RangeError; idleTimeoutMs: Infinity is "never"', () => {
    expect(() => new RpcServer({ idleTimeoutMs: OVER_LIMIT })).toThrow(
      /idleTimeoutMs must be an integer from 0 to 2147483647/,
    );
    expect(() => new RpcServer({ handshakeTimeoutMs: OVER_LIMIT })).toThrow(RangeError);
    // A handshake that never ends would hold its socket for good: no "never" there.
    expect(() => new RpcServer({ handshakeTimeoutMs: Infinity })).toThrow(RangeError);
    expect(() => new RpcServer({ idleTimeoutMs: Infinity })).not.toThrow();
  });

  test('idleTimeoutMs: Infinity keeps an idle connection', async () => {
    const s = await serve((server) => server.handle('echo', (p: unknown) => p), { idleTimeoutMs: Infinity });
    const c = client(s.port);
    expect(await c.call('echo', [1])).toEqual([1]);
    expect(s.server.connNum()).toBe(1);
    expect(await c.call('echo', [2])).toEqual([2]);
  });

  test('shutdown(ms) above the timer limit rejects with a RangeError and stops nothing', async () => {
    const s = await serve((server) => server.handle('echo', (p: unknown) => p));
    await expect(s.server.shutdown(OVER_LIMIT)).rejects.toThrow(/shutdown ms must be .* up to 2147483647/);
    expect(s.server.address()).not.toBeNull();
    expect(await client(s.port).call('echo', ['still serving'])).toEqual(['still serving']);
  });

  test('shutdown(Infinity) arms no timer and lets a call in flight finish', async () => {
    const h = holder();
    const s = await serve((server) => server.handle('hold', h.handler));
    const c = client(s.port);
    const call = c.call('hold');
    await until(() => h.entered() === 1);
    const warnings = recordWarnings();
    try {
      const before = timers();
      const shutdown = s.server.shutdown(Infinity);
      expect(timers()).toBe(before);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.names()).not.toContain('TimeoutOverflowWarning');
      expect(s.server.connNum()).toBe(1);
      h.release();
      expect(await call).toBe('done');
      await shutdown;
      expect(s.server.connNum()).toBe(0);
    } finally {
      warnings.stop();
    }
  });
});
