/**
 * TLS: full exchanges for Connection and Client, verification on by default
 * (unknown CA, wrong host name), rejectUnauthorized: false, host names and
 * IPv6 checked against the certificate, client certificates, graceful close
 * and reset() over TLS, and the failures of talking TLS to plain TCP.
 */
import { Client, Connection, Server, TcpError } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import {
  closedPort,
  deferred,
  firstPatternMismatch,
  pattern,
  rawServer,
  waitFor,
} from '../../../libs/test-support/net';
import { guardLeaks, MiB, pair } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

/** An echo handler: sends back what comes until EOF or an error. */
async function echo(conn: Connection): Promise<void> {
  const buf = Buffer.alloc(64 * 1024);
  for (let n; (n = await conn.recv(buf)) > 0;) if ((await conn.send(buf, n)) <= 0) return;
}

async function tlsServer(
  handler = echo,
  options: ConstructorParameters<typeof Server>[0] = {},
  ip = '127.0.0.1',
): Promise<Server> {
  const server = new Server(options).onConnection(handler);
  await server.start(ip, 0, certs.keyPath, certs.certPath);
  return server;
}

async function roundTrip(c: Client, text: string): Promise<string> {
  expect(await c.send(text)).toBe(Buffer.byteLength(text));
  const buf = Buffer.alloc(Buffer.byteLength(text));
  expect(await c.recvn(buf, buf.length, 2000)).toBe(buf.length);
  return buf.toString();
}

test('a full exchange over TLS between our Client and our Connection: MiB each way, in order, then a graceful close', async () => {
  const server = await tlsServer();
  const c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(true);
  expect(c.socket()).toBeGreaterThan(0);
  const data = pattern(123, 3 * MiB);
  const reading = (async () => {
    const buf = Buffer.alloc(100_000);
    let got = 0;
    while (got < data.length) {
      const n = await c.recv(buf, Math.min(buf.length, data.length - got), 5000);
      if (n <= 0) throw new Error(`recv ${n}: ${c.strerror()}`);
      expect(firstPatternMismatch(buf, 123 + got, n)).toBe(-1);
      got += n;
    }
    return got;
  })();
  expect(await c.send(data)).toBe(data.length); // full duplex: the echo comes back meanwhile
  expect(await reading).toBe(data.length);
  c.close();
  await server.shutdown(1000);
});

test.each(['Connection', 'Client'] as const)(
  'TLS %s: one buffer overwritten as soon as each send resolves; the peer gets exactly the bytes sent, in order',
  async (side) => {
    // A TLS send may resolve before Node reports the write done (the TLS layer took the bytes at
    // once): the buffer must really be free then. Sizes vary so some sends meet a full socket.
    const p = await pair({ name: `${side} over TLS`, side, tls: true }, certs);
    try {
      const total = 6 * MiB;
      let got = 0;
      let mismatch = -1;
      const done = new Promise<void>((resolve) => {
        p.peer.on('data', (chunk: Buffer) => {
          if (mismatch < 0) {
            const at = firstPatternMismatch(chunk, got);
            if (at >= 0) mismatch = got + at;
          }
          got += chunk.length;
          if (got >= total) resolve();
        });
      });
      const buf = Buffer.allocUnsafe(64 * 1024);
      for (let sent = 0, i = 0; sent < total; i++) {
        const n = Math.min(total - sent, 1 + ((i * 7919) % (i % 3 === 0 ? 64 * 1024 : 300)));
        pattern(sent, n).copy(buf);
        expect(await p.ours.send(buf, n, 5000)).toBe(n);
        buf.fill(0xee, 0, n); // the caller reuses its buffer at once
        sent += n;
      }
      await done;
      expect({ got, mismatch }).toEqual({ got: total, mismatch: -1 });
    } finally {
      await p.close();
    }
  },
);

test('the Connection side of a TLS connection has a descriptor and the peer address', async () => {
  const seen: Array<{ fd: number; peer: string }> = [];
  const server = await tlsServer(async (conn) => {
    seen.push({ fd: conn.socket(), peer: conn.peer() });
    await echo(conn);
  });
  const c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(true);
  expect(await roundTrip(c, 'fd?')).toBe('fd?');
  expect(seen).toHaveLength(1);
  expect(seen[0].fd).toBeGreaterThan(0);
  expect(seen[0].peer).toMatch(/^127\.0\.0\.1:\d+$/);
  c.close();
  await server.shutdown(1000);
});

test('certificates are verified by default: a client without the CA fails with the TLS code, and the server reports the failed handshake', async () => {
  const reports: TcpError[] = [];
  // Node's TLS server does not notice a client that gives up mid-handshake until the handshake
  // times out, so a short handshake timeout makes the report come soon.
  const server = await tlsServer(echo, { handshakeTimeoutMs: 300, onError: (err) => reports.push(err) });
  const c = new Client('127.0.0.1', server.address()!.port, true);
  expect(await c.connect(3000)).toBe(false);
  // The test certificate is self-signed (it is its own CA).
  expect(c.lastError?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  expect(c.strerror()).toMatch(/self[- ]signed/i);
  expect(c.connected()).toBe(false);
  await waitFor(() => reports.length > 0, 'the server to report the failed handshake');
  expect(reports[0]).toBeInstanceOf(TcpError);
  expect(server.connNum()).toBe(0);
  await server.shutdown(1000);
});

test('a host name that the certificate does not cover fails with ERR_TLS_CERT_ALTNAME_INVALID', async () => {
  const server = await tlsServer();
  const c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert, servername: 'wrong.example' });
  expect(await c.connect(3000)).toBe(false);
  expect(c.lastError?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  expect(c.strerror()).not.toBe('');
  await server.shutdown(1000);
});

test('rejectUnauthorized: false connects to the self-signed server without the CA', async () => {
  const server = await tlsServer();
  const c = new Client('127.0.0.1', server.address()!.port, true, { rejectUnauthorized: false });
  expect(await c.connect(3000)).toBe(true);
  expect(await roundTrip(c, 'unverified')).toBe('unverified');
  c.close();
  await server.shutdown(1000);
});

test('the host name given to the Client is what is verified: "localhost" and "::1" match the certificate', async () => {
  const v4 = await tlsServer();
  const byName = new Client('localhost', v4.address()!.port, true, { ca: certs.cert });
  expect(await byName.connect(3000)).toBe(true);
  expect(await roundTrip(byName, 'by name')).toBe('by name');
  byName.close();
  await v4.shutdown(1000);

  const v6 = await tlsServer(echo, {}, '::1');
  const byV6 = new Client('::1', v6.address()!.port, true, { ca: certs.cert });
  expect(await byV6.connect(3000)).toBe(true);
  expect(await roundTrip(byV6, 'v6')).toBe('v6');
  byV6.close();
  await v6.shutdown(1000);
});

test('client certificates: a server that requires one accepts a client with cert and key, and refuses one without', async () => {
  const server = await tlsServer(echo, { tls: { requestCert: true, rejectUnauthorized: true, ca: [certs.cert] } });
  const port = server.address()!.port;
  const withCert = new Client('127.0.0.1', port, true, { ca: certs.cert, cert: certs.cert, key: certs.key });
  expect(await withCert.connect(3000)).toBe(true);
  expect(await roundTrip(withCert, 'mutual')).toBe('mutual');
  withCert.close();

  const without = new Client('127.0.0.1', port, true, { ca: certs.cert });
  // TLS 1.3: the client may finish its side before the server refuses it; then the first read fails.
  const connected = await without.connect(3000);
  // Refused either way: the handshake fails (connect gives false), or the first read does.
  const firstRead = connected ? (await without.send('x'), await without.recv(Buffer.alloc(4), 4, 3000)) : -1;
  expect(firstRead).toBeLessThanOrEqual(0);
  expect(without.lastError).not.toBeNull();
  without.close();
  await server.shutdown(1000);
});

test('close() over TLS is graceful: the client gets every byte, then EOF', async () => {
  const data = pattern(9, 2 * MiB);
  const server = await tlsServer(async (conn) => {
    await conn.send(data);
    await conn.close();
  });
  const c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(true);
  const buf = Buffer.alloc(data.length);
  expect(await c.recvn(buf, data.length, 5000)).toBe(data.length);
  expect(firstPatternMismatch(buf, 9)).toBe(-1);
  expect(await c.recv(buf, 16, 3000)).toBe(0);
  c.close();
  await server.shutdown(1000);
});

test('reset() over TLS, after an exchange: the client reads ECONNRESET', async () => {
  const echoed = deferred();
  const server = await tlsServer(async (conn) => {
    const buf = Buffer.alloc(4);
    if ((await conn.recvn(buf, 4, 3000)) === 4) await conn.send(buf);
    await echoed.promise; // the client has the echo: the reset comes after the exchange
    await conn.reset();
  });
  const c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(true);
  expect(await roundTrip(c, 'ping')).toBe('ping');
  echoed.resolve();
  expect(await c.recv(Buffer.alloc(4), 4, 3000)).toBeLessThan(0);
  expect(c.lastError?.code).toBe('ECONNRESET');
  c.close();
  await server.shutdown(1000);
});

// Regression: resetting the TCP socket under a TLS socket and destroying the TLS socket in the same
// tick, right after a server-side handshake, crashed Node 20 with a segmentation fault.
test('reset() over TLS at once after the handshake: the client reads ECONNRESET', async () => {
  const server = await tlsServer(async (conn) => {
    await conn.reset();
  });
  const c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(true);
  expect(await c.recv(Buffer.alloc(4), 4, 3000)).toBeLessThan(0);
  expect(c.lastError?.code).toBe('ECONNRESET');
  c.close();
  await server.shutdown(1000);
});

// Same regression: the server resets the connection of a handler that throws synchronously.
test('a TLS handler that throws synchronously: reset, reported, the server goes on', async () => {
  const reports: TcpError[] = [];
  let calls = 0;
  const server = await tlsServer(
    (conn: Connection) => {
      if (calls++ === 0) throw new Error('sync boom');
      return echo(conn);
    },
    { onError: (err) => reports.push(err) },
  );
  const port = server.address()!.port;
  const first = new Client('127.0.0.1', port, true, { ca: certs.cert });
  expect(await first.connect(3000)).toBe(true);
  expect(await first.recv(Buffer.alloc(4), 4, 3000)).toBeLessThan(0);
  expect(reports.map((r) => r.code)).toEqual(['ERR_HANDLER']);
  const second = new Client('127.0.0.1', port, true, { ca: certs.cert });
  expect(await second.connect(3000)).toBe(true);
  expect(await roundTrip(second, 'next')).toBe('next');
  first.close();
  second.close();
  await server.shutdown(1000);
});

test('a TLS handler that rejects after some I/O: reset, reported, the server goes on', async () => {
  const reports: TcpError[] = [];
  let calls = 0;
  const xArrived = deferred();
  const server = await tlsServer(
    async (conn) => {
      if (calls++ === 0) {
        await conn.send('x');
        await xArrived.promise; // the client has the byte: the reset comes after it
        throw new Error('async boom');
      }
      await echo(conn);
    },
    { onError: (err) => reports.push(err) },
  );
  const port = server.address()!.port;
  const first = new Client('127.0.0.1', port, true, { ca: certs.cert });
  expect(await first.connect(3000)).toBe(true);
  const buf = Buffer.alloc(4);
  expect(await first.recv(buf, 4, 3000)).toBe(1);
  xArrived.resolve();
  expect(await first.recv(buf, 4, 3000)).toBeLessThan(0);
  expect(first.lastError?.code).toBe('ECONNRESET');
  expect(reports.map((r) => r.code)).toEqual(['ERR_HANDLER']);
  const second = new Client('127.0.0.1', port, true, { ca: certs.cert });
  expect(await second.connect(3000)).toBe(true);
  expect(await roundTrip(second, 'next')).toBe('next');
  first.close();
  second.close();
  await server.shutdown(1000);
});

test('a TLS client to a closed port: false with ECONNREFUSED, not a hang', async () => {
  const port = await closedPort();
  const c = new Client('127.0.0.1', port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(false);
  expect(c.lastError?.code).toBe('ECONNREFUSED');
});

test('a TLS client against a plain TCP server fails its connect (false, lastError set) without hanging', async () => {
  const plain = await rawServer((sock) => sock.end('this is not TLS\r\n'));
  const c = new Client('127.0.0.1', plain.port, true, { ca: certs.cert });
  expect(await c.connect(3000)).toBe(false);
  expect(c.lastError).toBeInstanceOf(TcpError);
  expect(c.lastError?.code).not.toBe('ETIMEDOUT');
  await plain.close();
});

test('a plain client against a TLS server: its bytes end the handshake, the read fails or sees EOF, the server reports it', async () => {
  const reports: TcpError[] = [];
  const server = await tlsServer(echo, { onError: (err) => reports.push(err) });
  const c = new Client('127.0.0.1', server.address()!.port);
  expect(await c.connect(3000)).toBe(true);
  await c.send('GET / HTTP/1.0\r\n\r\n');
  const buf = Buffer.alloc(256);
  let n: number;
  do n = await c.recv(buf, 256, 3000);
  while (n > 0); // a TLS alert may come first
  expect(n === 0 || c.lastError?.code !== 'ETIMEDOUT').toBe(true);
  await waitFor(() => reports.length > 0, 'the server to report the bad handshake');
  expect(server.connNum()).toBe(0);
  c.close();
  await server.shutdown(1000);
});
