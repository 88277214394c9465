/**
 * Connection: graceful close (bytes first, then EOF), close(ms), close many
 * times, a recv pending at close, reset() and reset(ms) with an RST, peer(),
 * socket(), and `await using`.
 */
import { Connection, Server } from '../src';
import {
  deferred,
  firstPatternMismatch,
  pattern,
  rawConnect,
  readToEnd,
  sleep,
  waitFor,
} from '../../../libs/test-support/net';
import { guardLeaks, MiB, serve, type Served, stoppedReading } from './helpers';

let served: Served;
beforeEach(async () => {
  served = await serve();
});
afterEach(async () => {
  await served.shutdown(500);
});
// After the afterEach above (hooks of one block run in order), so that it sees only what a test leaked.
guardLeaks();

test('close() is graceful: the peer gets every byte sent before it, then EOF', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const reading = readToEnd(sock, 1); // a slow reader
  const data = pattern(0, 4 * MiB);
  expect(await conn.send(data)).toBe(data.length);
  expect(await conn.send('tail')).toBe(4);
  await conn.close();
  const r = await reading;
  expect(r.how).toBe('end');
  expect(r.data.length).toBe(data.length + 4);
  expect(firstPatternMismatch(r.data, 0, data.length)).toBe(-1);
  expect(r.data.subarray(data.length).toString()).toBe('tail');
  sock.destroy();
});

test('close() while a send is still pending flushes its bytes before the FIN', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  sock.pause();
  const data = pattern(7, 8 * MiB);
  const sending = conn.send(data); // cannot complete: the peer is not reading
  // Once the peer stops taking bytes, the rest of the 8 MiB waits on backpressure.
  await waitFor(() => stoppedReading(sock), 'the peer to stop taking bytes');
  const closing = conn.close();
  const reading = readToEnd(sock);
  sock.resume();
  await closing;
  await sending; // settles (either way) once the socket is closed
  const r = await reading;
  expect(r.how).toBe('end');
  expect(r.data.length).toBe(data.length);
  expect(firstPatternMismatch(r.data, 7)).toBe(-1);
  sock.destroy();
});

test('close(ms) closes after the delay; until then the connection still works', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const reading = readToEnd(sock);
  let closed = false;
  const closing = conn.close(300).then(() => (closed = true));
  // Part of the scenario, not a synchronization: the connection is used some time into the delay.
  await sleep(30);
  expect(closed).toBe(false);
  expect(conn.socket()).toBeGreaterThan(0);
  expect(await conn.send('still open')).toBe(10);
  sock.write('ping');
  const buf = Buffer.alloc(4);
  expect(await conn.recvn(buf, 4, 2000)).toBe(4);
  expect(buf.toString()).toBe('ping');
  await closing;
  expect(conn.socket()).toBe(-1);
  const r = await reading;
  expect(r.how).toBe('end');
  expect(r.data.toString()).toBe('still open');
  sock.destroy();
});

test('close() and reset() are safe to call many times, in any order, from anywhere', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const reading = readToEnd(sock);
  await Promise.all([conn.close(), conn.close(), conn.close(20)]);
  await conn.close();
  await conn.reset();
  await conn.close(10);
  // Part of the scenario: one more close, called from a timer callback.
  const fromTimer = deferred();
  setTimeout(() => void conn.close().then(fromTimer.resolve), 0);
  await fromTimer.promise;
  expect((await reading).how).toBe('end');
  expect(conn.socket()).toBe(-1);
  // After close, I/O fails cleanly.
  const buf = Buffer.alloc(4);
  expect(await conn.recv(buf, 4, 100)).toBe(-1);
  expect(conn.lastError?.code).toBe('ENOTCONN');
  expect(await conn.send('late')).toBeLessThanOrEqual(0);
  sock.destroy();
});

test('a recv pending at close() resolves -1', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const pending = conn.recv(Buffer.alloc(8));
  const pendingExact = conn.recvn(Buffer.alloc(8), 8, 5000).catch((e: unknown) => e); // concurrent: rejected at once
  expect(await pendingExact).toMatchObject({ code: 'ERR_CONCURRENT_RECV' });
  await conn.close();
  expect(await pending).toBe(-1);
  sock.destroy();
});

test('reset() aborts with an RST: the peer reads ECONNRESET', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const reading = readToEnd(sock);
  expect(await conn.send('before')).toBe(6);
  await waitFor(() => sock.bytesRead === 6, 'the peer to read the bytes sent before the reset');
  await conn.reset();
  const r = await reading;
  expect(r.data.toString()).toBe('before');
  expect(r.how).toBe('error');
  expect(r.error?.code).toBe('ECONNRESET');
  expect(conn.socket()).toBe(-1);
  sock.destroy();
});

test('reset(ms) resets after the delay', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const reading = readToEnd(sock);
  let done = false;
  const resetting = conn.reset(300).then(() => (done = true));
  // Part of the scenario, not a synchronization: the connection is used some time into the delay.
  await sleep(20);
  expect(done).toBe(false);
  expect(await conn.send('in time')).toBe(7);
  await resetting;
  const r = await reading;
  expect(r.data.toString()).toBe('in time');
  expect(r.how).toBe('error');
  expect(r.error?.code).toBe('ECONNRESET');
  sock.destroy();
});

test('a recv pending at reset() resolves -1', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const pending = conn.recvn(Buffer.alloc(8), 8);
  await conn.reset();
  expect(await pending).toBe(-1);
  sock.destroy();
});

test('peer() is "ip:port" of the remote end; socket() is a descriptor while open and -1 after close', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  const localPort = sock.localPort;
  expect(conn.peer()).toBe(`127.0.0.1:${localPort}`);
  const fd = conn.socket();
  expect(Number.isInteger(fd)).toBe(true);
  expect(fd).toBeGreaterThan(0);
  await conn.close();
  expect(conn.socket()).toBe(-1);
  expect(conn.peer()).toBe(`127.0.0.1:${localPort}`); // still known after close
  sock.destroy();
});

test('a Connection has no lastError and an empty strerror() until something fails', async () => {
  const sock = await rawConnect(served.port);
  const conn = await served.nextConn();
  expect(conn.lastError).toBeNull();
  expect(conn.strerror()).toBe('');
  expect(await conn.recv(Buffer.alloc(4), 4, 10)).toBe(-1);
  expect(conn.strerror()).toBe(conn.lastError!.message);
  sock.destroy();
});

test('`await using conn` closes the connection at the end of the block', async () => {
  const handlerDone = deferred();
  const afterBlock = deferred();
  const server = new Server().onConnection(async (conn: Connection) => {
    {
      await using c = conn;
      await c.send('in block');
    }
    afterBlock.resolve();
    await handlerDone.promise; // the handler has not returned: only `using` can have closed it
  });
  await server.start('127.0.0.1', 0);
  const sock = await rawConnect(server.address()!.port);
  const r = await readToEnd(sock);
  await afterBlock.promise;
  expect(r.how).toBe('end');
  expect(r.data.toString()).toBe('in block');
  await waitFor(() => server.connNum() === 0, 'the connection to close');
  handlerDone.resolve();
  sock.destroy();
  await server.shutdown(500);
});
