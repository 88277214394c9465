/**
 * Tracing on node:diagnostics_channel, with real sockets on 127.0.0.1 (TCP
 * and TLS): every call that starts gets exactly one end or error, whatever
 * ends it (result, remote error, timeout, abort, the server gone, a closed
 * client, a request too large, no connection); the server publishes a start
 * and an end for every request and notification it runs, and for those it
 * does not (no such method, shutting down). With nobody subscribed nothing is
 * published, no clock is read, and a call is not marked traced.
 */
import * as dc from 'node:diagnostics_channel';
import {
  RpcChannels,
  RpcClient,
  RpcServer,
  type CallEndMessage,
  type CallErrorMessage,
  type CallStartMessage,
  type RequestEndMessage,
  type RequestStartMessage,
  type RpcClientOptions,
  type RpcContext,
} from '../src';
import { PendingCall } from '../src/client/pending-call';
import type { RequestContext } from '../src/server/request-context';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { closedPort, deferred, rawServer } from '../../../libs/test-support/net';
import { closedAfterEach, guardLeaks, rejection, until } from './helpers';

const perTest = closedAfterEach(500);
guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

type ChannelName = (typeof RpcChannels)[keyof typeof RpcChannels];

/** Subscribes to `names` (default: every channel) until `stop()`; records `[channel, message]` in order. */
function record(names: readonly ChannelName[] = Object.values(RpcChannels)): {
  events: Array<[ChannelName, unknown]>;
  of<T>(name: ChannelName): T[];
  stop(): void;
} {
  const events: Array<[ChannelName, unknown]> = [];
  const subs = names.map((name) => {
    const fn = (message: unknown): void => {
      events.push([name, message]);
    };
    dc.subscribe(name, fn);
    return () => dc.unsubscribe(name, fn);
  });
  return {
    events,
    of: <T>(name: ChannelName) => events.filter(([n]) => n === name).map(([, m]) => m as T),
    stop: () => subs.forEach((unsubscribe) => unsubscribe()),
  };
}

/** Subscribes for one test: unsubscribed after it even when it fails. */
const recorders: Array<{ stop(): void }> = [];
afterEach(() => recorders.splice(0).forEach((r) => r.stop()));
function recording(names?: readonly ChannelName[]): ReturnType<typeof record> {
  const r = record(names);
  recorders.push(r);
  return r;
}

/**
 * The client's events grouped by call, each checked to be exactly a start
 * followed by one end or error, the start before it in the event order.
 */
function callTraces(
  events: Array<[ChannelName, unknown]>,
): Map<unknown, { start: CallStartMessage; end: CallEndMessage | CallErrorMessage; failed: boolean }> {
  const byCall = new Map<unknown, Array<[ChannelName, CallStartMessage]>>();
  for (const [name, m] of events) {
    if (name !== RpcChannels.callStart && name !== RpcChannels.callEnd && name !== RpcChannels.callError) continue;
    const msg = m as CallStartMessage;
    const list = byCall.get(msg.call) ?? [];
    list.push([name, msg]);
    byCall.set(msg.call, list);
  }
  const out = new Map<unknown, { start: CallStartMessage; end: CallEndMessage | CallErrorMessage; failed: boolean }>();
  for (const [call, list] of byCall) {
    expect(list.map(([n]) => n === RpcChannels.callStart)).toEqual([true, false]);
    out.set(call, {
      start: list[0][1],
      end: list[1][1] as CallEndMessage,
      failed: list[1][0] === RpcChannels.callError,
    });
  }
  return out;
}

/** The server's events grouped by request, each exactly a start then an end. */
function requestTraces(
  events: Array<[ChannelName, unknown]>,
): Array<{ start: RequestStartMessage; end: RequestEndMessage }> {
  const byRequest = new Map<unknown, Array<[ChannelName, RequestStartMessage]>>();
  for (const [name, m] of events) {
    if (name !== RpcChannels.requestStart && name !== RpcChannels.requestEnd) continue;
    const msg = m as RequestStartMessage;
    const list = byRequest.get(msg.request) ?? [];
    list.push([name, msg]);
    byRequest.set(msg.request, list);
  }
  return [...byRequest.values()].map((list) => {
    expect(list.map(([n]) => n)).toEqual([RpcChannels.requestStart, RpcChannels.requestEnd]);
    return { start: list[0][1], end: list[1][1] as RequestEndMessage };
  });
}

/** The test methods: `echo` and `hold` record their context; `hold` waits until `release` resolves; `big` answers more than 1 KiB. */
function tracedMethods(server: RpcServer, seen: RpcContext[], release: Promise<void>): void {
  server
    .handle('echo', (p: unknown, ctx) => {
      seen.push(ctx);
      return p;
    })
    .handle('fail', () => {
      throw Object.assign(new Error('no such user'), { code: 'E_NO_USER' });
    })
    .handle('hold', async (_p, ctx) => {
      seen.push(ctx);
      await release;
      return 'released';
    })
    .handle('big', () => Buffer.alloc(4096))
    .handle('note', () => undefined);
}

describe.each([
  { name: 'TCP', tls: false },
  { name: 'TLS', tls: true },
])('$name', ({ tls }) => {
  /** A server (maxFrameBytes 1 KiB) with the test methods, and a client of it. */
  async function setup(
    goAway = true,
  ): Promise<{ c: RpcClient; server: RpcServer; port: number; seen: RpcContext[]; release: () => void }> {
    const seen: RpcContext[] = [];
    const released = deferred();
    const server = new RpcServer({ maxFrameBytes: 1024, goAway });
    tracedMethods(server, seen, released.promise);
    if (tls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
    else await server.start('127.0.0.1', 0);
    perTest.own(server);
    const port = server.address()!.port;
    const options: RpcClientOptions = tls ? { ssl: true, tls: { ca: certs.cert } } : {};
    return { c: perTest.client(port, options), server, port, seen, release: () => released.resolve() };
  }

  test('success, remote errors, METHOD_NOT_FOUND, a result too large, a notification: exact pairs on both sides', async () => {
    const { c, port, seen } = await setup();
    const rec = recording();
    const ok = c.call('echo', ['hi']);
    const failed = c.call('fail', [7]);
    const missing = c.call('missing');
    const tooLarge = c.call('big');
    expect(await ok).toEqual(['hi']);
    const errFailed = await rejection(failed);
    const errMissing = await rejection(missing);
    const errTooLarge = await rejection(tooLarge);
    await c.notify('note', [1]);
    await until(() => rec.of(RpcChannels.requestEnd).length === 5);

    const calls = callTraces(rec.events);
    expect(calls.size).toBe(4);
    const traceOf = (p: Promise<unknown>) => calls.get(p)!;
    expect(traceOf(ok).start).toEqual({ call: ok, method: 'echo', address: '127.0.0.1', port });
    expect(traceOf(ok).failed).toBe(false);
    expect(traceOf(ok).end).toEqual({
      call: ok,
      method: 'echo',
      address: '127.0.0.1',
      port,
      durationMs: expect.any(Number),
    });
    expect(traceOf(ok).end.durationMs).toBeGreaterThanOrEqual(0);
    for (const [p, err, code] of [
      [failed, errFailed, 'E_NO_USER'],
      [missing, errMissing, 'METHOD_NOT_FOUND'],
      [tooLarge, errTooLarge, 'FRAME_TOO_LARGE'],
    ] as const) {
      expect(traceOf(p).failed).toBe(true);
      expect(traceOf(p).end).toMatchObject({ call: p, address: '127.0.0.1', port, code, remote: true });
      expect((traceOf(p).end as CallErrorMessage).error).toBe(err);
    }

    const requests = requestTraces(rec.events);
    const byMethod = new Map(requests.map((r) => [r.start.method, r]));
    expect([...byMethod.keys()].sort()).toEqual(['big', 'echo', 'fail', 'missing', 'note']);
    const peer = byMethod.get('echo')!.start.peer;
    expect(peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(byMethod.get('echo')!.start.request).toBe(seen[0]); // the handler's own RpcContext
    expect(byMethod.get('echo')!.end).toEqual({
      request: seen[0],
      method: 'echo',
      peer,
      durationMs: expect.any(Number),
      ok: true,
      code: null,
    });
    expect(byMethod.get('fail')!.end).toMatchObject({ ok: false, code: 'E_NO_USER' });
    expect(byMethod.get('missing')!.end).toMatchObject({ ok: false, code: 'METHOD_NOT_FOUND', peer });
    expect(byMethod.get('big')!.end).toMatchObject({ ok: false, code: 'FRAME_TOO_LARGE' });
    expect(byMethod.get('note')!.end).toMatchObject({ ok: true, code: null });
    expect(byMethod.get('note')!.start.request.msgid).toBeNull();
    expect(byMethod.get('echo')!.start.request.msgid).toEqual(expect.any(Number));
    // Each server start comes before its end, and the client's start of a call before the server's.
    const index = (m: unknown): number => rec.events.findIndex(([, x]) => x === m);
    expect(index(traceOf(ok).start)).toBeLessThan(index(byMethod.get('echo')!.start));
  });

  test('timeout and abort: one error each (TIMEOUT, ABORTED, remote false); the server ends the request when its handler does', async () => {
    const { c, seen, release } = await setup();
    expect(await c.call('echo', [0])).toEqual([0]); // connected
    const rec = recording();
    const timedOut = c.call('hold', [], { timeoutMs: 30 });
    const ac = new AbortController();
    const aborted = c.call('hold', [], { signal: ac.signal });
    await until(() => seen.length === 3);
    const errTimeout = await rejection(timedOut);
    ac.abort(new Error('enough'));
    const errAbort = await rejection(aborted);
    const calls = callTraces(rec.events);
    expect(calls.get(timedOut)!.end).toMatchObject({
      method: 'hold',
      code: 'TIMEOUT',
      remote: false,
      error: errTimeout,
    });
    expect(calls.get(timedOut)!.end.durationMs).toBeGreaterThanOrEqual(20); // 30 ms, less the staleness of the event loop's clock
    expect(calls.get(aborted)!.end).toMatchObject({ method: 'hold', code: 'ABORTED', remote: false, error: errAbort });
    // The handlers are still running: two starts, no end yet.
    expect(rec.of(RpcChannels.requestStart)).toHaveLength(2);
    expect(rec.of(RpcChannels.requestEnd)).toHaveLength(0);
    release();
    await until(() => rec.of(RpcChannels.requestEnd).length === 2);
    const requests = requestTraces(rec.events);
    expect(requests.map((r) => r.end)).toEqual([
      expect.objectContaining({ method: 'hold', ok: true, code: null }),
      expect.objectContaining({ method: 'hold', ok: true, code: null }),
    ]);
    // Late answers are dropped: still exactly one end per call.
    expect(callTraces(rec.events).size).toBe(2);
    expect(rec.of(RpcChannels.callError)).toHaveLength(2);
    expect(rec.of(RpcChannels.callEnd)).toHaveLength(0);
  });

  test('shutting down without goAway: a request that arrives while the server drains is not run, and its end says CONNECTION_CLOSED', async () => {
    const { c, server, release } = await setup(false);
    const rec = recording();
    const held = c.call('hold');
    await until(() => rec.of(RpcChannels.requestStart).length === 1);
    const shutdown = server.shutdown(3000); // from here on the connection takes no new request
    const refused = c.call('echo', ['late']);
    await until(() => rec.of<RequestEndMessage>(RpcChannels.requestEnd).some((m) => m.code === 'CONNECTION_CLOSED'));
    release();
    expect(await held).toBe('released');
    expect((await rejection(refused)).code).toBe('CONNECTION_CLOSED');
    await shutdown;
    const requests = requestTraces(rec.events);
    expect(requests.map((r) => [r.start.method, r.end.ok, r.end.code])).toEqual([
      ['hold', true, null],
      ['echo', false, 'CONNECTION_CLOSED'],
    ]);
    const calls = callTraces(rec.events);
    expect(
      [...calls.values()].map((t) => [t.start.method, t.failed ? (t.end as CallErrorMessage).code : 'ok']),
    ).toEqual([
      ['hold', 'ok'],
      ['echo', 'CONNECTION_CLOSED'],
    ]);
  });
});

describe('every call that starts ends once, however it fails', () => {
  test('the server gone mid-call: CONNECTION_CLOSED', async () => {
    const raw = await rawServer((sock) => sock.once('data', () => sock.destroy()));
    const c = perTest.client(raw.port);
    const rec = recording();
    const p = c.call('echo', ['x']);
    const err = await rejection(p);
    expect(err.code).toBe('CONNECTION_CLOSED');
    const calls = callTraces(rec.events);
    expect(calls.size).toBe(1);
    expect(calls.get(p)!.end).toMatchObject({
      method: 'echo',
      port: raw.port,
      code: 'CONNECTION_CLOSED',
      remote: false,
      error: err,
    });
    await raw.close();
  });

  test('no connection, a closed client, a request too large, params that cannot be encoded: one error each', async () => {
    const port = await closedPort();
    const c = perTest.client(port, { maxFrameBytes: 64, connectTimeoutMs: 2000 });
    const rec = recording();
    const noServer = c.call('echo', [1]);
    expect((await rejection(noServer)).code).toBe('CONNECT_FAILED');

    const { server, port: live } = await perTest.serve((s) => s.handle('echo', (p: unknown) => p));
    void server;
    const small = perTest.client(live, { maxFrameBytes: 64 });
    const tooLarge = small.call('echo', ['x'.repeat(100)]);
    expect((await rejection(tooLarge)).code).toBe('FRAME_TOO_LARGE');
    const unencodable = small.call('echo', [2n ** 70n]);
    expect((await rejection(unencodable)).code).toBe('BAD_MESSAGE');
    await small.close();
    const afterClose = small.call('echo', [1]);
    expect((await rejection(afterClose)).code).toBe('CONNECTION_CLOSED');
    const abortedAlready = c.call('echo', [1], { signal: AbortSignal.abort() });
    expect((await rejection(abortedAlready)).code).toBe('ABORTED');

    const calls = callTraces(rec.events);
    expect([...calls.keys()]).toEqual([noServer, tooLarge, unencodable, afterClose, abortedAlready]);
    expect(
      [...calls.values()].map((t) => [t.failed, (t.end as CallErrorMessage).code, (t.end as CallErrorMessage).remote]),
    ).toEqual([
      [true, 'CONNECT_FAILED', false],
      [true, 'FRAME_TOO_LARGE', false],
      [true, 'BAD_MESSAGE', false],
      [true, 'CONNECTION_CLOSED', false],
      [true, 'ABORTED', false],
    ]);
  });

  test('closing the client fails the calls in flight: one CONNECTION_CLOSED each', async () => {
    const release = deferred();
    const { port } = await perTest.serve((s) => s.handle('hold', () => release.promise));
    const c = perTest.client(port);
    const rec = recording();
    const inFlight = [c.call('hold'), c.call('hold'), c.call('hold')];
    await until(() => rec.of(RpcChannels.requestStart).length === 3);
    await c.close();
    for (const p of inFlight) expect((await rejection(p)).code).toBe('CONNECTION_CLOSED');
    release.resolve();
    const calls = callTraces(rec.events);
    expect([...calls.keys()]).toEqual(inFlight);
    expect([...calls.values()].every((t) => t.failed && (t.end as CallErrorMessage).code === 'CONNECTION_CLOSED')).toBe(
      true,
    );
  });
});

describe('nobody listening costs nothing', () => {
  test('no message is built or published and no clock is read; a call is not marked traced', async () => {
    const release = deferred();
    const { port } = await perTest.serve((s) =>
      s.handle('echo', (p: unknown, ctx) => [p, (ctx as RequestContext).trace]).handle('hold', () => release.promise),
    );
    const c = perTest.client(port);
    await c.call('echo', [0]); // connected (connecting reads the clock in @proj/tcp)
    for (const name of Object.values(RpcChannels)) expect(dc.channel(name).hasSubscribers).toBe(false);
    const publishes = Object.values(RpcChannels).map((name) => jest.spyOn(dc.channel(name), 'publish'));
    const now = jest.spyOn(performance, 'now');
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => c.call('echo', [i])));
      // The server's RequestContext had no trace either.
      expect(answers.map(([, trace]: [unknown, unknown]) => trace)).toEqual(Array(50).fill(null));
      await c.notify('echo', [1]);
      expect((await rejection(c.call('missing'))).code).toBe('METHOD_NOT_FOUND');
      expect((await rejection(c.call('hold', [], { timeoutMs: 1 }))).code).toBe('TIMEOUT');
      const ac = new AbortController();
      const aborted = c.call('hold', [], { signal: ac.signal });
      ac.abort();
      expect((await rejection(aborted)).code).toBe('ABORTED');
      expect(now).not.toHaveBeenCalled();
      for (const publish of publishes) expect(publish).not.toHaveBeenCalled();
    } finally {
      release.resolve();
      now.mockRestore();
      publishes.forEach((spy) => spy.mockRestore());
    }
  });

  test('the flag is decided once, at the start: traced only while someone listens on a call channel', () => {
    const where = { address: '127.0.0.1', port: 1 };
    const untraced = new PendingCall('m', -1, undefined, where);
    expect(untraced.traced).toBe(false);
    const rec = recording([RpcChannels.callError]); // one channel is enough
    const traced = new PendingCall('m', -1, undefined, where);
    expect(traced.traced).toBe(true);
    rec.stop();
    // Ends are published for the traced call only; the untraced one stays untraced.
    const late = recording([RpcChannels.callEnd, RpcChannels.callError]);
    untraced.resolve(1);
    traced.resolve(2);
    expect(late.events).toEqual([
      [RpcChannels.callEnd, expect.objectContaining({ call: traced.promise, method: 'm' })],
    ]);
    expect(new PendingCall('m', -1, undefined, where).traced).toBe(true);
    late.stop();
    expect(new PendingCall('m', -1, undefined, where).traced).toBe(false);
  });

  test('a subscriber that comes later sees only the calls that start after it, each with its start', async () => {
    const release = deferred();
    const { port } = await perTest.serve((s) =>
      s.handle('hold', () => release.promise).handle('echo', (p: unknown) => p),
    );
    const c = perTest.client(port);
    const before = c.call('hold');
    const beforeDone = c.call('echo', ['done before']);
    await beforeDone;
    const rec = recording();
    const after = c.call('echo', ['after']);
    release.resolve();
    await Promise.all([before, after]);
    const calls = callTraces(rec.events);
    expect([...calls.keys()]).toEqual([after]);
    // The server side likewise: only the request that started after subscribing.
    await until(() => rec.of(RpcChannels.requestEnd).length === 1);
    expect(requestTraces(rec.events).map((r) => r.start.method)).toEqual(['echo']);
  });
});

test('the channel names are the documented ones', () => {
  expect(RpcChannels).toEqual({
    callStart: 'proj:rpc-lite:call.start',
    callEnd: 'proj:rpc-lite:call.end',
    callError: 'proj:rpc-lite:call.error',
    requestStart: 'proj:rpc-lite:request.start',
    requestEnd: 'proj:rpc-lite:request.end',
  });
});
