/**
 * RpcServer with `workers` and a `service` module: calls are served on every
 * worker, the count is one, errors reach onError on the calling thread, a
 * service that fails at load fails start, shutdown lets calls in flight
 * finish. Where this Node cannot spread connections over threads, start
 * rejects with ERR_WORKERS_UNSUPPORTED, and that is asserted.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TcpError, workerDistributions } from '@proj/tcp';
import { pack, unpack } from 'msgpackr';
import { RpcClient, RpcServer } from '../src';
import { RawPeer, frame } from './helpers';

const FIXTURES = join(__dirname, 'fixtures');

/** Starts `server`; where this Node has no way to use workers, asserts the clear error and returns false. */
async function startOrUnsupported(server: RpcServer): Promise<boolean> {
  if ((await workerDistributions()).length > 0) {
    await server.start('127.0.0.1', 0);
    return true;
  }
  const err = await server.start('127.0.0.1', 0).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TcpError);
  expect(err).toMatchObject({ code: 'ERR_WORKERS_UNSUPPORTED' });
  return false;
}

test('options: workers and service go together; handle() is refused with workers', () => {
  expect(() => new RpcServer({ workers: 2 })).toThrow(/workers needs a service module/);
  expect(() => new RpcServer({ service: 'x.mjs' })).toThrow(/service needs the workers option/);
  expect(() => new RpcServer({ workers: 2, service: '' })).toThrow(TypeError);
  const s = new RpcServer({ workers: 1, service: join(FIXTURES, 'service.mjs') });
  expect(() => s.handle('x', () => 1)).toThrow(/service module/);
});

test('an object of methods, served on 2 workers: 16 connections over both, every call answered, errors as on one thread', async () => {
  const errors: Error[] = [];
  const server = new RpcServer({ workers: 2, service: pathToFileURL(join(FIXTURES, 'service.mjs')), onError: (e) => errors.push(e) });
  if (!(await startOrUnsupported(server))) return;
  const port = server.address()!.port;
  const client = new RpcClient('127.0.0.1', port, { connections: 16 });
  try {
    // 64 calls in flight over 16 connections.
    const threads = await Promise.all(Array.from({ length: 64 }, () => client.call<number>('thread')));
    expect(new Set(threads).size).toBe(2);
    expect(server.connNum()).toBe(16);
    expect(server.workerLoad().reduce((a, b) => a + b)).toBe(16);
    expect(await client.call('echo', ['héllo'])).toBe('héllo');
    await expect(client.call('fail')).rejects.toMatchObject({ code: 'ASKED', remote: true });
    // Two spins at once on two workers run in parallel: they overlap.
    const spins = await Promise.all([client.call<number>('spin', [50]), client.call<number>('spin', [50])]);
    expect(spins.every((t) => threads.includes(t))).toBe(true);
  } finally {
    await client.close();
    await server.shutdown(2000);
  }
  expect(server.connNum()).toBe(0);
});

test('a function that registers handlers; a failing notification reaches onError on the calling thread', async () => {
  const errors: Array<[Error, string | null]> = [];
  const server = new RpcServer({ workers: 2, service: join(FIXTURES, 'register.cjs'), onError: (e, peer) => errors.push([e, peer]) });
  if (!(await startOrUnsupported(server))) return;
  const client = new RpcClient('127.0.0.1', server.address()!.port);
  try {
    expect(await client.call('add', [2, 3])).toBe(5);
    await client.notify('notify-fails');
    const deadline = Date.now() + 5000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(errors).toHaveLength(1);
    expect(errors[0][0].message).toMatch(/this notification handler fails/);
    expect(errors[0][1]).toMatch(/^127\.0\.0\.1:\d+$/);
  } finally {
    await client.close();
    await server.shutdown(2000);
  }
});

test('shutdown lets calls in flight in every worker finish', async () => {
  const server = new RpcServer({ workers: 2, service: join(FIXTURES, 'service.mjs') });
  if (!(await startOrUnsupported(server))) return;
  const port = server.address()!.port;
  // One connection per client, until two clients sit on different workers.
  const byThread = new Map<number, RpcClient>();
  const clients: RpcClient[] = [];
  try {
    while (byThread.size < 2) {
      const c = new RpcClient('127.0.0.1', port, { connections: 1 });
      clients.push(c);
      const t = await c.call<number>('thread');
      if (!byThread.has(t)) byThread.set(t, c);
    }
    const calls = [...byThread.values()].flatMap((c) => Array.from({ length: 8 }, () => c.call<string>('slow', [300])));
    // A connection's requests are read in order: once a later call is answered, the slow ones have arrived.
    await Promise.all([...byThread.values()].map((c) => c.call('echo', [1])));
    await server.shutdown(5000);
    expect(await Promise.all(calls)).toEqual(calls.map(() => 'slow done'));
  } finally {
    for (const c of clients) await c.close();
  }
});

test('a service module that throws at load fails start with ERR_HANDLER_LOAD', async () => {
  const server = new RpcServer({ workers: 1, service: join(FIXTURES, 'throws.mjs') });
  if ((await workerDistributions()).length === 0) {
    await expect(server.start('127.0.0.1', 0)).rejects.toMatchObject({ code: 'ERR_WORKERS_UNSUPPORTED' });
    return;
  }
  const err = await server.start('127.0.0.1', 0).then(
    () => null,
    (e: unknown) => e as TcpError,
  );
  expect(err).toMatchObject({ code: 'ERR_HANDLER_LOAD' });
  expect(err!.message).toMatch(/the service refuses to load/);
  expect(server.address()).toBeNull();
});

test('shutdown with workers: each worker tells its clients rpc.goaway and serves them until they close', async () => {
  const server = new RpcServer({ workers: 1, service: pathToFileURL(join(FIXTURES, 'service.mjs')) });
  if (!(await startOrUnsupported(server))) return;
  const p = await RawPeer.connect(server.address()!.port);
  p.write(frame(pack([0, 1, 'echo', ['x']])));
  expect(unpack(await p.frame())).toEqual([1, 1, null, 'x']);
  let done = false;
  const shutdown = server.shutdown(10_000).then(() => (done = true));
  expect(unpack(await p.frame())).toEqual([2, 'rpc.goaway', []]);
  p.write(frame(pack([0, 2, 'echo', ['after']])));
  expect(unpack(await p.frame())).toEqual([1, 2, null, 'after']);
  expect(done).toBe(false);
  p.sock.end();
  await shutdown;
  await p.closed;
});
