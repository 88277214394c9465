import { type Connection, Server } from '@proj/tcp';

/**
 * co's ping-pong server, the example of co's TCP page: a pong for every
 * message, a graceful close when the client closes, a delayed reset on error.
 */
export async function startPingPongServer(port = 0, log: (line: string) => void = console.log): Promise<Server> {
  async function onConnection(conn: Connection): Promise<void> {
    const buf = Buffer.alloc(8);
    for (;;) {
      const r = await conn.recv(buf, 8);
      if (r === 0) {
        // The client closed the connection.
        return conn.close();
      }
      if (r < 0) {
        // Timeout or error: the code says which (ECONNRESET, ...).
        return conn.reset(3000);
      }
      log(`server recv ${buf.toString('utf8', 0, r)}`);
      if ((await conn.send('pong', 4)) <= 0) {
        log(`server send error: ${conn.strerror()}`);
        return conn.reset(3000);
      }
    }
  }
  const server = new Server().onConnection(onConnection);
  await server.start('127.0.0.1', port);
  return server;
}
