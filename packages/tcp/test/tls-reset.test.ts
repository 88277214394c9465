/**
 * Resets over TLS right after the server-side handshake. Destroying a TLS
 * socket whose TCP socket was just reset, while still inside the callback of
 * the handshake's last read, frees the TLS session under OpenSSL and crashes
 * the process (a segfault, on Node 20, 22, 24 and 26). These handlers reset
 * twice in that window; the process must survive, the server go on, and the
 * peer see the connection end.
 */
import { Server, type Connection } from '../src';
import { makeTestCerts, type TestCerts } from '../../../libs/test-support/certs';
import { rawTlsConnect, readToEnd } from '../../../libs/test-support/net';
import { guardLeaks } from './helpers';

guardLeaks();

let certs: TestCerts;
beforeAll(async () => {
  certs = await makeTestCerts();
});
afterAll(() => certs.cleanup());

async function serveTls(
  handler: (conn: Connection) => unknown,
  maxConnections?: number,
): Promise<{ server: Server; port: number; errors: string[] }> {
  const errors: string[] = [];
  const server = new Server({ maxConnections, onError: (err) => errors.push(err.code) }).onConnection(handler as never);
  await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  return { server, port: server.address()!.port, errors };
}

const ROUNDS = 40;

test.each([
  [
    'reset, then throw (the server resets again for the failed handler)',
    (conn: Connection) => {
      void conn.reset();
      throw new Error('boom');
    },
  ],
  [
    'reset twice in a row',
    (conn: Connection) => {
      void conn.reset();
      void conn.reset();
    },
  ],
  [
    'reset, then an async throw',
    async (conn: Connection) => {
      void conn.reset();
      await Promise.resolve();
      throw new Error('boom');
    },
  ],
])(`TLS: %s, ${ROUNDS} connections: no crash, every peer sees its connection end`, async (_name, handler) => {
  const s = await serveTls(handler);
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const peer = await rawTlsConnect(s.port, { ca: certs.cert, servername: 'localhost' });
      peer.write('hello');
      const r = await readToEnd(peer);
      expect(r.data.length).toBe(0);
      peer.destroy();
    }
    expect(s.server.connNum()).toBe(0);
  } finally {
    await s.server.shutdown(500);
  }
});

test('TLS over maxConnections: the excess connection is reset (RST), the admitted one goes on', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const s = await serveTls(async (conn) => {
    const buf = Buffer.alloc(4);
    if ((await conn.recvn(buf, 4, 5000)) === 4) await conn.send(buf);
    await held;
  }, 1);
  try {
    const first = await rawTlsConnect(s.port, { ca: certs.cert, servername: 'localhost' });
    first.write('ping');
    await new Promise<void>((resolve) => first.once('data', () => resolve()));
    const excess = await rawTlsConnect(s.port, { ca: certs.cert, servername: 'localhost' });
    const r = await readToEnd(excess);
    expect(r.how).toBe('error');
    expect(r.error?.code).toBe('ECONNRESET');
    excess.destroy();
    release();
    first.end();
    await readToEnd(first);
    first.destroy();
  } finally {
    await s.server.shutdown(500);
  }
});
