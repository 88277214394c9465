// 64 async tasks share 8 pooled @proj/tcp Clients doing ping-pong against a @proj/tcp Server
// on loopback, as in the client example of co's TCP page. Every reply is checked.
import { Client, Server, type Connection } from '@proj/tcp';
import { PoolGuard } from '../src';
import { clientPool } from './client-pool';
import { failOnLateUnhandledRejections, waitFor } from './helpers';

failOnLateUnhandledRejections();

const TASKS = 64;
const CLIENTS = 8;
const ROUNDS = 20;
const MESSAGE_BYTES = 16;

/** `ping:<task>:<round>` padded to a fixed size, so both ends can use recvn. */
function message(kind: 'ping' | 'pong', task: number, round: number): string {
  return `${kind}:${task}:${round}`.padEnd(MESSAGE_BYTES, '.');
}

async function pingPongServer(conn: Connection): Promise<void> {
  const buf = Buffer.alloc(MESSAGE_BYTES);
  for (;;) {
    const n = await conn.recvn(buf, MESSAGE_BYTES);
    if (n <= 0) return; // peer closed (0) or the connection failed (< 0)
    const text = buf.toString('latin1');
    if (!text.startsWith('ping:')) throw new Error(`server got ${JSON.stringify(text)}`);
    if ((await conn.send(`pong${text.slice(4)}`)) <= 0) return;
  }
}

test('64 tasks share 8 pooled clients; every reply is checked', async () => {
  const serverErrors: unknown[] = [];
  const server = new Server({ onError: (err) => void serverErrors.push(err) }).onConnection(pingPongServer);
  await server.start('127.0.0.1', 0);
  const proto = new Client('127.0.0.1', server.address()!.port);
  const { pool, made } = clientPool(proto, CLIENTS, { max: CLIENTS, acquireTimeoutMs: 10_000 });
  let maxConnections = 0;
  const replies = new Array<number>(TASKS).fill(0);

  async function clientFun(task: number): Promise<void> {
    const buf = Buffer.alloc(MESSAGE_BYTES);
    for (let round = 0; round < ROUNDS; round++) {
      await using c = await PoolGuard.acquire(pool);
      if (!c.value.connected() && !(await c.value.connect(3000))) {
        throw new Error(`connect failed: ${c.value.strerror()}`);
      }
      maxConnections = Math.max(maxConnections, server.connNum());
      const sent = await c.value.send(message('ping', task, round));
      if (sent !== MESSAGE_BYTES) {
        const why = c.value.strerror();
        c.reset(); // a broken connection must not go back into the pool
        throw new Error(`send gave ${sent}: ${why}`);
      }
      const n = await c.value.recvn(buf, MESSAGE_BYTES, 3000);
      if (n !== MESSAGE_BYTES) throw new Error(`recvn gave ${n}: ${c.value.strerror()}`);
      expect(buf.toString('latin1')).toBe(message('pong', task, round));
      replies[task]++;
    }
  }

  try {
    await Promise.all(Array.from({ length: TASKS }, (_, task) => clientFun(task)));
    expect(replies).toEqual(new Array<number>(TASKS).fill(ROUNDS));
    expect(made.length).toBe(CLIENTS); // 64 tasks, 8 clients: each one shared
    expect(maxConnections).toBeLessThanOrEqual(CLIENTS);
    expect(pool.size()).toBe(made.length); // every client came back
  } finally {
    await pool.close();
    await server.shutdown(1000);
  }
  expect(made.every((c) => !c.connected())).toBe(true);
  expect(server.connNum()).toBe(0);
  expect(serverErrors).toEqual([]);
});

test('a client whose server went away is not handed out again (validate)', async () => {
  const server = new Server().onConnection(pingPongServer);
  await server.start('127.0.0.1', 0);
  const port = server.address()!.port;
  const proto = new Client('127.0.0.1', port);
  const { pool, made } = clientPool(proto, -1);
  try {
    {
      await using c = await PoolGuard.acquire(pool);
      expect(await c.value.connect(3000)).toBe(true);
    }
    expect(pool.size()).toBe(1);
    await server.shutdown(1000); // closes the pooled client's connection from the server side
    await waitFor(() => !made[0].connected(), 'the pooled client to see its connection closed');
    const c2 = await PoolGuard.acquire(pool);
    expect(c2.value).not.toBe(made[0]); // the dead one failed validate and was destroyed
    expect(made).toHaveLength(2);
    expect(c2.value.connected()).toBe(false);
    c2.release();
  } finally {
    await pool.close();
    await server.shutdown(1000);
  }
  expect(made.every((c) => !c.connected())).toBe(true);
});
