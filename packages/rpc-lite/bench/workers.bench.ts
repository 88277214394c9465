/**
 * RpcServer with 2 worker threads against 1 (Node.js 24 or 22.12+): an echo of
 * 16 bytes with 64 calls in flight (64 connections, one call each), driven by
 * @proj/tcp's C load generator; rounds interleaved; median [min–max] of
 * answers/s and of server CPU per answer. BENCH_ROUNDS (default 5 here),
 * BENCH_ROUND_MS (default 2000).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { workerDistributions } from '@proj/tcp';
import { frame } from './wire-baseline';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const LOAD = join(__dirname, 'c-load');

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function load(port: number, request: string, answerBytes: number): Promise<number> {
  const child = spawn(LOAD, [port, 64, request, answerBytes, 1, MS].map(String), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the C load generator failed (exit ${code})`);
  return Number(out.trim());
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[], d = 0): string => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;

async function main(): Promise<void> {
  console.log(`\nRpcServer with workers (Node.js ${process.version})`);
  if ((await workerDistributions()).length === 0) {
    console.log('(skipped: this Node.js cannot spread connections over worker threads; run it on Node.js 24)');
    return;
  }
  const built = spawnSync('gcc', ['-O2', '-o', LOAD, join(__dirname, '..', '..', 'tcp', 'bench', 'c', 'load.c')], { stdio: 'inherit' });
  if (built.error || built.status !== 0) {
    console.log('(skipped: no gcc for the C load generator)');
    return;
  }
  const payload = Buffer.alloc(16, 0x61);
  const request = frame([0, 0, 'echo', [payload]]).toString('hex');
  const answerBytes = frame([1, 0, null, payload]).length;
  const servers = await Promise.all(
    [2, 1].map(async (n) => {
      const child = spawn(process.execPath, [join(__dirname, 'workers-server.js'), String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const port = Number((await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()).value);
      return { n, child, port, rates: [] as number[], cpu: [] as number[] };
    }),
  );
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
        const before = cpuTicks(s.child.pid!);
        const answers = await load(s.port, request, answerBytes);
        s.rates.push(answers / (MS / 1000));
        s.cpu.push(((cpuTicks(s.child.pid!) - before) * 1e4) / answers);
      }
    }
  } finally {
    for (const s of servers) s.child.stdin.end();
    await Promise.all(servers.map((s) => once(s.child, 'exit')));
  }
  console.log(`echo of 16 B, 64 in flight (64 connections), ${ROUNDS} rounds of ${MS} ms, median [min–max]`);
  for (const s of servers) console.log(`  ${s.n} worker${s.n > 1 ? 's' : ' '}  answers/s ${fmt(s.rates).padEnd(26)} server CPU µs/answer ${fmt(s.cpu, 1)}`);
  const ratios = servers[0].rates.map((r, i) => r / servers[1].rates[i]);
  console.log(`  ratio 2/1 per round ${fmt(ratios, 2)}x`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
