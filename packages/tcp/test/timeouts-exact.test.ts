/**
 * Every `ms` is honoured as given. Node's timers take at most 2^31 - 1 ms and
 * fire after 1 ms past that (with a TimeoutOverflowWarning): a recv meant to
 * wait a month would time out at once, a send would reset its connection.
 * Each test starts the long wait, then lets a short timeout expire elsewhere
 * (a recv of 30 ms on another connection) and checks the long one is still
 * waiting; then ends it by a condition (bytes arrive, the peer reads, a
 * disconnect) and checks no TimeoutOverflowWarning was printed.
 */
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { firstPatternMismatch, pattern, readToEnd, silentListener, waitFor } from '../../../libs/test-support/net';
import { Client, Server } from '../src';
import { guardLeaks, MiB, pair, type Pair, serve, stoppedReading, VARIANTS } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

// Jest gives a test file its own copy of `process`, whose 'warning' listeners
// never hear what Node's timers emit on the real one; a function made by the
// outer realm's Function constructor sees the real one.
const outerFunction = setTimeout.constructor as FunctionConstructor;
const realProcess = (new outerFunction('return process') as () => NodeJS.Process)();
let warnings: Error[] = [];
const onWarning = (w: Error): void => {
  warnings.push(w);
};
beforeEach(() => {
  warnings = [];
  realProcess.on('warning', onWarning);
});
afterEach(() => {
  realProcess.off('warning', onWarning);
  expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning').map((w) => w.message)).toEqual([]);
});

/** A short timeout that runs out for real: a recv of 30 ms on a connection of its own gets nothing. */
async function aShortTimeoutExpires(): Promise<void> {
  const p = await pair(VARIANTS[0]);
  try {
    expect(await p.ours.recv(Buffer.alloc(4), 4, 30)).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ETIMEDOUT');
  } finally {
    await p.close();
  }
}

/** Whether `promise` has settled yet (after the promise jobs queued now have run). */
function tracked<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { settled: () => done, promise };
}

const LONG = [2 ** 31, 2 ** 31 - 1 + 1000, 30 * 24 * 3600 * 1000, Infinity];

describe.each(VARIANTS)('$name', (variant) => {
  let p: Pair;
  beforeEach(async () => {
    p = await pair(variant, certs);
  });
  afterEach(async () => {
    await p.close();
  });

  test.each(LONG)('recv(buf, 4, %p) waits until the bytes come', async (ms) => {
    const buf = Buffer.alloc(4);
    const r = tracked(p.ours.recv(buf, 4, ms));
    await aShortTimeoutExpires();
    expect(r.settled()).toBe(false);
    p.peer.write('abcd');
    expect(await r.promise).toBe(4);
    expect(buf.toString()).toBe('abcd');
  });

  test.each(LONG)('recvn and recvUntil with { ms: %p } wait until the bytes come', async (ms) => {
    const buf = Buffer.alloc(8);
    const exact = tracked(p.ours.recvn(buf, 8, { ms }));
    await aShortTimeoutExpires();
    expect(exact.settled()).toBe(false);
    p.peer.write('12345678');
    expect(await exact.promise).toBe(8);
    const line = tracked(p.ours.recvUntil(buf, '\n', { ms, signal: new AbortController().signal }));
    await aShortTimeoutExpires();
    expect(line.settled()).toBe(false);
    p.peer.write('ok\n');
    expect(await line.promise).toBe(3);
  });

  test('send(8 MiB, undefined, Infinity) to a peer that does not read waits, and does not reset', async () => {
    const data = pattern(0, 8 * MiB);
    p.peer.pause();
    const sent = tracked(p.ours.send(data, undefined, Infinity));
    await waitFor(() => stoppedReading(p.peer), 'the peer to stop taking bytes');
    await aShortTimeoutExpires();
    expect(sent.settled()).toBe(false);
    expect(p.ours.lastError).toBeNull();
    const reading = readToEnd(p.peer);
    p.peer.resume();
    expect(await sent.promise).toBe(data.length);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    const got = await reading;
    expect(got.how).toBe('end');
    expect(got.data.length).toBe(data.length);
    expect(firstPatternMismatch(got.data, 0)).toBe(-1);
  });

  test('sendv with a timeout of 2^31 ms waits for the peer, and does not reset', async () => {
    const data = pattern(0, 8 * MiB);
    p.peer.pause();
    const sent = tracked(p.ours.sendv([data.subarray(0, 4), data.subarray(4)], 2 ** 31));
    await waitFor(() => stoppedReading(p.peer), 'the peer to stop taking bytes');
    await aShortTimeoutExpires();
    expect(sent.settled()).toBe(false);
    const reading = readToEnd(p.peer);
    p.peer.resume();
    expect(await sent.promise).toBe(data.length);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    expect((await reading).data.length).toBe(data.length);
  });
});

describe('WaitOptions', () => {
  test.each([{ timeout: 100 }, { ms: 100, timeoutMs: 5 }, { signal: undefined, sigal: 1 }])(
    'unknown keys throw a TypeError: %p',
    async (opts) => {
      const p = await pair(VARIANTS[0]);
      try {
        const buf = Buffer.alloc(4);
        const bad = opts as never;
        expect(() => p.ours.recv(buf, 4, bad)).toThrow(TypeError);
        expect(() => p.ours.recv(buf, 4, bad)).toThrow(/unknown wait option/);
        expect(() => p.ours.recvn(buf, 4, bad)).toThrow(TypeError);
        expect(() => p.ours.recvUntil(buf, '\n', bad)).toThrow(TypeError);
        expect(() => p.ours.send('x', 1, bad)).toThrow(TypeError);
        expect(() => p.ours.sendv(['x'], bad)).toThrow(TypeError);
        // Nothing was started: a recv with a known option still works.
        p.peer.write('abcd');
        expect(await p.ours.recv(buf, 4, { ms: 3000 })).toBe(4);
      } finally {
        await p.close();
      }
    },
  );

  test('connect and shutdown reject unknown keys too', async () => {
    const c = new Client('127.0.0.1', 1);
    expect(() => c.connect({ timeout: 10 } as never)).toThrow(TypeError);
    const server = new Server().onConnection(() => undefined);
    await server.start('127.0.0.1', 0);
    await expect(server.shutdown({ timeout: 10 } as never)).rejects.toThrow(TypeError);
    await server.shutdown(1000);
  });
});

describe('connect, close(ms), reset(ms), shutdown(ms)', () => {
  test.each([2 ** 31, Infinity])(
    'a TLS connect with ms = %p to a server that never answers waits until disconnect()',
    async (ms) => {
      const silent = await silentListener();
      try {
        const c = new Client('127.0.0.1', silent.port, true, { ca: certs.cert });
        const connecting = tracked(c.connect(ms));
        await aShortTimeoutExpires();
        expect(connecting.settled()).toBe(false);
        c.disconnect();
        expect(await connecting.promise).toBe(false);
        expect(c.lastError?.code).toBe('ENOTCONN');
      } finally {
        await silent.close();
      }
    },
  );

  test.each([
    ['close', 2 ** 31],
    ['close', Infinity],
    ['reset', 2 ** 31],
  ] as const)('%s(%p) leaves the connection open; a close() now still closes it', async (how, ms) => {
    const served = await serve();
    const c = new Client('127.0.0.1', served.port);
    try {
      expect(await c.connect(3000)).toBe(true);
      const conn = await served.nextConn();
      const closing = tracked(conn[how](ms));
      await aShortTimeoutExpires();
      expect(closing.settled()).toBe(false);
      // Still open both ways.
      expect(await conn.send('hi')).toBe(2);
      const buf = Buffer.alloc(2);
      expect(await c.recvn(buf, 2, 3000)).toBe(2);
      expect(await c.recv(buf, 2, 30)).toBe(-1);
      expect(c.lastError?.code).toBe('ETIMEDOUT');
      const closed = conn.close();
      expect(await c.recv(buf, 2, 3000)).toBe(0);
      c.close();
      await closed;
      await closing.promise;
    } finally {
      c.close();
      await served.shutdown(1000);
    }
  });

  test('shutdown(2^31) waits for a half-closed connection instead of resetting it', async () => {
    // The handler keeps its connection until the test lets it go; shutdown closes it gracefully.
    let release!: () => void;
    const handlerDone = new Promise<void>((resolve) => (release = resolve));
    const server = new Server().onConnection(async (conn) => {
      await handlerDone;
      await conn.close();
    });
    await server.start('127.0.0.1', 0);
    const c = new Client('127.0.0.1', server.address()!.port);
    try {
      expect(await c.connect(3000)).toBe(true);
      await waitFor(() => server.connNum() === 1, 'the server to count the connection');
      const stopping = tracked(server.shutdown(2 ** 31));
      const buf = Buffer.alloc(1);
      // The graceful close reaches the client as FIN (0), not as a reset (-1 ECONNRESET).
      expect(await c.recv(buf, 1, 3000)).toBe(0);
      // Half-closed, the connection waits for the client's FIN; the grace period has not run out.
      await aShortTimeoutExpires();
      expect(stopping.settled()).toBe(false);
      c.close();
      await stopping.promise;
      expect(server.connNum()).toBe(0);
    } finally {
      release();
      c.close();
    }
  });
});

test('Server options refuse an idleTimeoutMs or handshakeTimeoutMs that a socket timer cannot hold', () => {
  expect(() => new Server({ idleTimeoutMs: 2 ** 31 })).toThrow(RangeError);
  expect(() => new Server({ idleTimeoutMs: 2 ** 31 })).toThrow(/2147483647/);
  expect(() => new Server({ handshakeTimeoutMs: 2 ** 31 })).toThrow(RangeError);
  expect(() => new Server({ idleTimeoutMs: 2 ** 31 - 1 })).not.toThrow();
});
