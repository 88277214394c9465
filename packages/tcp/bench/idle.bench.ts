/**
 * Memory held per idle connection, 10,000 connections at once, ours against
 * raw `node:net`: on the server side (the echo servers' process, asked for its
 * memory after a full GC; ours is a handler waiting in `recv` on a 1-byte
 * buffer) and on the client side (this process: our `Client` against raw
 * `net.Socket`s). Run with --expose-gc.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@proj/tcp';
import { sleep } from './load';
import { BenchResults } from 'bench-results';

const CONNS = Number(process.env.BENCH_IDLE_CONNS ?? 10_000);

type Mem = NodeJS.MemoryUsage;

const results = new BenchResults('tcp-idle', {
  title: '@proj/tcp: heap held per idle connection against raw node:net',
  package: '@proj/tcp',
});

async function main(): Promise<void> {
  const child = spawn(process.execPath, ['--expose-gc', join(__dirname, 'echo-servers.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ports = JSON.parse((await lines.next()).value as string) as { idle: number; raw: number };
  const serverMem = async (): Promise<Mem> => {
    child.stdin.write('mem\n');
    return JSON.parse((await lines.next()).value as string) as Mem;
  };
  const ownMem = async (): Promise<Mem> => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage();
  };
  console.log(`\nMemory per idle connection, ${CONNS.toLocaleString('en-US')} connections open at once`);
  try {
    const oursServer = await held(serverMem, () => openRaw(ports.idle));
    const rawServer = await held(serverMem, () => openRaw(ports.raw));
    report('server side: our Connection', oursServer, 'raw net', rawServer);
    const oursClient = await held(ownMem, () => openOurs(ports.raw));
    const rawClient = await held(ownMem, () => openRaw(ports.raw));
    report('client side: our Client', oursClient, 'raw net.Socket', rawClient);
  } finally {
    child.stdin.end();
    await once(child, 'exit');
    results.finish();
  }
}

/** Opens CONNS connections with `open`, and returns the growth of `mem()` per connection while they are open. */
async function held(mem: () => Promise<Mem>, open: () => Promise<() => void>): Promise<Mem> {
  const before = await mem();
  const close = await open();
  await sleep(500);
  const during = await mem();
  close();
  await sleep(500);
  const perConn = {} as Record<keyof Mem, number>;
  for (const key of Object.keys(before) as Array<keyof Mem>) perConn[key] = (during[key] - before[key]) / CONNS;
  return perConn;
}

async function openRaw(port: number): Promise<() => void> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < CONNS; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, CONNS - i) }, () => {
        const sock = net.connect({ port, host: '127.0.0.1' });
        socks.push(sock);
        sock.on('error', () => {});
        return once(sock, 'connect');
      }),
    );
  }
  return () => socks.forEach((s) => s.destroy());
}

async function openOurs(port: number): Promise<() => void> {
  const clients: Client[] = [];
  for (let i = 0; i < CONNS; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, CONNS - i) }, async () => {
        const c = new Client('127.0.0.1', port);
        clients.push(c);
        if (!(await c.connect(10_000))) throw new Error(c.strerror());
      }),
    );
  }
  return () => clients.forEach((c) => c.close());
}

function report(oursName: string, ours: Mem, rawName: string, raw: Mem): void {
  const kib = (v: number): string => `${(v / 1024).toFixed(2)} KiB`;
  console.log(
    `  ${oursName.padEnd(30)} heap ${kib(ours.heapUsed).padStart(10)}  external+buffers ${kib(ours.external).padStart(10)}  rss ${kib(ours.rss).padStart(10)}`,
  );
  console.log(
    `  ${rawName.padEnd(30)} heap ${kib(raw.heapUsed).padStart(10)}  external+buffers ${kib(raw.external).padStart(10)}  rss ${kib(raw.rss).padStart(10)}`,
  );
  const [side] = oursName.split(':');
  results.add({
    section: `${CONNS.toLocaleString('en-US')} idle connections`,
    name: `${side}: heap per connection`,
    unit: 'KiB',
    oursName: oursName.slice(side.length + 2),
    baselineName: rawName,
    ours: [Math.max(0, ours.heapUsed / 1024)],
    baseline: [Math.max(0, raw.heapUsed / 1024)],
    higherIsBetter: false,
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
