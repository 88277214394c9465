/**
 * `npm run bench`: the RESP client of examples/resp-client.ts (Pipeline over
 * one connection) against node-redis (`redis`, which pipelines the commands
 * of a turn by default) and ioredis (default, and with enableAutoPipelining),
 * on a redis-server this starts on a free loopback port.
 *
 * Rows: 64 concurrent users doing SET then GET of 16 B values; explicit
 * pipelines of 1000 GETs. Every measurement runs in a fresh process; rounds
 * are interleaved (the clients' order turns each round). Printed: median
 * commands/s with the range over rounds, ours/theirs with the range of the
 * per-round ratios, client CPU per command (user + system of the measuring
 * process) and redis-server's CPU per command.
 *
 * BENCH_ROUNDS (default 5), BENCH_RESP_OPS (commands per user, default 3000).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { BenchResults } from 'bench-results';
import { RespClient } from '../examples/resp-client';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const OPS_PER_USER = Number(process.env.BENCH_RESP_OPS ?? 3000);
const USERS = 64;
const BATCH = 1000;
const BATCHES = Number(process.env.BENCH_RESP_BATCHES ?? 150);
const VALUE = 'v'.repeat(16);

type ClientName = 'ours' | 'node-redis' | 'ioredis' | 'ioredis-auto';
type Row = 'users64' | 'batch1000';

/** What one client must do for the rows: one command, or a batch of GETs. */
interface Driver {
  set(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<unknown>;
  getMany(keys: readonly string[]): Promise<unknown[]>;
  close(): Promise<void>;
}

async function driver(name: ClientName, port: number): Promise<Driver> {
  if (name === 'ours') {
    const c = await RespClient.connect(port);
    return {
      set: (k, v) => c.set(k, v),
      get: (k) => c.get(k),
      getMany: (keys) => {
        const b = c.batch();
        for (const k of keys) b.get(k);
        return b.exec();
      },
      close: () => c.close(),
    };
  }
  if (name === 'node-redis') {
    const { createClient } = await import('redis');
    const c = createClient({ socket: { host: '127.0.0.1', port } });
    await c.connect();
    return {
      set: (k, v) => c.set(k, v),
      get: (k) => c.get(k),
      getMany: (keys) => {
        const m = c.multi();
        for (const k of keys) m.get(k);
        return m.execAsPipeline();
      },
      close: () => c.close(),
    };
  }
  const { Redis } = await import('ioredis');
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableAutoPipelining: name === 'ioredis-auto' });
  await c.connect();
  return {
    set: (k, v) => c.set(k, v),
    get: (k) => c.get(k),
    getMany: async (keys) => {
      const p = c.pipeline();
      for (const k of keys) p.get(k);
      return (await p.exec())!;
    },
    close: async () => {
      c.disconnect();
    },
  };
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The child: one client, one row; prints `{ commands, micros, cpuMicros }`. */
async function child(name: ClientName, row: Row, port: number): Promise<void> {
  const d = await driver(name, port);
  const users = async (opsPerUser: number): Promise<number> => {
    await Promise.all(
      Array.from({ length: USERS }, async (_, u) => {
        const key = `user:${u}`;
        for (let i = 0; i < opsPerUser; i += 2) {
          await d.set(key, VALUE);
          const got = await d.get(key);
          if (got === null) throw new Error('lost a value');
        }
      }),
    );
    return USERS * opsPerUser;
  };
  const keys = Array.from({ length: BATCH }, (_, i) => `user:${i % USERS}`);
  const batches = async (count: number): Promise<number> => {
    for (let i = 0; i < count; i++) {
      const replies = await d.getMany(keys);
      if (replies.length !== BATCH) throw new Error('short batch');
    }
    return count * BATCH;
  };
  const run = row === 'users64' ? users : batches;
  await users(200); // the keys exist, and the JIT has seen every path
  await run(row === 'users64' ? Math.min(600, OPS_PER_USER) : 10);
  const cpu = cpuMicros();
  const start = process.hrtime.bigint();
  const commands = await run(row === 'users64' ? OPS_PER_USER : BATCHES);
  const micros = Number(process.hrtime.bigint() - start) / 1000;
  const result = { commands, micros, cpuMicros: cpuMicros() - cpu };
  await d.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** redis-server's user + system CPU so far, in microseconds (Linux /proc). */
function serverCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
}

interface Measured {
  rate: number;
  cpuPerCommand: number;
  serverCpuPerCommand: number;
}

function measure(name: ClientName, row: Row, port: number, serverPid: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const serverCpu = serverCpuMicros(serverPid);
    const p = spawn(process.execPath, [__filename, 'child', name, row, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${name} ${row} exited with ${code}`));
      const r = JSON.parse(out.trim().split('\n').pop()!) as { commands: number; micros: number; cpuMicros: number };
      resolve({
        rate: (r.commands / r.micros) * 1e6,
        cpuPerCommand: r.cpuMicros / r.commands,
        serverCpuPerCommand: (serverCpuMicros(serverPid) - serverCpu) / r.commands,
      });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x: number, digits = 0): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const range = (xs: number[], digits = 0): string => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;

async function main(): Promise<void> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.log('resp.bench: redis-server is not installed (apt-get install -y redis-server): skipped');
    return;
  }
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = (): void => {
    server.kill('SIGTERM');
  };
  process.once('exit', stop);
  process.once('SIGINT', () => process.exit(130));
  await new Promise<void>((resolve, reject) => {
    let log = '';
    server.stdout.on('data', (d: Buffer) => {
      log += d.toString();
      if (/Ready to accept connections/.test(log)) resolve();
    });
    server.once('exit', () => reject(new Error(`redis-server exited:\n${log}`)));
  });
  server.stdout.resume();
  const plan: [Row, ClientName[]][] = [
    ['users64', ['ours', 'node-redis', 'ioredis', 'ioredis-auto']],
    ['batch1000', ['ours', 'node-redis', 'ioredis']],
  ];
  const results = new Map<string, Measured[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [row, clients] of plan) {
      const order = clients.map((_, i) => clients[(i + round) % clients.length]);
      for (const name of order) {
        const m = await measure(name, row, port, server.pid!);
        const key = `${row} ${name}`;
        results.set(key, [...(results.get(key) ?? []), m]);
      }
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  console.log(
    `\nRESP: ours (examples/resp-client.ts, one pipelined connection) against node-redis ${pkgVersion('redis')} and ioredis ${pkgVersion('ioredis')}`,
  );
  console.log(
    `Node ${process.version}, ${ROUNDS} rounds (fresh process per measurement, interleaved); median [range]\n`,
  );
  console.log('| row | client | commands/s | ours/theirs | client CPU µs/command | redis-server CPU µs/command |');
  console.log('|---|---|---|---|---|---|');
  for (const [row, clients] of plan) {
    const ours = results.get(`${row} ours`)!;
    for (const name of clients) {
      const ms = results.get(`${row} ${name}`)!;
      const rates = ms.map((m) => m.rate);
      const ratios = ms.map((m, i) => ours[i].rate / m.rate);
      const ratio = name === 'ours' ? '—' : `${fmt(median(ratios), 2)}x [${range(ratios, 2)}]`;
      const cpu = ms.map((m) => m.cpuPerCommand);
      const scpu = ms.map((m) => m.serverCpuPerCommand);
      console.log(
        `| ${row === 'users64' ? `${USERS} users SET+GET 16 B` : `pipelines of ${BATCH} GET`} | ${name} | ${fmt(median(rates))} [${range(rates)}] | ${ratio} | ${fmt(median(cpu), 2)} [${range(cpu, 2)}] | ${fmt(median(scpu), 2)} [${range(scpu, 2)}] |`,
      );
    }
  }
  const saved = new BenchResults('tcp-resp', {
    title: '@proj/tcp: a RESP client on Pipeline against node-redis and ioredis',
    package: '@proj/tcp',
  });
  for (const [row, clients] of plan) {
    const ours = results.get(`${row} ours`)!;
    for (const name of clients.filter((c) => c !== 'ours')) {
      const theirs = results.get(`${row} ${name}`)!;
      saved.add({
        section: row === 'users64' ? `${USERS} users SET+GET 16 B` : `pipelines of ${BATCH} GET`,
        name: `against ${name}`,
        unit: 'commands/s',
        baselineName: name,
        ours: ours.map((m) => m.rate),
        baseline: theirs.map((m) => m.rate),
        cpu: {
          ours: median(ours.map((m) => m.cpuPerCommand)),
          baseline: median(theirs.map((m) => m.cpuPerCommand)),
          unit: 'µs/command',
        },
      });
    }
  }
  saved.finish();
  stop();
}

function pkgVersion(name: string): string {
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
}

if (process.argv[2] === 'child') {
  child(process.argv[3] as ClientName, process.argv[4] as Row, Number(process.argv[5])).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
