/**
 * ServerOptions.idleClose (how idleTimeoutMs ends a connection: RST or FIN),
 * ServerOptions.overLimitReply (what a connection refused by maxConnections is
 * told before a graceful close), and fastPaths(conn): whether this
 * connection's writes go straight to its handle, idle timer or not. Plain TCP
 * and TLS, real sockets, raw peers.
 */
import type * as net from 'node:net';
import { type Connection, NO_INTERNALS_ENV, Server, TcpErrorCode, fastPaths, type ServerOptions } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { deferred, rawConnect, rawTlsConnect, readToEnd, waitFor } from '../../../libs/test-support/net';
import { guardLeaks } from './helpers';

guardLeaks();

const internalsOff = process.env[NO_INTERNALS_ENV] === '1';
let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

async function start(server: Server, tls: boolean): Promise<number> {
  if (tls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  else await server.start('127.0.0.1', 0);
  return server.address()!.port;
}

function connect(port: number, tls: boolean): Promise<net.Socket> {
  return tls ? rawTlsConnect(port, { ca: certs.cert, servername: 'localhost' }) : rawConnect(port);
}

const BUSY = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

describe.each([
  { name: 'TCP', tls: false },
  { name: 'TLS', tls: true },
])('over $name', ({ tls }) => {
  test.each([
    { idleClose: 'close' as const, peerSees: 'end' },
    { idleClose: 'reset' as const, peerSees: 'ECONNRESET' },
  ])(
    "idleClose '$idleClose': the waiting recv gets -1 (ERR_IDLE_TIMEOUT), the peer sees $peerSees after the bytes sent",
    async ({ idleClose, peerSees }) => {
      const result = deferred<{ n: number; code?: string }>();
      const server = new Server({ idleTimeoutMs: 100, idleClose }).onConnection(async (conn) => {
        await conn.send('hello');
        const n = await conn.recv(Buffer.alloc(8));
        result.resolve({ n, code: conn.lastError?.code });
      });
      const port = await start(server, tls);
      const sock = await connect(port, tls);
      const r = await readToEnd(sock);
      expect(await result.promise).toEqual({ n: -1, code: TcpErrorCode.ERR_IDLE_TIMEOUT });
      expect(r.how === 'error' ? r.error?.code : r.how).toBe(peerSees);
      if (idleClose === 'close') expect(r.data.toString()).toBe('hello');
      sock.destroy();
      await server.shutdown(1000);
    },
  );

  test('overLimitReply: a connection over maxConnections gets the reply, then FIN; the handler never sees it; the kept one goes on', async () => {
    let calls = 0;
    const server = new Server({ maxConnections: 1, overLimitReply: BUSY }).onConnection(async (conn) => {
      calls++;
      const buf = Buffer.alloc(16);
      for (let n; (n = await conn.recv(buf)) > 0;) await conn.send(buf, n);
    });
    const port = await start(server, tls);
    const kept = await connect(port, tls);
    await waitFor(() => server.connNum() === 1, 'the first connection');
    for (let i = 0; i < 3; i++) {
      // The refused peer also sends: what it sends is dropped, and the close stays graceful.
      const refused = await connect(port, tls);
      refused.write('GET / HTTP/1.1\r\n\r\n');
      const r = await readToEnd(refused);
      expect({ how: r.how, data: r.data.toString() }).toEqual({ how: 'end', data: BUSY });
      refused.destroy();
    }
    expect(calls).toBe(1);
    expect(server.connNum()).toBe(1);
    const echoed = new Promise<string>((resolve) => kept.once('data', (d: Buffer) => resolve(d.toString())));
    kept.write('kept');
    expect(await echoed).toBe('kept');
    kept.destroy();
    await server.shutdown(1000);
  });

  test('fastPaths(conn): writes go straight to the handle with an idle timer too, and keep the timer from firing', async () => {
    const conns: Connection[] = [];
    const done = deferred<number>();
    // Only the server writes: if its writes did not refresh the idle timer, it would fire.
    const server = new Server({ idleTimeoutMs: 300, idleClose: 'close' }).onConnection(async (conn) => {
      conns.push(conn);
      let sent = 0;
      for (let i = 0; i < 12; i++) {
        if ((await conn.send('tick\n')) !== 5) break;
        sent++;
        await new Promise((r) => setTimeout(r, 60)); // part of the scenario: 720 ms of writes only
      }
      done.resolve(sent);
    });
    const port = await start(server, tls);
    const sock = await connect(port, tls);
    const r = readToEnd(sock);
    await waitFor(() => conns.length === 1, 'the connection');
    const paths = fastPaths(conns[0]);
    expect(paths.directWrite).toBe(!internalsOff);
    expect(paths.tlsOnread).toBe(tls && !internalsOff);
    expect(paths.onreadAccept).toBe(!tls && !internalsOff);
    expect(paths.reason).toBe(internalsOff ? `${NO_INTERNALS_ENV}=1` : '');
    expect(await done.promise).toBe(12);
    expect((await r).data.toString()).toBe('tick\n'.repeat(12));
    expect(fastPaths(conns[0])).toMatchObject({ directWrite: false, reason: 'not connected' });
    sock.destroy();
    await server.shutdown(1000);
  });
});

test('the options are checked at once: idleClose, overLimitReply (type, size, needs maxConnections)', () => {
  const bad: Array<[ServerOptions, RegExp]> = [
    [{ idleClose: 'fin' as never }, /idleClose must be 'reset' or 'close'/],
    [{ overLimitReply: 'busy' }, /overLimitReply needs maxConnections/],
    [{ maxConnections: 1, overLimitReply: 42 as never }, /overLimitReply must be a string or a Uint8Array/],
    [{ maxConnections: 1, overLimitReply: Buffer.alloc(64 * 1024 + 1) }, /at most 65536 bytes/],
  ];
  for (const [options, message] of bad) expect(() => new Server(options)).toThrow(message);
  expect(() => new Server({ maxConnections: 1, overLimitReply: new Uint8Array(0), idleClose: 'close' })).not.toThrow();
});

test("overLimitReply is copied: changing the caller's bytes afterwards changes nothing", async () => {
  const reply = Buffer.from('busy\n');
  const server = new Server({ maxConnections: 1, overLimitReply: reply }).onConnection(async (conn) => {
    await conn.recv(Buffer.alloc(1));
  });
  const port = await start(server, false);
  reply.write('XXXX');
  const kept = await rawConnect(port);
  await waitFor(() => server.connNum() === 1, 'the first connection');
  const refused = await rawConnect(port);
  expect((await readToEnd(refused)).data.toString()).toBe('busy\n');
  for (const s of [kept, refused]) s.destroy();
  await server.shutdown(1000);
});
