import { Client, Server } from '@proj/tcp';

export async function quickStart(): Promise<string> {
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(4);
    while ((await conn.recvn(buf, 4, 5000)) > 0) await conn.send('pong');
  });
  await server.start('127.0.0.1', 0);

  await using c = new Client('127.0.0.1', server.address()!.port);
  if (!(await c.connect(3000))) throw new Error(`connect failed: ${c.strerror()}`);
  await c.send('ping');
  const buf = Buffer.alloc(4);
  const n = await c.recvn(buf, 4, 3000); // 4, or 0 if the server closed, < 0 on timeout
  await server.shutdown();
  return buf.toString('utf8', 0, Math.max(n, 0));
}
