/**
 * `npm run bench` for @proj/pool, part 2: a pooled client of the memcached shape against the same
 * client without the pool. 64 users loop at once; each request is one acquire: take a `@proj/tcp`
 * Client from the pool (`PoolGuard.acquire`), send `get k\r\n`, read the reply up to `END\r\n` with
 * `recvUntil`, release. Unpooled, each user has a Client of its own and does the same without the
 * guard. The server is a raw `node:net` responder in a child process (bench/responder.ts). Rounds
 * alternate, the order rotating; figures are medians over the rounds with their range [min-max]:
 * requests/s, CPU µs per request of this process, and pooled/unpooled, paired by round.
 * `BENCH_ROUNDS` (default 7) and `BENCH_ROUND_MS` (default 1000) change the rounds.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool, PoolGuard } from '@proj/pool';
import { BenchResults } from 'bench-results';
import { Client } from '@proj/tcp';
import { cpuNowNs, median, spread, type Sample } from './stats';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const USERS = 64;
const REQUEST = Buffer.from('get k\r\n');

async function connected(port: number): Promise<Client> {
  const c = new Client('127.0.0.1', port);
  if (!(await c.connect(5000))) throw new Error(`connect: ${c.strerror()}`);
  return c;
}

/** One request and its reply on `c`. */
async function request(c: Client, buf: Buffer): Promise<void> {
  if ((await c.send(REQUEST)) <= 0) throw new Error(`send: ${c.strerror()}`);
  if ((await c.recvUntil(buf, 'END\r\n', 5000)) <= 0) throw new Error(`recvUntil: ${c.strerror()}`);
}

type User = (deadline: number) => Promise<number>;

function pooledUser(pool: Pool<Client>): User {
  const buf = Buffer.alloc(256);
  return async (deadline) => {
    let ops = 0;
    do {
      for (let i = 0; i < 16; i++) {
        const g = await PoolGuard.acquire(pool);
        await request(g.value, buf);
        g.release();
      }
      ops += 16;
    } while (performance.now() < deadline);
    return ops;
  };
}

function unpooledUser(c: Client): User {
  const buf = Buffer.alloc(256);
  return async (deadline) => {
    let ops = 0;
    do {
      for (let i = 0; i < 16; i++) await request(c, buf);
      ops += 16;
    } while (performance.now() < deadline);
    return ops;
  };
}

async function round(users: User[], ms: number): Promise<Sample> {
  const cpu = cpuNowNs();
  const started = performance.now();
  const counts = await Promise.all(users.map((u) => u(started + ms)));
  return { ops: counts.reduce((a, b) => a + b, 0), ns: (performance.now() - started) * 1e6, cpuNs: cpuNowNs() - cpu };
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, [join(__dirname, 'responder.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
  const pool = new Pool<Client>(
    () => connected(port),
    (c) => c.close(),
  );
  const own = await Promise.all(Array.from({ length: USERS }, () => connected(port)));
  try {
    const sides = [
      { name: 'pooled (PoolGuard.acquire per request)', users: Array.from({ length: USERS }, () => pooledUser(pool)) },
      { name: 'unpooled (a Client per user)', users: own.map(unpooledUser) },
    ];
    for (const side of sides) await round(side.users, ROUND_MS / 4); // warm-up; the pool makes its connections
    const samples = sides.map((): Sample[] => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < sides.length; k++) {
        const i = (k + r) % sides.length;
        samples[i].push(await round(sides[i].users, ROUND_MS));
      }
    }
    const rate = (s: Sample): number => s.ops / (s.ns / 1e9);
    const cpuUs = (s: Sample): number => s.cpuNs / s.ops / 1000;
    console.log(
      `@proj/pool: memcached-shaped requests, ${USERS} users, a raw net responder in a child process; ` +
        `node ${process.version}; ${ROUNDS} rounds of ${ROUND_MS} ms per side; median [min-max]`,
    );
    for (let i = 0; i < sides.length; i++) {
      console.log(
        `${sides[i].name.padEnd(40)} ${spread(
          samples[i].map((s) => rate(s) / 1000),
          1,
        ).padEnd(20)} k req/s  ` + `CPU ${spread(samples[i].map(cpuUs), 2)} µs/req`,
      );
    }
    const ratios = samples[0].map((s, r) => rate(s) / rate(samples[1][r]));
    const cpuRatios = samples[0].map((s, r) => cpuUs(samples[1][r]) / cpuUs(s));
    console.log(
      `pooled/unpooled rate ${spread(ratios, 2)} (median ${median(ratios) >= 0.9 ? '>=' : '<'} 0.9); ` +
        `CPU unpooled/pooled ${spread(cpuRatios, 2)}`,
    );
    console.log(`connections the pool made: ${pool.size()}`);
    const results = new BenchResults('pool-memcached', {
      title: '@proj/pool: memcached-shaped requests, pooled against a Client per user',
      package: '@proj/pool',
    });
    results.add({
      name: `${USERS} users`,
      unit: 'req/s',
      oursName: sides[0].name,
      baselineName: sides[1].name,
      ours: samples[0].map(rate),
      baseline: samples[1].map(rate),
      cpu: { ours: median(samples[0].map(cpuUs)), baseline: median(samples[1].map(cpuUs)), unit: 'µs/req' },
    });
    results.finish();
  } finally {
    await pool.close();
    for (const c of own) c.close();
    child.stdin.end();
    await once(child, 'exit');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
