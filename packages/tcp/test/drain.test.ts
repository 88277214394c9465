/**
 * server.drain(ms) and conn.draining, on real sockets, plain and TLS: requests
 * in flight (uploads half sent, answers held back) are all answered; idle
 * keep-alive connections end at once; a handler that ignores `draining` is
 * reset at the deadline; and the races: connections after exit, a TLS
 * handshake that finishes during the drain, shutdown during a drain, a second
 * drain, an aborted drain.
 *
 * The protocol: a request is an 8-byte head (body length, then 1 for "answer
 * only when the test says so") and the body; the answer is "ok <length>\n".
 * The handler waits for a head with `{ signal: conn.draining }`, and reads
 * the body and answers without it.
 */
import type * as net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type Connection, Server, TcpErrorCode } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import {
  deferred,
  rawConnect,
  rawTlsConnect,
  readToEnd,
  type ReadResult,
  waitFor,
} from '../../../libs/test-support/net';
import { MiB, guardLeaks } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

const UPLOADS = 16;
const SLOW = 16;
const IDLE = 8;

interface Stats {
  /** Requests whose head the handler read. */
  started: number;
  /** Handlers that have read at least one byte of a body. */
  inBody: number;
  /** Handlers waiting for the test's go-ahead to answer. */
  heldBack: number;
  answered: number;
  /** Waits between requests that `draining` ended. */
  idleEnded: number;
  /** Handlers that have returned. */
  returned: number;
}

function protocolServer(go: Promise<void>): { server: Server; stats: Stats } {
  const stats: Stats = { started: 0, inBody: 0, heldBack: 0, answered: 0, idleEnded: 0, returned: 0 };
  const server = new Server().onConnection(async (conn: Connection) => {
    const head = Buffer.alloc(8);
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (;;) {
        const n = await conn.recvn(head, 8, { signal: conn.draining });
        if (n <= 0) {
          if (conn.lastError?.code === TcpErrorCode.ABORT_ERR) stats.idleEnded++;
          return;
        }
        stats.started++;
        const length = head.readUInt32BE(0);
        let got = 0;
        while (got < length) {
          const r = await conn.recv(chunk, Math.min(chunk.length, length - got));
          if (r <= 0) return;
          if (got === 0) stats.inBody++;
          got += r;
        }
        if (head.readUInt32BE(4) === 1) {
          stats.heldBack++;
          await go;
        }
        if ((await conn.send(`ok ${got}\n`)) > 0) stats.answered++;
      }
    } finally {
      stats.returned++;
    }
  });
  return { server, stats };
}

function head(length: number, holdBack: boolean): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(length, 0);
  b.writeUInt32BE(holdBack ? 1 : 0, 4);
  return b;
}

async function start(server: Server, tls: boolean): Promise<number> {
  if (tls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  else await server.start('127.0.0.1', 0);
  return server.address()!.port;
}

function connect(port: number, tls: boolean): Promise<net.Socket> {
  return tls ? rawTlsConnect(port, { ca: certs.cert, servername: 'localhost' }) : rawConnect(port);
}

function write(sock: net.Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => sock.write(data, (err) => (err ? reject(err) : resolve())));
}

describe.each([
  { name: 'TCP', tls: false },
  { name: 'TLS', tls: true },
])('drain over $name', ({ tls }) => {
  test(`${UPLOADS} uploads of 1 MiB and ${SLOW} held-back answers in flight are all answered; ${IDLE} idle connections end at once; then FIN`, async () => {
    const go = deferred();
    const { server, stats } = protocolServer(go.promise);
    let exits = 0;
    server.onExit(() => exits++);
    const port = await start(server, tls);

    const uploads = await Promise.all(Array.from({ length: UPLOADS }, () => connect(port, tls)));
    const slow = await Promise.all(Array.from({ length: SLOW }, () => connect(port, tls)));
    const idle = await Promise.all(Array.from({ length: IDLE }, () => connect(port, tls)));
    const results = [...uploads, ...slow, ...idle].map((s) => readToEnd(s));
    await waitFor(() => server.connNum() === UPLOADS + SLOW + IDLE, 'every connection accepted');

    // Each upload sends its head and half its body; each slow request is read and held back.
    const half = Buffer.alloc(MiB / 2, 7);
    await Promise.all(uploads.map((s) => write(s, Buffer.concat([head(MiB, false), half]))));
    await Promise.all(slow.map((s) => write(s, head(10, true))));
    await Promise.all(slow.map((s) => write(s, Buffer.alloc(10, 1))));
    await waitFor(() => stats.inBody === UPLOADS + SLOW && stats.heldBack === SLOW, 'every request under way');

    const drained = server.drain(10_000);
    let drainedYet = false;
    void drained.then(() => (drainedYet = true));
    // The listener is closed at once; the idle connections end without waiting for the others.
    expect(server.address()).toBeNull();
    const idleResults = await Promise.all(results.slice(UPLOADS + SLOW));
    for (const r of idleResults) {
      expect(r.how).toBe('end');
      expect(r.data.length).toBe(0);
    }
    expect(stats.idleEnded).toBe(IDLE);
    expect(drainedYet).toBe(false);

    // The uploads finish, the held-back answers go.
    await Promise.all(uploads.map((s) => write(s, half)));
    go.resolve();
    await drained;
    const all: ReadResult[] = await Promise.all(results);
    const inFlight = UPLOADS + SLOW;
    const answered = all
      .slice(0, inFlight)
      .filter((r) => r.how === 'end' && r.data.toString().startsWith('ok ')).length;
    const reset = all.filter((r) => r.how === 'error').length;
    expect({ inFlight, answered, reset }).toEqual({ inFlight: UPLOADS + SLOW, answered: UPLOADS + SLOW, reset: 0 });
    for (const r of all.slice(0, UPLOADS)) expect(r.data.toString()).toBe(`ok ${MiB}\n`);
    for (const r of all.slice(UPLOADS, inFlight)) expect(r.data.toString()).toBe('ok 10\n');
    expect(stats.answered).toBe(inFlight);
    expect(stats.returned).toBe(UPLOADS + SLOW + IDLE);
    expect(server.connNum()).toBe(0);
    expect(exits).toBe(1);
    for (const s of [...uploads, ...slow, ...idle]) s.destroy();
  });

  test('a handler that ignores draining is reset at the deadline, and the drain then resolves', async () => {
    const server = new Server().onConnection(async (conn) => {
      const buf = Buffer.alloc(16);
      while ((await conn.recv(buf)) > 0);
    });
    const port = await start(server, tls);
    const sock = await connect(port, tls);
    const result = readToEnd(sock);
    await waitFor(() => server.connNum() === 1, 'the connection accepted');
    await server.drain(50);
    const r = await result;
    expect(r.how).toBe('error');
    expect(r.error?.code).toBe('ECONNRESET');
    expect(server.connNum()).toBe(0);
    sock.destroy();
  });

  test('a second, shorter drain cuts the first short: both resolve once the connection is reset', async () => {
    const server = new Server().onConnection(async (conn) => {
      const buf = Buffer.alloc(16);
      while ((await conn.recv(buf)) > 0);
    });
    const port = await start(server, tls);
    const sock = await connect(port, tls);
    const result = readToEnd(sock);
    await waitFor(() => server.connNum() === 1, 'the connection accepted');
    const first = server.drain(60_000);
    const second = server.drain(20);
    await Promise.all([first, second]);
    expect((await result).error?.code).toBe('ECONNRESET');
    sock.destroy();
  });

  test('shutdown during a drain closes every connection now (a request under way gets -1); both resolve', async () => {
    const go = deferred();
    const { server, stats } = protocolServer(go.promise);
    const port = await start(server, tls);
    const sock = await connect(port, tls);
    const result = readToEnd(sock);
    await write(sock, Buffer.concat([head(4, true), Buffer.alloc(4)]));
    await waitFor(() => stats.heldBack === 1, 'the request held back');
    const drained = server.drain(60_000);
    await server.shutdown(1000);
    go.resolve();
    await drained;
    const r = await result;
    expect(r.how).toBe('end');
    expect(r.data.length).toBe(0);
    expect(stats.answered).toBe(0);
    sock.destroy();
  });

  test('new connections during a drain are refused; a drain aborted by its signal rejects and the drain goes on', async () => {
    const go = deferred();
    const { server, stats } = protocolServer(go.promise);
    const port = await start(server, tls);
    const sock = await connect(port, tls);
    const result = readToEnd(sock);
    await write(sock, Buffer.concat([head(1, true), Buffer.alloc(1)]));
    await waitFor(() => stats.heldBack === 1, 'the request held back');
    const ac = new AbortController();
    const aborted = server.drain({ ms: 60_000, signal: ac.signal });
    const joined = server.drain(60_000);
    await expect(connect(port, tls)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    ac.abort(new Error('impatient'));
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    go.resolve();
    await joined;
    expect((await result).data.toString()).toBe('ok 1\n');
    await expect(server.drain({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
    sock.destroy();
  });
});

test('TLS: a handshake under way when the drain starts is served, with draining already aborted', async () => {
  const seen: boolean[] = [];
  const reasons: unknown[] = [];
  const server = new Server().onConnection((conn) => {
    seen.push(conn.draining.aborted);
    reasons.push((conn.draining.reason as { code?: string } | undefined)?.code);
  });
  const port = await start(server, true);
  // A TCP connection whose TLS handshake starts only after the drain began; the server
  // accepts in order, so once a full TLS client behind it is served, it was accepted.
  const tcp = await rawConnect(port);
  const before = await connect(port, true);
  await waitFor(() => seen.length === 1, 'the connection behind it served');
  const drained = server.drain(10_000);
  const late = tlsConnect({ socket: tcp, ca: certs.cert, servername: 'localhost' });
  late.on('error', () => {});
  const r = await readToEnd(late);
  await drained;
  expect(seen).toEqual([false, true]);
  expect(reasons).toEqual([undefined, TcpErrorCode.ERR_DRAINING]);
  expect(r.how).toBe('end');
  for (const s of [late, tcp, before]) s.destroy();
});

test('conn.draining is one signal per connection, aborted with ERR_DRAINING when the drain starts; drain on a server with nothing resolves at once', async () => {
  await new Server().drain(100);
  const conns: Connection[] = [];
  const server = new Server().onConnection(async (conn) => {
    conns.push(conn);
    const buf = Buffer.alloc(1);
    await conn.recv(buf, 1, { signal: conn.draining });
  });
  const port = await start(server, false);
  const sock = await rawConnect(port);
  const result = readToEnd(sock);
  await waitFor(() => conns.length === 1, 'the handler');
  const signal = conns[0].draining;
  expect(conns[0].draining).toBe(signal);
  expect(signal.aborted).toBe(false);
  await server.drain(5000);
  expect(signal.aborted).toBe(true);
  expect(conns[0].lastError?.code).toBe(TcpErrorCode.ABORT_ERR);
  expect((conns[0].lastError?.cause as { code?: string }).code).toBe(TcpErrorCode.ERR_DRAINING);
  expect((await result).how).toBe('end');
  sock.destroy();
});
