/**
 * examples/http-server.ts against `node:http`, driven by autocannon (a
 * well-kept HTTP/1.1 load generator, so neither side is measured with a
 * client of our own making): 64 keep-alive connections with one request in
 * flight each, then pipelined. Each measurement starts a fresh server process
 * (bench/http/servers.ts), warms it up uncounted, then counts; rounds
 * alternate which server goes first. Reported: the rate (median and range),
 * the ratio ours/node per round, and the server's CPU time per request (the
 * figure the machine's other load disturbs least).
 *
 * Then memory: 10,000 keep-alive connections left idle after one request
 * each, the growth of the server process's RSS (after a full GC) per
 * connection, ours against node:http, in fresh processes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { BenchResults } from 'bench-results';

const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 3);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 64;
const PIPELINED = 10;
const IDLE_CONNS = Number(process.env.BENCH_IDLE_CONNS ?? 10_000);
const IDLE_ROUNDS = Number(process.env.BENCH_HTTP_IDLE_ROUNDS ?? 2);
const SERVERS = ['ours', 'node'] as const;
type Which = (typeof SERVERS)[number];

const results = new BenchResults('tcp-http', { title: '@proj/tcp: the HTTP/1.1 example against node:http', package: '@proj/tcp' });

interface ServerProcess {
  port: number;
  ask(question: 'cpu' | 'mem'): Promise<string>;
  stop(): Promise<void>;
}

async function startServer(which: Which): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--expose-gc', join(__dirname, 'servers.js'), which], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  return {
    port,
    ask: async (question) => {
      child.stdin.write(`${question}\n`);
      return (await lines.next()).value as string;
    },
    stop: async () => {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

interface Sample {
  rate: number;
  cpuPerRequest: number;
}

async function measure(which: Which, pipelining: number): Promise<Sample> {
  const server = await startServer(which);
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    await autocannon({ url, connections: CONNECTIONS, pipelining, duration: WARMUP_SECONDS });
    const cpu0 = Number(await server.ask('cpu'));
    const r = await autocannon({ url, connections: CONNECTIONS, pipelining, duration: SECONDS });
    const cpu1 = Number(await server.ask('cpu'));
    if (r.errors > 0 || r.non2xx > 0 || r.timeouts > 0) {
      throw new Error(`${which}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
    }
    return { rate: r.requests.total / r.duration, cpuPerRequest: (cpu1 - cpu0) / r.requests.total };
  } finally {
    await server.stop();
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function spread(v: number[], digits: number): string {
  return `${median(v).toFixed(digits)} [${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}]`;
}

async function throughput(): Promise<void> {
  console.log(`\nHTTP/1.1 GET /, ${CONNECTIONS} connections, autocannon, ${ROUNDS} rounds of ${SECONDS} s, a fresh server process each (Node ${process.versions.node})`);
  console.log('  row                          | ours req/s          | node:http req/s     | ours/node          | CPU µs/req ours    | CPU µs/req node    | CPU node/ours');
  for (const [name, pipelining] of [
    ['one request in flight', 1],
    [`pipelined (${PIPELINED} in flight)`, PIPELINED],
  ] as const) {
    const got: Record<Which, Sample[]> = { ours: [], node: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? SERVERS : [...SERVERS].reverse()) got[which].push(await measure(which, pipelining));
    }
    const rates = (w: Which): number[] => got[w].map((s) => s.rate);
    const cpus = (w: Which): number[] => got[w].map((s) => s.cpuPerRequest);
    const ratio = got.ours.map((s, i) => s.rate / got.node[i].rate);
    const cpuRatio = got.ours.map((s, i) => got.node[i].cpuPerRequest / s.cpuPerRequest);
    results.add({
      section: `${CONNECTIONS} connections, autocannon`,
      name,
      unit: 'requests/s',
      oursName: 'examples/http-server.ts',
      baselineName: 'node:http',
      ours: rates('ours'),
      baseline: rates('node'),
      cpu: { ours: median(cpus('ours')), baseline: median(cpus('node')), unit: 'µs/request' },
    });
    console.log(
      `  ${name.padEnd(28)} | ${spread(rates('ours'), 0).padEnd(19)} | ${spread(rates('node'), 0).padEnd(19)} | ${spread(ratio, 2).padEnd(18)} | ${spread(cpus('ours'), 1).padEnd(18)} | ${spread(cpus('node'), 1).padEnd(18)} | ${spread(cpuRatio, 2)}`,
    );
  }
}

/** Opens `n` connections to `port`, each sends one request and reads its answer; returns them, open and idle. */
async function openIdle(port: number, n: number): Promise<net.Socket[]> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, async () => {
        const sock = net.connect({ port, host: '127.0.0.1' });
        socks.push(sock);
        sock.on('error', () => {});
        await once(sock, 'connect');
        sock.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
        let got = '';
        while (!got.endsWith('hello world\n')) got += ((await once(sock, 'data')) as [Buffer])[0].toString('latin1');
      }),
    );
  }
  return socks;
}

async function idleMemory(): Promise<void> {
  const limit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
  const conns = Math.min(IDLE_CONNS, limit - 200);
  console.log(`\nIdle keep-alive connections: ${conns.toLocaleString('en-US')} at once, one request answered on each, server RSS growth after a full GC (ulimit -n ${limit}; ${IDLE_ROUNDS} rounds)`);
  const growth: Record<Which, { rss: number[]; heap: number[]; external: number[] }> = {
    ours: { rss: [], heap: [], external: [] },
    node: { rss: [], heap: [], external: [] },
  };
  for (let round = 0; round < IDLE_ROUNDS; round++) {
    for (const which of round % 2 === 0 ? SERVERS : [...SERVERS].reverse()) {
      const server = await startServer(which);
      let socks: net.Socket[] = [];
      try {
        const before = JSON.parse(await server.ask('mem')) as NodeJS.MemoryUsage;
        socks = await openIdle(server.port, conns);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const during = JSON.parse(await server.ask('mem')) as NodeJS.MemoryUsage;
        growth[which].rss.push((during.rss - before.rss) / conns);
        growth[which].heap.push((during.heapUsed - before.heapUsed) / conns);
        growth[which].external.push((during.external + during.arrayBuffers - before.external - before.arrayBuffers) / conns);
      } finally {
        // The server goes first: its side keeps the TIME_WAIT, and no client port is held.
        await server.stop();
        for (const s of socks) s.destroy();
      }
    }
  }
  const kib = (v: number[]): string => spread(v.map((x) => x / 1024), 2);
  for (const which of SERVERS) {
    const g = growth[which];
    console.log(`  ${(which === 'ours' ? 'examples/http-server.ts' : 'node:http').padEnd(24)} RSS ${kib(g.rss).padEnd(22)} KiB/conn   heap ${kib(g.heap).padEnd(22)} external+arrayBuffers ${kib(g.external)}`);
  }
  results.add({
    section: 'idle keep-alive connections',
    name: `${conns.toLocaleString('en-US')} idle connections: server RSS growth`,
    unit: 'KiB/connection',
    oursName: 'examples/http-server.ts',
    baselineName: 'node:http',
    ours: growth.ours.rss.map((x) => x / 1024),
    baseline: growth.node.rss.map((x) => x / 1024),
    higherIsBetter: false,
  });
  const ratio = growth.ours.rss.map((r, i) => r / growth.node.rss[i]);
  console.log(`  RSS growth ours/node: ${spread(ratio, 2)}`);
}

async function main(): Promise<void> {
  const only = process.env.BENCH_HTTP_SECTIONS ?? 'throughput,idle';
  if (only.includes('throughput')) await throughput();
  if (only.includes('idle')) await idleMemory();
  results.finish();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
