import { Client, type Connection, Server } from '@proj/tcp';

/**
 * A line protocol on recvUntil: a tiny key-value store. Requests are
 * `SET key value\n` and `GET key\n`; answers are `OK\n`, `VALUE value\n`,
 * `NONE\n` or `ERR what\n`, in order, also to requests sent without waiting
 * for the answers. A line longer than 1 KiB is refused and the connection
 * closed; an idle client is dropped after 30 s.
 */
export async function startLineServer(port = 0): Promise<Server> {
  const store = new Map<string, string>();
  async function serve(conn: Connection): Promise<void> {
    const line = Buffer.alloc(1024);
    for (;;) {
      // Requests a client sent ahead (pipelined) are here already: take them without waiting.
      let n = conn.tryRecvUntil(line, '\n');
      if (n === 0) n = await conn.recvUntil(line, '\n', 30_000);
      if (n <= 0) {
        if (conn.lastError?.code === 'ERR_NO_DELIMITER') await conn.send('ERR line too long\n');
        return; // peer closed (0), idle, or too long: the server closes the connection
      }
      const [verb, key, ...rest] = line.toString('utf8', 0, n - 1).split(' ');
      let answer: string;
      if (verb === 'SET' && key && rest.length > 0) {
        store.set(key, rest.join(' '));
        answer = 'OK\n';
      } else if (verb === 'GET' && key) {
        const value = store.get(key);
        answer = value === undefined ? 'NONE\n' : `VALUE ${value}\n`;
      } else {
        answer = 'ERR unknown request\n';
      }
      if ((await conn.send(answer)) <= 0) return;
    }
  }
  const server = new Server().onConnection(serve);
  await server.start('127.0.0.1', port);
  return server;
}

/** The client side: one request line out, one answer line back. */
export async function request(client: Client, line: string, ms = 3000): Promise<string> {
  if ((await client.send(`${line}\n`, undefined, ms)) <= 0) throw new Error(client.strerror());
  const answer = Buffer.alloc(1024);
  const n = await client.recvUntil(answer, '\n', ms);
  if (n <= 0) throw new Error(n === 0 ? 'the server closed the connection' : client.strerror());
  return answer.toString('utf8', 0, n - 1);
}
