import { Pool, PoolGuard } from '@proj/pool';
import { Client, Server } from '@proj/tcp';

/** co's TCP example in TypeScript: a ping-pong server, and 8 tasks sharing pooled clients. */
export async function pingPong(log: (...args: unknown[]) => void = console.log): Promise<void> {
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(4);
    while ((await conn.recvn(buf, 4)) > 0) {
      if ((await conn.send('pong')) <= 0) return conn.reset(3000);
    }
  });
  await server.start('127.0.0.1', 0);

  const proto = new Client('127.0.0.1', server.address()!.port);
  const pool = new Pool(() => new Client(proto), (c) => c.close(), 8);

  async function clientFun(): Promise<void> {
    await using c = await PoolGuard.acquire(pool);
    if (!c.value.connected() && !(await c.value.connect(3000))) {
      return log('connect failed:', c.value.strerror());
    }
    const buf = Buffer.alloc(4);
    for (let i = 0; i < 3; i++) {
      if ((await c.value.send('ping')) <= 0) {
        log('client send error:', c.value.strerror());
        return c.reset(); // a broken connection is destroyed, not pooled
      }
      const n = await c.value.recvn(buf, 4, 3000);
      if (n <= 0) {
        log(n === 0 ? 'server closed the connection' : `client recv error: ${c.value.strerror()}`);
        return c.reset();
      }
      log('client recv', buf.toString());
    }
  } // the client goes back to the pool here, still connected

  await Promise.all(Array.from({ length: 8 }, clientFun));
  await Promise.all(Array.from({ length: 8 }, clientFun)); // reuses the 8 pooled connections
  await pool.close();
  await server.shutdown(1000);
}
