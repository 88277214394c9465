/**
 * Server with `workers` when things go wrong: a handler module that throws at
 * load, is missing or lacks the export; a worker that dies with connections
 * (reported with ERR_WORKER_EXIT, replaced, the server goes on). Where this
 * Node has no way to spread connections, start rejects with
 * ERR_WORKERS_UNSUPPORTED instead, and that is asserted.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Server, type TcpError } from '../src';
import { waitFor } from '../../../test-support/net';
import { guardLeaks } from './helpers';
import { ECHO, FIXTURES, settledThreadCount, startOrUnsupported, threadCount, whoami } from './workers-helpers';

guardLeaks();

async function connect(port: number): Promise<Client> {
  const c = new Client('127.0.0.1', port);
  expect(await c.connect(5000)).toBe(true);
  return c;
}

test('a handler module that throws at load fails start with ERR_HANDLER_LOAD, its error kept, no thread left', async () => {
  const threads0 = await settledThreadCount();
  const server = new Server({ workers: 2 }).onConnection(join(FIXTURES, 'throws-at-load.mjs'));
  const started = await startOrUnsupported(server, undefined, '127.0.0.1', 0).catch((err: TcpError) => err);
  if (started === false) return;
  expect(started).toMatchObject({ name: 'TcpError', code: 'ERR_HANDLER_LOAD' });
  const err = started as TcpError;
  expect(err.message).toMatch(/throws-at-load\.mjs failed to load in a worker thread: this module refuses to load/);
  expect((err.cause as Error).message).toBe('this module refuses to load');
  expect(server.address()).toBeNull();
  await waitFor(() => threadCount() <= threads0, 'the worker threads to end', 5000);
});

test('a missing module fails start with ERR_HANDLER_LOAD', async () => {
  const server = new Server({ workers: 1 }).onConnection(join(FIXTURES, 'no-such-module.mjs'));
  const started = await startOrUnsupported(server, undefined, '127.0.0.1', 0).catch((err: TcpError) => err);
  if (started === false) return;
  expect(started).toMatchObject({ code: 'ERR_HANDLER_LOAD' });
  expect((started as Error).message).toMatch(/no-such-module\.mjs/);
});

test('a module without the export fails start with ERR_NO_HANDLER naming its exports; a named export works', async () => {
  const module = pathToFileURL(join(FIXTURES, 'named.cjs'));
  const wrong = new Server({ workers: 1 }).onConnection(module);
  const started = await startOrUnsupported(wrong, undefined, '127.0.0.1', 0).catch((err: TcpError) => err);
  if (started === false) return;
  expect(started).toMatchObject({ name: 'TcpError', code: 'ERR_NO_HANDLER' });
  expect((started as Error).message).toMatch(/no function export "default".*serve/);

  const right = new Server({ workers: 1 }).onConnection(module, 'serve');
  await right.start('127.0.0.1', 0);
  const c = await connect(right.address()!.port);
  try {
    const buf = Buffer.alloc(16);
    expect(await c.recvUntil(buf, '\n', 5000)).toBe(6);
    expect(buf.toString('latin1', 0, 6)).toBe('named\n');
  } finally {
    c.close();
    await right.shutdown(2000);
  }
});

test.each([undefined, 'reuseport'] as const)(
  'a worker that dies mid-connection is replaced; its connections reach onError with ERR_WORKER_EXIT (%s)',
  async (mode) => {
    const errors: TcpError[] = [];
    const server = new Server({ workers: 2, distribution: mode, onError: (e) => errors.push(e) }).onConnection(ECHO);
    if (!(await startOrUnsupported(server, mode, '127.0.0.1', 0))) return;
    const port = server.address()!.port;
    const clients: Client[] = [];
    try {
      // Two connections on the worker that will die, one at least on the other.
      const byThread = new Map<number, Client[]>();
      const portOf = new Map<Client, number>();
      while (byThread.size < 2 || [...byThread.values()].every((l) => l.length < 2)) {
        const c = await connect(port);
        clients.push(c);
        const who = await whoami(c);
        portOf.set(c, Number(who.peer.split(':').pop()));
        byThread.set(who.threadId, [...(byThread.get(who.threadId) ?? []), c]);
      }
      const [doomedThread, doomed] = [...byThread.entries()].find(([, l]) => l.length >= 2)!;
      const survivors = [...byThread.entries()].filter(([id]) => id !== doomedThread).flatMap(([, l]) => l);
      const before = server.connNum();
      const ports = doomed.map((c) => portOf.get(c)!);
      expect(await doomed[0].send('crash\n')).toBe(6);
      // The worker's sockets close with it.
      for (const c of doomed) expect(await c.recv(Buffer.alloc(8), 8, 5000)).toBeLessThanOrEqual(0);
      await waitFor(() => errors.filter((e) => e.code === 'ERR_WORKER_EXIT').length >= doomed.length, 'ERR_WORKER_EXIT for each lost connection', 5000);
      const lost = errors.filter((e) => e.code === 'ERR_WORKER_EXIT');
      expect(lost.map((e) => e.port).sort()).toEqual(ports.sort());
      for (const e of lost) {
        expect(e.address).toBe('127.0.0.1');
        expect(e.message).toMatch(/the worker was asked to crash/);
      }
      expect(server.connNum()).toBe(before - doomed.length);
      // The survivors still echo, and the replacement serves new connections: both workers again.
      for (const c of survivors) expect((await whoami(c)).threadId).not.toBe(doomedThread);
      // (The replacement takes connections once it has loaded the module: until then the other worker gets them all.)
      const fresh = new Set<number>();
      const deadline = Date.now() + 10_000;
      while (fresh.size < 2 && Date.now() < deadline) {
        const c = await connect(port);
        fresh.add((await whoami(c)).threadId);
        c.close();
      }
      expect(fresh.size).toBe(2);
      expect(fresh.has(doomedThread)).toBe(false);
      expect(server.workerLoad()).toHaveLength(2);
    } finally {
      for (const c of clients) c.close();
      await server.shutdown(2000);
    }
    expect(server.connNum()).toBe(0);
  },
);
