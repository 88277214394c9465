import { Pool, PoolGuard } from '@proj/pool';
import { Client, Server } from '@proj/tcp';

/** One request on a pooled connection: a line out, the reply line back. */
async function ask(c: Client, line: string): Promise<string> {
  if ((await c.send(`${line}\r\n`)) <= 0) throw c.lastError ?? new Error('send failed');
  const buf = Buffer.alloc(256);
  const n = await c.recvUntil(buf, '\r\n', 3000);
  if (n <= 0) throw c.lastError ?? new Error('the server closed the connection');
  return buf.toString('latin1', 0, n - 2);
}

/** `return await` inside `await using`: the connection goes back only once its reply is read. */
export async function returnAwait(log: (...args: unknown[]) => void = console.log): Promise<void> {
  const server = new Server().onConnection(async (conn) => {
    const line = Buffer.alloc(256);
    for (let n; (n = await conn.recvUntil(line, '\r\n')) > 0; ) {
      if ((await conn.send(`VALUE ${line.toString('latin1', 4, n - 2)}\r\n`)) <= 0) return;
    }
  });
  await server.start('127.0.0.1', 0);
  const proto = new Client('127.0.0.1', server.address()!.port);
  const connect = async (): Promise<Client> => {
    const c = new Client(proto);
    if (!(await c.connect(3000))) throw c.lastError ?? new Error('connect failed');
    return c;
  };
  const pool = new Pool(connect, (c) => c.close(), -1, { max: 1 }); // one connection, used in turn

  async function get(key: string): Promise<string> {
    await using c = await PoolGuard.acquire(pool);
    return await ask(c.value, `get ${key}`); // right: c goes back after the reply was read
  }

  async function getTooEarly(key: string): Promise<string> {
    await using c = await PoolGuard.acquire(pool);
    return ask(c.value, `get ${key}`); // wrong: c goes back now, while ask() still waits for its reply
  }

  log(await Promise.all([get('a'), get('b')])); // [ 'VALUE a', 'VALUE b' ]
  const [early, next] = await Promise.allSettled([getTooEarly('c'), get('d')]);
  // get('d') was handed the connection while getTooEarly('c') still read from it:
  const outcome = (r: PromiseSettledResult<string>): unknown => (r.status === 'fulfilled' ? r.value : (r.reason as { code?: string }).code);
  log(outcome(early), outcome(next)); // VALUE c ERR_CONCURRENT_RECV
  await pool.close(); // that connection may hold a reply nobody read: it must not be reused
  await server.shutdown(1000);
}
