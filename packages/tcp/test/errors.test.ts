/**
 * Errors: the TcpError class and its stable codes, what lastError keeps
 * (code, address, port, cause), and the promise that no 'error' event or
 * rejected promise ever escapes to the process: peers that reset at random
 * moments during recv and send, handlers that reset at random moments, failed
 * connects and handshakes in bulk, and throwing user hooks.
 */
import { Client, Connection, Server, TcpError, TcpErrorCode } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import {
  closedPort,
  pattern,
  rawConnect,
  rawServer,
  rawTlsConnect,
  resetSocket,
  sleep,
  waitFor,
} from '../../../libs/test-support/net';
import { guardLeaks, watchEscapes } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

/** Deterministic pseudo-random numbers, so a failing run can be repeated. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

describe('TcpError', () => {
  test('is an Error with name, stable code, address, port and cause', () => {
    const cause = new Error('inner');
    const err = new TcpError('ECONNRESET', 'the peer reset', { cause, address: '::1', port: 7788 });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(TcpError);
    expect(err.name).toBe('TcpError');
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toBe('the peer reset');
    expect(err.address).toBe('::1');
    expect(err.port).toBe(7788);
    expect(err.cause).toBe(cause);
    expect(String(err)).toBe('TcpError: the peer reset');
    const bare = new TcpError('ENOTCONN', 'no connection');
    expect(bare.address).toBeUndefined();
    expect(bare.port).toBeUndefined();
    expect('cause' in bare).toBe(false);
  });

  test('the codes the package produces are stable strings equal to their names', () => {
    for (const [name, code] of Object.entries(TcpErrorCode)) expect(code).toBe(name);
    expect(Object.keys(TcpErrorCode).sort()).toEqual(
      [
        'ABORT_ERR',
        'ECONNRESET',
        'ENOTCONN',
        'ERR_CONCURRENT_RECV',
        'ERR_CONCURRENT_SEND',
        'ERR_DRAINING',
        'ERR_HANDLER',
        'ERR_HANDLER_LOAD',
        'ERR_HANDLER_NOT_MODULE',
        'ERR_IDLE_TIMEOUT',
        'ERR_NO_DELIMITER',
        'ERR_NO_HANDLER',
        'ERR_PROXY_PROTOCOL',
        'ERR_PIPELINE_CLOSED',
        'ERR_SERVER_RUNNING',
        'ERR_TLS_CONFIG',
        'ERR_WORKERS_UNSUPPORTED',
        'ERR_WORKER_EXIT',
        'ETIMEDOUT',
      ].sort(),
    );
  });

  test('lastError of a refused connect keeps the system code, the address and port, and the cause', async () => {
    const port = await closedPort();
    const c = new Client('127.0.0.1', port);
    expect(await c.connect(2000)).toBe(false);
    const err = c.lastError!;
    expect(err).toBeInstanceOf(TcpError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.address).toBe('127.0.0.1');
    expect(err.port).toBe(port);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(c.strerror()).toBe(err.message);
  });

  test('lastError of a timed-out recv names the remote end', async () => {
    const raw = await rawServer();
    const c = new Client('127.0.0.1', raw.port);
    expect(await c.connect(2000)).toBe(true);
    expect(await c.recv(Buffer.alloc(4), 4, 20)).toBe(-1);
    expect(c.lastError).toMatchObject({ code: 'ETIMEDOUT', address: '127.0.0.1', port: raw.port });
    c.close();
    await raw.close();
  });
});

describe('nothing escapes to the process', () => {
  test.each(['TCP', 'TLS'])(
    'raw clients that reset at random moments while our Connections recv and send (%s)',
    async (kind) => {
      const tls = kind === 'TLS';
      const watch = watchEscapes();
      const rnd = random(tls ? 7 : 3);
      const results: number[] = [];
      const server = new Server().onConnection(async (conn: Connection) => {
        const buf = Buffer.alloc(16 * 1024);
        const big = pattern(0, 512 * 1024);
        for (;;) {
          const n = await conn.recv(buf, buf.length, 2000);
          if (n <= 0) return void results.push(n);
          const s = await conn.send(big, big.length, 2000);
          if (s <= 0) return void results.push(s);
        }
      });
      if (tls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
      else await server.start('127.0.0.1', 0);
      const port = server.address()!.port;
      const peers = 30;
      await Promise.all(
        Array.from({ length: peers }, async () => {
          const sock = tls ? await rawTlsConnect(port, { ca: certs.cert }) : await rawConnect(port);
          sock.on('data', () => {});
          sock.write(pattern(0, 1 + Math.floor(rnd() * 4000)));
          if (rnd() < 0.5) sock.pause(); // some stop reading: the server's send is stuck when the RST comes
          await sleep(Math.floor(rnd() * 40)); // part of the scenario: the reset comes at a random moment
          resetSocket(sock);
        }),
      );
      await waitFor(() => results.length === peers, 'every handler to see its peer go', 10_000);
      expect(results.every((r) => r <= 0)).toBe(true);
      await waitFor(() => server.connNum() === 0, 'every connection to close');
      await server.shutdown(1000);
      // No escape is an absence, which cannot be waited on: one could come from any socket or
      // timer, and no later event has to follow it. So late events get a moment to show up.
      await sleep(20);
      expect(watch.stop()).toEqual([]);
    },
  );

  test.each(['TCP', 'TLS'])(
    'a server that resets at random moments while our Clients recv and send (%s)',
    async (kind) => {
      const tls = kind === 'TLS';
      const watch = watchEscapes();
      const rnd = random(tls ? 11 : 5);
      const server = new Server().onConnection(async (conn: Connection) => {
        // Reset only after the first bytes came: see tls.test.ts for what an immediate TLS reset does.
        if ((await conn.recv(Buffer.alloc(4096), 4096, 2000)) <= 0) return;
        void conn.send(pattern(0, 256 * 1024));
        await conn.reset(Math.floor(rnd() * 30));
      });
      if (tls) await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
      else await server.start('127.0.0.1', 0);
      const port = server.address()!.port;
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, async () => {
          const c = tls ? new Client('127.0.0.1', port, true, { ca: certs.cert }) : new Client('127.0.0.1', port);
          if (!(await c.connect(3000))) return `connect: ${c.lastError?.code}`;
          const buf = Buffer.alloc(8192);
          const big = pattern(0, 1024 * 1024);
          let r = 1;
          for (let i = 0; i < 1000 && r > 0; i++) {
            // The first call sends (the server waits for bytes before it resets); then a random mix.
            const sending = i === 0 || rnd() < 0.5;
            r = sending
              ? await c.send(big, 1 + Math.floor(rnd() * big.length), 2000)
              : await c.recv(buf, buf.length, 2000);
          }
          const code = r === 0 ? 'EOF' : c.lastError?.code;
          c.close();
          return code;
        }),
      );
      for (const o of outcomes) expect(['ECONNRESET', 'EPIPE', 'ENOTCONN', 'EOF']).toContain(o);
      await server.shutdown(1000);
      // No escape is an absence, which cannot be waited on: one could come from any socket or
      // timer, and no later event has to follow it. So late events get a moment to show up.
      await sleep(20);
      expect(watch.stop()).toEqual([]);
    },
  );

  test('failed connects and handshakes in bulk, and clients dropped while connecting', async () => {
    const watch = watchEscapes();
    const port = await closedPort();
    const server = new Server().onConnection(() => {});
    await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
    const silent = await rawServer((sock) => sock.resume());
    const attempts: Array<Promise<boolean>> = [];
    for (let i = 0; i < 20; i++) {
      attempts.push(new Client('127.0.0.1', port).connect(2000)); // refused
      attempts.push(new Client('127.0.0.1', server.address()!.port, true).connect(2000)); // unknown CA
      const dropped = new Client('127.0.0.1', silent.port, true, { ca: certs.cert });
      attempts.push(dropped.connect(2000));
      setTimeout(() => dropped.disconnect(), i); // part of the scenario: dropped mid-connect, at a new moment each time
    }
    expect((await Promise.all(attempts)).every((ok) => ok === false)).toBe(true);
    await server.shutdown(1000);
    await silent.close();
    // No escape is an absence, which cannot be waited on: one could come from any socket or
    // timer, and no later event has to follow it. So late events get a moment to show up.
    await sleep(20);
    expect(watch.stop()).toEqual([]);
  });

  test('throwing onError and onExit hooks do not take the process down', async () => {
    const watch = watchEscapes();
    let onErrorCalls = 0;
    const server = new Server({
      onError: () => {
        onErrorCalls++;
        throw new Error('the error hook itself throws');
      },
    })
      .onConnection(() => {
        throw new Error('handler throws');
      })
      .onExit(() => {
        throw new Error('exit hook throws');
      });
    await server.start('127.0.0.1', 0);
    const c = new Client('127.0.0.1', server.address()!.port);
    const firstRead = (await c.connect(2000)) ? await c.recv(Buffer.alloc(4), 4, 2000) : -1;
    expect(firstRead).toBeLessThanOrEqual(0);
    c.close();
    await waitFor(() => onErrorCalls >= 1, 'the handler failure to be reported');
    server.exit();
    await waitFor(() => onErrorCalls >= 2, 'the exit hook failure to be reported');
    await server.shutdown(1000);
    // No escape is an absence, which cannot be waited on: one could come from any socket or
    // timer, and no later event has to follow it. So late events get a moment to show up.
    await sleep(20);
    expect(watch.stop()).toEqual([]);
  });
});
