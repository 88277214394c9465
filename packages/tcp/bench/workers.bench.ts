/**
 * Server with `workers` against one thread and against node:cluster (`npm run
 * bench`, Node.js 24 for handoff). Two workloads driven by the C load
 * generator (bench/c/load.c), 64 connections ping-ponging 8-byte messages:
 * "work" spends 100 µs of CPU per message in the handler, "echo" none. Rows:
 * ours with 2 worker threads and with 1; raw node:net under node:cluster with
 * 2 processes and with 1. Every round runs every row once, interleaved;
 * medians and ranges over the rounds. Also: server CPU per message, how busy
 * each thread (ours) or process (cluster) was, and how many accepts per
 * second the one accepting thread of handoff can hand over.
 *
 * BENCH_WORKERS_ROUNDS (default 5), BENCH_WORKERS_MS (per row, default 2000).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { workerDistributions } from '@proj/tcp';
import { compileC, runCLoad } from './c-tools';

const ROUNDS = Number(process.env.BENCH_WORKERS_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_WORKERS_MS ?? 2000);
const WORK_US = 100;
const CLK_TCK = 100;

interface ServerProc {
  name: string;
  port: number;
  pids: number[];
  child: ChildProcessByStdio<Writable, Readable, null>;
}

async function startServer(name: string, kind: 'ours' | 'cluster', n: number, workUs: number): Promise<ServerProc> {
  const child = spawn(process.execPath, [join(__dirname, 'workers-server.js'), kind, String(n)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_WORK_US: String(workUs) },
  });
  const line = (await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()).value as string;
  const { port, pids } = JSON.parse(line) as { port: number; pids: number[] };
  return { name, port, pids, child };
}

/** CPU ticks (user + system) of every thread of `pid`, by thread id. */
function threadTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), ticksOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

function ticksOf(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** CPU ticks of each pid (all its threads). */
function processTicks(pids: number[]): number[] {
  return pids.map((pid) => ticksOf(readFileSync(`/proc/${pid}/stat`, 'latin1')));
}

function cLoad(port: number, conns: number, ms: number): Promise<number> {
  return runCLoad('load', [port, conns, 8, 1, ms]);
}

interface Sample {
  rate: number;
  /** Server CPU per message, µs. */
  cpuUs: number;
  /** Busy share of each thread (ours: main first, then the busiest others) or process (cluster: primary first). */
  busy: number[];
}

async function measure(s: ServerProc, ours: boolean): Promise<Sample> {
  const t0 = performance.now();
  const before = ours ? threadTicks(s.pids[0]) : null;
  const pBefore = processTicks(s.pids);
  const msgs = await cLoad(s.port, 64, MS);
  const wall = (performance.now() - t0) / 1000;
  const pAfter = processTicks(s.pids);
  const cpu = pAfter.reduce((a, b, i) => a + b - pBefore[i], 0) / CLK_TCK;
  let busy: number[];
  if (ours) {
    const after = threadTicks(s.pids[0]);
    const main = ((after.get(s.pids[0]) ?? 0) - (before!.get(s.pids[0]) ?? 0)) / CLK_TCK / wall;
    const others = [...after.entries()]
      .filter(([tid]) => tid !== s.pids[0])
      .map(([tid, t]) => (t - (before!.get(tid) ?? t)) / CLK_TCK / wall)
      .sort((a, b) => b - a);
    busy = [main, ...others.slice(0, 2)];
  } else {
    busy = pAfter.map((t, i) => (t - pBefore[i]) / CLK_TCK / wall);
  }
  return { rate: msgs / (MS / 1000), cpuUs: (cpu * 1e6) / msgs, busy };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[], digits = 0): string =>
  `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;
const pct = (x: number): string => `${Math.round(x * 100)}%`;

/**
 * How fast the accepting thread of handoff hands connections over: a client
 * opens and closes connections (64 at a time) against our server with 2
 * workers whose handler returns at once; the accepting thread's CPU per
 * connection gives the rate it could sustain alone.
 */
async function acceptRate(): Promise<{ achieved: number; cpuPerAcceptUs: number; share: number }> {
  const s = await startServer('accept', 'ours', 2, 0);
  try {
    const N = 4000;
    const before = threadTicks(s.pids[0]).get(s.pids[0]) ?? 0;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next++ < N) {
          await new Promise<void>((res) => {
            const c = net.connect({ port: s.port, host: '127.0.0.1' }, () => {
              c.destroy();
              res();
            });
            c.on('error', () => res());
          });
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const cpu = ((threadTicks(s.pids[0]).get(s.pids[0]) ?? 0) - before) / CLK_TCK;
    return { achieved: N / wall, cpuPerAcceptUs: (cpu * 1e6) / N, share: cpu / wall };
  } finally {
    s.child.stdin.end();
    await once(s.child, 'exit');
  }
}

async function main(): Promise<void> {
  const ways = await workerDistributions();
  console.log(`\nWorkers (Node.js ${process.version}; distributions here: ${ways.join(', ') || 'none'})`);
  if (ways.length === 0) {
    console.log('(skipped: this Node.js cannot spread connections over worker threads; run it on Node.js 24)');
    return;
  }
  if (!compileC('load')) {
    console.log('(skipped: no gcc for the C load generator)');
    return;
  }
  const rows: Array<{ name: string; kind: 'ours' | 'cluster'; n: number }> = [
    { name: 'ours 2 workers', kind: 'ours', n: 2 },
    { name: 'ours 1 worker', kind: 'ours', n: 1 },
    { name: 'cluster 2 processes', kind: 'cluster', n: 2 },
    { name: 'cluster 1 process', kind: 'cluster', n: 1 },
  ];
  for (const [workload, workUs] of [
    ['work', WORK_US],
    ['echo', 0],
  ] as const) {
    const servers = [];
    for (const r of rows) servers.push(await startServer(r.name, r.kind, r.n, workUs));
    const samples = new Map<string, Sample[]>(rows.map((r) => [r.name, []]));
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Interleaved: every row once per round, in a rotated order.
        for (let k = 0; k < rows.length; k++) {
          const i = (k + round) % rows.length;
          samples.get(rows[i].name)!.push(await measure(servers[i], rows[i].kind === 'ours'));
        }
      }
    } finally {
      for (const s of servers) s.child.stdin.end();
      await Promise.all(servers.map((s) => once(s.child, 'exit')));
    }
    console.log(
      `\n${workload}: 64 connections, 8-byte ping-pong${workUs ? `, ${workUs} µs CPU per message in the handler` : ''}; ${ROUNDS} rounds of ${MS} ms, median [min–max]`,
    );
    console.log(
      'row                   msgs/s                      server CPU µs/msg      busy (ours: accept/main thread, workers; cluster: primary, workers)',
    );
    for (const r of rows) {
      const ss = samples.get(r.name)!;
      const busy = ss[0].busy.map((_, j) => pct(median(ss.map((s) => s.busy[j] ?? 0)))).join(', ');
      console.log(
        `${r.name.padEnd(22)}${fmt(ss.map((s) => s.rate)).padEnd(28)}${fmt(
          ss.map((s) => s.cpuUs),
          1,
        ).padEnd(23)}${busy}`,
      );
    }
    const ratio = (a: string, b: string): string => {
      const xa = samples.get(a)!.map((s) => s.rate);
      const xb = samples.get(b)!.map((s) => s.rate);
      // Per round: the rows of one round ran side by side.
      const per = xa.map((x, i) => x / xb[i]);
      return `${fmt(per, 2)}x`;
    };
    console.log(
      `ratios (per round): ours 2w/1w ${ratio('ours 2 workers', 'ours 1 worker')}; ours 2w / cluster 2p ${ratio('ours 2 workers', 'cluster 2 processes')}; cluster 2p/1p ${ratio('cluster 2 processes', 'cluster 1 process')}`,
    );
  }
  if (ways.includes('handoff')) {
    const rates = [];
    for (let i = 0; i < 3; i++) rates.push(await acceptRate());
    console.log(
      '\nhandoff: the accepting thread, 4000 connections opened and closed by a node:net client (64 at a time), 3 runs',
    );
    console.log(
      `accepts/s achieved ${fmt(rates.map((r) => r.achieved))} (the client is the limit here); accepting thread CPU per connection ${fmt(
        rates.map((r) => r.cpuPerAcceptUs),
        1,
      )} µs, its CPU share ${fmt(rates.map((r) => r.share * 100))}%; so it saturates near ${fmt(rates.map((r) => 1e6 / r.cpuPerAcceptUs))} accepts/s`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
