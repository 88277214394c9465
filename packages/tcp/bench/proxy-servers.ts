/**
 * The echo servers of the PROXY protocol bench, in a process of their own:
 * one `Server` without the option and one with `proxyProtocol: 'v2'`, both
 * the same recv/send loop. Prints their ports as one JSON line; each `cpu`
 * line on stdin is answered with this process's CPU time so far (µs); it
 * serves until stdin closes. Both servers share the process, so the driver
 * measures one at a time (it runs rounds of one, then of the other).
 */
import { createInterface } from 'node:readline';
import { type Connection, Server } from '@proj/tcp';

async function echo(conn: Connection): Promise<void> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    const n = await conn.recv(buf);
    if (n <= 0 || (await conn.send(buf, n)) <= 0) break;
  }
}

async function main(): Promise<void> {
  const plain = new Server().onConnection(echo);
  const proxied = new Server({ proxyProtocol: 'v2' }).onConnection(echo);
  await plain.start('127.0.0.1', 0);
  await proxied.start('127.0.0.1', 0);
  process.stdout.write(`${JSON.stringify({ plain: plain.address()!.port, proxied: proxied.address()!.port })}\n`);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line === 'cpu') {
      const u = process.cpuUsage();
      process.stdout.write(`${u.user + u.system}\n`);
    }
  });
  rl.on('close', () => {
    void Promise.all([plain.shutdown(1000), proxied.shutdown(1000)]).then(() => process.exit(0));
  });
}

void main();
