/**
 * The client's send queue against a server that does not read (a raw
 * `node:net` server, not ours), `maxQueuedBytes`:
 * - calls of 64 KiB fired in a loop until 256 MiB were attempted: memory
 *   stays bounded (it grew by the whole 256 MiB before the bound); each call
 *   times out (`TIMEOUT`), most of them while waiting for room;
 * - the order holds: a server that starts reading after a pause gets every
 *   frame queued, in call order, exactly once, and none of the calls that timed
 *   out or were aborted while they waited (`ABORTED`); notifications wait in the same line;
 * - closing the client, or the server resetting the connection, fails the
 *   waiting calls and notifications with `CONNECTION_CLOSED`;
 * - a frame larger than `maxQueuedBytes` goes alone once nothing is queued.
 */
import type * as net from 'node:net';
import { pack, unpack } from 'msgpackr';
import { FrameDecoder, RpcClient, RpcError } from '../src';
import { MemoryWatch, MiB, figure, mib } from '../../../libs/test-support/hostile';
import { rawServer, resetSocket, type RawServer } from '../../../libs/test-support/net';
import { closedAfterEach, frame, guardLeaks, until } from './helpers';

const perTest = closedAfterEach(500);
guardLeaks();

/** Bound on memory growth while 256 MiB of calls are attempted (without the send bound: +256 MiB and more). */
const MEMORY_BOUND = 64 * MiB;

/** Settles to the value or the error, never rejects (so a call's failure is never unhandled). */
function outcome<T>(p: Promise<T>): Promise<{ value: T } | { error: RpcError }> {
  return p.then(
    (value) => ({ value }),
    (error: RpcError) => ({ error }),
  );
}

/** Yields to the event loop (I/O included) once. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Calls `echo` with `[i, pad]` until the send queue is full and one waits;
 * the socket and the peer's kernel buffers take megabytes before that. The
 * calls' outcomes, in order.
 */
async function fillUntilWaiting(
  c: RpcClient,
  pad: Buffer,
): Promise<Array<Promise<{ value: unknown } | { error: RpcError }>>> {
  await c.notify('connect'); // connected: the calls below are sent in order as they are made
  const calls: Array<Promise<{ value: unknown } | { error: RpcError }>> = [];
  while (c.sendBudget.waiting === 0) {
    calls.push(outcome(c.call('echo', [calls.length, pad])));
    if (calls.length % 8 === 0) await turn();
    if (calls.length > 100_000) throw new Error('the send queue never filled');
  }
  return calls;
}

/** A raw server that reads nothing until `startReading()`; then it answers each request with its `params[0]` and records what came. */
async function pausedEchoServer(): Promise<{
  raw: RawServer;
  startReading(): Promise<void>;
  received: Array<{ type: number; first: unknown }>;
}> {
  const raw = await rawServer();
  const received: Array<{ type: number; first: unknown }> = [];
  return {
    raw,
    received,
    startReading: async () => {
      const sock: net.Socket = await raw.nextSocket();
      const decoder = new FrameDecoder(1024 * 1024);
      sock.on('data', (chunk: Buffer) =>
        decoder.push(chunk, 0, chunk.length, (bytes, start, end) => {
          const message = unpack(Buffer.from(bytes.subarray(start, end))) as unknown[];
          if (message[0] === 0) {
            const params = message[3] as unknown[];
            received.push({ type: 0, first: params[0] });
            sock.write(frame(pack([1, message[1], null, params[0]])));
          } else {
            received.push({ type: 2, first: (message[2] as unknown[])[0] });
          }
        }),
      );
    },
  };
}

test('a server that never reads: 256 MiB of 64 KiB calls attempted, memory bounded, every call TIMEOUT', async () => {
  const raw = await rawServer(); // accepts, never reads
  const c = perTest.client(raw.port); // maxQueuedBytes: the default, 8 MiB
  const maxQueued = c.sendBudget.max;
  expect(maxQueued).toBe(8 * MiB);
  const pad = Buffer.alloc(64 * 1024, 7);
  const TOTAL = 256 * MiB;
  const watch = new MemoryWatch(20, { retained: true });
  let attempted = 0;
  let nextSample = 16 * MiB;
  let maxQueuedSeen = 0;
  let maxWaitingSeen = 0;
  const codes = new Map<string, number>();
  let waitedThenTimedOut = 0;
  // 64 callers, each making one call after the other until 256 MiB were attempted.
  const caller = async (): Promise<void> => {
    while (attempted < TOTAL) {
      attempted += pad.length;
      const result = await outcome(c.call('sink', [pad], { timeoutMs: 25 }));
      const code = 'error' in result ? result.error.code : 'resolved';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if ('error' in result && /found no room in the send queue/.test(result.error.message)) waitedThenTimedOut++;
      maxQueuedSeen = Math.max(maxQueuedSeen, c.sendBudget.queued);
      maxWaitingSeen = Math.max(maxWaitingSeen, c.sendBudget.waiting);
      if (attempted >= nextSample) {
        nextSample += 16 * MiB;
        watch.sample();
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, caller));
  const mem = watch.stop();
  const calls = TOTAL / pad.length;
  const figures =
    `never-reading server, 256 MiB of 64 KiB calls attempted (${calls} calls, 64 at a time, timeoutMs 25, maxQueuedBytes 8 MiB): ` +
    `baseline rss ${mib(mem.baseline.rss)}, arrayBuffers ${mib(mem.baseline.arrayBuffers)}; ` +
    `peak growth rss ${mib(mem.peakGrowth.rss)}, arrayBuffers ${mib(mem.peakGrowth.arrayBuffers)}; ` +
    `retained growth after GC rss ${mib(mem.retainedGrowth.rss)}, arrayBuffers ${mib(mem.retainedGrowth.arrayBuffers)}; ` +
    `queued at most ${mib(maxQueuedSeen)}, ${maxWaitingSeen} waiting at most; ${waitedThenTimedOut} calls timed out waiting for room`;
  figure(figures);
  // The figures are in the received value, so a failing run shows them.
  expect({ figures, peakArrayBuffersUnderBound: mem.peakGrowth.arrayBuffers < MEMORY_BOUND }).toEqual({
    figures,
    peakArrayBuffersUnderBound: true,
  });
  expect({ figures, peakRssUnderBound: mem.peakGrowth.rss < MEMORY_BOUND }).toEqual({
    figures,
    peakRssUnderBound: true,
  });
  expect(Object.fromEntries(codes)).toEqual({ TIMEOUT: calls });
  expect(maxQueuedSeen).toBeLessThanOrEqual(maxQueued);
  expect(waitedThenTimedOut).toBeGreaterThan(calls / 2); // most never left the process
  expect(c.sendBudget.waiting).toBe(0); // every call that timed out while waiting left the queue
  await c.close();
  expect(c.sendBudget.queued).toBe(0); // what the dead connection held is released
  await raw.close();
});

test('FIFO: a server that reads after a pause gets every queued frame in call order, exactly once; calls that gave up while waiting sent nothing', async () => {
  const server = await pausedEchoServer();
  const c = perTest.client(server.raw.port, { maxQueuedBytes: 64 * 1024 });
  const pad = Buffer.alloc(8 * 1024, 1);
  const filled = await fillUntilWaiting(c, pad);
  const first = filled.length; // indices 0 .. first-1; the last of them waits
  // Behind them: plain calls, calls that time out while waiting, aborted ones, and a notification.
  const plain: number[] = [];
  const timedOut: Array<Promise<{ value: unknown } | { error: RpcError }>> = [];
  const aborted: Array<Promise<{ value: unknown } | { error: RpcError }>> = [];
  const gaveUp: number[] = [];
  const controllers: AbortController[] = [];
  const later: Array<Promise<{ value: unknown } | { error: RpcError }>> = [];
  let notified: Promise<{ value: unknown } | { error: RpcError }> | null = null;
  let noteIndex = -1;
  for (let i = first; i < first + 30; i++) {
    if (i % 3 === 0) {
      timedOut.push(outcome(c.call('echo', [i, pad], { timeoutMs: 30 })));
      gaveUp.push(i);
    } else if (i % 3 === 1) {
      const ac = new AbortController();
      controllers.push(ac);
      aborted.push(outcome(c.call('echo', [i, pad], { signal: ac.signal })));
      gaveUp.push(i);
    } else if (noteIndex === -1) {
      noteIndex = i;
      notified = outcome(c.notify('note', [i, pad]));
      plain.push(i);
    } else {
      later.push(outcome(c.call('echo', [i, pad])));
      plain.push(i);
    }
  }
  expect(c.sendBudget.waiting).toBe(31); // the last filler, and the 30 above
  for (const ac of controllers) ac.abort(new Error('not needed any more'));
  for (const r of await Promise.all(aborted)) expect('error' in r && r.error.code).toBe('ABORTED');
  for (const r of await Promise.all(timedOut)) {
    expect('error' in r && r.error.code).toBe('TIMEOUT');
    expect('error' in r && r.error.message).toMatch(
      /found no room in the send queue within 30 ms, so nothing was sent/,
    );
  }
  expect(c.sendBudget.waiting).toBe(31 - gaveUp.length);

  await server.startReading();
  const answers = await Promise.all([...filled, ...later]);
  const expectedCalls = [...Array.from({ length: first }, (_, i) => i), ...plain.filter((i) => i !== noteIndex)];
  expect(answers).toEqual(expectedCalls.map((i) => ({ value: i })));
  expect(await notified).toEqual({ value: undefined });
  // Exactly the frames that were queued, in the order they were made, each once (plus the first notification).
  const expectedOrder = [
    { type: 2, first: undefined }, // notify('connect')
    ...[...Array.from({ length: first }, (_, i) => i), ...plain].map((i) => ({
      type: i === noteIndex ? 2 : 0,
      first: i,
    })),
  ];
  expect(server.received).toEqual(expectedOrder);
  expect(c.sendBudget.queued).toBe(0);
  expect(c.sendBudget.waiting).toBe(0);
  await server.raw.close();
});

test('closing the client fails the waiting calls and notifications with CONNECTION_CLOSED, and the queued ones too', async () => {
  const raw = await rawServer();
  const c = perTest.client(raw.port, { maxQueuedBytes: 16 * 1024 });
  const pad = Buffer.alloc(4 * 1024);
  const filled = await fillUntilWaiting(c, pad);
  const waiting = [
    outcome(c.call('echo', [-1, pad])),
    outcome(c.notify('note', [pad])),
    outcome(c.call('echo', [-2, pad], { timeoutMs: 60_000 })),
  ];
  expect(c.sendBudget.waiting).toBe(4);
  await c.close();
  for (const r of await Promise.all([...filled, ...waiting]))
    expect('error' in r && r.error.code).toBe('CONNECTION_CLOSED');
  expect(c.sendBudget.waiting).toBe(0);
  expect(c.sendBudget.queued).toBe(0);
  // And later calls and notifications on the closed client fail at once.
  expect(await outcome(c.call('echo', [pad]))).toEqual({
    error: expect.objectContaining({ code: 'CONNECTION_CLOSED' }),
  });
  await raw.close();
});

test('the server resetting the connection: written calls fail CONNECTION_CLOSED, calls never written go on a new connection', async () => {
  const raw = await rawServer();
  const c = perTest.client(raw.port, { maxQueuedBytes: 16 * 1024 });
  const pad = Buffer.alloc(4 * 1024);
  const filled = await fillUntilWaiting(c, pad);
  const queuedBefore = c.sendBudget.waiting;
  const written = filled.slice(0, filled.length - queuedBefore);
  const late = [...filled.slice(filled.length - queuedBefore), outcome(c.call('echo', [-1, pad]))];
  let lateSettled = 0;
  for (const p of late) void p.then(() => lateSettled++);
  resetSocket(await raw.nextSocket());
  for (const r of await Promise.all(written)) expect('error' in r && r.error.code).toBe('CONNECTION_CLOSED');
  // The ones that waited for room were never written: they go on a new connection, with the whole budget again.
  const second = await raw.nextSocket();
  let got = 0;
  second.on('data', (chunk: Buffer) => (got += chunk.length));
  await until(() => got >= late.length * pad.length);
  expect(lateSettled).toBe(0);
  // Written there and unanswered when that one is reset too: they may have run, so they fail.
  resetSocket(second);
  for (const r of await Promise.all(late)) expect('error' in r && r.error.code).toBe('CONNECTION_CLOSED');
  await c.notify('again');
  expect(raw.sockets.size).toBeGreaterThanOrEqual(1);
  await raw.close();
});

test('a frame larger than maxQueuedBytes goes alone once nothing is queued; order and answers hold', async () => {
  const { port } = await perTest.serve((s) => s.handle('echo', ([i, pad]: [number, Buffer]) => [i, pad.length]));
  const c = perTest.client(port, { maxQueuedBytes: 1024 });
  const sizes = [10, 4000, 10, 10, 50_000, 900, 2000, 10];
  const answers = await Promise.all(sizes.map((n, i) => c.call('echo', [i, Buffer.alloc(n)])));
  expect(answers).toEqual(sizes.map((n, i) => [i, n]));
  expect(c.sendBudget.queued).toBe(0);
  expect(c.sendBudget.waiting).toBe(0);
});

test('maxQueuedBytes is checked: an integer from 1024', () => {
  for (const bad of [0, 1023, 1024.5, -1, Number.NaN, Infinity, '8388608']) {
    expect(() => new RpcClient('127.0.0.1', 1, { maxQueuedBytes: bad as number })).toThrow(RangeError);
  }
  expect(new RpcClient('127.0.0.1', 1, { maxQueuedBytes: 1024 }).sendBudget.max).toBe(1024);
  expect(new RpcClient('127.0.0.1', 1).sendBudget.max).toBe(8 * 1024 * 1024);
});
