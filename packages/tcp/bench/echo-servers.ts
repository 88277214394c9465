/**
 * The two echo servers the benchmark compares, in a process of their own so
 * that the load generator does not share their CPU: one written with our
 * `Connection` (a recv/send loop, as a user would write it), one with raw
 * `node:net` `'data'` callbacks. Prints their ports as one JSON line, then
 * serves until stdin closes. Each line on stdin is a question answered with
 * one line: `cpu`, this process's CPU time so far in microseconds; `mem`, its
 * memory as JSON after a full garbage collection (run with --expose-gc).
 */
import * as net from 'node:net';
import { createInterface } from 'node:readline';
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

  // For the idle-memory count: a handler that waits for a first byte and holds
  // no buffer of its own, so what is measured is the library's share.
  const idle = new Server().onConnection(async (conn) => {
    await conn.recv(Buffer.allocUnsafe(1));
  });
  await idle.start('127.0.0.1', 0);

  const raw = net.createServer({ noDelay: true }, (sock) => {
    sock.on('data', (chunk) => sock.write(chunk));
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));

  process.stdout.write(
    JSON.stringify({
      ours: ours.address()!.port,
      idle: idle.address()!.port,
      raw: (raw.address() as net.AddressInfo).port,
    }) + '\n',
  );
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (question) => {
    if (question === 'mem') {
      (globalThis as { gc?: () => void }).gc?.();
      process.stdout.write(JSON.stringify(process.memoryUsage()) + '\n');
      return;
    }
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  });
  lines.on('close', () => {
    raw.close();
    void Promise.all([ours.shutdown(100), idle.shutdown(100)]).then(() => process.exit(0));
  });
}

void main();
