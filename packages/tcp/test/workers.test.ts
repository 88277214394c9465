/**
 * Server with `workers`: connections spread over worker threads (handoff and
 * reuseport, each where this Node has it; elsewhere `start` must reject with
 * ERR_WORKERS_UNSUPPORTED), one exact count and one limit across them, the
 * fast paths in every worker, TLS in every worker, two handlers running at
 * once, shutdown with every worker busy, and no thread or descriptor left.
 */
import { Client, Server, type TcpError } from '../src';
import { makeTestCerts, type TestCerts } from '../../../test-support/certs';
import { rawConnect, readToEnd, waitFor } from '../../../test-support/net';
import { guardLeaks } from './helpers';
import { ECHO, INTERNALS_OFF, MODES, type Mode, fdCount, settledThreadCount, startOrUnsupported, threadCount, whoami } from './workers-helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

const name = (mode: Mode): string => mode ?? 'default';

async function connect(port: number, tlsCa?: string): Promise<Client> {
  const c = tlsCa === undefined ? new Client('127.0.0.1', port) : new Client('127.0.0.1', port, true, { ca: tlsCa });
  expect(await c.connect(5000)).toBe(true);
  return c;
}

function expectFastPaths(who: Awaited<ReturnType<typeof whoami>>): void {
  if (INTERNALS_OFF) {
    expect(who.fastPaths).toMatchObject({ directWrite: false, onreadAccept: false, tlsOnread: false, tlsWriteAtOnce: false });
    expect(who.inUse).toEqual({ directWrite: false, onread: false });
  } else {
    expect(who.fastPaths).toEqual({ directWrite: true, onreadAccept: true, tlsOnread: true, tlsWriteAtOnce: true, reason: '' });
    expect(who.inUse).toEqual({ directWrite: true, onread: true });
  }
}

describe('options and handlers', () => {
  test('workers, distribution and exclusive are checked at once', () => {
    expect(() => new Server({ workers: 0 })).toThrow(RangeError);
    expect(() => new Server({ workers: 1.5 })).toThrow(RangeError);
    expect(() => new Server({ workers: 'many' as unknown as number })).toThrow(RangeError);
    expect(() => new Server({ workers: 2, distribution: 'random' as 'handoff' })).toThrow(TypeError);
    expect(() => new Server({ distribution: 'handoff' })).toThrow(/needs the workers option/);
    expect(() => new Server({ exclusive: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(new Server({ workers: 'auto' }).workerLoad().length).toBeGreaterThan(0);
    expect(new Server().distribution).toBe('single');
  });

  test('a function handler with workers is a TypeError ERR_HANDLER_NOT_MODULE at start; a module without workers, at once', async () => {
    const withWorkers = new Server({ workers: 2 }).onConnection(() => {});
    await expect(withWorkers.start('127.0.0.1', 0)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_HANDLER_NOT_MODULE' });
    await expect(withWorkers.start('127.0.0.1', 0)).rejects.toThrow(/must be a module/);
    expect(() => new Server().onConnection(ECHO)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_HANDLER_NOT_MODULE' }));
    expect(withWorkers.address()).toBeNull();
  });
});

describe.each(MODES)('distribution %s', (mode) => {
  test(`64 connections over 2 workers: both used, exact connNum() as they open and close, fast paths in each (${name(mode)})`, async () => {
    const server = new Server({ workers: 2, distribution: mode }).onConnection(ECHO);
    if (!(await startOrUnsupported(server, mode, '127.0.0.1', 0))) return;
    expect(server.distribution).toBe(mode ?? server.distribution);
    expect(['handoff', 'reuseport']).toContain(server.distribution);
    const port = server.address()!.port;
    const clients: Client[] = [];
    const threads = new Map<number, number>();
    try {
      for (let i = 0; i < 64; i++) {
        const c = await connect(port);
        clients.push(c);
        const who = await whoami(c);
        // Counted where it was accepted, in memory every thread shares: exact once a reply came.
        expect(server.connNum()).toBe(i + 1);
        threads.set(who.threadId, (threads.get(who.threadId) ?? 0) + 1);
        expectFastPaths(who);
      }
      const load = server.workerLoad();
      expect(load).toHaveLength(2);
      expect(load[0] + load[1]).toBe(64);
      expect(threads.size).toBe(2);
      expect([...threads.values()].sort()).toEqual([...load].sort());
      if (server.distribution === 'handoff') {
        // The less loaded of two: as even as can be, whatever the order the handlers ran in.
        expect(Math.max(...load) / Math.min(...load)).toBeLessThanOrEqual(1.5);
      }
      for (let i = 0; i < 32; i++) clients.pop()!.close();
      await waitFor(() => server.connNum() === 32, 'connNum() to drop to 32', 5000);
      expect(server.workerLoad().reduce((a, b) => a + b)).toBe(32);
    } finally {
      for (const c of clients) c.close();
      await server.shutdown(2000);
    }
    expect(server.connNum()).toBe(0);
    expect(server.workerLoad()).toEqual([0, 0]);
  });

  test(`TLS in every worker, and its handshake timeout (${name(mode)})`, async () => {
    const server = new Server({ workers: 2, distribution: mode, handshakeTimeoutMs: 300 }).onConnection(ECHO);
    if (!(await startOrUnsupported(server, mode, '127.0.0.1', 0, certs.keyPath, certs.certPath))) return;
    const port = server.address()!.port;
    const clients: Client[] = [];
    try {
      const threads = new Set<number>();
      for (let i = 0; i < 16; i++) {
        const c = await connect(port, certs.cert);
        clients.push(c);
        const who = await whoami(c);
        threads.add(who.threadId);
        expectFastPaths(who);
        expect(server.connNum()).toBe(i + 1);
      }
      expect(threads.size).toBe(2);
      // A peer that never starts its handshake is dropped by the worker that holds it.
      const silent = await rawConnect(port);
      const silentEnd = await readToEnd(silent);
      expect(silentEnd.data.length).toBe(0);
      silent.destroy();
      expect(server.connNum()).toBe(16);
    } finally {
      for (const c of clients) c.close();
      await server.shutdown(2000);
    }
  });

  test(`maxConnections bounds the total across workers (${name(mode)})`, async () => {
    const server = new Server({ workers: 2, distribution: mode, maxConnections: 5 }).onConnection(ECHO);
    if (!(await startOrUnsupported(server, mode, '127.0.0.1', 0))) return;
    const port = server.address()!.port;
    const clients: Client[] = [];
    try {
      let served = 0;
      for (let i = 0; i < 12; i++) {
        const c = new Client('127.0.0.1', port);
        clients.push(c);
        if (!(await c.connect(5000))) continue;
        // A refused connection is reset at once: its round trip fails.
        if ((await c.send('ping')) === 4 && (await c.recvn(Buffer.alloc(4), 4, 5000)) === 4) served++;
      }
      expect(served).toBe(5);
      expect(server.connNum()).toBe(5);
      expect(server.workerLoad().reduce((a, b) => a + b)).toBe(5);
    } finally {
      for (const c of clients) c.close();
      await server.shutdown(2000);
    }
  });

  test(`two CPU-bound handlers run at once on 2 workers (${name(mode)})`, async () => {
    const server = new Server({ workers: 2, distribution: mode }).onConnection(ECHO);
    if (!(await startOrUnsupported(server, mode, '127.0.0.1', 0))) return;
    const port = server.address()!.port;
    const clients: Client[] = [];
    try {
      // Connect until two clients sit on different workers (reuseport's hash may put the first two together).
      const byThread = new Map<number, Client>();
      while (byThread.size < 2) {
        const c = await connect(port);
        clients.push(c);
        const who = await whoami(c);
        if (!byThread.has(who.threadId)) byThread.set(who.threadId, c);
      }
      const spin = async (c: Client): Promise<[number, number]> => {
        const start = Date.now();
        expect(await c.send('spin 300')).toBe(8);
        expect(await c.recvn(Buffer.alloc(8), 8, 10_000)).toBe(8);
        return [start, Date.now()];
      };
      const t0 = Date.now();
      const [a, b] = await Promise.all([...byThread.values()].map(spin));
      const wall = Date.now() - t0;
      // On one thread the second spin could only start once the first ended: 600 ms or more.
      // Two threads finish both in about 300 ms; the margin is for a busy shared machine.
      expect(wall).toBeLessThan(540);
      expect(Math.max(a[0], b[0])).toBeLessThan(Math.min(a[1], b[1]));
    } finally {
      for (const c of clients) c.close();
      await server.shutdown(2000);
    }
  });

  test(`shutdown with connections busy in every worker closes them all, onExit once, no thread or fd left (${name(mode)})`, async () => {
    // Warm up what a first server starts once per process (the libuv thread pool, ...), then count.
    const warm = new Server({ workers: 1, distribution: mode }).onConnection(ECHO);
    if (!(await startOrUnsupported(warm, mode, '127.0.0.1', 0))) return;
    await warm.shutdown(1000);
    const threads0 = await settledThreadCount();
    const fds0 = fdCount();
    let exits = 0;
    const server = new Server({ workers: 2, distribution: mode })
      .onConnection(ECHO)
      .onExit(() => exits++);
    await server.start('127.0.0.1', 0);
    expect(threadCount()).toBeGreaterThanOrEqual(threads0 + 2);
    const port = server.address()!.port;
    const clients: Client[] = [];
    const threads = new Set<number>();
    while (threads.size < 2 || clients.length < 8) {
      const c = await connect(port);
      clients.push(c);
      threads.add((await whoami(c)).threadId);
    }
    // Every handler is now waiting in recv: shutdown closes them gracefully (FIN), the clients read 0.
    const reads = clients.map((c) => c.recv(Buffer.alloc(8), 8, 10_000));
    await server.shutdown(3000);
    expect(await Promise.all(reads)).toEqual(clients.map(() => 0));
    expect(server.connNum()).toBe(0);
    expect(server.address()).toBeNull();
    expect(exits).toBe(1);
    for (const c of clients) c.close();
    await waitFor(() => threadCount() <= threads0, `the thread count to return to ${threads0} (now ${threadCount()})`, 5000);
    await waitFor(() => fdCount() <= fds0, `the fd count to return to ${fds0} (now ${fdCount()})`, 5000);
    expect(exits).toBe(1);
  });
});

test('a handler error reaches onError on the calling thread, with the peer address, conn null', async () => {
  const errors: Array<[TcpError, unknown]> = [];
  const server = new Server({ workers: 2, onError: (e, conn) => errors.push([e, conn]) }).onConnection(ECHO);
  if (!(await startOrUnsupported(server, undefined, '127.0.0.1', 0))) return;
  const c = await connect(server.address()!.port);
  try {
    expect(await c.send('throw\n')).toBe(6);
    expect(await c.recv(Buffer.alloc(8), 8, 5000)).toBeLessThanOrEqual(0);
    await waitFor(() => errors.length === 1, 'the handler error');
    const [err, conn] = errors[0];
    expect(conn).toBeNull();
    expect(err).toMatchObject({ name: 'TcpError', code: 'ERR_HANDLER', address: '127.0.0.1' });
    expect(err.port).toBeGreaterThan(0);
    expect(err.message).toMatch(/the handler was asked to throw/);
    expect((err.cause as Error).message).toBe('the handler was asked to throw');
  } finally {
    c.close();
    await server.shutdown(2000);
  }
});

test('idleTimeoutMs ends an idle connection in a worker as on one thread', async () => {
  const server = new Server({ workers: 2, idleTimeoutMs: 300 }).onConnection(ECHO);
  if (!(await startOrUnsupported(server, undefined, '127.0.0.1', 0))) return;
  const c = await connect(server.address()!.port);
  try {
    expect((await whoami(c)).threadId).toBeGreaterThan(0);
    expect(server.connNum()).toBe(1);
    // Nothing more is sent: the worker resets the connection after 300 ms of silence.
    expect(await c.recv(Buffer.alloc(8), 8, 10_000)).toBeLessThanOrEqual(0);
    expect(c.lastError?.code).not.toBe('ETIMEDOUT');
    await waitFor(() => server.connNum() === 0, 'the idle connection to be uncounted');
  } finally {
    c.close();
    await server.shutdown(2000);
  }
});

test('drain reaches every worker: idle connections end at once, a request in progress finishes first', async () => {
  const server = new Server({ workers: 2 }).onConnection(ECHO);
  if (!(await startOrUnsupported(server, undefined, '127.0.0.1', 0))) return;
  const port = server.address()!.port;
  const clients: Client[] = [];
  try {
    const byThread = new Map<number, Client>();
    while (byThread.size < 2 || clients.length < 6) {
      const c = await connect(port);
      clients.push(c);
      const id = (await whoami(c)).threadId;
      if (!byThread.has(id)) byThread.set(id, c);
    }
    const busy = [...byThread.values()];
    for (const c of busy) {
      expect(await c.send('spin 300')).toBe(8);
      expect(await c.recvn(Buffer.alloc(3), 3, 5000)).toBe(3);
    }
    // Both spins are under way when the drain starts; their replies still come.
    const drained = server.drain(5000);
    for (const c of busy) {
      const buf = Buffer.alloc(5);
      expect(await c.recvn(buf, 5, 5000)).toBe(5);
      expect(buf.toString()).toBe('spun\n');
    }
    for (const c of clients) expect(await c.recv(Buffer.alloc(8), 8, 5000)).toBe(0);
    await drained;
    expect(server.connNum()).toBe(0);
  } finally {
    for (const c of clients) c.close();
    await server.shutdown(1000);
  }
});
