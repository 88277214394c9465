/**
 * The two echo servers the benchmark compares, in a process of their own so
 * that the load generator does not share their CPU: one written with our
 * `Connection` (a recv/send loop, as a user would write it), one with raw
 * `node:net` `'data'` callbacks. Prints their ports as one JSON line, then
 * serves until stdin closes.
 */
import * as net from 'node:net';
import { Server } from '@proj/tcp';

async function main(): Promise<void> {
  const ours = new Server().onConnection(async (conn) => {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = await conn.recv(buf);
      if (n <= 0 || (await conn.send(buf, n)) <= 0) break;
    }
  });
  await ours.start('127.0.0.1', 0);

  const raw = net.createServer({ noDelay: true }, (sock) => {
    sock.on('data', (chunk) => sock.write(chunk));
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));

  process.stdout.write(
    JSON.stringify({ ours: ours.address()!.port, raw: (raw.address() as net.AddressInfo).port }) + '\n',
  );
  process.stdin.resume();
  process.stdin.on('end', () => {
    raw.close();
    void ours.shutdown(100).then(() => process.exit(0));
  });
}

void main();
