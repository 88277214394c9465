/**
 * Draining for rolling restarts: `shutdown` tells every client it is going
 * away (`[2, "rpc.goaway", []]`), serves what each sent until it closes, and
 * only then closes; an `RpcClient` told so sends no new call on that
 * connection and opens another; a call never written to a connection that
 * closed goes on a new one; a call written and unanswered fails
 * `CONNECTION_CLOSED`. And with `goAway: false`, what it loses.
 */
import { pack, unpack } from 'msgpackr';
import { RpcServer, type RpcError } from '../src';
import { RawPeer, closedAfterEach, frame, guardLeaks, rejection, startServer, until } from './helpers';

const { client, own } = closedAfterEach(1000);
guardLeaks();

/** A server on `port` (0: any; else a restart in place on a port just freed) named `name`: `who` answers its name, `hold` waits until released, `echo` echoes. */
async function named(
  name: string,
  port = 0,
  options = {},
): Promise<{ server: RpcServer; port: number; release: () => void; held: () => number }> {
  let release!: () => void;
  let held = 0;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const server = new RpcServer(options)
    .handle('who', () => name)
    .handle('echo', (p: unknown) => p)
    .handle('hold', async () => {
      held++;
      await gate;
      return `${name} released`;
    });
  await server.start('127.0.0.1', port);
  own(server);
  return { server, port: server.address()!.port, release, held: () => held };
}

test('the wire: the first thing a client hears is [2, "rpc.goaway", []]; what it sends after is still served until it closes', async () => {
  const a = await named('a');
  const p = await RawPeer.connect(a.port);
  p.write(frame(pack([0, 1, 'who', []])));
  expect(unpack(await p.frame())).toEqual([1, 1, null, 'a']);
  let shutDown = false;
  const shutdown = a.server.shutdown(5000).then(() => (shutDown = true));
  // The bytes docs/rpc-lite-wire-format.md gives.
  expect((await p.frame()).toString('hex')).toBe('9302aa7270632e676f6177617990');
  // Sent before this peer acted on it: served.
  p.write(frame(pack([0, 2, 'echo', ['late']])));
  expect(unpack(await p.frame())).toEqual([1, 2, null, ['late']]);
  expect(shutDown).toBe(false);
  // The client closing is what ends the drain.
  p.sock.end();
  await shutdown;
  await p.closed;
});

test('a client told so finishes its calls on the old connection and sends new ones on a new one: nothing fails', async () => {
  const a = await named('a');
  const c = client(a.port);
  expect(await c.call('who')).toBe('a');
  const held = c.call('hold');
  await until(() => a.held() === 1);
  const shutdown = a.server.shutdown(10_000);
  // The port is taken over by a new server, as a restart does.
  const b = await named('b', a.port);
  // Calls in a burst while the goaway travels: those written before the client read it are served by a, the rest by b.
  const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => c.call('echo', [i])));
  expect(burst).toEqual(Array.from({ length: 200 }, (_, i) => [i]));
  await until(() => a.server.connNum() === 1); // only the connection with the held call is left on a
  expect(await c.call('who')).toBe('b');
  a.release();
  expect(await held).toBe('a released');
  await shutdown;
  expect(a.server.connNum()).toBe(0);
  expect(b.server.connNum()).toBe(1);
});

test('goAway: false: nobody is told; a call sent during the shutdown is not run and fails CONNECTION_CLOSED', async () => {
  const a = await named('a', 0, { goAway: false });
  const c = client(a.port);
  const held = c.call('hold');
  await until(() => a.held() === 1);
  const shutdown = a.server.shutdown(10_000);
  const late = c.call('echo', ['late']);
  a.release();
  expect(await held).toBe('a released');
  expect((await rejection(late)).code).toBe('CONNECTION_CLOSED');
  await shutdown;
});

test('a peer that ignores rpc.goaway is served until the grace period ends, then reset', async () => {
  const a = await named('a');
  const p = await RawPeer.connect(a.port);
  const shutdown = a.server.shutdown(300);
  expect(unpack(await p.frame())).toEqual([2, 'rpc.goaway', []]);
  p.write(frame(pack([0, 7, 'echo', [7]])));
  expect(unpack(await p.frame())).toEqual([1, 7, null, [7]]);
  await shutdown;
  await p.closed;
});

test('options: goAway must be a boolean', () => {
  expect(() => new RpcServer({ goAway: 'yes' as unknown as boolean })).toThrow(/goAway must be a boolean/);
});

test('a peer that does not know rpc.goaway takes it as an unknown notification and goes on', async () => {
  // An older server told it: reported as a notification without a handler, and it goes on serving.
  const s = await startServer((server) => server.handle('echo', (p: unknown) => p), {});
  own(s.server);
  const c = client(s.port);
  await c.notify('rpc.goaway', []);
  expect(await c.call('echo', [1])).toEqual([1]);
  await until(() => s.errors.length === 1);
  expect((s.errors[0].err as RpcError).code).toBe('METHOD_NOT_FOUND');
});
