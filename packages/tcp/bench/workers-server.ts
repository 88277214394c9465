/**
 * A server process of the workers benchmark. `node workers-server.js ours <n>`:
 * our Server with n worker threads (the handler: workers-handler.js);
 * `node workers-server.js cluster <n>`: raw node:net echo servers in n
 * node:cluster processes. BENCH_WORK_US sets the CPU work per message.
 * Prints `{"port":..,"pids":[..]}` once listening; exits when stdin ends.
 */
import cluster from 'node:cluster';
import * as net from 'node:net';
import { join } from 'node:path';
import { Server } from '@proj/tcp';
import { spinMicros } from './workers-spin';

const [kind, count] = process.argv.slice(2);
const n = Number(count);
const WORK_US = Number(process.env.BENCH_WORK_US ?? 0);

function ready(port: number, pids: number[]): void {
  process.stdout.write(`${JSON.stringify({ port, pids })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function main(): Promise<void> {
  if (kind === 'ours') {
    const server = new Server({ workers: n }).onConnection(join(__dirname, 'workers-handler.js'), 'serve');
    await server.start('127.0.0.1', 0);
    ready(server.address()!.port, [process.pid]);
    return;
  }
  if (cluster.isPrimary) {
    const workers = Array.from({ length: n }, () => cluster.fork());
    const ports = await Promise.all(workers.map((w) => new Promise<number>((res) => w.once('message', (m: { port: number }) => res(m.port)))));
    ready(ports[0], [process.pid, ...workers.map((w) => w.process.pid!)]);
    process.stdin.on('end', () => {
      for (const w of workers) w.process.kill();
    });
    return;
  }
  // A cluster worker: the plainest node:net echo, with the same work per 8-byte message.
  const server = net.createServer({ noDelay: true }, (sock) => {
    sock.on('data', (chunk: Buffer) => {
      if (WORK_US > 0) for (let i = 0; i < chunk.length; i += 8) spinMicros(WORK_US);
      sock.write(chunk);
    });
    sock.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
