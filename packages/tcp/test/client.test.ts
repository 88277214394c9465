/**
 * Client: connect (true, true again at once, one attempt for concurrent
 * calls), refused and timed-out connects, name resolution, '' and ::1, the
 * copy constructor, calls on a client that is not connected, disconnect in
 * every state (idle, pending recv/send, pending connect), reconnect,
 * connected() after the server went away, `await using`, argument checks.
 */
import { Client, Connection, Server } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import {
  closedPort,
  deferred,
  pattern,
  rawConnect,
  rawEchoServer,
  rawServer,
  silentListener,
  waitFor,
} from '../../../libs/test-support/net';
import { guardLeaks, MiB, stoppedReading } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

/** An echo handler: sends back what comes until EOF or an error. */
async function echo(conn: Connection): Promise<void> {
  const buf = Buffer.alloc(1024);
  for (let n; (n = await conn.recv(buf)) > 0;) if ((await conn.send(buf, n)) <= 0) return;
}

async function echoServer(ip = '127.0.0.1'): Promise<Server> {
  const server = new Server().onConnection(echo);
  await server.start(ip, 0);
  return server;
}

async function roundTrip(c: Client, text: string): Promise<string> {
  expect(await c.send(text)).toBe(Buffer.byteLength(text));
  const buf = Buffer.alloc(Buffer.byteLength(text));
  expect(await c.recvn(buf, buf.length, 2000)).toBe(buf.length);
  return buf.toString();
}

describe('connect', () => {
  test('connect returns true, connected() is true, and connect again returns true at once on the same socket', async () => {
    const server = await echoServer();
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(c.connected()).toBe(false);
    expect(c.socket()).toBe(-1);
    expect(await c.connect(2000)).toBe(true);
    expect(c.connected()).toBe(true);
    const fd = c.socket();
    expect(fd).toBeGreaterThan(0);
    expect(c.lastError).toBeNull();
    expect(c.strerror()).toBe('');
    expect(await c.connect(2000)).toBe(true);
    expect(c.socket()).toBe(fd);
    expect(await roundTrip(c, 'hi')).toBe('hi');
    expect(server.connNum()).toBe(1);
    c.close();
    await server.shutdown(1000);
  });

  test('concurrent connect calls make one connection', async () => {
    const accepted: string[] = [];
    const server = new Server().onConnection(async (conn) => {
      accepted.push(conn.peer());
      await echo(conn);
    });
    await server.start('127.0.0.1', 0);
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(await Promise.all([c.connect(2000), c.connect(2000), c.connect()])).toEqual([true, true, true]);
    // A sentinel connection, made after every connect call returned: connections are accepted in
    // the order they were made, so once the server has the sentinel it has every connection c made.
    const sentinel = await rawConnect(server.address()!.port);
    const sentinelPeer = `127.0.0.1:${sentinel.localPort}`;
    await waitFor(() => accepted.includes(sentinelPeer), 'the server to accept the sentinel connection');
    expect(accepted).toHaveLength(2);
    expect(accepted[1]).toBe(sentinelPeer);
    expect(server.connNum()).toBe(2);
    sentinel.destroy();
    c.close();
    await server.shutdown(1000);
  });

  test('connect to a closed port: false, ECONNREFUSED, strerror set, not connected', async () => {
    const port = await closedPort();
    const c = new Client('127.0.0.1', port);
    expect(await c.connect(2000)).toBe(false);
    expect(c.lastError?.code).toBe('ECONNREFUSED');
    expect(c.strerror()).not.toBe('');
    expect(c.strerror()).toContain(String(port));
    expect(c.connected()).toBe(false);
    expect(c.socket()).toBe(-1);
    c.close();
  });

  test('connect timeout: a TLS client against a listener that never answers the handshake gets false with ETIMEDOUT', async () => {
    const silent = await silentListener();
    const c = new Client('127.0.0.1', silent.port, true, { ca: certs.cert });
    expect(await c.connect(100)).toBe(false);
    expect(c.lastError?.code).toBe('ETIMEDOUT');
    expect(c.strerror()).not.toBe('');
    expect(c.connected()).toBe(false);
    // The half-made connection was dropped, not left open.
    await waitFor(() => silent.sockets.size === 0, 'the silent listener to see the client go');
    c.close();
    await silent.close();
  });

  test('a plain client connects to a silent listener (TCP only needs the kernel) and then times out its recv', async () => {
    const silent = await silentListener();
    const c = new Client('127.0.0.1', silent.port);
    expect(await c.connect(1000)).toBe(true);
    expect(await c.recv(Buffer.alloc(4), 4, 50)).toBe(-1);
    expect(c.lastError?.code).toBe('ETIMEDOUT');
    c.close();
    await silent.close();
  });

  test('host names are resolved: "localhost"', async () => {
    const server = await echoServer();
    const c = new Client('localhost', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    expect(await roundTrip(c, 'by name')).toBe('by name');
    c.close();
    await server.shutdown(1000);
  });

  test("'' means 127.0.0.1", async () => {
    const server = await echoServer();
    const c = new Client('', server.address()!.port);
    expect(c.ip).toBe('127.0.0.1');
    expect(await c.connect(2000)).toBe(true);
    expect(await roundTrip(c, 'empty ip')).toBe('empty ip');
    c.close();
    await server.shutdown(1000);
  });

  test('IPv6 ::1', async () => {
    const server = await echoServer('::1');
    const c = new Client('::1', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    expect(await roundTrip(c, 'v6')).toBe('v6');
    c.close();
    await server.shutdown(1000);
  });

  test('a Client talks to a plain node:net echo server: a MiB comes back in order', async () => {
    const raw = await rawEchoServer();
    const c = new Client('127.0.0.1', raw.port);
    expect(await c.connect(2000)).toBe(true);
    const data = pattern(77, MiB);
    const back = Buffer.alloc(data.length);
    const [sent, got] = await Promise.all([c.send(data), c.recvn(back, back.length, 5000)]);
    expect(sent).toBe(data.length);
    expect(got).toBe(data.length);
    expect(back.equals(data)).toBe(true);
    c.close();
    await raw.close();
  });

  test('the constructor connects nothing', async () => {
    const silent = await rawServer();
    const c = new Client('127.0.0.1', silent.port);
    // A sentinel connection, made after the constructor returned: connections are accepted in the
    // order they were made, so a connection the constructor made would be accepted before it.
    const sentinel = await rawConnect(silent.port);
    const first = await silent.nextSocket();
    expect(first.remotePort).toBe(sentinel.localPort);
    expect(silent.sockets.size).toBe(1);
    expect(c.connected()).toBe(false);
    expect(c.socket()).toBe(-1);
    sentinel.destroy();
    await silent.close();
  });
});

describe('copy constructor', () => {
  test('copies ip, port, useSsl and the TLS options, not the connection', async () => {
    const server = new Server().onConnection(echo);
    await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
    const original = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert, servername: 'localhost' });
    expect(await original.connect(2000)).toBe(true);
    const copy = new Client(original);
    expect(copy.ip).toBe(original.ip);
    expect(copy.port).toBe(original.port);
    expect(copy.useSsl).toBe(true);
    expect(copy.tls).toEqual({ ca: certs.cert, servername: 'localhost' });
    expect(copy.connected()).toBe(false);
    expect(copy.socket()).toBe(-1);
    expect(await copy.recv(Buffer.alloc(4), 4, 100)).toBe(-1);
    expect(copy.lastError?.code).toBe('ENOTCONN');
    expect(await copy.connect(2000)).toBe(true); // over TLS, with the copied CA
    expect(copy.socket()).not.toBe(original.socket());
    await waitFor(() => server.connNum() === 2, 'two connections');
    expect(await roundTrip(copy, 'copy')).toBe('copy');
    copy.close();
    expect(original.connected()).toBe(true);
    expect(await roundTrip(original, 'original')).toBe('original');
    original.close();
    await server.shutdown(1000);
  });
});

describe('not connected', () => {
  test('recv, recvn and send on a client that never connected return -1 with ENOTCONN', async () => {
    const c = new Client('127.0.0.1', 9);
    const buf = Buffer.alloc(4);
    expect(await c.recv(buf, 4, 100)).toBe(-1);
    expect(c.lastError?.code).toBe('ENOTCONN');
    expect(c.strerror()).not.toBe('');
    expect(await c.recvn(buf, 4)).toBe(-1);
    expect(c.lastError?.code).toBe('ENOTCONN');
    expect(await c.send('x')).toBe(-1);
    expect(c.lastError?.code).toBe('ENOTCONN');
    expect(c.socket()).toBe(-1);
  });

  test('and after disconnect()', async () => {
    const server = await echoServer();
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    c.disconnect();
    expect(c.connected()).toBe(false);
    expect(c.socket()).toBe(-1);
    expect(await c.recv(Buffer.alloc(4))).toBe(-1);
    expect(c.lastError?.code).toBe('ENOTCONN');
    expect(await c.send('x')).toBe(-1);
    expect(c.lastError?.code).toBe('ENOTCONN');
    await server.shutdown(1000);
  });
});

describe('disconnect', () => {
  test('disconnect() and close() are safe many times and in any state; the server sees the client go', async () => {
    const server = await echoServer();
    const c = new Client('127.0.0.1', server.address()!.port);
    c.disconnect();
    c.close();
    expect(await c.connect(2000)).toBe(true);
    await waitFor(() => server.connNum() === 1, 'the connection');
    c.close();
    c.disconnect();
    c.close();
    await waitFor(() => server.connNum() === 0, 'the server to see the client go');
    await server.shutdown(1000);
  });

  test('disconnect during a pending recv resolves it -1', async () => {
    const server = await echoServer();
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    const pending = c.recv(Buffer.alloc(8));
    // The recv is pending from the moment the call returns (the echo server sends nothing).
    c.disconnect();
    expect(await pending).toBe(-1);
    expect(c.lastError?.code).toBe('ENOTCONN');
    await server.shutdown(1000);
  });

  test('disconnect during a pending send resolves it <= 0', async () => {
    const silent = await rawServer(); // never reads: the send waits
    const c = new Client('127.0.0.1', silent.port);
    expect(await c.connect(2000)).toBe(true);
    const pending = c.send(pattern(0, 32 * MiB));
    // Once the peer stops taking bytes, the rest of the 32 MiB waits on backpressure.
    const peer = await silent.nextSocket();
    await waitFor(() => stoppedReading(peer), 'the server to stop taking bytes');
    c.disconnect();
    expect(await pending).toBeLessThanOrEqual(0);
    await silent.close();
  });

  test('disconnect during connect makes connect resolve false', async () => {
    const silent = await silentListener();
    const c = new Client('127.0.0.1', silent.port, true, { ca: certs.cert });
    const connecting = c.connect(5000);
    // TCP is up once the listener has the socket; the TLS handshake never gets an answer.
    await silent.nextSocket();
    c.disconnect();
    expect(await connecting).toBe(false);
    expect(c.connected()).toBe(false);
    expect(c.lastError).not.toBeNull();
    expect(c.strerror()).not.toBe('');
    await waitFor(() => silent.sockets.size === 0, 'the half-made connection to be dropped');
    await silent.close();
  });

  test('reconnect after disconnect: a new connection that works', async () => {
    const server = await echoServer();
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    expect(await roundTrip(c, 'one')).toBe('one');
    c.disconnect();
    expect(await c.connect(2000)).toBe(true);
    expect(c.connected()).toBe(true);
    expect(await roundTrip(c, 'two')).toBe('two');
    c.close();
    await server.shutdown(1000);
  });

  test('connected() is false once the server closed the connection and the client saw EOF; connect() then reconnects', async () => {
    let calls = 0;
    const server = new Server().onConnection(async (conn) => {
      if (calls++ === 0) return; // closes at once
      await echo(conn);
    });
    await server.start('127.0.0.1', 0);
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    expect(await c.recv(Buffer.alloc(4), 4, 2000)).toBe(0);
    expect(c.connected()).toBe(false);
    expect(await c.connect(2000)).toBe(true);
    expect(c.connected()).toBe(true);
    expect(await roundTrip(c, 'back')).toBe('back');
    c.close();
    await server.shutdown(1000);
  });

  test('connected() is false once the server reset the connection', async () => {
    const server = new Server().onConnection(async (conn) => {
      await conn.recv(Buffer.alloc(1));
      await conn.reset();
    });
    await server.start('127.0.0.1', 0);
    const c = new Client('127.0.0.1', server.address()!.port);
    expect(await c.connect(2000)).toBe(true);
    await c.send('x');
    expect(await c.recv(Buffer.alloc(4), 4, 2000)).toBeLessThan(0);
    expect(c.lastError?.code).toBe('ECONNRESET');
    expect(c.connected()).toBe(false);
    c.close();
    await server.shutdown(1000);
  });

  test('`await using` disconnects at the end of the block', async () => {
    const got = deferred<number>();
    const server = new Server().onConnection(async (conn) => {
      got.resolve(await conn.recv(Buffer.alloc(8), 8, 3000));
    });
    await server.start('127.0.0.1', 0);
    let client: Client;
    {
      await using c = new Client('127.0.0.1', server.address()!.port);
      client = c;
      expect(await c.connect(2000)).toBe(true);
    }
    expect(client.connected()).toBe(false);
    expect(await got.promise).toBe(0); // the server saw EOF
    await server.shutdown(1000);
  });
});

describe('arguments', () => {
  test('bad constructor arguments throw', () => {
    expect(() => new Client('127.0.0.1', 0)).toThrow(RangeError);
    expect(() => new Client('127.0.0.1', 65536)).toThrow(RangeError);
    expect(() => new Client('127.0.0.1', 1.5)).toThrow(RangeError);
    expect(() => new Client('127.0.0.1', '80' as never)).toThrow(RangeError);
    expect(() => new Client(42 as never, 80)).toThrow(TypeError);
    expect(() => new Client('127.0.0.1', 80, true, { certificate: 'x' } as never)).toThrow(TypeError);
    expect(() => new Client('127.0.0.1', 80, true, null as never)).toThrow(TypeError);
  });

  test('connect with a bad ms throws TypeError', async () => {
    const c = new Client('127.0.0.1', 9);
    let error: unknown;
    try {
      await c.connect('100' as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TypeError);
  });
});
