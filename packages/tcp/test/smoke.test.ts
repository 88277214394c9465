import { Client, Server } from '../src';
import { makeTestCerts } from '../../../libs/test-support/certs';

test('ping over TLS with await using', async () => {
  const certs = await makeTestCerts();
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(4);
    const n = await conn.recvn(buf, 4, 2000);
    if (n === 4) await conn.send('pong');
  });
  await server.start('127.0.0.1', 0, certs.keyPath, certs.certPath);
  {
    await using c = new Client('127.0.0.1', server.address()!.port, true, { ca: certs.cert });
    expect(await c.connect(2000)).toBe(true);
    expect(await c.send('ping')).toBe(4);
    const buf = Buffer.alloc(4);
    expect(await c.recvn(buf, 4, 2000)).toBe(4);
    expect(buf.toString()).toBe('pong');
  }
  await server.shutdown(1000);
  certs.cleanup();
});
