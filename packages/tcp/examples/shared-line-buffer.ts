import { type Connection, Server } from '@proj/tcp';

/**
 * A line server whose connections all read through ONE buffer: each waits in
 * `waitReadable` (holding no buffer of its own), then takes every complete
 * line with `tryRecvUntil` into the shared buffer, and answers it before the
 * next `await`, after which another connection may write over the buffer.
 * It answers each line `text\n` with `TEXT\n`; a line longer than the buffer
 * gets `ERR line too long\n` and the connection is closed.
 */
export async function startSharedBufferServer(port = 0, lineBytes = 4096): Promise<Server> {
  const shared = Buffer.alloc(lineBytes); // one for every connection
  async function serve(conn: Connection): Promise<void> {
    for (;;) {
      // > 0: bytes to read; 0: the peer closed; < 0: idle for 30 s, or an error.
      if ((await conn.waitReadable(30_000)) <= 0) return;
      for (;;) {
        const n = conn.tryRecvUntil(shared, '\n');
        if (n === 0) break; // half a line: waitReadable waits for the rest
        if (n < 0) {
          await conn.send('ERR line too long\n');
          return;
        }
        // Everything needed from `shared` is taken out before the await.
        const answer = shared.toString('utf8', 0, n).toUpperCase();
        if ((await conn.send(answer)) <= 0) return;
      }
    }
  }
  const server = new Server().onConnection(serve);
  await server.start('127.0.0.1', port);
  return server;
}
