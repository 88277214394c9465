/** Timeouts, AbortSignal, dropped connections, reconnecting, failing to connect. */
import { RpcError, RpcServer } from '../src';
import { Client } from '@proj/tcp';
import { RawPeer, closedAfterEach, guardLeaks, rejection, until, type Started } from './helpers';
import { rawServer } from '../../../libs/test-support/net';

const perTest = closedAfterEach(500);
const { client } = perTest;
guardLeaks();

/** A server whose 'hold' calls wait until the test releases them (no timer involved). */
async function holdServer(
  port = 0,
): Promise<Started & { release(v?: unknown): void; held(): number; calls(): number }> {
  let waiting: Array<(v: unknown) => void> = [];
  let calls = 0;
  const errors: Started['errors'] = [];
  const server = new RpcServer({ onError: (err, peer) => errors.push({ err, peer }) })
    .handle('echo', (p: unknown) => p)
    .handle('hold', (_p, ctx) => {
      calls++;
      return new Promise((resolve) => {
        waiting.push(resolve);
        ctx.signal.addEventListener('abort', () => resolve('aborted'));
      });
    });
  await server.start('127.0.0.1', port);
  const s = {
    server,
    port: server.address()!.port,
    errors,
    release(v: unknown = 'released') {
      const w = waiting;
      waiting = [];
      for (const resolve of w) resolve(v);
    },
    held: () => waiting.length,
    calls: () => calls,
  };
  perTest.own(server);
  return s;
}

describe('timeouts', () => {
  test('a call past its timeoutMs rejects with TIMEOUT at once; its late answer is dropped quietly', async () => {
    const s = await holdServer();
    const c = client(s.port);
    expect(await c.call('echo', [0])).toEqual([0]);
    const t0 = Date.now();
    const err = await rejection(c.call('hold', [], { timeoutMs: 50 }));
    const took = Date.now() - t0;
    expect(err.code).toBe('TIMEOUT');
    expect(err.method).toBe('hold');
    expect(took).toBeGreaterThanOrEqual(45);
    expect(took).toBeLessThan(1000);
    // The answer comes later, to nobody; the connection goes on and matches msgids right.
    s.release('late');
    const answers = await Promise.all([c.call('echo', ['a']), c.call('echo', ['b'])]);
    expect(answers).toEqual([['a'], ['b']]);
    expect(s.server.connNum()).toBe(1);
  });

  test('the client default timeoutMs applies; a call can lift it with a negative timeoutMs', async () => {
    const s = await holdServer();
    const c = client(s.port, { timeoutMs: 40 });
    expect((await rejection(c.call('hold'))).code).toBe('TIMEOUT');
    const open = c.call('hold', [], { timeoutMs: -1 });
    // A call with the default limit, made after `open`, times out: `open` has outlived that limit by now.
    expect((await rejection(c.call('hold'))).code).toBe('TIMEOUT');
    await until(() => s.held() === 3);
    s.release('no limit');
    expect(await open).toBe('no limit');
  });

  test('no timer runs for a call without a timeout; one runs for a call with one, and is cleared', async () => {
    const s = await holdServer();
    const c = client(s.port);
    await c.call('echo');
    const made: unknown[] = [];
    const cleared: unknown[] = [];
    const realSetTimeout = global.setTimeout;
    const realClearTimeout = global.clearTimeout;
    const setSpy = jest
      .spyOn(global, 'setTimeout')
      .mockImplementation((fn: () => void, ms?: number, ...args: unknown[]) => {
        const t = (realSetTimeout as (f: () => void, ms?: number, ...rest: unknown[]) => NodeJS.Timeout)(
          fn,
          ms,
          ...args,
        );
        made.push(t);
        return t;
      });
    const clearSpy = jest.spyOn(global, 'clearTimeout').mockImplementation((t) => {
      cleared.push(t);
      realClearTimeout(t);
    });
    try {
      const open = c.call('hold');
      expect(made).toHaveLength(0);
      const timed = c.call('hold', [], { timeoutMs: 60_000 });
      expect(made).toHaveLength(1);
      await until(() => s.held() === 2);
      s.release();
      await Promise.all([open, timed]);
      expect(cleared).toContain(made[0]);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });
});

describe('AbortSignal', () => {
  test('aborting rejects the call at once with ABORTED (reason as cause); the connection goes on', async () => {
    const s = await holdServer();
    const c = client(s.port);
    const ac = new AbortController();
    const pending = rejection(c.call('hold', [], { signal: ac.signal }));
    await until(() => s.held() === 1);
    const reason = new Error('user left');
    ac.abort(reason);
    const err = await pending;
    expect(err.code).toBe('ABORTED');
    expect(err.cause).toBe(reason);
    s.release();
    expect(await c.call('echo', ['next'])).toEqual(['next']);
  });

  test('an already aborted signal: ABORTED, and nothing is sent', async () => {
    const s = await holdServer();
    const c = client(s.port);
    await c.call('echo');
    const err = await rejection(c.call('hold', [], { signal: AbortSignal.abort() }));
    expect(err.code).toBe('ABORTED');
    await c.call('echo');
    expect(s.calls()).toBe(0);
  });

  test('AbortSignal.timeout works with a timeout of the call too; whichever comes first wins', async () => {
    const s = await holdServer();
    const c = client(s.port);
    const err = await rejection(c.call('hold', [], { signal: AbortSignal.timeout(30), timeoutMs: 5000 }));
    expect(err.code).toBe('ABORTED');
    const err2 = await rejection(c.call('hold', [], { signal: AbortSignal.timeout(5000), timeoutMs: 30 }));
    expect(err2.code).toBe('TIMEOUT');
  });
});

describe('dropped connections', () => {
  test('a drop rejects every pending call promptly with CONNECTION_CLOSED; the next call reconnects', async () => {
    const s = await holdServer();
    const port = s.port;
    const c = client(port);
    const pending = [
      rejection(c.call('hold')),
      rejection(c.call('hold')),
      rejection(c.call('hold', [], { timeoutMs: 10_000 })),
    ];
    await until(() => s.held() === 3);
    const t0 = Date.now();
    // The server goes away abruptly: its handlers never answer, the connection is reset.
    await s.server.shutdown(0);
    const errs = await Promise.all(pending);
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const e of errs) expect(e.code).toBe('CONNECTION_CLOSED');

    // Nobody listens now: the next call fails to connect...
    const refused = await rejection(c.call('echo', ['x']));
    expect(refused.code).toBe('CONNECT_FAILED');
    expect((refused.cause as { code?: string }).code).toBe('ECONNREFUSED');
    // ...and once a server is back on the port, the next call connects again.
    const again = await holdServer(port);
    expect(await c.call('echo', ['back'])).toEqual(['back']);
    expect(again.server.connNum()).toBe(1);
  });

  test('a peer that closes mid-response: pending calls fail, the client recovers', async () => {
    // A raw server that answers the first frame with half a frame and then closes.
    const raw = await rawServer((sock) => sock.once('data', () => sock.end(Buffer.from([0, 0, 0, 9, 0x94]))));
    try {
      const c = client(raw.port);
      const err = await rejection(c.call('echo', ['x']));
      expect(err.code).toBe('CONNECTION_CLOSED');
    } finally {
      await raw.close();
    }
  });

  test('a server that sends garbage: CONNECTION_CLOSED with the reason as cause', async () => {
    const raw = await rawServer((sock) => sock.once('data', () => sock.write(Buffer.from([0, 0, 0, 1, 0xc1]))));
    try {
      const c = client(raw.port);
      const err = await rejection(c.call('echo', ['x']));
      expect(err.code).toBe('CONNECTION_CLOSED');
      expect(((err.cause as RpcError).cause as RpcError).code).toBe('BAD_MESSAGE');
    } finally {
      await raw.close();
    }
  });
});

test('a connection the server drops for idleness is replaced by the next call', async () => {
  const s = await perTest.serve((server) => server.handle('echo', (p: unknown) => p), { idleTimeoutMs: 100 });
  const connects = jest.spyOn(Client.prototype, 'connect');
  const c = client(s.port);
  expect(await c.call('echo', [1])).toEqual([1]);
  // The client's connection, as @proj/tcp sees it: once the reset has reached it, the client
  // knows the connection is gone (that is what it checks before it uses one).
  const [conn] = connects.mock.contexts as Client[];
  connects.mockRestore();
  await until(() => s.server.connNum() === 0 && !conn.connected());
  expect(await c.call('echo', [2])).toEqual([2]);
  expect(s.server.connNum()).toBe(1);
});

describe('connecting', () => {
  test('nobody listening: CONNECT_FAILED with ECONNREFUSED as cause', async () => {
    const s = await holdServer();
    const port = s.port;
    await s.server.shutdown(0);
    const c = client(port);
    const err = await rejection(c.call('echo'));
    expect(err.code).toBe('CONNECT_FAILED');
    expect(err.port).toBe(port);
    expect((err.cause as { code?: string }).code).toBe('ECONNREFUSED');
    expect((await rejection(c.notify('echo'))).code).toBe('CONNECT_FAILED');
  });

  test('connectTimeoutMs bounds a connect that never completes (a TLS handshake nobody answers)', async () => {
    const silent = await rawServer(); // accepts, never speaks
    try {
      const c = client(silent.port, { ssl: true, connectTimeoutMs: 150 });
      const t0 = Date.now();
      const err = await rejection(c.call('echo'));
      expect(err.code).toBe('CONNECT_FAILED');
      expect((err.cause as { code?: string }).code).toBe('ETIMEDOUT');
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });

  test('a call timeout covers the connect; close() ends a connect in progress', async () => {
    const silent = await rawServer();
    try {
      const c = client(silent.port, { ssl: true, connectTimeoutMs: 30_000 });
      const t0 = Date.now();
      expect((await rejection(c.call('echo', [], { timeoutMs: 80 }))).code).toBe('TIMEOUT');
      expect(Date.now() - t0).toBeLessThan(2000);
      const ac = new AbortController();
      const aborted = rejection(c.call('echo', [], { signal: ac.signal }));
      ac.abort();
      expect((await aborted).code).toBe('ABORTED');
      const stuck = rejection(c.call('echo'));
      const t1 = Date.now();
      await c.close();
      expect((await stuck).code).toBe('CONNECTION_CLOSED');
      expect(Date.now() - t1).toBeLessThan(2000);
    } finally {
      await silent.close();
    }
  });

  test('calls made while connecting wait for that connection rather than opening more', async () => {
    const s = await holdServer();
    const c = client(s.port, { connections: 2 });
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('echo', [i])));
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => [i]));
    expect(s.server.connNum()).toBe(2);
  });
});

test('a raw peer and an RpcClient share the server; the raw one going away harms nobody', async () => {
  const s = await holdServer();
  const c = client(s.port);
  const p = await RawPeer.connect(s.port);
  p.write([0, 0, 0, 3]);
  p.destroy();
  await p.closed;
  expect(await c.call('echo', ['fine'])).toEqual(['fine']);
});
